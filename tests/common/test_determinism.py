"""``run.deterministic``: on by default for CPU jobs, opt-in on GPUs, and it really switches PyTorch's mode."""

from __future__ import annotations

import torch

from vlkit.common.determinism import configure_determinism, resolve_deterministic


def test_auto_is_on_for_cpu_and_off_for_gpu() -> None:
    assert resolve_deterministic(None, torch.device("cpu")) is True
    assert resolve_deterministic(None, torch.device("cuda", 0)) is False
    assert resolve_deterministic(True, torch.device("cuda", 0)) is True
    assert resolve_deterministic(False, torch.device("cpu")) is False


def test_configure_sets_and_clears_the_mode() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    try:
        assert configure_determinism(None, torch.device("cpu"))
        assert torch.are_deterministic_algorithms_enabled()
        assert not configure_determinism(False, torch.device("cpu"))
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


def test_repeated_index_backward_is_ordered_under_the_mode() -> None:
    # x[idx] with repeated rows: the backward that made BLIP's hard negatives vary between runs.
    torch.manual_seed(0)
    x, idx = torch.randn(64, 4096), torch.randint(0, 8, (512,))
    grad_out = torch.randn(512, 4096)

    def grad() -> torch.Tensor:
        leaf = x.clone().requires_grad_()
        leaf[idx].backward(grad_out)
        return leaf.grad

    before = torch.are_deterministic_algorithms_enabled()
    try:
        configure_determinism(True, torch.device("cpu"))
        first = grad()
        assert all(torch.equal(first, grad()) for _ in range(5))
    finally:
        torch.use_deterministic_algorithms(before)
