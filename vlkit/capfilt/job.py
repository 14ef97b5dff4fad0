"""The CapFilt job: caption every web image, filter web and synthetic texts with ITM, write the result.

Determinism and resume: each shard is processed with its own seed (``seed``, shard index), in a fixed
batch order, and its result is written atomically as one json file. A killed job re-run with the same
config skips finished shards, so the merged output is byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from vlkit.capfilt.config import CapFiltConfig, capfilt_decoding
from vlkit.capfilt.functions import CaptionFn, MatchFn, TransformFn
from vlkit.capfilt.outputs import ShardResultFiles, merge_shard_results
from vlkit.capfilt.sources import SkippedItem, WebItem, WebShard, iter_shard, list_shards, open_item_image, open_path
from vlkit.common import dist

logger = logging.getLogger(__name__)

# the decoding keys CapFilt had before it shared GenerationConfig (always part of the config fingerprint)
FINGERPRINTED_DECODING_KEYS = (
    "use_nucleus_sampling",
    "top_p",
    "top_k",
    "num_beams",
    "max_length",
    "min_length",
    "repetition_penalty",
    "length_normalization",
)


def _round(x: float) -> float:
    return float(f"{x:.6f}")


def _file_identity(path: str | None) -> str | None:
    """sha256 of a local checkpoint file (file names and sizes for a directory); None for URLs and names."""
    if not path or not Path(path).exists():
        return None
    target = Path(path)
    if target.is_dir():
        listing = sorted((str(p.relative_to(target)), p.stat().st_size) for p in target.rglob("*") if p.is_file())
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CapFiltJob:
    """Runs CapFilt over the shards assigned to this rank and merges the results on rank 0.

    Args:
        cfg: The job's settings.
        caption_fn: Writes synthetic captions for a batch of images.
        match_fn: ITM match probability of (image, text) pairs.
        transform: Turns a PIL image into the model input tensor.
    """

    def __init__(self, cfg: CapFiltConfig, caption_fn: CaptionFn, match_fn: MatchFn, transform: TransformFn) -> None:
        self.cfg = cfg
        self.caption_fn = caption_fn
        self.match_fn = match_fn
        self.transform = transform
        self.out_dir = Path(cfg.output_dir)
        self.work_dir = self.out_dir / "work"
        self.threshold = 0.5 if cfg.itm_threshold == "auto" else float(cfg.itm_threshold)
        self.calibration: dict[str, Any] | None = None

    # -- bookkeeping -------------------------------------------------------------------------------------------
    def config_fingerprint(self) -> str:
        """Hash of everything that changes the output; a work dir made under another config is refused."""
        keys = asdict(self.cfg)
        for k in ("output_dir", "progress", "batch_size", "device", "output_shard_size", "examples_in_report"):
            keys.pop(k, None)
        # decoding became a GenerationConfig: its newer fields count only when set, so earlier work dirs resume
        default = asdict(capfilt_decoding())
        keys["decoding"] = {
            k: v for k, v in keys["decoding"].items() if k in FINGERPRINTED_DECODING_KEYS or v != default[k]
        }
        # the models' weights, not just their paths: a filter re-trained into the same file changes the output
        keys["weights"] = {name: _file_identity(getattr(self.cfg, name).checkpoint) for name in ("captioner", "filter")}
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]

    def _check_work_dir(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        stamp = self.work_dir / "FINGERPRINT"
        fp = self.config_fingerprint()
        if stamp.exists() and stamp.read_text().strip() != fp:
            raise RuntimeError(
                f"{self.work_dir} holds partial results of a CapFilt run with different settings "
                "(or other checkpoint contents). "
                f"Use another capfilt.output_dir, or delete {self.work_dir} to start over."
            )
        if dist.is_main_process():
            _atomic_write_text(stamp, fp)
        dist.barrier()

    def shard_result_path(self, shard: WebShard) -> Path:
        return self.work_dir / f"{shard.index:06d}-{shard.name}.json"

    # -- work ------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Process this rank's unfinished shards, then (rank 0) merge everything. Returns the report."""
        self._check_work_dir()
        if self.cfg.itm_threshold == "auto":
            self._calibrate()
        shards = list_shards(self.cfg.data, self.cfg.shard_size, self.cfg.max_shards)
        rank, world = dist.get_rank(), dist.get_world_size()
        mine = [s for s in shards if s.index % world == rank]
        todo = [s for s in mine if not self.shard_result_path(s).exists()]
        if len(todo) < len(mine):
            logger.info("capfilt: %d of %d shards already done, resuming", len(mine) - len(todo), len(mine))
        progress = _progress(self.cfg.progress, total=len(todo), desc=f"capfilt rank {rank}")
        for shard in todo:
            start = time.perf_counter()
            result = self.process_shard(shard)
            _atomic_write_text(self.shard_result_path(shard), json.dumps(result, sort_keys=True, ensure_ascii=False))
            n = len(result["items"]) + result["skipped"]
            rate = n / max(time.perf_counter() - start, 1e-9)
            if progress is not None:
                progress.set_postfix(images_per_s=f"{rate:.1f}")
                progress.update(1)
            else:
                logger.info("capfilt: shard %s done (%d images, %.1f images/s)", shard.name, n, rate)
        if progress is not None:
            progress.close()
        dist.barrier()
        report: dict[str, Any] = {}
        if dist.is_main_process():
            results = ShardResultFiles(self.shard_result_path(s) for s in shards)  # read one at a time
            report = merge_shard_results(self.cfg, results, self.out_dir, self.threshold, self.calibration)
        dist.barrier()
        return dist.broadcast_object(report)

    @torch.no_grad()
    def _calibrate(self) -> None:
        """Set ``self.threshold`` from held-out human pairs (once; kept in the work dir for a resumed run)."""
        from vlkit.capfilt.calibration import calibrate

        path = self.work_dir / "calibration.json"
        if path.is_file():
            self.calibration = json.loads(path.read_text(encoding="utf-8"))
        else:

            def score(images: list[str], texts: list[str]) -> list[float]:
                out: list[float] = []
                for i in range(0, len(images), self.cfg.batch_size):
                    batch = torch.stack([self.transform(open_path(p)) for p in images[i : i + self.cfg.batch_size]])
                    out += self._score(batch, texts[i : i + self.cfg.batch_size], True)
                return out

            self.calibration = calibrate(self.cfg, score)
            if dist.is_main_process():
                _atomic_write_text(path, json.dumps(self.calibration, indent=1))
        self.threshold = float(self.calibration["threshold"])
        logger.info(
            "capfilt: itm_threshold auto = %.4f (held-out matches kept %.1f%%, mismatches kept %.1f%%)",
            self.threshold,
            100 * self.calibration["matches_kept"],
            100 * self.calibration["mismatches_kept"],
        )

    @torch.no_grad()
    def process_shard(self, shard: WebShard) -> dict[str, Any]:
        """Caption and filter one shard; returns its result record."""
        torch.manual_seed(self.cfg.seed * 1_000_003 + shard.index)
        items: list[dict[str, Any]] = []
        skips: list[dict[str, Any]] = []
        batch: list[tuple[WebItem, torch.Tensor]] = []
        for item in iter_shard(shard, self.cfg.data):
            if isinstance(item, SkippedItem):
                skips.append(self._skip(shard, item.image_ref, item.reason, item.kind, item.samples))
                continue
            try:
                batch.append((item, self.transform(open_item_image(item))))
            except ValueError as err:
                kind = getattr(err, "kind", None) or str(err).split(" (")[0]
                skips.append(self._skip(shard, item.image_ref, str(err), kind, 1))
                continue
            if len(batch) == self.cfg.batch_size:
                items.extend(self._process_batch(batch))
                batch = []
        if batch:
            items.extend(self._process_batch(batch))
        skipped = sum(s["samples"] for s in skips)
        return {"shard": shard.name, "index": shard.index, "items": items, "skipped": skipped, "skips": skips}

    def _skip(self, shard: WebShard, ref: str, reason: str, kind: str, samples: int) -> dict[str, Any]:
        """Log a loss once, naming the shard (under ``error``: stop with it); its record for the report."""
        if self.cfg.on_bad_sample == "error":
            raise ValueError(f"capfilt shard {shard.name}: {reason}. Fix or remove it, or set on_bad_sample: skip")
        logger.warning("capfilt: shard %s: skipped %s: %s", shard.name, ref, reason)
        return {"image": ref, "reason": reason, "kind": kind, "samples": samples}

    def _process_batch(self, batch: Sequence[tuple[WebItem, torch.Tensor]]) -> list[dict[str, Any]]:
        cfg = self.cfg
        images = torch.stack([t for _, t in batch])
        synthetic = self.caption_fn(images, cfg.num_captions) if cfg.num_captions > 0 else [[] for _ in batch]
        web_texts = [(it.caption or "").strip() for it, _ in batch]
        web_scores = self._score(images, web_texts, cfg.filter_web_texts)
        flat_syn = [c for caps in synthetic for c in caps]
        syn_images = images.repeat_interleave(cfg.num_captions, dim=0) if flat_syn else images[:0]
        syn_scores = self._score(syn_images, flat_syn, cfg.filter_synthetic_texts)
        out = []
        for i, (item, _) in enumerate(batch):
            texts = []
            web_ok = bool(web_texts[i])  # an empty or undecodable web text can never be kept
            texts.append(
                {
                    "source": "web",
                    "text": web_texts[i],
                    "score": _round(web_scores[i]),
                    "kept": web_ok and (not cfg.filter_web_texts or web_scores[i] >= self.threshold),
                }
            )
            for j in range(cfg.num_captions):
                k = i * cfg.num_captions + j
                texts.append(
                    {
                        "source": "synthetic",
                        "text": flat_syn[k],
                        "score": _round(syn_scores[k]),
                        "kept": bool(flat_syn[k])
                        and (not cfg.filter_synthetic_texts or syn_scores[k] >= self.threshold),
                    }
                )
            out.append({"key": item.key, "image": item.image_ref, "texts": texts})
        return out

    def _score(self, images: torch.Tensor, texts: list[str], enabled: bool) -> list[float]:
        if not texts:
            return []
        if not enabled:
            return [1.0] * len(texts)
        safe = [t if t else "." for t in texts]  # empty texts are rejected above; score something harmless
        return [float(p) for p in self.match_fn(images, safe).float().cpu()]


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _progress(mode: str, total: int, desc: str) -> Any:
    import sys

    from tqdm import tqdm

    show = mode == "on" or (mode == "auto" and sys.stderr.isatty())
    if not show or not dist.is_main_process():
        return None
    return tqdm(total=total, desc=desc, unit="shard")


def run_capfilt(cfg: CapFiltConfig) -> dict[str, Any]:
    """Build the captioner and filter the config names, and run the job."""
    from vlkit.capfilt.models import build_models

    caption_fn, match_fn, transform = build_models(cfg)
    return CapFiltJob(cfg, caption_fn, match_fn, transform).run()
