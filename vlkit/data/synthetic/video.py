"""Short mp4 clips of a shape moving left, right, up or down (sometimes past a still one), with MSRVTT-style
captions ("a red circle moves to the left") and MSRVTT-QA / MSVD-QA questions ("what direction does the red
circle move" → "left").

Clips are written with OpenCV's ``mp4v`` (MPEG-4 part 2) codec: the pip OpenCV wheels ship it, while their
H.264 encoders are often unavailable; decord and PyAV both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vlkit.data.synthetic.caption_sets import split_sizes
from vlkit.data.synthetic.files import dump_json
from vlkit.data.synthetic.render import add_noise, draw_object, render_background, require_cv2
from vlkit.data.synthetic.scene import (
    COLOURS,
    SHAPES,
    Obj,
    Scene,
    article,
    pick,
    random_background,
    random_object,
    rng_for,
)

DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
_DIRECTION_PHRASES = {
    "left": ("left", "to the left"),
    "right": ("right", "to the right"),
    "up": ("up", "upward"),
    "down": ("down", "downward"),
}
_VERBS = ("moves", "slides", "goes", "travels", "is moving")
VIDEO_FPS = 8


@dataclass(frozen=True)
class Clip:
    """A moving object (crossing its lane in ``direction``) and still ones on a fixed background."""

    mover: Obj
    direction: str
    still: tuple[Obj, ...]
    scene: Scene  # background (and the still objects) as a scene

    @property
    def objects(self) -> tuple[Obj, ...]:
        return (self.mover, *self.still)


def random_clip(rng: np.random.Generator) -> Clip:
    """A mover in a random lane and, half the time, one still object in another lane."""
    direction = pick(rng, DIRECTIONS)
    horizontal = direction in ("left", "right")
    lane = int(rng.integers(3))
    mover = random_object(rng, lane if horizontal else 1, 1 if horizontal else lane)
    still: tuple[Obj, ...] = ()
    if rng.random() < 0.5:
        other = (lane + 1 + int(rng.integers(2))) % 3
        cell = (other, int(rng.integers(3))) if horizontal else (int(rng.integers(3)), other)
        still = (random_object(rng, *cell),)
    background, bg_colour = random_background(rng)
    return Clip(mover, direction, still, Scene(still, background, bg_colour))


def render_clip(clip: Clip, size: int, num_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """RGB frames: the mover crosses 60% of the frame, everything else stays (pixel noise varies per frame)."""
    base = render_background(clip.scene, size, rng)
    for obj in clip.still:
        draw_object(base, obj, rng)
    look = int(rng.integers(2**31))  # the mover keeps one colour/size jitter in every frame
    dx, dy = DIRECTIONS[clip.direction]
    frames = []
    for t in range(num_frames):
        f = t / max(1, num_frames - 1) - 0.5
        img = base.copy()
        cx, cy = clip.mover.cx + dx * 0.6 * f, clip.mover.cy + dy * 0.6 * f
        draw_object(img, clip.mover, np.random.default_rng(look), cx, cy)
        frames.append(add_noise(img, rng, 6))
    return frames


def write_mp4(path: Path, frames: list[np.ndarray], fps: int = VIDEO_FPS) -> None:
    """Encode RGB ``frames`` as an mp4 (``mp4v``) at ``path``."""
    cv2 = require_cv2()
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4 ('mp4v') to {path}: install opencv-python-headless with FFmpeg")
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()


def clip_captions(clip: Clip, rng: np.random.Generator, n: int = 5) -> list[str]:
    """``n`` MSRVTT-style captions of what happens in ``clip``."""
    m, d = clip.mover, clip.direction

    def move() -> str:
        return f"{pick(rng, _VERBS)} {pick(rng, _DIRECTION_PHRASES[d])}"

    cands = [
        f"{article(m.colour)} {m.name} {move()}",
        f"{article(m.size)} {m.size} {m.name} {move()}",
        f"the {m.colour} shape {move()}",
        f"{article(m.shape)} {m.shape} moving {pick(rng, _DIRECTION_PHRASES[d])} on a {clip.scene.background} "
        + "background",
        f"{article(m.colour)} {m.name} {pick(rng, _VERBS)} {_DIRECTION_PHRASES[d][1]} across the screen",
    ]
    if clip.still:
        s = clip.still[0]
        cands.append(f"{article(m.colour)} {m.name} {move()} while {article(s.colour)} {s.name} stays still")
        cands.append(f"{article(m.colour)} {m.name} moves {_DIRECTION_PHRASES[d][1]} past {article(s.colour)} {s.name}")
    return [cands[int(i)] for i in rng.permutation(len(cands))[:n]]


def clip_questions(clip: Clip, rng: np.random.Generator) -> list[tuple[str, str]]:
    """MSRVTT-QA-style (question, one-word answer) pairs about ``clip``: the direction, then three others."""
    m = clip.mover
    direction = (f"what direction does the {m.colour} {m.shape} move", clip.direction)
    qas = [
        (pick(rng, ("what color is the moving shape", "what color is the shape that moves")), m.colour),
        (pick(rng, ("what shape is moving", "what kind of shape moves")), m.shape),
        (f"which way does the {m.shape} go", clip.direction),
        ("how many shapes are there", str(len(clip.objects))),
    ]
    if clip.still:
        qas.append(("what color is the shape that does not move", clip.still[0].colour))
    return [direction] + [qas[int(i)] for i in sorted(rng.permutation(len(qas))[:3])]


def video_answer_list() -> list[str]:
    """Every answer a clip question can have."""
    return [*DIRECTIONS, *COLOURS, *SHAPES, "1", "2"]


def write_videos(root: Path, seed: int, dataset: str, n: int, size: int, num_frames: int) -> dict[str, int]:
    """``root/dataset/``: clips and QA files (``{dataset}_qa_*``); for msrvtt also the retrieval files."""
    out = root / dataset
    sizes = split_sizes(n, {"train": 0.7, "val": 0.15, "test": 0.15})
    items, start = [], 0
    for split, count in sizes.items():
        for i in range(start, start + count):
            clip = random_clip(rng_for(seed, f"{dataset}/clip", i))
            name = f"video{i}.mp4"
            write_mp4(out / "videos" / name, render_clip(clip, size, num_frames, rng_for(seed, f"{dataset}/pixels", i)))
            text_rng = rng_for(seed, f"{dataset}/text", i)
            items.append((split, name, clip_captions(clip, text_rng), clip_questions(clip, text_rng)))
        start += count
    ann = out / "annotations"
    if dataset == "msrvtt":
        train = [{"video": v, "caption": c} for s, v, caps, _ in items if s == "train" for c in caps]
        dump_json(ann / "msrvtt_ret_train.json", train)
        dump_json(
            ann / "msrvtt_ret_test.json", [{"video": v, "caption": caps} for s, v, caps, _ in items if s == "test"]
        )
    qid = 0
    for split in sizes:
        rows = []
        for s, v, _, qas in items:
            if s == split:
                for q, a in qas:
                    rows.append({"video": v, "question": q, "answer": a, "question_id": qid})
                    qid += 1
        dump_json(ann / f"{dataset}_qa_{split}.json", rows)
    dump_json(ann / f"{dataset}_qa_answer_list.json", video_answer_list())
    return {"videos": n, "questions": qid, **{f"{s}_videos": c for s, c in sizes.items()}}


__all__ = [
    "DIRECTIONS",
    "VIDEO_FPS",
    "Clip",
    "clip_captions",
    "clip_questions",
    "random_clip",
    "render_clip",
    "video_answer_list",
    "write_mp4",
    "write_videos",
]
