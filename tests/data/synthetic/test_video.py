"""Clips decode with PyAV and decord, with the expected frame count and size, and show the labelled motion."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from vlkit.data.synthetic.scene import COLOURS
from vlkit.data.synthetic.world import VIDEO_FRAMES


def world_arg(world: Path, name: str) -> int:
    return json.loads((world / "WORLD.json").read_text())[name]


def decode_av(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def decode_decord(path: Path) -> np.ndarray:
    decord = pytest.importorskip("decord")
    reader = decord.VideoReader(str(path))
    return reader.get_batch(list(range(len(reader)))).asnumpy()


@pytest.mark.parametrize("ds", ["msrvtt", "msvd"])
def test_clips_decode_with_pyav_and_decord(tiny_world: Path, ds: str) -> None:
    videos = sorted((tiny_world / ds / "videos").glob("*.mp4"))
    assert len(videos) == world_arg(tiny_world, "num_videos")
    size = min(96, max(64, world_arg(tiny_world, "image_size")))
    for path in videos[:3]:
        frames_av, frames_decord = decode_av(path), decode_decord(path)
        assert frames_av.shape == frames_decord.shape == (VIDEO_FRAMES[ds], size, size, 3)
        assert np.abs(frames_av.astype(int) - frames_decord.astype(int)).mean() < 2.0


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_the_shape_moves_in_the_answered_direction(tiny_world: Path) -> None:
    ann = tiny_world / "msrvtt/annotations"
    rows = [r for split in ("train", "val", "test") for r in json.loads((ann / f"msrvtt_qa_{split}.json").read_text())]
    checked = 0
    for row in rows:
        m = re.fullmatch(r"what direction does the (\w+) (\w+) move", row["question"])
        if not m:
            continue
        frames = decode_av(tiny_world / "msrvtt/videos" / row["video"]).astype(int)
        colour = np.array(COLOURS[m.group(1)])
        first, last = (np.abs(frames[k] - colour).max(axis=-1) < 60 for k in (0, -1))
        # Pixels of the colour that appear / disappear: a still shape of the same colour cancels out.
        dx, dy = centroid(last & ~first) - centroid(first & ~last)
        expected = {"left": dx < -10, "right": dx > 10, "up": dy < -10, "down": dy > 10}
        assert expected[row["answer"]], (row, dx, dy)
        checked += 1
    assert checked == world_arg(tiny_world, "num_videos")  # every clip is asked its direction
