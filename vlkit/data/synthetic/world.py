"""Generate the synthetic "shapes" vision-language world in the real datasets' on-disk formats.

Everything is deterministic in ``seed``. ``WORLD.json`` is written last, so a half-written world is
detected and regenerated (see docs/data_formats.md for the layout).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vlkit.data.synthetic.scenes import COLOURS, SHAPES, Scene, clean_captions, random_scene, render, web_caption
from vlkit.data.synthetic.tasks import dialog_rounds, nlvr_statement, noisy_answers, qa_pairs, write_video

FORMAT_VERSION = 2
GENERIC_ALT_TEXTS = (
    "my favourite photo",
    "image",
    "click here to see more",
    "photo of the day",
    "new post",
    "untitled",
    "screenshot",
    "look at this",
)
HELD_OUT = {("purple", "triangle"), ("orange", "diamond")}  # never in coco train: NoCaps-style novelty


@dataclass
class WorldInfo:
    root: str
    num_images: int
    num_web_images: int
    noise: float
    seed: int
    image_size: int
    num_videos: int
    shard_size: int
    format_version: int = FORMAT_VERSION


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=None, sort_keys=False), encoding="utf-8")


def _jpeg(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


class _Writer:
    def __init__(self, root: Path, rng: np.random.Generator, size: int) -> None:
        self.root, self.rng, self.size = root, rng, size

    def image(self, rel: str, scene: Scene) -> bytes:
        data = _jpeg(render(scene, self.size, self.rng))
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


def _caption_sets(w: _Writer, ds: str, n: int, splits: dict[str, float], start_id: int, exclude: set | None) -> dict:
    """COCO-Karpathy style images+captions for dataset ``ds``; returns split -> [(rel, id, scene, caps)]."""
    out: dict[str, list] = {s: [] for s in splits}
    names = list(splits)
    bounds = np.cumsum([int(round(n * f)) for f in splits.values()])
    for i in range(n):
        split = names[int(np.searchsorted(bounds, i, side="right"))] if i < bounds[-1] else names[-1]
        scene = random_scene(w.rng, exclude=exclude if split == "train" else None)
        img_id = start_id + i
        rel = f"{split}/{ds}_{split}_{img_id:012d}.jpg"
        w.image(f"{ds}/images/{rel}", scene)
        out[split].append((rel, img_id, scene, clean_captions(scene, w.rng)))
    ann = Path(w.root, ds, "annotations")
    prefix = "coco_karpathy" if ds == "coco" else ds
    for split, items in out.items():
        if split == "train":
            _dump(
                ann / f"{prefix}_train.json",
                [{"image": r, "caption": c, "image_id": str(i)} for r, i, _, cs in items for c in cs],
            )
        else:
            _dump(
                ann / f"{prefix}_{split}.json",
                [{"image": r, "caption": cs, "image_id": str(i)} for r, i, _, cs in items],
            )
            gt = {
                "images": [{"id": i} for _, i, _, _ in items],
                "info": {},
                "licenses": [],
                "type": "captions",
                "annotations": [
                    {"image_id": i, "caption": c, "id": i * 10 + k} for _, i, _, cs in items for k, c in enumerate(cs)
                ],
            }
            _dump(ann / f"{prefix}_{split}_gt.json", gt)
    return out


def _web(w: _Writer, n: int, noise: float, shard_size: int) -> None:
    rng = w.rng
    scenes = [random_scene(rng) for _ in range(n)]
    clean = [web_caption(s, rng) for s in scenes]
    kinds = ["swapped", "generic", "wrong_attribute", "truncated"]
    entries, labels, samples = [], {}, []
    for i, scene in enumerate(scenes):
        key = f"web_{i:08d}"
        caption, kind = clean[i], "clean"
        if rng.random() < noise:
            kind = kinds[int(rng.integers(len(kinds)))]
            if kind == "swapped":
                caption = clean[(i + 1 + int(rng.integers(n - 1))) % n]
            elif kind == "generic":
                caption = GENERIC_ALT_TEXTS[int(rng.integers(len(GENERIC_ALT_TEXTS)))]
            elif kind == "wrong_attribute":
                o = scene.objects[0]
                colour = [c for c in COLOURS if c != o.colour][int(rng.integers(len(COLOURS) - 1))]
                shape = [s for s in SHAPES if s != o.shape][int(rng.integers(len(SHAPES) - 1))]
                caption = f"{colour} {shape}"
                if any(x.colour == colour and x.shape == shape for x in scene.objects):
                    kind, caption = "clean", clean[i]
            else:
                caption = clean_captions(scene, rng, 1)[0].split()[0]
        data = w.image(f"web/images/{key}.jpg", scene)
        entries.append({"image": f"images/{key}.jpg", "caption": caption})
        labels[key] = {"noisy": kind != "clean", "kind": kind}
        samples.append((key, data, caption))
    _dump(w.root / "web/annotations/web_train.json", entries)
    _dump(w.root / "web/noise_labels.json", labels)
    (w.root / "web/shards").mkdir(parents=True, exist_ok=True)
    for s in range(0, n, shard_size):
        with tarfile.open(
            w.root / f"web/shards/web-{s // shard_size:06d}.tar", "w", format=tarfile.USTAR_FORMAT
        ) as tar:
            for key, data, caption in samples[s : s + shard_size]:
                meta = json.dumps({"image": f"images/{key}.jpg", "caption": caption}).encode()
                for ext, blob in (("jpg", data), ("txt", caption.encode()), ("json", meta)):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size, info.mtime = len(blob), 0
                    tar.addfile(info, io.BytesIO(blob))


def _vqa(w: _Writer, coco: dict) -> None:
    rng, ann = w.rng, w.root / "vqa/annotations"
    answers_pool = sorted(
        {a for items in coco.values() for _, _, s, _ in items for _, a, _ in qa_pairs(s, np.random.default_rng(0))}
    )
    qid, all_answers, official_q, official_a, vg = 0, set(), [], [], []
    for split, items in coco.items():
        rows = []
        for rel, img_id, scene, _ in items:
            src = w.root / "coco/images" / rel
            dst = w.root / "vqa/images" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            for q, a, atype in qa_pairs(scene, rng):
                qid += 1
                answers = noisy_answers(a, answers_pool, rng)
                all_answers.update(answers)
                rows.append({"question_id": qid, "question": q, "answer": answers, "image": rel, "dataset": "vqa"})
                if split == "val":
                    official_q.append({"image_id": img_id, "question": q, "question_id": qid})
                    official_a.append(
                        {
                            "question_id": qid,
                            "image_id": img_id,
                            "question_type": q.split()[0],
                            "answer_type": atype,
                            "multiple_choice_answer": a,
                            "answers": [
                                {"answer": x, "answer_confidence": "yes", "answer_id": k + 1}
                                for k, x in enumerate(answers)
                            ],
                        }
                    )
                if split == "train" and rng.random() < 0.3:
                    vg.append({"question_id": 10**6 + qid, "question": q, "answer": [a], "image": rel, "dataset": "vg"})
        _dump(ann / f"vqa_{split}.json", rows)
    _dump(ann / "answer_list.json", sorted(all_answers))
    _dump(ann / "v2_OpenEnded_mscoco_val2014_questions.json", {"questions": official_q})
    _dump(ann / "v2_mscoco_val2014_annotations.json", {"annotations": official_a})
    _dump(w.root / "vg/annotations/vg_qa.json", vg)
    if (w.root / "vg/images").exists():
        shutil.rmtree(w.root / "vg/images")
    shutil.copytree(w.root / "vqa/images", w.root / "vg/images")


def _nlvr(w: _Writer, n_per_split: dict[str, int]) -> None:
    rng = w.rng
    for split, n in n_per_split.items():
        rows = []
        for i in range(n):
            a, b = random_scene(rng), random_scene(rng)
            want = i % 2 == 0
            text = nlvr_statement(a, b, rng, want)
            if text is None:
                continue
            names = [f"{split}/nlvr_{split}_{i:06d}_{k}.jpg" for k in (0, 1)]
            for rel, scene in zip(names, (a, b), strict=True):
                w.image(f"nlvr2/images/{rel}", scene)
            rows.append({"images": names, "sentence": text, "label": "True" if want else "False"})
        _dump(w.root / f"nlvr2/annotations/nlvr_{split}.json", rows)


def _visdial(w: _Writer, n_per_split: dict[str, int]) -> None:
    rng = w.rng
    for split, n in n_per_split.items():
        questions: list[str] = []
        answers: list[str] = []
        dialogs, dense = [], []
        qidx: dict[str, int] = {}
        aidx: dict[str, int] = {}
        scenes = []
        for i in range(n):
            scene = random_scene(rng)
            scenes.append(scene)
            w.image(f"visdial/images/{split}/VisualDialog_{split}_{i:012d}.jpg", scene)
            caption = clean_captions(scene, rng, 1)[0]
            rounds = dialog_rounds(scene, caption, rng)
            for q, a in rounds:
                qidx.setdefault(q, len(qidx))
                aidx.setdefault(a, len(aidx))
            dialogs.append((i, caption, rounds))
        questions, answers = list(qidx), list(aidx)
        filler = [f"{c} {s}" for c in COLOURS for s in SHAPES] + ["maybe", "i can not tell", "not sure", "none"]
        filler += [f"{z} {c} {s}" for z in ("small", "large") for c in COLOURS for s in SHAPES]
        filler += [f"{n} {s}s" for n in ("two", "three", "four") for s in SHAPES]  # enough for 100 options a round
        for f in filler:
            aidx.setdefault(f, len(aidx))
        answers = list(aidx)
        out_dialogs = []
        for i, caption, rounds in dialogs:
            turns = []
            for r, (q, a) in enumerate(rounds):
                others = [j for j in rng.permutation(len(answers)) if answers[j] != a][:99]
                options = others[:]
                gt = int(rng.integers(len(options) + 1))
                options.insert(gt, aidx[a])
                turns.append(
                    {
                        "question": qidx[q],
                        "answer": aidx[a],
                        "answer_options": [int(x) for x in options],
                        "gt_index": gt,
                    }
                )
                if split == "val":
                    rel = [
                        1.0
                        if j == gt
                        else (0.5 if answers[options[j]] in ("yes", "no") and a in ("yes", "no") else 0.0)
                        for j in range(len(options))
                    ]
                    dense.append({"image_id": i, "round_id": r + 1, "gt_relevance": rel})
            out_dialogs.append({"image_id": i, "caption": caption, "dialog": turns})
        _dump(
            w.root / f"visdial/annotations/visdial_1.0_{split}.json",
            {
                "version": "1.0",
                "split": split,
                "data": {"questions": questions, "answers": answers, "dialogs": out_dialogs},
            },
        )
        if split == "val":
            _dump(w.root / "visdial/annotations/visdial_1.0_val_dense_annotations.json", dense)


def _videos(w: _Writer, n: int) -> None:
    from vlkit.data.synthetic.scenes import DIRECTIONS, SIZES, Obj

    rng = w.rng
    directions = list(DIRECTIONS)
    for ds, prefix in (("msrvtt", "msrvtt"), ("msvd", "msvd")):
        (w.root / ds / "videos").mkdir(parents=True, exist_ok=True)
        items = []
        for i in range(n):
            obj = Obj(
                SHAPES[rng.integers(len(SHAPES))],
                list(COLOURS)[rng.integers(len(COLOURS))],
                SIZES[rng.integers(2)],
                0.5,
                0.5,
            )
            d = directions[int(rng.integers(len(directions)))]
            name = f"video{i}.mp4"
            write_video(w.root / ds / "videos" / name, obj, d, min(w.size, 64), 16, rng)
            caps = [
                f"a {obj.colour} {obj.shape} moves {d}",
                f"a {obj.size} {obj.shape} moving {d}",
                f"the {obj.colour} shape goes {d}",
                f"{obj.colour} {obj.shape} moving to the {d}" if d in ("left", "right") else f"a {obj.shape} moves {d}",
            ]
            qas = [
                (f"what direction does the {obj.colour} {obj.shape} move", d),
                ("what color is the moving shape", obj.colour),
                ("what shape is moving", obj.shape),
            ]
            items.append((name, caps, qas))
        cut = int(n * 0.7)
        splits = {"train": items[:cut], "val": items[cut : cut + (n - cut) // 2], "test": items[cut + (n - cut) // 2 :]}
        ann = w.root / ds / "annotations"
        if ds == "msrvtt":
            _dump(
                ann / "msrvtt_ret_train.json", [{"video": v, "caption": c} for v, cs, _ in splits["train"] for c in cs]
            )
            _dump(ann / "msrvtt_ret_test.json", [{"video": v, "caption": cs} for v, cs, _ in splits["test"]])
        qid, answer_set = 0, set()
        for split, its in splits.items():
            rows = []
            for v, _, qas in its:
                for q, a in qas:
                    qid += 1
                    answer_set.add(a)
                    rows.append({"video": v, "question": q, "answer": a, "question_id": qid})
            _dump(ann / f"{prefix}_qa_{split}.json", rows)
        _dump(ann / f"{prefix}_qa_answer_list.json", sorted(answer_set))


def generate_world(
    out_dir: str | Path,
    num_images: int = 600,
    num_web_images: int = 1200,
    noise: float = 0.4,
    seed: int = 0,
    image_size: int = 96,
    num_videos: int = 40,
    shard_size: int = 200,
    progress: bool = True,
) -> WorldInfo:
    """Write every part of the world under ``out_dir`` (skipped when an identical world is already there)."""
    root = Path(out_dir)
    info = WorldInfo(str(root), num_images, num_web_images, noise, seed, image_size, num_videos, shard_size)
    marker = root / "WORLD.json"
    wanted = {k: v for k, v in asdict(info).items() if k != "root"}
    if marker.is_file() and {k: v for k, v in json.loads(marker.read_text()).items() if k in wanted} == wanted:
        return info
    start = time.perf_counter()
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    w = _Writer(tmp, np.random.default_rng(seed), image_size)
    steps = [
        ("coco", lambda: _caption_sets(w, "coco", num_images, {"train": 0.7, "val": 0.15, "test": 0.15}, 1, HELD_OUT)),
        (
            "flickr30k",
            lambda: _caption_sets(
                w, "flickr30k", max(30, num_images // 3), {"train": 0.7, "val": 0.15, "test": 0.15}, 10**6, None
            ),
        ),
        ("nocaps", lambda: _nocaps(w, max(20, num_images // 10))),
        ("web", lambda: _web(w, num_web_images, noise, shard_size)),
        (
            "nlvr2",
            lambda: _nlvr(
                w,
                {
                    "train": max(40, num_images // 2),
                    "dev": max(20, num_images // 10),
                    "test": max(20, num_images // 10),
                },
            ),
        ),
        ("visdial", lambda: _visdial(w, {"train": max(20, num_images // 6), "val": max(10, num_images // 20)})),
        ("video", lambda: _videos(w, num_videos)),
    ]
    coco = None
    for name, fn in steps:
        t = time.perf_counter()
        result = fn()
        if name == "coco":
            coco = result
            _vqa(w, coco)
        if progress:
            print(f"  synthetic world: {name} done in {time.perf_counter() - t:.1f}s", flush=True)
    _dump(tmp / "WORLD.json", {**wanted, "seconds": round(time.perf_counter() - start, 2)})
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    return info


def _nocaps(w: _Writer, n: int) -> None:
    """Images showing the held-out (colour, shape) pairs, NoCaps-style (val/test with 5 references)."""
    from vlkit.data.synthetic.scenes import Obj

    rng = w.rng
    out = {}
    for split in ("val", "test"):
        rows, gt = [], {"images": [], "annotations": [], "info": {}, "licenses": [], "type": "captions"}
        for i in range(n):
            scene = random_scene(rng)
            colour, shape = sorted(HELD_OUT)[i % len(HELD_OUT)]
            novel = Obj(shape, colour, "large", 0.5, 0.5)
            others = tuple(o for o in scene.objects if abs(o.cx - 0.5) + abs(o.cy - 0.5) > 0.3)[:3]
            scene = Scene((novel, *others), scene.background, scene.bg_colour)
            img_id = 2 * 10**6 + (0 if split == "val" else 10**5) + i
            rel = f"{split}/nocaps_{img_id}.jpg"
            w.image(f"nocaps/images/{rel}", scene)
            caps = clean_captions(scene, rng)
            rows.append({"image": rel, "img_id": img_id, "caption": caps})
            gt["images"].append({"id": img_id})
            gt["annotations"] += [{"image_id": img_id, "caption": c, "id": img_id * 10 + k} for k, c in enumerate(caps)]
        _dump(w.root / f"nocaps/annotations/nocaps_{split}.json", rows)
        _dump(w.root / f"nocaps/annotations/nocaps_{split}_gt.json", gt)
        out[split] = rows


def ensure_world(root: str | Path | None = None, **kwargs: object) -> Path:
    """The default world under ``$VLKIT_CACHE/datasets/shapes`` (generated on first use, under a file lock)."""
    import fcntl

    from vlkit.common.paths import cache_root

    path = Path(root) if root is not None else cache_root() / "datasets" / "shapes"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (path / "WORLD.json").is_file() or kwargs:
                print(f"vlkit: generating the synthetic shapes world in {path} (first use) ...", flush=True)
                generate_world(path, **kwargs)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path
