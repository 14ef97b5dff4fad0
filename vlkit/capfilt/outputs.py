"""Merging CapFilt shard results into the bootstrapped dataset and its report, one shard at a time.

The merge holds one shard's results at a time, so rank 0's memory does not grow with the web set: the
report is accumulated from counters (the score AUC from score histograms, which the 6-decimal scores bound
to a million bins), ``bootstrapped.json`` is written entry by entry, and each input shard is read once to
write its images and output samples (``benchmarks/bench_rss.py`` measures this).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vlkit.capfilt.config import CapFiltConfig
from vlkit.capfilt.sources import WebItem, WebShard, iter_shard, list_shards


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


class ShardResultFiles:
    """Shard result files, in shard order, each read only when an iteration reaches it (any number of passes)."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for path in self.paths:
            yield json.loads(path.read_text(encoding="utf-8"))


class JsonListWriter:
    """Writes a json list entry by entry; the file is byte-identical to ``_json_bytes(entries)`` and appears
    under its name only on :meth:`close` (a crash leaves no half-written list)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        self.file = open(self.tmp, "w", encoding="utf-8")
        self.count = 0

    def add(self, entry: Any) -> None:
        # json.dumps(list, indent=1) is "[\n" + each entry dumped at indent 1 and shifted by one space + "\n]"
        text = json.dumps(entry, indent=1, sort_keys=True, ensure_ascii=False)
        self.file.write(("[\n" if self.count == 0 else ",\n") + textwrap.indent(text, " "))
        self.count += 1

    def close(self) -> None:
        self.file.write("\n]\n" if self.count else "[]\n")
        self.file.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the partial list."""
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def _human_pairs(cfg: CapFiltConfig) -> list[dict[str, Any]]:
    """The human-annotated pairs that start the bootstrapped set (one entry per caption)."""
    if not cfg.data.human_annotations:
        return []
    path = Path(cfg.data.human_annotations)
    if not path.is_file():
        raise FileNotFoundError(f"capfilt.data.human_annotations: {path} does not exist.")
    root = Path(cfg.data.human_images_root or path.parent)
    pairs = []
    for entry in json.loads(path.read_text(encoding="utf-8")):
        caps = entry["caption"] if isinstance(entry["caption"], list) else [entry["caption"]]
        pairs.extend({"image": str(root / entry["image"]), "caption": c, "source": "human"} for c in caps)
    return pairs


def auc_from_counts(higher: Counter[float], lower: Counter[float]) -> float | None:
    """P(a score drawn from ``higher`` > one from ``lower``), ties counting half (Mann-Whitney), from score
    histograms (score -> count); None if one is empty."""
    n_hi, n_lo = sum(higher.values()), sum(lower.values())
    if not n_hi or not n_lo:
        return None
    twice_wins = below = 0  # exact integers: a pair won counts 2, a tie 1
    for score in sorted(higher.keys() | lower.keys()):
        twice_wins += higher[score] * (2 * below + lower[score])
        below += lower[score]
    return round(twice_wins / (2 * n_hi * n_lo), 4)


def _auc(higher: list[float], lower: list[float]) -> float | None:
    """:func:`auc_from_counts` of two lists of scores."""
    return auc_from_counts(Counter(higher), Counter(lower))


class ReportBuilder:
    """Kept/removed counts and, with ground-truth noise labels, the filter's precision/recall, accumulated
    shard result by shard result (:meth:`add`) into ``report.json``'s content (:meth:`report`)."""

    def __init__(self, cfg: CapFiltConfig, threshold: float) -> None:
        self.cfg, self.threshold = cfg, threshold
        self.counts = {"images": 0, "images_skipped": 0, "images_without_text": 0}
        for src in ("web", "synthetic"):
            self.counts[f"{src}_kept"] = self.counts[f"{src}_removed"] = 0
        self.labels = None
        if cfg.data.noise_labels:
            self.labels = json.loads(Path(cfg.data.noise_labels).read_text(encoding="utf-8"))
        self.confusion = Counter()  # (noisy, removed) -> web texts
        self.scores: dict[bool, Counter[float]] = {True: Counter(), False: Counter()}  # noisy -> score histogram
        self.by_kind: dict[str, list[int]] = {}  # kind -> [removed, total]
        self.skipped_by_reason: Counter[str] = Counter()
        self.skipped_by_shard: dict[str, Counter[str]] = {}

    def add(self, res: dict[str, Any]) -> None:
        """Count one shard's result."""
        self.counts["images_skipped"] += res["skipped"]
        for skip in res.get("skips", []):
            kind = skip.get("kind") or skip["reason"].split(" (")[0]
            self.skipped_by_reason[kind] += 1
            self.skipped_by_shard.setdefault(res["shard"], Counter())[kind] += 1
        for item in res["items"]:
            self.counts["images"] += 1
            if not any(t["kept"] for t in item["texts"]):
                self.counts["images_without_text"] += 1
            for t in item["texts"]:
                self.counts[f"{t['source']}_{'kept' if t['kept'] else 'removed'}"] += 1
                if self.labels is not None and t["source"] == "web" and item["key"] in self.labels:
                    label = self.labels[item["key"]]
                    noisy, removed = bool(label["noisy"]), not t["kept"]
                    self.confusion[noisy, removed] += 1
                    self.scores[noisy][float(t["score"])] += 1
                    kind = self.by_kind.setdefault(str(label.get("kind", "noisy" if noisy else "clean")), [0, 0])
                    kind[0] += removed
                    kind[1] += 1

    def report(self) -> dict[str, Any]:
        cfg = self.cfg
        report: dict[str, Any] = {
            "counts": self.counts,
            "itm_threshold": self.threshold,
            "num_captions": cfg.num_captions,
        }
        # every loss by reason, and by shard: cut or empty shards, records missing a member, undecodable images
        report["skipped_by_reason"] = dict(sorted(self.skipped_by_reason.items()))
        report["skipped_by_shard"] = {k: dict(sorted(v.items())) for k, v in sorted(self.skipped_by_shard.items())}
        if self.labels is not None:
            c = self.confusion
            tp, fp, fn, tn = c[True, True], c[False, True], c[True, False], c[False, False]
            report["noise_filter"] = {
                "precision": tp / (tp + fp) if tp + fp else 0.0,
                "recall": tp / (tp + fn) if tp + fn else 0.0,
                "clean_kept_rate": tn / (tn + fp) if tn + fp else 0.0,
                "noisy_web_texts": tp + fn,
                "clean_web_texts": tn + fp,
                # threshold-free: the chance that a clean web text outscores a noisy one (0.5 = no separation)
                "score_auc": auc_from_counts(self.scores[False], self.scores[True]),
                "removed_rate_by_kind": {k: round(r / n, 4) for k, (r, n) in sorted(self.by_kind.items())},
            }
        return report


def compute_report(cfg: CapFiltConfig, results: Iterable[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Counts of kept/removed texts and, with ground-truth noise labels, the filter's precision/recall."""
    builder = ReportBuilder(cfg, threshold)
    for res in results:
        builder.add(res)
    return builder.report()


class WdsWriter:
    """One webdataset sample per kept (image, text) pair, ``size`` samples per tar; the tars are written under
    temporary names and renamed on :meth:`close`, so a crash never leaves a truncated shard."""

    def __init__(self, shard_dir: Path, size: int) -> None:
        shard_dir.mkdir(parents=True, exist_ok=True)
        self.shard_dir, self.size = shard_dir, size
        self.paths: list[str] = []
        self.tar: tarfile.TarFile | None = None
        self.in_shard = 0

    def _add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        assert self.tar is not None
        self.tar.addfile(info, io.BytesIO(data))

    def add(self, item: WebItem, texts: list[dict[str, Any]]) -> None:
        for j, text in enumerate(texts):
            if self.tar is None or self.in_shard == self.size:
                if self.tar is not None:
                    self.tar.close()
                self.paths.append(str(self.shard_dir / f"bootstrapped-{len(self.paths):06d}.tar"))
                self.tar = tarfile.open(self.paths[-1] + ".tmp", "w", format=tarfile.USTAR_FORMAT)
                self.in_shard = 0
            key = f"{item.key}_{j}"
            image = item.image if isinstance(item.image, bytes) else Path(item.image).read_bytes()
            self._add(f"{key}.jpg", image)
            self._add(f"{key}.txt", text["text"].encode("utf-8"))
            meta = {
                "image": item.image_ref,
                "caption": text["text"],
                "source": text["source"],
                "itm_score": text["score"],
            }
            self._add(f"{key}.json", json.dumps(meta, sort_keys=True).encode("utf-8"))
            self.in_shard += 1

    def close(self) -> list[str]:
        if self.tar is not None:
            self.tar.close()
        for p in self.paths:
            os.replace(p + ".tmp", p)
        return self.paths

    def abort(self) -> None:
        """Drop the partial shards."""
        if self.tar is not None:
            self.tar.close()
        for p in self.paths:
            Path(p + ".tmp").unlink(missing_ok=True)


def _extracted_image(image_dir: Path, image_ref: str) -> Path:
    """Where json output of a webdataset input puts the image of ``<tar>:<key>``."""
    return image_dir / f"{Path(image_ref.split(':', 1)[1]).name}.jpg"


def merge_shard_results(
    cfg: CapFiltConfig,
    results: Iterable[dict[str, Any]],
    out_dir: Path,
    threshold: float | None = None,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the bootstrapped dataset (json and/or webdataset shards), ``report.json`` and ``examples.json``.

    ``results`` are the shard results in shard order (a list is sorted by index), read once; with
    :class:`ShardResultFiles` only one shard's result is in memory at a time.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(results, list):
        results = sorted(results, key=lambda r: r["index"])
    shards = {s.index: s for s in list_shards(cfg.data, cfg.shard_size, cfg.max_shards)}
    builder = ReportBuilder(cfg, float(cfg.itm_threshold) if threshold is None else threshold)
    web_root = Path(cfg.data.images_root or Path(cfg.data.annotations or ".").parent)
    pairs_out = JsonListWriter(out_dir / "bootstrapped.json") if "json" in cfg.output_formats else None
    wds_out = WdsWriter(out_dir / "shards", cfg.output_shard_size) if "wds" in cfg.output_formats else None
    image_dir = out_dir / "images"
    extract = pairs_out is not None and cfg.data.format == "wds"  # json entries must point at image files
    if extract:
        image_dir.mkdir(parents=True, exist_ok=True)
    pair_counts = Counter({"human": 0, "web": 0, "synthetic": 0})
    examples: list[dict[str, Any]] = []
    try:
        for pair in _human_pairs(cfg):
            pair_counts["human"] += 1
            if pairs_out is not None:
                pairs_out.add(pair)
        for res in results:
            builder.add(res)
            examples += res["items"][: max(0, cfg.examples_in_report - len(examples))]
            kept = {item["image"]: [t for t in item["texts"] if t["kept"]] for item in res["items"]}
            if wds_out is not None or extract:
                _write_shard_samples(shards[res["index"]], cfg, kept, wds_out, image_dir if extract else None)
            for item in res["items"]:
                for t in kept[item["image"]]:
                    pair_counts[t["source"]] += 1
                    if pairs_out is not None:
                        image = _extracted_image(image_dir, item["image"]) if extract else web_root / item["image"]
                        pairs_out.add(
                            {"image": str(image), "caption": t["text"], "source": t["source"], "itm_score": t["score"]}
                        )
    except BaseException:
        for writer in (pairs_out, wds_out):
            if writer is not None:
                writer.abort()
        raise
    paths = wds_out.close() if wds_out is not None else []
    if pairs_out is not None:
        pairs_out.close()
    written: dict[str, Any] = {}
    if pairs_out is not None:
        written["json"] = pairs_out.path.name
    if wds_out is not None:
        written["wds"] = [str(Path(p).relative_to(out_dir)) for p in paths]
    report = builder.report()
    if calibration is not None:
        report["calibration"] = calibration
    report["outputs"] = written  # relative to the output dir, so a moved or resumed run reports the same
    report["pairs"] = dict(pair_counts)
    _write_atomic(out_dir / "examples.json", _json_bytes(examples))
    _write_atomic(out_dir / "report.json", _json_bytes(report))
    return report


def _write_shard_samples(
    shard: WebShard,
    cfg: CapFiltConfig,
    kept: dict[str, list[dict[str, Any]]],
    wds_out: WdsWriter | None,
    image_dir: Path | None,
) -> None:
    """Read one input shard once: its images with kept texts go to ``image_dir`` and/or ``wds_out``."""
    for item in iter_shard(shard, cfg.data):
        texts = kept.get(item.image_ref) if isinstance(item, WebItem) else None
        if not texts:  # skipped records were counted when the shard was processed
            continue
        if image_dir is not None and isinstance(item.image, bytes):
            target = _extracted_image(image_dir, item.image_ref)
            if not target.exists():
                _write_atomic(target, item.image)
        if wds_out is not None:
            wds_out.add(item, texts)


__all__ = [
    "JsonListWriter",
    "ReportBuilder",
    "ShardResultFiles",
    "WdsWriter",
    "WebShard",
    "auc_from_counts",
    "compute_report",
    "merge_shard_results",
]
