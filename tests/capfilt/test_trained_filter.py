"""CapFilt with a real, trained BLIP filter removes most injected noise and keeps most clean texts.

The world is a simplified "one object" one (a coloured circle, square or triangle on a plain background,
captioned "a red circle" and the like), small enough that a tiny ``blip_retrieval`` trained from random
weights through ``vlkit train`` becomes a useful ITM filter in 200 steps on 2 CPU cores. The web set has
40 % noise in the synthetic world's four kinds (swapped, generic, wrong attribute, truncated), and CapFilt
(``vlkit capfilt``, web texts only: the paper's "+F") is scored against the ground-truth labels.

Measured on the development machine (CPU, ~75 s each), seeds 0-5 of the filter's training: noise precision
0.66-1.00, recall 0.66-0.75, clean texts kept 0.74-1.00, score AUC 0.74-0.86; swapped and generic texts
removed 95-100 %, wrong attribute 70-80 %, truncated 0-25 % ("a red" is true of a red circle as far as the
filter learnt from complete captions). The seed moves the ITM head's calibration around the fixed 0.5
threshold (seed 0: removes only what it is sure of; seeds 2 and 3: also a quarter of the clean texts), and
so does another machine's arithmetic: CI's seed 0 came out at precision 0.81, recall 0.73. So the floors
sit below every measured seed, and one more asks for separation at the threshold however it is calibrated:
noisy texts removed minus clean texts removed (Youden's J; measured 0.48-0.68; 0 = a filter that cannot
tell them apart). ``VLKIT_FILTER_TEST_SEED=N`` re-runs it with another seed.

The filter is trained with random ITM negatives (``model.itm_negatives=random``): in this world many images
share one caption, so BLIP's similarity-sampled "hard" negatives are almost always false negatives (a
different image with the same description); with them the same recipe left the ITM head near chance
(clean-vs-noisy AUC about 0.6, every text below 0.5; docs/reproduction.md).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from vlkit.cli import run

pytestmark = pytest.mark.slow

COLOURS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (40, 60, 220), "yellow": (230, 210, 40)}
SHAPES = ("circle", "square", "triangle")
TEMPLATES = ("a {c} {s}", "a photo of a {c} {s}", "one {c} {s}", "{c} {s} in the picture")
GENERIC = ("my favourite photo", "click here", "new post", "untitled image")
NOISE_KINDS = ("swapped", "generic", "wrong_attribute", "truncated")

# VLKIT_FILTER_TEST_NEGATIVES=hard re-runs the recipe with BLIP's hard negatives (it then fails the floors)
ITM_NEGATIVES = os.environ.get("VLKIT_FILTER_TEST_NEGATIVES", "random")
# VLKIT_FILTER_TEST_SEED=N trains the filter with another seed (how the floors' spread was measured)
TRAIN_SEED = int(os.environ.get("VLKIT_FILTER_TEST_SEED", "0"))
NOISE_PRECISION_FLOOR = 0.55  # the noise rate is 0.40: a filter removing texts at random scores 0.40
NOISE_RECALL_FLOOR = 0.55
CLEAN_KEPT_FLOOR = 0.65
SEPARATION_FLOOR = 0.35  # recall - (1 - clean kept)
SCORE_AUC_FLOOR = 0.65


def _draw(rng: random.Random, colour: str, shape: str) -> Image.Image:
    img = Image.new("RGB", (64, 64), rng.choice([(20, 20, 20), (128, 128, 128), (240, 240, 240)]))
    r = rng.randint(12, 22)
    x, y = rng.randint(r, 63 - r), rng.randint(r, 63 - r)
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=COLOURS[colour])
    elif shape == "square":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=COLOURS[colour])
    else:
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=COLOURS[colour])
    return img


def _noisy_caption(rng: random.Random, kind: str, colour: str, shape: str) -> str:
    other_colour = rng.choice([c for c in COLOURS if c != colour])
    other_shape = rng.choice([s for s in SHAPES if s != shape])
    if kind == "swapped":  # another image's caption: names neither this colour nor this shape
        return rng.choice(TEMPLATES).format(c=other_colour, s=other_shape)
    if kind == "generic":
        return rng.choice(GENERIC)
    if kind == "wrong_attribute":
        wrong = (other_colour, shape) if rng.random() < 0.5 else (colour, other_shape)
        return rng.choice(TEMPLATES).format(c=wrong[0], s=wrong[1])
    return f"a {colour}"  # truncated


def _write_set(root: Path, n: int, seed: int, noise: bool) -> tuple[list[dict], dict[str, dict]]:
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True)
    entries, labels = [], {}
    for i in range(n):
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        key = f"img{i:04d}"
        _draw(rng, colour, shape).save(root / "images" / f"{key}.png")
        caption, kind = rng.choice(TEMPLATES).format(c=colour, s=shape), "clean"
        if noise and i % 5 in (1, 3):  # 40 % noisy, the four kinds in turn
            kind = NOISE_KINDS[(i // 5) % 4]
            caption = _noisy_caption(rng, kind, colour, shape)
        entries.append({"image": f"images/{key}.png", "caption": caption, "image_id": str(i)})
        labels[key] = {"noisy": kind != "clean", "kind": kind}
    return entries, labels


@pytest.fixture
def one_object_world(tmp_path: Path) -> dict[str, Path]:
    human, web = tmp_path / "human", tmp_path / "web"
    entries, _ = _write_set(human, 400, seed=0, noise=False)
    (human / "train.json").write_text(json.dumps(entries))
    entries, labels = _write_set(web, 200, seed=1, noise=True)
    (web / "web.json").write_text(json.dumps([{"image": e["image"], "caption": e["caption"]} for e in entries]))
    (web / "noise_labels.json").write_text(json.dumps(labels))
    return {"human": human, "web": web}


def test_trained_filter_removes_most_noise(one_object_world: dict[str, Path], tmp_path: Path) -> None:
    human, web = one_object_world["human"], one_object_world["web"]
    train_cfg = tmp_path / "filter.yaml"
    train_cfg.write_text(
        f"""
model:
  arch: blip_retrieval
  model_type: tiny
  load_pretrained: false
  itm_negatives: {ITM_NEGATIVES}
  momentum: 0.9
  queue_size: 64
  alpha: 0.0
datasets:
  coco_retrieval:
    build_info:
      root: {human}
      annotations:
        train: {{storage: train.json}}
      images: {{storage: .}}
    vis_processor:
      train: {{name: blip_image_eval, image_size: 64}}
run:
  task: retrieval
  runner: runner_iter
  max_iters: 200
  iters_per_inner_epoch: 200
  lr_sched: linear_warmup_cosine_lr
  init_lr: 1.0e-3
  min_lr: 0.0
  warmup_steps: 20
  weight_decay: 0.05
  batch_size_train: 32
  num_workers: 0
  seed: {TRAIN_SEED}
  output_dir: {tmp_path / "train"}
  job_name: filter
  train_splits: [train]
  test_splits: []
"""
    )
    assert run(["train", "--cfg-path", str(train_cfg)]) == 0
    checkpoint = sorted((tmp_path / "train" / "filter" / "checkpoints").glob("checkpoint_step*.pth"))[-1]

    capfilt_cfg = tmp_path / "capfilt.yaml"
    capfilt_cfg.write_text(
        f"""
capfilt:
  captioner: {{arch: blip_caption, model_type: tiny}}
  filter: {{arch: blip_retrieval, model_type: tiny, checkpoint: {checkpoint}, overrides: {{queue_size: 64}}}}
  data:
    format: json
    annotations: {web / "web.json"}
    images_root: {web}
    noise_labels: {web / "noise_labels.json"}
  num_captions: 0
  itm_threshold: 0.5
  batch_size: 50
  shard_size: 100
  output_formats: [json]
  output_dir: {tmp_path / "capfilt"}
"""
    )
    assert run(["capfilt", "--cfg-path", str(capfilt_cfg)]) == 0
    report = json.loads((tmp_path / "capfilt" / "report.json").read_text())
    noise = report["noise_filter"]
    assert noise["precision"] >= NOISE_PRECISION_FLOOR, report
    assert noise["recall"] >= NOISE_RECALL_FLOOR, report
    assert noise["clean_kept_rate"] >= CLEAN_KEPT_FLOOR, report
    assert noise["recall"] - (1.0 - noise["clean_kept_rate"]) >= SEPARATION_FLOOR, report
    assert noise["score_auc"] >= SCORE_AUC_FLOOR, report
    assert noise["noisy_web_texts"] == 80 and report["counts"]["web_kept"] + report["counts"]["web_removed"] == 200
    # texts that name what the image lacks, or nothing at all, are the ones a filter must catch
    assert noise["removed_rate_by_kind"]["swapped"] >= 0.8 and noise["removed_rate_by_kind"]["generic"] >= 0.8, report
