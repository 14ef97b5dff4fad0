"""What a job reports: ``log.jsonl`` records, optional TensorBoard scalars and tqdm progress bars.

Only the main rank writes. Each ``log.jsonl`` line is a JSON object with a ``type``:
``train`` (per logged step), ``eval`` (per evaluation), ``epoch`` (per-epoch summary) or ``summary``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from vlkit.common.config import ConfigError
from vlkit.common.dist import is_main_process
from vlkit.common.progress import PROGRESS_MODES, progress, progress_enabled  # noqa: F401 (moved to vlkit.common)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    if hasattr(value, "item") and callable(value.item):
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class RunLogger:
    """Appends records to ``<job_dir>/log.jsonl`` and mirrors numbers to TensorBoard when asked.

    Args:
        job_dir: The job's output directory.
        tensorboard: Also write TensorBoard event files under ``job_dir/tensorboard``.
        enabled: Write anything at all (False on non-main ranks).

    Raises:
        ConfigError: if ``tensorboard`` is set and the ``tensorboard`` package is missing.
    """

    def __init__(self, job_dir: str | Path, tensorboard: bool = False, enabled: bool | None = None) -> None:
        self.enabled = is_main_process() if enabled is None else enabled
        self.path = Path(job_dir) / "log.jsonl"
        self._tb = None
        if self.enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError(
                    "run.tensorboard=true needs the tensorboard package: pip install 'vlkit[tensorboard]' "
                    "(or set run.tensorboard=false)."
                ) from None
            self._tb = SummaryWriter(log_dir=str(Path(job_dir) / "tensorboard"))

    def log(self, kind: str, step: int, **values: Any) -> None:
        """Append one record ``{"type": kind, "step": step, "time": ..., **values}``."""
        if not self.enabled:
            return
        record = {"type": kind, "step": step, "time": round(time.time(), 3), **_jsonable(values)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self._tb.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_summary(summary: dict[str, Any]) -> str:
    """The few lines printed when a job ends: where its outputs are, the best metric, the checkpoints."""
    lines = [f"vlkit: job finished; outputs in {summary['job_dir']}"]
    if summary.get("best_metric"):
        ((name, value),) = summary["best_metric"].items()
        lines.append(f"  best {name} = {_fmt(value)} (epoch {summary['best_epoch']})")
    for key in ("best_checkpoint", "last_checkpoint"):
        if summary.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {summary[key]}")
    for split, values in (summary.get("metrics") or {}).items():
        lines.append(f"  {split}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in values.items()))
    return "\n".join(lines)
