"""The timm-based ViT: released-checkpoint keys, position-embedding interpolation, activation checkpointing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from vlkit.models.vit import VISION_PRESETS, VisionConfig, VisionTransformer, interpolate_pos_embed, vision_config

# Keys -> shapes of the released checkpoints' ``visual_encoder.*`` / ``text_*`` entries (prefixes stripped).
FIXTURE = Path(__file__).parents[1] / "fixtures" / "model_core_keys.json.gz"
REFERENCE = json.loads(gzip.open(FIXTURE, "rt").read())["families"]


@pytest.mark.parametrize(
    "size,image_size,family",
    [("base", 224, "vit_base_224"), ("large", 224, "vit_large_224"), ("base", 384, "vit_base_384")],
)
def test_keys_and_shapes_match_released_checkpoints(size: str, image_size: int, family: str) -> None:
    with torch.device("meta"):
        vit = VisionTransformer(vision_config(size, image_size))
    shapes = {k: list(v.shape) for k, v in vit.state_dict().items()}
    assert shapes == REFERENCE[family]


def test_presets_and_unknown_size() -> None:
    assert set(VISION_PRESETS) == {"tiny", "base", "large"}
    cfg = vision_config("large", 384, drop_path_rate=0.1)
    assert (cfg.width, cfg.depth, cfg.num_heads, cfg.patch_size, cfg.image_size) == (1024, 24, 16, 16, 384)
    assert cfg.drop_path_rate == 0.1
    with pytest.raises(ValueError, match="tiny"):
        vision_config("huge", 224)


def _tiny(**overrides: object) -> VisionTransformer:
    torch.manual_seed(0)
    return VisionTransformer(vision_config("tiny", 32, **overrides)).eval()


def test_forward_shape_norm_eps_and_exact_gelu() -> None:
    vit = _tiny()
    out = vit(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 1 + 16, 128) and vit.width == 128
    norms = [m for m in vit.modules() if isinstance(m, nn.LayerNorm)]
    assert norms and all(m.eps == 1e-6 for m in norms)
    gelus = [m for m in vit.modules() if isinstance(m, nn.GELU)]
    assert gelus and all(m.approximate == "none" for m in gelus)
    # the final norm is applied: every token is standardised (LayerNorm weight 1, bias 0 at init)
    assert out.mean(-1).abs().max() < 1e-4


def test_interpolate_pos_embed_identity_shape_and_cls() -> None:
    pos = torch.randn(1, 197, 8)
    assert interpolate_pos_embed(pos, 196) is pos
    big = interpolate_pos_embed(pos, 576)
    assert big.shape == (1, 577, 8)
    assert torch.equal(big[:, 0], pos[:, 0])  # the cls token is kept as is
    flat = torch.cat([pos[:, :1], torch.full((1, 196, 8), 0.25)], dim=1)
    assert torch.allclose(interpolate_pos_embed(flat, 576)[:, 1:], torch.tensor(0.25), atol=1e-6)
    with pytest.raises(ValueError, match="not square"):
        interpolate_pos_embed(pos, 200)


def test_runtime_image_size_uses_interpolated_pos_embed() -> None:
    vit = _tiny()
    images = torch.randn(1, 3, 48, 48)  # 6x6 grid instead of 4x4
    resized = VisionTransformer(vision_config("tiny", 48)).eval()
    state = vit.state_dict()
    state["pos_embed"] = interpolate_pos_embed(state["pos_embed"], 36)
    resized.load_state_dict(state)
    with torch.no_grad():
        assert vit(images).shape == (1, 37, 128)
        assert torch.allclose(vit(images), resized(images), atol=1e-6)


def _grads(vit: VisionTransformer, images: torch.Tensor) -> dict[str, torch.Tensor]:
    vit.zero_grad()
    vit(images).pow(2).mean().backward()
    return {k: p.grad.clone() for k, p in vit.named_parameters()}


def test_activation_checkpointing_gives_identical_gradients() -> None:
    vit = _tiny().train()
    images = torch.randn(2, 3, 32, 32)
    reference = _grads(vit, images)
    calls = [0] * len(vit.blocks)
    for i, block in enumerate(vit.blocks):
        # hook a sub-module: recomputation stops early, before the block's own forward hook would run
        block.attn.register_forward_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
    vit.set_grad_checkpointing(True, last_k=2)
    checkpointed = _grads(vit, images)
    assert calls == [1, 1, 2, 2]  # only the last two blocks are recomputed in the backward pass
    for k, g in reference.items():
        assert torch.allclose(g, checkpointed[k], atol=1e-6), k


def test_config_enables_checkpointing_of_last_k() -> None:
    vit = VisionTransformer(
        VisionConfig(image_size=32, patch_size=8, width=32, depth=3, num_heads=2, grad_ckpt=True, ckpt_layer=1)
    )
    assert (vit.grad_ckpt, vit.grad_ckpt_from) == (True, 2)
    vit.set_grad_checkpointing(True)
    assert vit.grad_ckpt_from == 0  # last_k=0 checkpoints every block
    vit.set_grad_checkpointing(False)
    assert not vit.grad_ckpt
