"""The ``vlkit predict`` loop: read batches (DataLoader workers decode), run the verb, append the records.

Bad images never stop the run: each is counted, listed in the summary and in ``<out>.bad.jsonl``. Ids
already in the output are skipped without decoding, so a re-run resumes. At the end
``read = predicted + skipped`` (skipped: already in the output, or bad).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from vlkit.predict.inputs import BadInput, Inputs, collate
from vlkit.predict.verbs import Verb

BAD_SHOWN = 10  # bad inputs named in the printed summary (all of them go to the side file)


@dataclass
class PredictSummary:
    """What a run did: images read, predicted, already in the output, and the bad inputs."""

    read: int = 0
    predicted: int = 0
    already_done: int = 0
    bad: list[BadInput] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def num_bad(self) -> int:
        return sum(b.images for b in self.bad)

    @property
    def skipped(self) -> int:
        return self.already_done + self.num_bad

    def text(self, out: Path, bad_path: Path | None) -> str:
        """The lines printed at the end of a run."""
        rate = self.predicted / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"read {self.read} images: {self.predicted} predicted + {self.skipped} skipped "
            f"({self.already_done} already in {out.name}, {self.num_bad} bad) in {self.seconds:.1f}s "
            f"({rate:.1f} images/s)"
        ]
        if self.bad:
            lines.append(f"bad inputs ({len(self.bad)}, all listed in {bad_path}):")
            lines += [f"  {b.id}: {b.reason}" for b in self.bad[:BAD_SHOWN]]
            if len(self.bad) > BAD_SHOWN:
                lines.append(f"  ... and {len(self.bad) - BAD_SHOWN} more")
        return "\n".join(lines)


def _subset(batch: dict[str, Any], keep: list[bool]) -> dict[str, Any]:
    """The batch restricted to the items where ``keep`` is true."""
    out = dict(batch)
    out["id"] = [v for v, k in zip(batch["id"], keep, strict=True) if k]
    if "image" in batch:
        out["image"] = batch["image"][[i for i, k in enumerate(keep) if k]]
    for key in ("question", "texts"):
        if key in batch:
            out[key] = [v for v, k in zip(batch[key], keep, strict=True) if k]
    return out


def _progress(mode: str, total: int | None, desc: str) -> Any:
    from tqdm import tqdm

    show = mode == "on" or (mode == "auto" and sys.stderr.isatty())
    return tqdm(total=total, desc=desc, unit="img", disable=not show, dynamic_ncols=True)


def run_predict(
    verb: Verb,
    inputs: Inputs,
    writer: Any,
    transform: Any,
    batch_size: int = 32,
    workers: int = 0,
    progress: str = "auto",
    bad_path: Path | None = None,
) -> PredictSummary:
    """Predict on every input not yet in ``writer``'s output; returns the summary.

    Args:
        verb: What to compute per batch.
        inputs: The resolved ``--input``.
        writer: A :class:`~vlkit.predict.writer.JsonlWriter` or :class:`~vlkit.predict.writer.EmbeddingWriter`.
        transform: PIL image -> model input tensor.
        batch_size: Images per forward pass.
        workers: DataLoader worker processes that read and decode images.
        progress: ``auto`` (a bar when stderr is a terminal), ``on`` or ``off``.
        bad_path: Where this run's bad inputs are listed (json lines); None: not written.
    """
    if batch_size < 1 or workers < 0:
        raise ValueError(f"--batch-size must be >= 1 and --workers >= 0 (got {batch_size}, {workers}).")
    summary = PredictSummary()
    done = writer.done_ids()
    loader = DataLoader(
        inputs.dataset(transform, done), batch_size=batch_size, num_workers=workers, collate_fn=collate, shuffle=False
    )
    bar = _progress(progress, len(inputs) or None, f"predict {verb.name}")
    start = time.perf_counter()
    try:
        for batch in loader:
            summary.already_done += len(batch["done"])
            summary.bad += batch["bad"]
            n_read = len(batch["done"]) + sum(b.images for b in batch["bad"]) + len(batch["id"])
            unusable = dict(verb.check_item_fields(batch)) if batch["id"] else {}
            if unusable:
                summary.bad += [BadInput(i, reason) for i, reason in unusable.items()]
                batch = _subset(batch, [i not in unusable for i in batch["id"]])
            if batch["id"]:
                writer.write(verb(batch))
                summary.predicted += len(batch["id"])
            summary.read += n_read
            bar.update(n_read)
            bar.set_postfix(bad=summary.num_bad, refresh=False)
    finally:
        bar.close()
        writer.close()
        summary.seconds = time.perf_counter() - start
        if bad_path is not None:
            _write_bad(bad_path, summary.bad)
    return summary


def _write_bad(path: Path, bad: list[BadInput]) -> None:
    """This run's bad inputs, one json object per line (an empty file when there were none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": b.id, "reason": b.reason, "images": b.images}, ensure_ascii=False) for b in bad]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


__all__ = ["PredictSummary", "run_predict"]
