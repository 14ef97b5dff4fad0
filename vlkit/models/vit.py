"""The BLIP image encoder: a ViT built from timm's layers, with BLIP's state-dict layout.

Keys: ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``, ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,
mlp.fc1,mlp.fc2}.*``, ``norm.*`` — exactly the released checkpoints' ``visual_encoder.*`` keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block
from torch import nn
from torch.utils.checkpoint import checkpoint


@dataclass
class VisionConfig:
    """Shape of the image encoder. ``ckpt_layer``: checkpoint the last k blocks (0 = all) when ``grad_ckpt``."""

    image_size: int = 224
    patch_size: int = 16
    width: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0
    grad_ckpt: bool = False
    ckpt_layer: int = 0


VISION_PRESETS: dict[str, dict] = {
    "tiny": {"width": 128, "depth": 4, "num_heads": 4, "patch_size": 8},
    "base": {"width": 768, "depth": 12, "num_heads": 12, "patch_size": 16},
    "large": {"width": 1024, "depth": 24, "num_heads": 16, "patch_size": 16},
}


def vision_config(size: str, image_size: int, **overrides: object) -> VisionConfig:
    """A :class:`VisionConfig` for a preset (``tiny``/``base``/``large``) at ``image_size``.

    Raises:
        ValueError: for an unknown preset, listing the known ones.
    """
    if size not in VISION_PRESETS:
        raise ValueError(f"Unknown ViT size {size!r} (model.vit); choose one of {', '.join(VISION_PRESETS)}.")
    return VisionConfig(image_size=image_size, **{**VISION_PRESETS[size], **overrides})


def interpolate_pos_embed(pos_embed: torch.Tensor, num_patches: int) -> torch.Tensor:
    """Resize ``[1, 1+N, D]`` position embeddings to ``1+num_patches`` tokens (bicubic on the grid, cls kept).

    Used when a checkpoint trained at one resolution (197 / 577 / 901 tokens) is loaded at another,
    and at run time for images of a different size.
    """
    old = pos_embed.shape[1] - 1
    if old == num_patches:
        return pos_embed
    old_side, new_side = int(math.isqrt(old)), int(math.isqrt(num_patches))
    if old_side**2 != old or new_side**2 != num_patches:
        raise ValueError(f"Cannot interpolate position embeddings from {old} to {num_patches} patches (not square).")
    cls_tok, grid = pos_embed[:, :1], pos_embed[:, 1:]
    dim = grid.shape[-1]
    grid = grid.reshape(1, old_side, old_side, dim).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=(new_side, new_side), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_side * new_side, dim).to(pos_embed.dtype)
    return torch.cat([cls_tok, grid], dim=1)


def sincos_position_grid(width: int, side: int) -> torch.Tensor:
    """``[side*side, width]`` fixed 2-D sine-cosine position codes, as MAE starts its ViT from.

    A quarter of the channels each for sin/cos of x/y; every patch gets its own code on the scale of the patch
    embeddings (a std-0.02 random start leaves the tiny ViT unable to tell cells apart for hundreds of updates).

    Raises:
        ValueError: when ``width`` is not a multiple of 4.
    """
    if width % 4:
        raise ValueError(f"width {width} must be a multiple of 4 for 2-D sine-cosine positions")
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(), indexing="ij")
    freqs = 1.0 / 10000 ** (torch.arange(width // 4).float() / (width // 4))
    parts = []
    for coord in (xs.reshape(-1, 1) * freqs, ys.reshape(-1, 1) * freqs):
        parts += [torch.sin(coord), torch.cos(coord)]
    return torch.cat(parts, dim=1)


class VisionTransformer(nn.Module):
    """Pre-norm ViT (timm ``Block``s, LayerNorm eps 1e-6, exact GELU) returning all tokens after the final norm.

    Args:
        cfg: The encoder's shape.
    """

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.width = cfg.width
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.patch_embed = PatchEmbed(
            img_size=cfg.image_size, patch_size=cfg.patch_size, in_chans=3, embed_dim=cfg.width, strict_img_size=False
        )
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.width))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, cfg.width))
        dpr = [cfg.drop_path_rate * i / max(1, cfg.depth - 1) for i in range(cfg.depth)]  # stochastic depth rule
        self.blocks = nn.ModuleList(
            Block(
                dim=cfg.width,
                num_heads=cfg.num_heads,
                mlp_ratio=cfg.mlp_ratio,
                qkv_bias=True,
                drop_path=dpr[i],
                norm_layer=norm_layer,
                act_layer=nn.GELU,
            )
            for i in range(cfg.depth)
        )
        self.norm = norm_layer(cfg.width)
        self.grad_ckpt_from = cfg.depth - cfg.ckpt_layer if cfg.grad_ckpt and cfg.ckpt_layer > 0 else 0
        self.grad_ckpt = cfg.grad_ckpt
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def set_grad_checkpointing(self, enable: bool = True, last_k: int = 0) -> None:
        """Recompute the activations of the last ``last_k`` blocks (0 = all) in the backward pass."""
        self.grad_ckpt = enable
        self.grad_ckpt_from = len(self.blocks) - last_k if last_k > 0 else 0

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, 1 + N, width]``; other image sizes get interpolated position embeddings.

        Images are cast to the encoder's dtype, so fp32 processor output feeds a bf16/fp16 model as is.
        """
        x = self.patch_embed(images.to(self.pos_embed.dtype))
        pos = interpolate_pos_embed(self.pos_embed, x.shape[1])
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + pos
        for i, block in enumerate(self.blocks):
            if self.grad_ckpt and self.training and i >= self.grad_ckpt_from and torch.is_grad_enabled():
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.norm(x)


def build_vision_encoder(size: str, image_size: int, **overrides: object) -> VisionTransformer:
    """A ViT preset at ``image_size`` (see :data:`VISION_PRESETS`)."""
    return VisionTransformer(vision_config(size, image_size, **overrides))
