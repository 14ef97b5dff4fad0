"""Image-text retrieval fine-tuning: ITC with an image-id queue + ITM re-ranking."""

from __future__ import annotations

from typing import ClassVar

import torch

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig, model_type_configs
from vlkit.models.blip.contrastive import ContrastiveHeads
from vlkit.models.blip.features import FeatureMixin
from vlkit.models.examples import ExampleBatch, example_images, example_texts
from vlkit.models.outputs import ModelOutput


@registry.register_model("blip_retrieval")
class BlipRetrieval(ContrastiveHeads, FeatureMixin, BlipBase):
    """Image-text retrieval: ITC with an image-id queue (positives sharing an image) + ITM re-ranking head.

    The ``msrvtt`` type applies the COCO weights zero-shot to videos (frames' projections averaged for ITC,
    frames' features concatenated for ITM).
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = model_type_configs(
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

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {"image": example_images(config, batch_size), "text_input": example_texts(batch_size)}
        samples["image_id"] = torch.arange(batch_size)
        return ExampleBatch(samples, inference="match", inference_kwargs={"match_head": "itm"})

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


# These models lived in this module before each got its own file; importable from here for one more release.
from vlkit.models.blip.feature_extractor import BlipFeatureExtractor  # noqa: E402
from vlkit.models.blip.image_text_matching import BlipImageTextMatching  # noqa: E402
from vlkit.models.blip.pretrain import BlipPretrain  # noqa: E402

__all__ = ["BlipFeatureExtractor", "BlipImageTextMatching", "BlipPretrain", "BlipRetrieval"]
