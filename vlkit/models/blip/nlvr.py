"""NLVR²: is a statement true of a pair of images? Cross-attention sees both images (two branches)."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig
from vlkit.models.examples import ExampleBatch, example_images, example_texts
from vlkit.models.outputs import ModelOutput


@registry.register_model("blip_nlvr")
class BlipNLVR(BlipBase):
    """[ENC] text encoder whose cross-attention has separate Q/K/V per image (``self0``/``self1``); layers
    below 6 average the branches, later ones merge them (Linear 2H→H). An MLP head predicts true/false.
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {
        t: f"configs/models/blip_nlvr/{t}.yaml" for t in ("nlvr", "tiny")
    }
    DEFAULT_MODEL_TYPE: ClassVar[str] = "nlvr"

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {
            "image0": example_images(config, batch_size, seed=0),
            "image1": example_images(config, batch_size, seed=1),
            "text_input": example_texts(batch_size),
            "label": torch.arange(batch_size) % 2,
        }
        return ExampleBatch(samples, inference="predict")

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_encoder = self.build_text_encoder(num_cross_images=2)
        h = self.text_encoder.config.hidden_size
        self.cls_head = nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2))

    def adapt_state_dict(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A single-image checkpoint (pre-training) initialises both cross-attention branches, as in BLIP."""
        out = dict(state_dict)
        for key, value in state_dict.items():
            if "crossattention.self." in key:
                for branch in ("self0", "self1"):
                    out.setdefault(key.replace("crossattention.self.", f"crossattention.{branch}."), value)
                del out[key]
            elif "crossattention.output.dense." in key:
                for branch in ("dense0", "dense1"):
                    out.setdefault(key.replace("output.dense.", f"output.{branch}."), value)
                del out[key]
        return out

    def logits(self, samples: dict) -> torch.Tensor:
        image0, image1 = samples["image0"].to(self.device), samples["image1"].to(self.device)
        embeds = self.visual_encoder(torch.cat([image0, image1], dim=0))
        e0, e1 = embeds.split(image0.shape[0], dim=0)
        ids, atts = self.tokenize(samples["text_input"], first_token=self.tokenizer.enc_token_id)
        out = self.text_encoder(ids, atts, encoder_hidden_states=[e0, e1], mode="multimodal").last_hidden_state
        return self.cls_head(out[:, 0])

    def forward(self, samples: dict) -> ModelOutput:
        logits = self.logits(samples)
        loss = F.cross_entropy(logits, torch.as_tensor(samples["label"], device=self.device).long())
        return ModelOutput(loss=loss, loss_cls=loss, logits=logits)

    @torch.no_grad()
    def predict(self, samples: dict) -> dict[str, torch.Tensor]:
        """``{"predictions": [B], "targets": [B] (when labels are given), "logits": [B, 2]}``."""
        logits = self.logits(samples)
        out = {"predictions": logits.argmax(dim=1), "logits": logits}
        if "label" in samples:
            out["targets"] = torch.as_tensor(samples["label"], device=self.device)
        return out
