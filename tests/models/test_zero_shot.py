"""Zero-shot classification: a tiny model trained on the shapes world names colours well above chance.

The margin comes from the number of classes and images: a classifier guessing at random is right with
probability 1/C, so its accuracy over N images has standard deviation sqrt(p(1-p)/N); the floor sits four of
those above chance (the trained model scores far higher: colour is what its captions name first).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vlkit.data.io import load_image
from vlkit.data.synthetic.classes import write_class_folders
from vlkit.data.synthetic.scene import COLOURS
from vlkit.models import load_model, load_model_and_preprocess
from vlkit.models.zero_shot import ZeroShotClassifier, check_templates, parse_names

TEMPLATES = ("a {} shape", "a photo of a {} shape")


def above_chance_floor(num_classes: int, num_images: int, sigmas: float = 4.0) -> float:
    chance = 1.0 / num_classes
    return chance + sigmas * math.sqrt(chance * (1.0 - chance) / num_images)


def _images(root: Path, transform) -> tuple[torch.Tensor, list[int]]:
    classes = sorted(p.name for p in root.iterdir())
    files = [(f, classes.index(f.parent.name)) for f in sorted(root.rglob("*.jpg"))]
    return torch.stack([transform(load_image(f)) for f, _ in files]), [label for _, label in files]


@pytest.mark.slow
def test_trained_tiny_model_classifies_colours_well_above_chance(trained_itc_checkpoint: Path, tmp_path: Path) -> None:
    write_class_folders(tmp_path, "colour", per_class=10, seed=1, image_size=32)
    model, vis, _ = load_model_and_preprocess("blip_retrieval", "tiny", is_eval=True, checkpoint=trained_itc_checkpoint)
    images, labels = _images(tmp_path / "val", vis["eval"])
    names = sorted(COLOURS)
    clf = ZeroShotClassifier(model, names, TEMPLATES)
    pred = clf.classify(images)
    accuracy = float((pred.predictions == torch.tensor(labels)).float().mean())
    assert accuracy >= above_chance_floor(len(names), len(labels)), accuracy
    # a class's ITC score is the mean over templates of the cosine similarities
    single = [ZeroShotClassifier(model, names, [t]).classify(images).itc for t in TEMPLATES]
    torch.testing.assert_close(pred.itc, sum(single) / len(single))
    # ITM re-ranking re-orders the ITC top-k only, and scores those by match probability
    reranked = ZeroShotClassifier(model, names, TEMPLATES, rerank_k=3).classify(images)
    assert reranked.itm is not None and reranked.itm.shape == (len(labels), 3)
    assert bool(((reranked.itm >= 0) & (reranked.itm <= 1)).all())
    assert torch.equal(reranked.ranking[:, 3:], pred.ranking[:, 3:])
    assert torch.equal(reranked.ranking[:, :3].sort(dim=1).values, pred.ranking[:, :3].sort(dim=1).values)


def test_random_model_gives_a_full_ranking_and_labels() -> None:
    model = load_model("blip_feature_extractor", "tiny", is_eval=True)
    clf = ZeroShotClassifier(model, ["cat", "dog", "bird"], ["a photo of a {}."])
    pred = clf.classify(torch.randn(2, 3, 64, 64))
    assert pred.itc.shape == (2, 3) and sorted(pred.ranking[0].tolist()) == [0, 1, 2]
    top = clf.labels(pred, top_k=2)
    assert [len(t) for t in top] == [2, 2] and top[0][0][0] == ["cat", "dog", "bird"][int(pred.predictions[0])]
    assert top[0][0][1] == pytest.approx(float(pred.itc[0].max()))


def test_bad_classes_templates_and_models_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="needs class names"):
        parse_names(None, "--classes")
    with pytest.raises(ValueError, match="empty name"):
        parse_names("cat,,dog")
    with pytest.raises(ValueError, match="more than once"):
        parse_names(["cat", "cat"])
    with pytest.raises(ValueError, match="exactly once"):
        check_templates(["a photo"])
    with pytest.raises(ValueError, match="no image-text contrastive"):
        ZeroShotClassifier(load_model("blip_caption", "tiny"), ["cat"])
    with pytest.raises(ValueError, match="no ITM head"):
        ZeroShotClassifier(load_model("blip_feature_extractor", "tiny"), ["cat"], rerank_k=2)


def test_class_names_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "classes.txt"
    path.write_text("golden retriever\n\ntabby cat\n")
    assert parse_names(str(path)) == ["golden retriever", "tabby cat"]
