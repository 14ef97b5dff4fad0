"""Exact-match accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlkit.metrics.classification import classification_accuracy


def test_accuracy_on_ids_strings_and_tensors() -> None:
    assert classification_accuracy([1, 0, 1, 1], [1, 1, 1, 0])["accuracy"] == pytest.approx(50.0)
    out = classification_accuracy(["cat", "dog", "car"], ["cat", "dog", "bus"])
    assert out["accuracy"] == out["agg_metrics"] == pytest.approx(200 / 3)
    assert out["num_samples"] == 3.0
    assert classification_accuracy(torch.tensor([0, 1]), np.array([0, 1]))["accuracy"] == 100.0


def test_length_mismatch_and_empty_raise() -> None:
    with pytest.raises(ValueError, match="must match"):
        classification_accuracy([1], [1, 0])
    with pytest.raises(ValueError):
        classification_accuracy([], [])
