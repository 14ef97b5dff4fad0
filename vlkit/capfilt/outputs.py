"""Merging CapFilt shard results into the bootstrapped dataset and its report."""

from __future__ import annotations

import io
import json
import os
import tarfile
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


def _auc(higher: list[float], lower: list[float]) -> float | None:
    """P(a score from ``higher`` > one from ``lower``), ties counting half (Mann-Whitney); None if one is empty."""
    if not higher or not lower:
        return None
    ranked = sorted([(s, 1) for s in higher] + [(s, 0) for s in lower])
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks over runs of equal scores
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        rank_sum += sum(label for _, label in ranked[i:j]) * (i + j + 1) / 2
        i = j
    n_hi, n_lo = len(higher), len(lower)
    return round((rank_sum - n_hi * (n_hi + 1) / 2) / (n_hi * n_lo), 4)


def compute_report(cfg: CapFiltConfig, results: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Counts of kept/removed texts and, with ground-truth noise labels, the filter's precision/recall."""
    counts = {"images": 0, "images_skipped": 0, "images_without_text": 0}
    for src in ("web", "synthetic"):
        counts[f"{src}_kept"] = counts[f"{src}_removed"] = 0
    labels = None
    if cfg.data.noise_labels:
        labels = json.loads(Path(cfg.data.noise_labels).read_text(encoding="utf-8"))
    tp = fp = fn = tn = 0
    scores: dict[bool, list[float]] = {True: [], False: []}
    by_kind: dict[str, list[int]] = {}  # kind -> [removed, total]
    skipped_by_reason: dict[str, int] = {}
    skipped_by_shard: dict[str, dict[str, int]] = {}
    for res in results:
        counts["images_skipped"] += res["skipped"]
        for skip in res.get("skips", []):
            kind = skip.get("kind") or skip["reason"].split(" (")[0]
            skipped_by_reason[kind] = skipped_by_reason.get(kind, 0) + 1
            shard = skipped_by_shard.setdefault(res["shard"], {})
            shard[kind] = shard.get(kind, 0) + 1
        for item in res["items"]:
            counts["images"] += 1
            if not any(t["kept"] for t in item["texts"]):
                counts["images_without_text"] += 1
            for t in item["texts"]:
                counts[f"{t['source']}_{'kept' if t['kept'] else 'removed'}"] += 1
                if labels is not None and t["source"] == "web" and item["key"] in labels:
                    noisy, removed = bool(labels[item["key"]]["noisy"]), not t["kept"]
                    tp += noisy and removed
                    fp += (not noisy) and removed
                    fn += noisy and not removed
                    tn += (not noisy) and not removed
                    scores[noisy].append(float(t["score"]))
                    kind_name = str(labels[item["key"]].get("kind", "noisy" if noisy else "clean"))
                    kind = by_kind.setdefault(kind_name, [0, 0])
                    kind[0] += removed
                    kind[1] += 1
    report: dict[str, Any] = {"counts": counts, "itm_threshold": threshold, "num_captions": cfg.num_captions}
    # every loss by reason, and by shard: cut or empty shards, records missing a member, undecodable images
    report["skipped_by_reason"] = dict(sorted(skipped_by_reason.items()))
    report["skipped_by_shard"] = {k: dict(sorted(v.items())) for k, v in sorted(skipped_by_shard.items())}
    if labels is not None:
        report["noise_filter"] = {
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
            "clean_kept_rate": tn / (tn + fp) if tn + fp else 0.0,
            "noisy_web_texts": tp + fn,
            "clean_web_texts": tn + fp,
            # threshold-free: the chance that a clean web text outscores a noisy one (0.5 = no separation)
            "score_auc": _auc(scores[False], scores[True]),
            "removed_rate_by_kind": {k: round(r / n, 4) for k, (r, n) in sorted(by_kind.items())},
        }
    return report


def merge_shard_results(
    cfg: CapFiltConfig,
    results: list[dict[str, Any]],
    out_dir: Path,
    threshold: float | None = None,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the bootstrapped dataset (json and/or webdataset shards), ``report.json`` and ``examples.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = sorted(results, key=lambda r: r["index"])
    pairs = _human_pairs(cfg)
    web_root = Path(cfg.data.images_root or Path(cfg.data.annotations or ".").parent)
    kept_by_key: dict[str, list[dict[str, Any]]] = {}
    for res in results:
        for item in res["items"]:
            kept = [t for t in item["texts"] if t["kept"]]
            kept_by_key[item["image"]] = kept
            for t in kept:
                image = str(web_root / item["image"]) if cfg.data.format == "json" else item["image"]
                pairs.append({"image": image, "caption": t["text"], "source": t["source"], "itm_score": t["score"]})
    written: dict[str, Any] = {}
    if "json" in cfg.output_formats:
        if cfg.data.format == "wds":
            pairs = _extract_wds_images(cfg, pairs, out_dir / "images")
        path = out_dir / "bootstrapped.json"
        _write_atomic(path, _json_bytes(pairs))
        written["json"] = path.name
    if "wds" in cfg.output_formats:
        written["wds"] = [str(Path(p).relative_to(out_dir)) for p in _write_wds(cfg, kept_by_key, out_dir / "shards")]
    report = compute_report(cfg, results, float(cfg.itm_threshold) if threshold is None else threshold)
    if calibration is not None:
        report["calibration"] = calibration
    report["outputs"] = written  # relative to the output dir, so a moved or resumed run reports the same
    report["pairs"] = {
        "human": sum(p["source"] == "human" for p in pairs),
        "web": sum(p["source"] == "web" for p in pairs),
        "synthetic": sum(p["source"] == "synthetic" for p in pairs),
    }
    examples = [item for res in results for item in res["items"]][: cfg.examples_in_report]
    _write_atomic(out_dir / "examples.json", _json_bytes(examples))
    _write_atomic(out_dir / "report.json", _json_bytes(report))
    return report


def _extract_wds_images(cfg: CapFiltConfig, pairs: list[dict[str, Any]], image_dir: Path) -> list[dict[str, Any]]:
    """For json output of a webdataset input, write the kept images as files the json can point at."""
    image_dir.mkdir(parents=True, exist_ok=True)
    wanted = {p["image"] for p in pairs if p["source"] != "human"}
    for shard in list_shards(cfg.data, cfg.shard_size, cfg.max_shards):
        for item in iter_shard(shard, cfg.data):
            if isinstance(item, WebItem) and item.image_ref in wanted and isinstance(item.image, bytes):
                target = image_dir / f"{item.key}.jpg"
                if not target.exists():
                    _write_atomic(target, item.image)
    return [
        p if p["source"] == "human" else {**p, "image": str(image_dir / f"{p['image'].split(':', 1)[1]}.jpg")}
        for p in pairs
    ]


def _write_wds(cfg: CapFiltConfig, kept_by_key: dict[str, list[dict[str, Any]]], shard_dir: Path) -> list[str]:
    """One webdataset sample per kept (image, text) pair, ``output_shard_size`` samples per tar."""
    shard_dir.mkdir(parents=True, exist_ok=True)
    paths: list[str] = []
    tar: tarfile.TarFile | None = None
    n_in_shard = 0

    def add(name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        assert tar is not None
        tar.addfile(info, io.BytesIO(data))

    for shard in list_shards(cfg.data, cfg.shard_size, cfg.max_shards):
        for item in iter_shard(shard, cfg.data):
            if not isinstance(item, WebItem):  # already counted in the report when the shard was processed
                continue
            for j, text in enumerate(kept_by_key.get(item.image_ref, [])):
                if tar is None or n_in_shard == cfg.output_shard_size:
                    if tar is not None:
                        tar.close()
                    paths.append(str(shard_dir / f"bootstrapped-{len(paths):06d}.tar"))
                    tar = tarfile.open(paths[-1] + ".tmp", "w", format=tarfile.USTAR_FORMAT)
                    n_in_shard = 0
                key = f"{item.key}_{j}"
                image = item.image if isinstance(item.image, bytes) else Path(item.image).read_bytes()
                add(f"{key}.jpg", image)
                add(f"{key}.txt", text["text"].encode("utf-8"))
                meta = {
                    "image": item.image_ref,
                    "caption": text["text"],
                    "source": text["source"],
                    "itm_score": text["score"],
                }
                add(f"{key}.json", json.dumps(meta, sort_keys=True).encode("utf-8"))
                n_in_shard += 1
    if tar is not None:
        tar.close()
    for p in paths:  # tars are written under a temporary name so a crash never leaves a truncated shard
        os.replace(p + ".tmp", p)
    return paths


__all__ = ["WebShard", "compute_report", "merge_shard_results"]
