"""Test-wide settings (an isolated cache root) and session fixtures shared across test packages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("VLKIT_PLUGIN_AUTOLOAD", "1")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_THREAD_ENV_AT_START = {k: os.environ.get(k) for k in THREAD_ENV}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Importing test modules must not change the thread settings every later test (and subprocess) inherits."""
    changed = {k: os.environ.get(k) for k in THREAD_ENV if os.environ.get(k) != _THREAD_ENV_AT_START[k]}
    if changed:
        raise pytest.UsageError(f"a test module set {changed} on import; set it in a subprocess's env instead")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point VLKIT_CACHE at a per-session temp dir unless the caller set one (CI shares a generated world)."""
    if "VLKIT_CACHE" not in os.environ:
        monkeypatch.setenv("VLKIT_CACHE", str(tmp_path_factory.getbasetemp() / "vlkit_cache"))


# A tiny blip_retrieval that knows the shapes world's colours, made once per session as vlkit makes its tiny models
# (docs/reproduction.md): a warm start (ViT: scene attributes; text: MLM + a sentence-contrastive term; without it
# ITC sits on its plateau for hundreds of updates), then `vlkit train` (retrieval: ITC + ITM) on a one-object world
# whose captions name the object, at 32 px. About three minutes of CPU; colour accuracy 0.80-0.95 over warm-start
# seeds 0-2 (chance 0.17). With 300 text steps (the runner jobs' warm start, 2026-12-07) it was 0.33-0.87 and
# moved with the thread count: the text encoder's [CLS] had not yet learned to tell the colours apart.
TRAINED_ITC_WARM_STEPS = 300
TRAINED_ITC_TEXT_STEPS = 600
TRAINED_ITC_STEPS = 150


@pytest.fixture(scope="session")
def warm_start_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The colour model's warm start, made through the script entry point (projects/blip/reproduction/warm_start.py):
    the weights, its JSON report beside them and the two runner jobs in ``warm_start_jobs/``."""
    from tests.projects import load_script

    out = tmp_path_factory.mktemp("warm_start") / "warm_start.safetensors"
    args = ["--out", str(out), "--scenes", "1500", "--held-out", "100", "--batch-size", "64", "--image-size", "32"]
    args += ["--vision-steps", str(TRAINED_ITC_WARM_STEPS), "--text-steps", str(TRAINED_ITC_TEXT_STEPS)]
    args += ["--max-objects", "1", "--specific-captions", "true", "--seed", "0", "--device", "cpu"]
    assert load_script("warm_start").main(args) == 0
    return out


@pytest.fixture(scope="session")
def trained_itc_checkpoint(tmp_path_factory: pytest.TempPathFactory, warm_start_checkpoint: Path) -> Path:
    """The trained model saved with ``save_checkpoint`` (``.safetensors`` + its ``.yaml``: loads with no overrides)."""
    from vlkit.cli import run
    from vlkit.data.synthetic.world import generate_world
    from vlkit.models import load_model
    from vlkit.runners.checkpointing import latest_checkpoint

    base = tmp_path_factory.mktemp("trained_itc")
    warm = warm_start_checkpoint
    world = base / "world"
    generate_world(
        world, num_images=200, tasks=["coco"], max_objects=1, specific_captions=True, short_captions=2,
        image_size=32, progress=False,
    )  # fmt: skip
    cfg = base / "train.yaml"
    cfg.write_text(
        f"""
model: {{arch: blip_retrieval, model_type: tiny, image_size: 32, queue_size: 64, momentum: 0.9, alpha: 0.0,
         itm_negatives: random, load_pretrained: true, pretrained: {warm}}}
datasets:
  coco_retrieval:
    build_info:
      root: {world / "coco"}
      annotations: {{train: {{storage: annotations/coco_karpathy_train.json}}}}
      images: {{storage: images}}
    vis_processor: {{train: {{name: blip_image_eval, image_size: 32}}}}
run:
  task: retrieval
  runner: runner_iter
  max_iters: {TRAINED_ITC_STEPS}
  iters_per_inner_epoch: {TRAINED_ITC_STEPS}
  init_lr: 3.0e-4
  warmup_steps: 10
  batch_size_train: 32
  num_workers: 0
  seed: 0
  device: cpu
  progress: "off"
  output_dir: {base / "train"}
  job_name: itc
  train_splits: [train]
"""
    )
    assert run(["train", "--cfg-path", str(cfg)]) == 0
    trained = latest_checkpoint(base / "train" / "itc" / "checkpoints")
    model = load_model("blip_retrieval", "tiny", checkpoint=trained, image_size=32, queue_size=64)
    return model.save_checkpoint(base / "tiny_colours.safetensors")
