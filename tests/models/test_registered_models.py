"""Every registered model, on its tiny type: forward, backward, save/load round trip and its evaluation API.

Generated from the registry and each model's ``example_batch``: registering a model tests it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vlkit.common.registry import registry
from vlkit.models import load_model
from vlkit.models.examples import ExampleBatch

TINY = "tiny"
BUILTIN = [n for n in registry.list_models() if registry.get_model_class(n).__module__.startswith("vlkit.")]
CASES = [
    (name, t)
    for name in registry.list_models()
    for t in registry.get_model_class(name).PRETRAINED_MODEL_CONFIG_DICT
    if t == TINY
]


def _example(name: str, model: torch.nn.Module) -> ExampleBatch:
    example = type(model).example_batch(model.config)
    assert isinstance(example, ExampleBatch) and example.samples, f"{name}.example_batch"
    return example


def _outputs(value: object) -> list[torch.Tensor]:
    """The tensors in an inference result (tensor, dict, dataclass, list of strings -> none)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _outputs(v)]
    if hasattr(value, "__dataclass_fields__"):
        return [t for k in value.__dataclass_fields__ for t in _outputs(getattr(value, k))]
    return []


def test_every_builtin_model_has_a_tiny_type_and_an_example_batch() -> None:
    for name in BUILTIN:
        cls = registry.get_model_class(name)
        assert TINY in cls.PRETRAINED_MODEL_CONFIG_DICT, f"{name} needs a tiny type for the registry-wide tests"
        assert (name, TINY) in CASES
        assert "example_batch" in vars(cls) or any("example_batch" in vars(b) for b in cls.__mro__[1:-3]), name


@pytest.mark.parametrize(("name", "model_type"), CASES)
def test_forward_backward_save_load_and_eval_api(name: str, model_type: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load_model(name, model_type)
    example = _example(name, model)
    if example.trainable:
        model.train()
        out = model(example.samples)
        assert out.loss.ndim == 0 and torch.isfinite(out.loss), name
        out.loss.backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert any(g is not None and bool(g.abs().sum() > 0) for g in grads), f"{name}: no gradient reached a weight"
        model.zero_grad(set_to_none=True)
    path = model.save_checkpoint(tmp_path / name)
    torch.manual_seed(1)  # the copy starts from other weights: only loading can make it equal
    copy = load_model(name, model_type)
    copy.load_checkpoint(path, strict=True)
    own, loaded = model.state_dict(), copy.state_dict()
    assert own.keys() == loaded.keys()
    assert all(torch.equal(own[k], loaded[k]) for k in own), f"{name}: weights differ after the round trip"
    assert example.inference is not None and hasattr(model, example.inference), f"{name}: no evaluation API"
    model.eval()
    copy.eval()
    results = []
    for m in (model, copy):
        torch.manual_seed(2)
        with torch.no_grad():
            results.append(getattr(m, example.inference)(example.samples, **example.inference_kwargs))
    first, second = results
    assert first is not None
    tensors = list(zip(_outputs(first), _outputs(second), strict=True))
    assert all(torch.equal(a, b) for a, b in tensors), f"{name}: the loaded copy answers differently"
    if not tensors:
        assert first == second  # e.g. generated strings
