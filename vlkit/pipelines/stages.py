"""What each pipeline stage kind runs: ``synth`` (a synthetic world), ``warm_start`` (the tiny models'
unimodal initialisation), ``train`` / ``evaluate`` (a project config) and ``capfilt``.

A stage runner takes the stage, its resolved options and its own output directory, and returns the
stage's result (plain data, referable from later stages as ``${stages.<name>.<key>}``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from vlkit.common.config import ConfigError, _load_yaml, parse_options, to_dataclass, validate_section
from vlkit.common.paths import resolve_config_path


@dataclass
class StageConfig:
    """One stage: a project config of ``kind`` run with extra ``options``."""

    name: str = "???"
    kind: str = "train"
    cfg: str = "???"
    options: list[str] = field(default_factory=list)


StageRunner = Callable[[StageConfig, list[str], Path], dict[str, Any]]


def load_section(path: str | Path, section: str, schema: type, options: Sequence[str] = ()) -> tuple[Any, str]:
    """The one top-level ``section`` of the YAML at ``path`` with ``options`` as a ``schema``, and its source.

    Raises:
        ConfigError: naming the file and the key for another top-level key, an unknown key or a wrong type.
    """
    resolved = resolve_config_path(path)
    raw = _load_yaml(resolved)
    if set(raw) != {section}:
        raise ConfigError(f"{resolved}: this file has exactly one top-level key, '{section}'.")
    raw = OmegaConf.merge(raw, parse_options(options))
    source = f"{resolved} (with options)" if options else str(resolved)
    return to_dataclass(validate_section(raw[section], schema, section, source), schema), source


def _run_train(stage: StageConfig, options: list[str], out: Path) -> dict[str, Any]:
    from vlkit.common.config import Config
    from vlkit.runners.job import run_job

    opts = [*options, f"run.output_dir={out}", "run.job_name=run", "run.resume_ckpt_path=auto"]
    return run_job(Config(stage.cfg, opts), evaluate_only=stage.kind == "evaluate")


def _run_capfilt(stage: StageConfig, options: list[str], out: Path) -> dict[str, Any]:
    from vlkit.capfilt.config import load_capfilt_config
    from vlkit.capfilt.job import run_capfilt

    report = run_capfilt(load_capfilt_config(stage.cfg, [*options, f"capfilt.output_dir={out}"]))
    return {**report, "dataset": str(out / "bootstrapped.json"), "output_dir": str(out)}


def _run_synth(stage: StageConfig, options: list[str], out: Path) -> dict[str, Any]:
    """``world:`` holds ``generate_world``'s arguments; the world is written to ``<stage dir>/world``."""
    from vlkit.data.synthetic.world import WorldArgs, generate_world

    args, _ = load_section(stage.cfg, "world", WorldArgs, options)
    info = generate_world(out / "world", **asdict(args))
    return {"root": str(info.root.resolve()), "counts": info.counts, "spec": info.spec()}


def _run_warm_start(stage: StageConfig, options: list[str], out: Path) -> dict[str, Any]:
    from vlkit.pipelines.warm_start import WarmStartConfig, run_warm_start

    cfg, source = load_section(stage.cfg, "warm_start", WarmStartConfig, options)
    cfg.check(source)
    report = run_warm_start(cfg, out / "warm_start.safetensors")
    return {k: report[k] for k in ("checkpoint", "vision", "text", "seconds")}


STAGE_RUNNERS: dict[str, StageRunner] = {
    "synth": _run_synth,
    "warm_start": _run_warm_start,
    "train": _run_train,
    "evaluate": _run_train,
    "capfilt": _run_capfilt,
}
STAGE_KINDS = tuple(STAGE_RUNNERS)

__all__ = ["STAGE_KINDS", "STAGE_RUNNERS", "StageRunner", "load_section"]
