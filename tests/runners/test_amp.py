from __future__ import annotations

import math

import pytest
import torch

from vlkit.common.config import ConfigError
from vlkit.runners.amp import MixedPrecision


def test_bf16_autocast_on_cpu() -> None:
    amp = MixedPrecision("bf16", torch.device("cpu"))
    lin = torch.nn.Linear(8, 4)
    with amp.autocast():
        out = lin(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    before = lin.weight.detach().clone()
    amp.backward(out.float().pow(2).mean())
    amp.step(opt, list(lin.parameters()), grad_clip=0.0)
    assert not torch.equal(before, lin.weight)
    assert lin.weight.grad is None  # zeroed (set to None) after the update


def test_none_is_fp32_and_fp16_needs_cuda() -> None:
    with MixedPrecision("none", torch.device("cpu")).autocast():
        assert torch.nn.Linear(3, 3)(torch.randn(1, 3)).dtype == torch.float32
    with pytest.raises(ConfigError, match="run.amp=fp16 needs a CUDA device"):
        MixedPrecision("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="run.amp='fp32'"):
        MixedPrecision("fp32", torch.device("cpu"))


def test_gradient_clipping() -> None:
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([p], lr=1.0)
    amp = MixedPrecision("none", torch.device("cpu"))
    amp.backward((p * torch.tensor([3.0, 4.0, 0.0, 0.0])).sum())  # grad norm 5
    norm = amp.step(opt, [p], grad_clip=1.0)
    assert norm == pytest.approx(5.0)
    assert torch.allclose(p.detach(), -torch.tensor([0.6, 0.8, 0.0, 0.0]))  # the update used the clipped gradient


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 loss scaling needs CUDA")
def test_fp16_with_grad_scaler_on_cuda() -> None:
    amp = MixedPrecision("fp16", torch.device("cuda"))
    lin = torch.nn.Linear(8, 4).cuda()
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-3)
    with amp.autocast():
        out = lin(torch.randn(2, 8, device="cuda"))
    assert out.dtype == torch.float16
    amp.backward(out.float().pow(2).mean())
    norm = amp.step(opt, list(lin.parameters()), grad_clip=1.0)
    assert math.isfinite(norm)  # unscaled before clipping: a real norm, not inf from the loss scale
    state = amp.state_dict()
    assert state["scale"] > 0
    other = MixedPrecision("fp16", torch.device("cuda"))
    other.load_state_dict(state)
    assert other.scaler.get_scale() == amp.scaler.get_scale()
