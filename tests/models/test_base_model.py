"""BaseModel's loading machinery on a small local model: strict errors, partial loads, hooks, pos-embed, saving."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from vlkit.models.base_model import BaseModel
from vlkit.models.checkpoint import CheckpointError, LoadReport
from vlkit.models.vit import VisionConfig, VisionTransformer, interpolate_pos_embed


@dataclass
class TinyConfig:
    image_size: int = 32
    with_head: bool = True
    finetuned: str | None = None
    load_finetuned: bool = False
    finetuned_sha256: str | None = None
    pretrained: str | None = None
    load_pretrained: bool = False


class TinyNet(BaseModel):
    """A ViT (and its momentum copy) plus an optional head: enough to exercise every loading path."""

    CONFIG_CLASS: ClassVar[type] = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        vit = VisionConfig(image_size=config.image_size, patch_size=8, width=16, depth=1, num_heads=2)
        self.visual_encoder = VisionTransformer(vit)
        self.visual_encoder_m = VisionTransformer(vit)
        if config.with_head:
            self.head = nn.Linear(16, 2)

    def adapt_state_dict(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # e.g. a checkpoint without the momentum copy: start it from the online encoder
        out = dict(state_dict)
        for k, v in state_dict.items():
            if k.startswith("visual_encoder.") and "visual_encoder_m." + k[15:] not in out:
                out["visual_encoder_m." + k[15:]] = v
        return out


def _net(**kw: object) -> TinyNet:
    torch.manual_seed(len(kw))
    return TinyNet.from_config(OmegaConf.create(kw))


def test_strict_load_of_own_state_dict() -> None:
    src, dst = _net(), _net(image_size=32, with_head=True)
    report = dst.load_checkpoint(src.state_dict())
    assert isinstance(report, LoadReport) and report.missing_keys == report.unexpected_keys == []
    assert all(torch.equal(v, dst.state_dict()[k]) for k, v in src.state_dict().items())


def test_strict_errors_list_missing_and_unexpected_keys_and_the_file(tmp_path: Path) -> None:
    sd = _net().state_dict()
    sd["extra.weight"] = torch.zeros(1)
    del sd["head.bias"]
    torch.save({"model": sd}, tmp_path / "ckpt.pth")
    with pytest.raises(CheckpointError) as err:
        _net().load_checkpoint(tmp_path / "ckpt.pth")
    msg = str(err.value)
    assert "ckpt.pth" in msg and "1 missing: head.bias" in msg and "1 unexpected: extra.weight" in msg


def test_error_lists_at_most_ten_keys() -> None:
    sd = {f"junk{i}": torch.zeros(1) for i in range(25)} | _net().state_dict()
    with pytest.raises(CheckpointError, match=r"25 unexpected: junk0, .*junk9 \(\+15 more\)"):
        _net().load_checkpoint(sd)


def test_non_strict_keeps_the_keys_the_model_has() -> None:
    backbone = _net(with_head=False)
    model = _net()
    head_before = model.head.weight.detach().clone()
    report = model.load_checkpoint({**backbone.state_dict(), "text_decoder.x": torch.zeros(2)}, strict=False)
    assert report.missing_keys == ["head.weight", "head.bias"]
    assert report.unexpected_keys == ["text_decoder.x"]
    assert torch.equal(model.visual_encoder.cls_token, backbone.visual_encoder.cls_token)
    assert torch.equal(model.head.weight, head_before)


def test_adapt_state_dict_runs_before_loading() -> None:
    src = _net()
    sd = {k: v for k, v in src.state_dict().items() if not k.startswith("visual_encoder_m.")}
    model = _net(with_head=True)
    model.load_checkpoint(sd)  # strict: the hook supplied the momentum keys
    assert torch.equal(model.visual_encoder_m.pos_embed, src.visual_encoder.pos_embed)


def test_pos_embed_is_interpolated_for_both_encoders() -> None:
    small = _net(image_size=16)  # 2x2 grid: 5 tokens
    big = _net(image_size=32)  # 4x4 grid: 17 tokens
    report = big.load_checkpoint(small.state_dict())
    assert sorted(report.interpolated) == ["visual_encoder.pos_embed", "visual_encoder_m.pos_embed"]
    expected = interpolate_pos_embed(small.visual_encoder.pos_embed.detach(), 16)
    assert big.visual_encoder.pos_embed.shape == (1, 17, 16)
    torch.testing.assert_close(big.visual_encoder.pos_embed.detach(), expected)
    big.visual_encoder(torch.randn(1, 3, 32, 32))


def test_shape_mismatch_is_an_error_when_strict_and_skipped_otherwise() -> None:
    sd = _net().state_dict()
    sd["head.weight"] = torch.zeros(3, 16)
    with pytest.raises(CheckpointError, match=r"'head.weight' has shape \(3, 16\) but the model expects \(2, 16\)"):
        _net().load_checkpoint(sd)
    report = _net().load_checkpoint(sd, strict=False)
    assert report.skipped_shape_mismatch == ["head.weight"] and "head.weight" in report.missing_keys


def test_from_config_loads_finetuned_strictly_and_pretrained_partially(tmp_path: Path) -> None:
    full, backbone = _net(), _net(with_head=False)
    torch.save({"model": full.state_dict()}, tmp_path / "finetuned.pth")
    torch.save(backbone.state_dict(), tmp_path / "pretrained.pth")
    model = _net(finetuned=str(tmp_path / "finetuned.pth"), load_finetuned=True)
    assert torch.equal(model.head.weight, full.head.weight)
    model = _net(pretrained=str(tmp_path / "pretrained.pth"), load_pretrained=True)
    assert torch.equal(model.visual_encoder.cls_token, backbone.visual_encoder.cls_token)
    with pytest.raises(CheckpointError, match="missing: head.weight"):
        _net(finetuned=str(tmp_path / "pretrained.pth"), load_finetuned=True)


def test_save_checkpoint_round_trip(tmp_path: Path) -> None:
    model = _net(image_size=16)
    path = model.save_checkpoint(tmp_path / "out" / "model")
    assert path.suffix == ".safetensors" and path.with_suffix(".yaml").is_file()
    saved = OmegaConf.load(path.with_suffix(".yaml")).model
    assert saved.image_size == 16
    clone = TinyNet.from_config(saved)
    clone.load_checkpoint(path)
    assert all(torch.equal(v, clone.state_dict()[k]) for k, v in model.state_dict().items())


def test_device_no_weight_decay_and_grad_checkpointing() -> None:
    model = _net()
    assert model.device == torch.device("cpu")
    assert model.no_weight_decay() == set()
    model.set_grad_checkpointing(True)
    assert model.visual_encoder.grad_ckpt and model.visual_encoder_m.grad_ckpt
