"""Question answering, NLVR² statements, dialogs and video clips of the synthetic world."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vlkit.data.synthetic.scenes import COLOURS, DIRECTIONS, NUMBER_WORDS, PLURALS, SHAPES, SIZES, Obj, Scene


def qa_pairs(scene: Scene, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """(question, answer, answer type) pairs that the scene determines."""
    objs = list(scene.objects)
    out = [("how many shapes are there", str(len(objs)), "number")]
    shapes = [o.shape for o in objs]
    for o in objs:
        if shapes.count(o.shape) == 1:
            out.append((f"what color is the {o.shape}", o.colour, "other"))
    colour, shape = list(COLOURS)[rng.integers(len(COLOURS))], SHAPES[rng.integers(len(SHAPES))]
    present = any(o.colour == colour and o.shape == shape for o in objs)
    out.append((f"is there a {colour} {shape}", "yes" if present else "no", "yes/no"))
    o = objs[int(rng.integers(len(objs)))]
    out.append(
        (f"what shape is {o.colour}", o.shape, "other")
        if [x.colour for x in objs].count(o.colour) == 1
        else (f"is the {o.colour} {o.shape} {o.size}", "yes", "yes/no")
    )
    out.append(("what is the background", scene.background, "other"))
    return out


def noisy_answers(answer: str, pool: list[str], rng: np.random.Generator) -> list[str]:
    """Ten annotator answers: mostly the true one, some disagreement."""
    wrong = int(rng.choice([0, 0, 1, 1, 2, 3]))
    return [answer] * (10 - wrong) + [pool[int(rng.integers(len(pool)))] for _ in range(wrong)]


def nlvr_statement(a: Scene, b: Scene, rng: np.random.Generator, want: bool) -> str | None:
    """A statement about an image pair whose truth value is ``want`` (None if none was found)."""
    for _ in range(20):
        kind = int(rng.integers(3))
        if kind == 0:
            colour, shape = list(COLOURS)[rng.integers(len(COLOURS))], SHAPES[rng.integers(len(SHAPES))]
            truth = any(o.colour == colour and o.shape == shape for o in a.objects + b.objects)
            text = f"there is a {colour} {shape} in one of the images"
        elif kind == 1:
            n = len(a.objects) + len(b.objects) + int(rng.integers(-1, 2))
            truth = n == len(a.objects) + len(b.objects)
            text = f"there are {NUMBER_WORDS.get(n, str(n))} shapes in total"
        else:
            shape = SHAPES[rng.integers(len(SHAPES))]
            truth = any(o.shape == shape for o in a.objects) and any(o.shape == shape for o in b.objects)
            text = f"both images contain a {shape}"
        if truth == want:
            return text
    return None


def dialog_rounds(scene: Scene, caption: str, rng: np.random.Generator, n: int = 10) -> list[tuple[str, str]]:
    """(question, answer) rounds about the scene, cycling through its QA pairs."""
    pairs = qa_pairs(scene, rng)
    extra = [(f"is the {o.shape} {s}", "yes" if o.size == s else "no") for o in scene.objects for s in SIZES]
    pool = [(q, a) for q, a, _ in pairs] + extra
    return [pool[i % len(pool)] for i in rng.permutation(max(n, len(pool)))[:n]]


def write_video(path: Path, obj: Obj, direction: str, size: int, frames: int, rng: np.random.Generator) -> None:
    """An mp4 (OpenCV, mp4v) of ``obj`` moving in ``direction`` over a plain background."""
    import cv2

    from vlkit.data.synthetic.scenes import Scene, render

    dx, dy = DIRECTIONS[direction]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 8, (size, size))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4 video to {path}")
    bg = tuple(int(x) for x in rng.integers(20, 90, size=3))
    for t in range(frames):
        f = t / max(1, frames - 1) - 0.5
        moved = Obj(obj.shape, obj.colour, obj.size, 0.5 + dx * 0.6 * f, 0.5 + dy * 0.6 * f)
        img = render(Scene((moved,), "plain", bg), size, rng)
        writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    writer.release()


__all__ = ["PLURALS", "dialog_rounds", "noisy_answers", "nlvr_statement", "qa_pairs", "write_video"]
