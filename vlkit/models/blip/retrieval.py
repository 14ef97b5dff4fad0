"""Models built on ITC + ITM: pre-training, retrieval fine-tuning, stand-alone matching, feature extraction."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig
from vlkit.models.blip.contrastive import ContrastiveHeads
from vlkit.models.blip.features import FeatureMixin
from vlkit.models.med import MedForCausalLM, tie_text_weights
from vlkit.models.outputs import ModelOutput

_CFG = "configs/models/{arch}/{type}.yaml"


def _types(arch: str, *types: str) -> dict[str, str]:
    return {t: _CFG.format(arch=arch, type=t) for t in types}


@registry.register_model("blip_pretrain")
class BlipPretrain(ContrastiveHeads, FeatureMixin, BlipBase):
    """BLIP pre-training: ITC (momentum distillation, queues) + ITM (hard negatives) + LM (label smoothing).

    One ViT pass and three text passes per batch; the decoder shares everything but self-attention with
    the encoder (``share_strategy``, the paper's Table 3).
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = _types(
        "blip_pretrain", "base", "base_129m", "large", "tiny"
    )
    DEFAULT_MODEL_TYPE: ClassVar[str] = "base"

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.init_contrastive(use_idx_queue=False, ptr_name="queue_ptr")
        self.text_decoder = MedForCausalLM(self.med_config())
        tie_text_weights(self.text_encoder, self.text_decoder.bert, config.share_strategy)
        self.text_decoder.tie_weights()
        # The released pre-training checkpoints hold a stale 30522-entry `cls.predictions.bias` beside the
        # 30524-entry decoder bias that is actually used (left over from growing BERT's vocabulary by
        # [DEC]/[ENC]). Keep that layout, as an unused buffer, so those checkpoints load strictly.
        head = self.text_decoder.cls.predictions
        del head.bias
        head.register_buffer("bias", torch.zeros(self.tokenizer.vocab_size))

    def forward(self, samples: dict, alpha: float | None = None) -> ModelOutput:
        """ITC + ITM + LM losses; ``alpha`` is the ITC distillation weight (None = ``config.alpha``)."""
        image = self.image_input(samples).to(self.device)
        image_embeds = self.encode_image(image)
        ids, atts = self.tokenize(samples["text_input"])
        loss_itc, loss_itm = self.itc_and_itm(image, image_embeds, ids, atts, idx=None, alpha=alpha)
        loss_lm = self.decoder_lm_loss(ids, atts, image_embeds)
        return ModelOutput(loss=loss_itc + loss_itm + loss_lm, loss_itc=loss_itc, loss_itm=loss_itm, loss_lm=loss_lm)


@registry.register_model("blip_retrieval")
class BlipRetrieval(ContrastiveHeads, FeatureMixin, BlipBase):
    """Image-text retrieval: ITC with an image-id queue (positives sharing an image) + ITM re-ranking head.

    The ``msrvtt`` type applies the COCO weights zero-shot to videos (frames' projections averaged for ITC,
    frames' features concatenated for ITM).
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = _types(
        "blip_retrieval",
        "coco",
        "flickr",
        "coco_original",
        "flickr_original",
        "large_coco",
        "large_flickr",
        "msrvtt",
        "tiny",
    )
    DEFAULT_MODEL_TYPE: ClassVar[str] = "coco"

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.init_contrastive(use_idx_queue=True, ptr_name="ptr_queue")

    def forward(self, samples: dict, alpha: float | None = None) -> ModelOutput:
        """ITC + ITM losses; ``alpha`` is the ITC distillation weight (None = ``config.alpha``)."""
        image = self.image_input(samples).to(self.device)
        image_embeds = self.encode_image(image)
        ids, atts = self.tokenize(samples["text_input"])
        idx = samples.get("image_id")
        idx = torch.as_tensor(idx, device=self.device) if idx is not None else None
        loss_itc, loss_itm = self.itc_and_itm(image, image_embeds, ids, atts, idx=idx, alpha=alpha)
        return ModelOutput(loss=loss_itc + loss_itm, loss_itc=loss_itc, loss_itm=loss_itm)


@registry.register_model("blip_image_text_matching")
class BlipImageTextMatching(FeatureMixin, BlipBase):
    """Score whether a text matches an image: ``model(samples, match_head="itm")`` → ITM logits ``[B, 2]`` of
    the pairs, ``match_head="itc"`` → cosine similarity matrix ``[B_img, B_txt]`` (as LAVIS). Loads retrieval
    checkpoints (as the original does).
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = _types("blip_image_text_matching", "base", "large", "tiny")
    DEFAULT_MODEL_TYPE: ClassVar[str] = "base"
    HF_ARCH: ClassVar[str] = "retrieval"

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_encoder = self.build_text_encoder()
        text_width = self.text_encoder.config.hidden_size
        self.vision_proj = nn.Linear(self.vision_width, config.embed_dim)
        self.text_proj = nn.Linear(text_width, config.embed_dim)
        self.itm_head = nn.Linear(text_width, 2)

    def forward(self, samples: dict, match_head: str = "itm") -> torch.Tensor:
        return self.match(samples, match_head)


@registry.register_model("blip_feature_extractor")
class BlipFeatureExtractor(FeatureMixin, BlipBase):
    """Unimodal (image / text, with 256-d ITC projections) and multimodal features: ``extract_features``."""

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = _types(
        "blip_feature_extractor", "base", "base_129m", "tiny"
    )
    UNRELEASED_MODEL_TYPES: ClassVar[dict[str, str]] = {
        "large": "LAVIS lists it only as a comment (configs/models/blip_feature_extractor_large.yaml, never added) "
        "and Salesforce published no weights for it"
    }
    DEFAULT_MODEL_TYPE: ClassVar[str] = "base"

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_encoder = self.build_text_encoder()
        self.vision_proj = nn.Linear(self.vision_width, config.embed_dim)
        self.text_proj = nn.Linear(self.text_encoder.config.hidden_size, config.embed_dim)

    def forward(self, samples: dict) -> torch.Tensor:
        """ITC cosine similarity matrix ``[B_img, B_txt]``, as ``match(samples, match_head="itc")``."""
        return self.match(samples, match_head="itc")
