"""Every LAVIS BLIP ``(name, model_type)`` names the same released files in vlkit, and docs/models.md says so."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from vlkit.common.config import ConfigError, load_model_default_config
from vlkit.common.registry import registry
from vlkit.models import load_model

G = "https://storage.googleapis.com/sfr-vision-language-research/"
DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"


class LavisType(NamedTuple):
    """A model type as LAVIS @506965b defines it (lavis/configs/models/*.yaml and the classes' dicts)."""

    name: str
    model_type: str
    finetuned: str | None  # the weights the type loads, when it loads fine-tuned ones
    pretrained: str | None  # the pre-training weights it starts from (or loads, without `finetuned`)
    image_size: int


B, L = "BLIP/models/", "LAVIS/models/BLIP/"  # the original repository's releases, LAVIS's own
CAPFILT_L, VQA_CAPFILT_L = B + "model_base_capfilt_large.pth", B + "model_base_vqa_capfilt_large.pth"
LAVIS = [
    LavisType("blip_caption", "base_coco", L + "blip_coco_caption_base.pth", CAPFILT_L, 384),
    LavisType("blip_caption", "large_coco", B + "model_large_caption.pth", B + "model_large.pth", 384),
    LavisType("blip_retrieval", "coco", L + "blip_coco_retrieval.pth", CAPFILT_L, 384),
    LavisType("blip_retrieval", "flickr", L + "blip_flickr_retrieval.pth", CAPFILT_L, 384),
    LavisType("blip_vqa", "vqav2", VQA_CAPFILT_L, CAPFILT_L, 480),
    LavisType("blip_vqa", "okvqa", L + "blip_okvqa.pth", VQA_CAPFILT_L, 480),
    LavisType("blip_vqa", "aokvqa", L + "blip_aokvqa.pth", VQA_CAPFILT_L, 480),
    LavisType("blip_nlvr", "nlvr", B + "model_base_nlvr.pth", CAPFILT_L, 384),
    LavisType("blip_feature_extractor", "base", None, CAPFILT_L, 224),
    LavisType("blip_image_text_matching", "base", B + "model_base_retrieval_coco.pth", None, 384),
    LavisType("blip_image_text_matching", "large", B + "model_large_retrieval_coco.pth", None, 384),
    LavisType("blip_pretrain", "base", None, CAPFILT_L, 224),
]


def _loaded_by_default(cfg: object) -> str | None:
    """The file ``load_model(name, type)`` loads (BaseModel.from_config's rule)."""
    if cfg.get("load_finetuned") and cfg.get("finetuned"):
        return cfg.finetuned
    if cfg.get("load_pretrained") and cfg.get("pretrained"):
        return cfg.pretrained
    return None


@pytest.mark.parametrize("lavis", LAVIS, ids=lambda t: f"{t.name}/{t.model_type}")
def test_lavis_type_names_the_same_files(lavis: LavisType) -> None:
    cfg = load_model_default_config(registry.get_model_class(lavis.name), lavis.model_type)
    full = {k: None if v is None else G + v for k, v in lavis._asdict().items() if k in ("finetuned", "pretrained")}
    assert (cfg.get("finetuned"), cfg.get("pretrained")) == (full["finetuned"], full["pretrained"])
    assert _loaded_by_default(cfg) == (full["finetuned"] or full["pretrained"])
    assert cfg.image_size == lavis.image_size


def _doc_row(name: str, model_type: str) -> str:
    prefix = f"| `{name}` | `{model_type}` |"
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith(prefix)]
    assert len(rows) == 1, f"docs/models.md needs one row starting {prefix!r}"
    return rows[0]


@pytest.mark.parametrize("lavis", LAVIS, ids=lambda t: f"{t.name}/{t.model_type}")
def test_docs_table_names_the_files(lavis: LavisType) -> None:
    row = _doc_row(lavis.name, lavis.model_type)
    for url in (lavis.finetuned, lavis.pretrained):
        if url:
            assert f"`{url.removeprefix(B).removeprefix(L)}`" in row, row


def test_docs_list_every_vlkit_only_type() -> None:
    lavis = {(t.name, t.model_type) for t in LAVIS}
    for name in registry.list_models():
        if not name.startswith("blip_"):
            continue
        for model_type in registry.get_model_class(name).PRETRAINED_MODEL_CONFIG_DICT:
            if (name, model_type) not in lavis and model_type != "tiny":
                assert "vlkit only" in _doc_row(name, model_type)


def test_lavis_type_without_released_weights_is_an_error_saying_so() -> None:
    with pytest.raises(ConfigError, match=r"'large'.*no released weights.*blip_feature_extractor_large\.yaml"):
        load_model("blip_feature_extractor", "large")
    with pytest.raises(ConfigError, match=r"unknown model_type 'okvqa2'.*Did you mean 'okvqa'"):
        load_model("blip_vqa", "okvqa2", pretrained=False)
