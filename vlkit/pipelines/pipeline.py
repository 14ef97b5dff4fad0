"""Run a sequence of stages (train / evaluate / capfilt), each a project config, in one output dir.

A stage's options may refer to earlier stages' results with ``${stages.<name>.<key>}`` (for example
``model.pretrained=${stages.pretrain.checkpoint}``) and to ``${pipeline.output_dir}``. A finished stage
writes ``STAGE.json`` with its result and a fingerprint of its inputs; re-running the pipeline skips
stages whose fingerprint is unchanged and resumes an interrupted stage from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from vlkit.common.config import ConfigError, _load_yaml, validate_section
from vlkit.common.paths import resolve_config_path
from vlkit.pipelines.stages import STAGE_KINDS, STAGE_RUNNERS, StageConfig, StageRunner

logger = logging.getLogger(__name__)

STARTED = "STAGE.started.json"  # written when a stage starts: the inputs its (possibly unfinished) work belongs to
_REF = re.compile(r"\$\{(stages|pipeline)\.([A-Za-z0-9_\-]+)(?:\.([A-Za-z0-9_\-.]+))?\}")


@dataclass
class PipelineConfig:
    name: str = "pipeline"
    output_dir: str = "output/pipeline"
    stages: list[StageConfig] = field(default_factory=list)
    report: str | None = None  # a registered report function run at the end (e.g. "capfilt_comparison")


def load_pipeline(path: str | Path) -> PipelineConfig:
    """Load and validate a pipeline YAML (top-level key ``pipeline``).

    Raises:
        ConfigError: naming the key path and the file.
    """
    resolved = resolve_config_path(path)
    raw = _load_yaml(resolved)
    if set(raw) != {"pipeline"}:
        raise ConfigError(f"{resolved}: a pipeline file has exactly one top-level key, 'pipeline'.")
    node = validate_section(raw.pipeline, PipelineConfig, "pipeline", str(resolved))
    stages = []
    for i, st in enumerate(node.stages):
        st_node = validate_section(st, StageConfig, f"pipeline.stages[{i}]", str(resolved))
        # ${stages.X.key} references are resolved by the pipeline itself, after X has run, not by OmegaConf.
        stage = StageConfig(**OmegaConf.to_container(st_node, resolve=False))
        if stage.kind not in STAGE_KINDS:
            raise ConfigError(f"{resolved}: pipeline.stages[{i}].kind must be one of {', '.join(STAGE_KINDS)}.")
        if stage.name == "???" or stage.cfg == "???":
            raise ConfigError(f"{resolved}: pipeline.stages[{i}] needs both 'name' and 'cfg'.")
        stages.append(stage)
    names = [s.name for s in stages]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{resolved}: stage names must be unique; repeated: {', '.join(dupes)}.")
    return PipelineConfig(name=node.name, output_dir=node.output_dir, stages=stages, report=node.report)


class Pipeline:
    """Runs a :class:`PipelineConfig`.

    Args:
        cfg: The pipeline.
        overrides: ``<target>:<key>=<value>`` options, where target is a stage name, a stage kind or ``*``.
        runners: Stage executors by kind (tests inject their own).
    """

    def __init__(
        self, cfg: PipelineConfig, overrides: Sequence[str] = (), runners: dict[str, StageRunner] | None = None
    ) -> None:
        self.cfg = cfg
        self.out_dir = Path(cfg.output_dir)
        self.runners = runners or STAGE_RUNNERS
        self.overrides: list[tuple[str, str]] = []
        for opt in overrides:
            target, sep, kv = opt.partition(":")
            if not sep or "=" not in kv:
                raise ConfigError(f"pipeline option {opt!r} must look like <stage|kind|*>:key=value.")
            if target != "*" and target not in STAGE_KINDS and target not in {s.name for s in cfg.stages}:
                raise ConfigError(f"pipeline option {opt!r}: no stage or stage kind named {target!r}.")
            self.overrides.append((target, kv))
        self.results: dict[str, dict[str, Any]] = {}
        self.fingerprints: dict[str, str] = {}

    def stage_options(self, stage: StageConfig) -> list[str]:
        extra = [kv for target, kv in self.overrides if target in ("*", stage.kind, stage.name)]
        return [self._resolve(opt, stage) for opt in [*stage.options, *extra]]

    def _resolve(self, text: str, stage: StageConfig) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(1) == "pipeline":
                if m.group(2) != "output_dir":
                    raise ConfigError(f"stage {stage.name!r}: unknown reference {m.group(0)}.")
                return str(self.out_dir)
            name, key = m.group(2), m.group(3)
            if name not in self.results:
                raise ConfigError(
                    f"stage {stage.name!r} refers to {m.group(0)} but stage {name!r} has not run before it."
                )
            value: Any = self.results[name]
            for part in (key or "").split("."):
                if part:
                    if not isinstance(value, dict) or part not in value:
                        raise ConfigError(f"stage {stage.name!r}: {m.group(0)} — stage {name!r} has no result {key!r}.")
                    value = value[part]
            return str(value)

        return _REF.sub(sub, text)

    def fingerprint(self, stage: StageConfig, options: list[str]) -> str:
        """A hash of the stage's kind, config text and resolved options, and of the stages it refers to.

        Including the referenced stages' fingerprints makes a stage run again when an earlier stage it
        reads from ran with changed inputs, even if that stage's output path (the option's value) is the same.
        """
        cfg_text = resolve_config_path(stage.cfg).read_text(encoding="utf-8")
        inputs: dict[str, Any] = {"kind": stage.kind, "cfg": cfg_text, "options": options}
        raw = self._raw_options(stage.name)
        upstream = sorted({m.group(2) for opt in raw for m in _REF.finditer(opt) if m.group(1) == "stages"})
        if upstream:
            inputs["upstream"] = {name: self.fingerprints.get(name) for name in upstream}
        payload = json.dumps(inputs, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @staticmethod
    def _set_aside_if_stale(stage_dir: Path, fp: str) -> None:
        """Rename a stage directory holding work of other inputs to ``<name>.replaced-<n>``.

        A stage resumes only work started with the same fingerprint (an interrupted run); a training stage
        would otherwise resume the old run's checkpoint and CapFilt reuse its finished shards, giving the
        old result under the new inputs. The old directory is kept, not deleted.
        """
        if not stage_dir.is_dir() or not any(stage_dir.iterdir()):
            return
        started = stage_dir / STARTED
        if started.is_file() and json.loads(started.read_text(encoding="utf-8")).get("fingerprint") == fp:
            if not (stage_dir / "STAGE.json").exists():
                return  # an interrupted run of these very inputs: resume it
        n = 1
        while stage_dir.with_name(f"{stage_dir.name}.replaced-{n}").exists():
            n += 1
        target = stage_dir.with_name(f"{stage_dir.name}.replaced-{n}")
        stage_dir.rename(target)
        logger.warning("%s holds work done with other inputs; moved it to %s and starting afresh", stage_dir, target)

    def run(self, only: str | None = None) -> dict[str, dict[str, Any]]:
        """Run every stage in order, skipping finished ones; returns each stage's result.

        ``only``: run that stage alone (``vlkit run --only``); the stages before it must be done already.
        """
        if only is not None and only not in {s.name for s in self.cfg.stages}:
            raise ConfigError(f"--only {only!r}: the pipeline has no stage of that name.")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        needed = self._upstream_closure(only) if only is not None else None
        for i, stage in enumerate(self.cfg.stages):
            if needed is not None and stage.name not in needed:
                continue
            options = self.stage_options(stage)
            stage_dir = self.out_dir / stage.name
            marker = stage_dir / "STAGE.json"
            fp = self.fingerprints[stage.name] = self.fingerprint(stage, options)
            if marker.exists():
                done = json.loads(marker.read_text(encoding="utf-8"))
                if done.get("fingerprint") == fp:
                    logger.info("[%d/%d] %s: already done, skipping", i + 1, len(self.cfg.stages), stage.name)
                    self.results[stage.name] = done["result"]
                    continue
                logger.info("[%d/%d] %s: inputs changed, running again", i + 1, len(self.cfg.stages), stage.name)
            if only is not None and stage.name != only:
                raise RuntimeError(f"stage {only!r} needs stage {stage.name!r}, which has not finished.")
            self._set_aside_if_stale(stage_dir, fp)
            logger.info("[%d/%d] %s (%s: %s)", i + 1, len(self.cfg.stages), stage.name, stage.kind, stage.cfg)
            stage_dir.mkdir(parents=True, exist_ok=True)
            (stage_dir / STARTED).write_text(json.dumps({"fingerprint": fp}), encoding="utf-8")
            start = time.perf_counter()
            result = self.runners[stage.kind](stage, options, stage_dir)
            result = json.loads(json.dumps(result, default=str))  # plain data only
            result.setdefault("output_dir", str(stage_dir))
            result["seconds"] = round(time.perf_counter() - start, 1)
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(json.dumps({"fingerprint": fp, "result": result}, indent=1, sort_keys=True))
            os.replace(tmp, marker)
            self.results[stage.name] = result
            if stage.name == only:
                break
        return self.results

    def finished(self, name: str) -> bool:
        """Whether stage ``name`` and every stage it needs are done with their current inputs (runs nothing)."""
        needed = self._upstream_closure(name)
        for stage in self.cfg.stages:
            if stage.name not in needed:
                continue
            fp = self.fingerprints[stage.name] = self.fingerprint(stage, self.stage_options(stage))
            marker = self.out_dir / stage.name / "STAGE.json"
            done = json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else {}
            if done.get("fingerprint") != fp:
                return False
            self.results[stage.name] = done["result"]
        return True

    def _upstream_closure(self, name: str) -> set[str]:
        """``name`` and every stage it refers to, directly or through others."""
        out, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in out:
                continue
            out.add(current)
            refs = {m.group(2) for o in self._raw_options(current) for m in _REF.finditer(o) if m.group(1) == "stages"}
            todo += [r for r in refs if r in {s.name for s in self.cfg.stages}]
        return out

    def _raw_options(self, name: str) -> list[str]:
        """Stage ``name``'s options and overrides, references unresolved."""
        stage = next(s for s in self.cfg.stages if s.name == name)
        return [*stage.options, *(kv for t, kv in self.overrides if t in ("*", stage.kind, stage.name))]


def pipeline_to_yaml(cfg: PipelineConfig) -> str:
    """``cfg`` as a pipeline file (``load_pipeline`` reads it back)."""
    return OmegaConf.to_yaml({"pipeline": OmegaConf.structured(cfg)})
