"""The synthetic world is learnable: a tiny captioner's loss falls quickly on a few hundred images."""

from __future__ import annotations

import pytest
import torch

from vlkit.data.builders import load_dataset
from vlkit.models import load_model

pytestmark = pytest.mark.slow


def test_tiny_captioner_learns_the_shapes_world() -> None:
    torch.manual_seed(0)
    ds = load_dataset("shapes_coco_caption", max_samples=320)["train"]
    batches = [ds.collater([ds[i] for i in range(s, s + 32)]) for s in range(0, 320, 32)]
    model = load_model("blip_caption", "tiny")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        for batch in batches:
            loss = model(batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert first > 9.0  # ~ln(30524): nothing known at the start
    assert last < 0.5 * first, (first, last)
    model.eval()
    captions = model.generate({"image": batches[0]["image"][:4]}, num_beams=3, max_length=20, min_length=5)
    vocab = {"circle", "square", "triangle", "diamond", "red", "green", "blue", "yellow", "purple", "orange"}
    assert any(vocab & set(c.split()) for c in captions), captions
