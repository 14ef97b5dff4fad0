"""The synthetic world is learnable: tiny models trained for a few minutes on CPU learn it.

Both tests use the real builders and models (no download): the captioner from random weights, the retrieval
model as the quickstart trains it (warm start, then ``vlkit train``; the shared session fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vlkit.data.builders import load_dataset
from vlkit.metrics import retrieval_metrics
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
    for _ in range(6):
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
    vocab = {"circle", "square", "triangle", "diamond", "star", "red", "green", "blue", "yellow", "purple", "orange"}
    assert any(vocab & set(c.split()) for c in captions), captions


def test_tiny_retrieval_model_rises_well_above_chance(trained_itc_checkpoint: Path) -> None:
    """ITC recall on held-out test images of the tiny retrieval model trained as the quickstart trains it.

    The session fixture (tests/conftest.py) gives the model its warm start and then 150 ITC+ITM updates of
    ``vlkit train`` on the COCO-style train split of a one-object world. From random weights ITC first sits on
    a plateau whose exit depends on seed and learning rate (docs/training.md, "Training a tiny model from
    scratch"); the warm start is what makes learning dependable, so that recipe is what is held to the bar.
    """
    world = trained_itc_checkpoint.parent / "world" / "coco"
    test = load_dataset("coco_retrieval", **{"build_info.root": str(world), "vis_processor.eval.image_size": 32})
    test = test["test"]
    model = load_model("blip_retrieval", "tiny", checkpoint=str(trained_itc_checkpoint), is_eval=True)
    with torch.no_grad():
        image_proj = torch.cat(
            [
                model.image_features(test.collater([test[i] for i in range(s, min(len(test), s + 64))])["image"])[1]
                for s in range(0, len(test), 64)
            ]
        )
        text_proj = model.text_features(list(test.text))[3]
    sims = image_proj @ text_proj.T
    metrics = retrieval_metrics(sims, sims.T.contiguous(), test.txt2img, test.img2txt)
    chance = 100.0 / len(test)  # R@1 of a random ranking, in percent
    assert len(test) >= 20, len(test)
    assert metrics["txt_r1"] > 4 * chance and metrics["img_r1"] > 4 * chance, metrics
