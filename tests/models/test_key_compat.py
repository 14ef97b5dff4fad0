"""Every base/large model type has exactly the released Salesforce checkpoint's state-dict keys and shapes.

The reference layouts were read from the original BLIP repository's files. The types that load LAVIS's
re-releases (``LAVIS/models/BLIP/*.pth``: same architectures, fine-tuned again) are checked against the
original file of their architecture; those files were not read here (no network on the test machine).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from vlkit.common.registry import registry
from vlkit.models import load_model

FIXTURE = Path(__file__).parents[1] / "fixtures" / "loading_reference_keys.json.gz"
REFERENCE = json.loads(gzip.open(FIXTURE, "rt").read())["families"]
# The original ITM model is the retrieval model without momentum encoders, queues and temperature; the
# large variant is loaded from model_large_retrieval_coco.pth the same way.
_NOT_IN_ITM = (
    "visual_encoder_m.",
    "vision_proj_m.",
    "text_encoder_m.",
    "text_proj_m.",
    "image_queue",
    "text_queue",
    "idx_queue",
    "ptr_queue",
    "temp",
)
REFERENCE["itm_large"] = {k: v for k, v in REFERENCE["retrieval_large"].items() if not k.startswith(_NOT_IN_ITM)}

# (model name, model type, reference family)
CASES = [
    ("blip_pretrain", "base", "pretrain_base"),
    ("blip_pretrain", "base_129m", "pretrain_base"),
    ("blip_pretrain", "base_14m", "pretrain_base"),
    ("blip_pretrain", "large", "pretrain_large"),
    ("blip_caption", "base_coco", "caption_base"),
    ("blip_caption", "base_coco_original", "caption_base"),
    ("blip_caption", "large_coco", "caption_large"),
    ("blip_retrieval", "coco", "retrieval_base"),
    ("blip_retrieval", "flickr", "retrieval_base"),
    ("blip_retrieval", "coco_original", "retrieval_base"),
    ("blip_retrieval", "flickr_original", "retrieval_base"),
    ("blip_retrieval", "large_coco", "retrieval_large"),
    ("blip_retrieval", "large_flickr", "retrieval_large"),
    ("blip_retrieval", "msrvtt", "retrieval_base"),
    ("blip_vqa", "vqav2", "vqa_base"),
    ("blip_vqa", "okvqa", "vqa_base"),
    ("blip_vqa", "aokvqa", "vqa_base"),
    ("blip_vqa", "vqav2_129m", "vqa_base"),
    ("blip_vqa", "vqav2_capfilt_large", "vqa_base"),
    ("blip_vqa", "msrvtt_qa", "vqa_base"),
    ("blip_vqa", "msvd_qa", "vqa_base"),
    ("blip_nlvr", "nlvr", "nlvr_base"),
    ("blip_image_text_matching", "base", "itm_base"),
    ("blip_image_text_matching", "large", "itm_large"),
    ("blip_feature_extractor", "base", "feature_extractor_base"),
    ("blip_feature_extractor", "base_129m", "feature_extractor_base"),
    ("blip_feature_extractor", "base_14m", "feature_extractor_base"),
]


def _shapes(name: str, model_type: str) -> dict[str, list[int]]:
    with torch.device("meta"):
        model = registry.get_model_class(name).from_pretrained(model_type, load_weights=False)
    return {k: list(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name,model_type,family", CASES)
def test_state_dict_keys_and_shapes_match_release(name: str, model_type: str, family: str) -> None:
    ours = _shapes(name, model_type)
    ref = {k: v for k, v in REFERENCE[family].items()}
    # the image grid may differ from the reference's (VQA checkpoints are 480 px; video types reuse 384-px weights)
    pos = [k for k in ref if k.endswith("pos_embed")]
    for k in pos:
        ref[k] = ours.get(k, ref[k])
    if family == "feature_extractor_base":
        # vlkit's feature extractor is the original BLIP_Base plus the pre-trained ITC projections (as in
        # LAVIS), so that extract_features can return the 256-d projected features.
        ref.update(
            {k: v for k, v in REFERENCE["pretrain_base"].items() if k.startswith(("vision_proj.", "text_proj."))}
        )
    assert sorted(set(ref) - set(ours)) == []
    assert sorted(set(ours) - set(ref)) == []
    mismatched = {k: (ours[k], ref[k]) for k in ref if ours[k] != ref[k]}
    assert mismatched == {}


def test_every_base_and_large_type_is_covered() -> None:
    covered = {(n, t) for n, t, _ in CASES}
    for name in registry.list_models():
        cls = registry.get_model_class(name)
        for model_type in cls.PRETRAINED_MODEL_CONFIG_DICT:
            if model_type == "tiny" or name == "blip_dialog":  # no released VisDial checkpoint exists
                continue
            assert (name, model_type) in covered, f"{name}/{model_type} has no key-compatibility case"


def _released_format(family: str) -> dict:
    """A checkpoint laid out like the released file of ``family``, with random values."""
    gen = torch.Generator().manual_seed(0)
    sd = {}
    for key, shape in REFERENCE[family].items():
        if key.endswith(("queue_ptr", "ptr_queue", "idx_queue")):
            sd[key] = torch.zeros(shape, dtype=torch.long)
        elif key.endswith("position_ids"):
            sd[key] = torch.arange(shape[-1]).expand(shape).clone()
        else:
            sd[key] = torch.randn(shape, generator=gen) * 0.02
    return {"model": sd}


@pytest.mark.parametrize(
    "name,model_type,family",
    [
        ("blip_nlvr", "nlvr", "nlvr_base"),  # ~3-7 s
        pytest.param("blip_pretrain", "base", "pretrain_base", marks=pytest.mark.slow),  # ~7-30 s on 2 shared cores
    ],
)
def test_synthetic_released_checkpoint_loads_strictly(name: str, model_type: str, family: str) -> None:
    ckpt = _released_format(family)
    model = load_model(name, model_type, pretrained=False)
    report = model.load_checkpoint(ckpt, strict=True)
    assert report.missing_keys == report.unexpected_keys == report.interpolated == []
    ours = model.state_dict()
    # (keys the pre-training decoder shares with the encoder hold two random values here, so check others)
    for key in ("visual_encoder.pos_embed", "text_encoder.encoder.layer.11.attention.self.query.weight"):
        assert torch.equal(ours[key], ckpt["model"][key])
