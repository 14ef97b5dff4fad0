"""Video reading (decord and the PyAV fallback), frame sampling, bad files, and the video processors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vlkit.processors import video as video_mod
from vlkit.processors.image import BlipImageEvalProcessor
from vlkit.processors.video import (
    BlipVideoEvalProcessor,
    BlipVideoTrainProcessor,
    VideoDecodeError,
    read_video_frames,
    sample_frame_indices,
)

NUM_FRAMES, HEIGHT, WIDTH = 24, 48, 64


def frame_level(t: int) -> int:
    """Grey level encoding frame index ``t`` in the left half of every synthetic frame."""
    return 8 + 10 * t


def synthetic_frames(static: bool = False) -> np.ndarray:
    frames = np.zeros((NUM_FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for t in range(NUM_FRAMES):
        frames[t, :, : WIDTH // 2] = frame_level(0 if static else t)
        frames[t, 10:26, 40:56] = (255, 40, 40)
    return frames


def write_mp4(path: Path, frames: np.ndarray) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (WIDTH, HEIGHT))
    assert writer.isOpened(), "OpenCV cannot write mp4v; its FFmpeg backend is missing"
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV wants BGR
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mp4(tmp_path_factory.mktemp("video") / "clip.mp4", synthetic_frames())


def decoded_index(frame: np.ndarray) -> int:
    return round((float(frame[:, : WIDTH // 2 - 4, 1].mean()) - 8) / 10)


def test_uniform_and_random_indices() -> None:
    assert sample_frame_indices(24, 4, "uniform") == [0, 6, 12, 18]
    gen = torch.Generator().manual_seed(0)
    draws = [sample_frame_indices(24, 4, "random", gen) for _ in range(50)]
    for draw in draws:
        assert all(6 * i <= idx < 6 * (i + 1) for i, idx in enumerate(draw))
    assert len({tuple(d) for d in draws}) > 10
    seeded = [sample_frame_indices(24, 4, "random", torch.Generator().manual_seed(5)) for _ in range(2)]
    assert seeded[0] == seeded[1]
    for sampling in ("uniform", "random"):  # short videos repeat frames
        short = sample_frame_indices(3, 8, sampling, gen)
        assert len(short) == 8 and short == sorted(short) and set(short) <= {0, 1, 2}
    with pytest.raises(ValueError, match="sampling"):
        sample_frame_indices(3, 2, "headtail")


def test_decord_reads_the_frames_asked_for(video: Path) -> None:
    pytest.importorskip("decord")
    frames = read_video_frames(video, 4)
    assert frames.shape == (4, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8
    assert [decoded_index(f) for f in frames] == [0, 6, 12, 18]


@pytest.mark.parametrize("failure", ["missing", "broken"])
def test_pyav_fallback_matches_decord(video: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    pytest.importorskip("decord")
    with_decord = read_video_frames(video, 6)
    if failure == "missing":
        monkeypatch.setitem(sys.modules, "decord", None)  # `import decord` raises ImportError
    else:

        def broken(*args: object) -> None:
            raise RuntimeError("decord failed")

        monkeypatch.setattr(video_mod, "_read_with_decord", broken)
    calls = []
    real_pyav = video_mod._read_with_pyav
    monkeypatch.setattr(video_mod, "_read_with_pyav", lambda *args: calls.append(args) or real_pyav(*args))
    with_pyav = read_video_frames(video, 6)
    assert len(calls) == 1
    assert with_pyav.shape == with_decord.shape
    assert np.abs(with_pyav.astype(int) - with_decord.astype(int)).mean() < 1.0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match=r"nope\.mp4: no such video file"):
        read_video_frames(tmp_path / "nope.mp4", 4)


def test_cut_mp4_without_index_is_unreadable(video: Path, tmp_path: Path) -> None:
    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # OpenCV writes the index (moov) last: it is lost
    with pytest.raises(VideoDecodeError, match=r"cut\.mp4: unreadable or truncated"):
        read_video_frames(cut, 4)


def test_empty_and_garbage_files(tmp_path: Path) -> None:
    import cv2

    empty = tmp_path / "empty.mp4"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 10, (WIDTH, HEIGHT)).release()
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 50)
    for path in (empty, garbage):
        with pytest.raises(VideoDecodeError, match=path.name):
            read_video_frames(path, 4)


def test_truncated_faststart_video_uses_decodable_frames(
    video: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    av = pytest.importorskip("av")
    faststart = tmp_path / "faststart.mp4"
    with av.open(str(video)) as src, av.open(str(faststart), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for frame in src.decode(video=0):
            dst.mux(stream.encode(frame.reformat(format="yuv420p")))
        dst.mux(stream.encode())
    data = faststart.read_bytes()
    cut = tmp_path / "cut_faststart.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])  # the index survives, the last frames do not
    with caplog.at_level(logging.WARNING):
        frames = read_video_frames(cut, 4)
    assert frames.shape == (4, HEIGHT, WIDTH, 3) and "truncated" in caplog.text
    indices = [decoded_index(f) for f in frames]
    assert indices[0] == 0 and indices == sorted(indices) and indices[-1] < NUM_FRAMES - 1
    with pytest.raises(VideoDecodeError, match=r"cut_faststart\.mp4: truncated video: only \d+ of 24"):
        read_video_frames(cut, NUM_FRAMES)


def test_eval_processor_is_per_frame_image_eval(video: Path) -> None:
    proc = BlipVideoEvalProcessor.from_config({"n_frms": 3, "image_size": 32})
    out = proc(video)
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.float32
    frames = read_video_frames(video, 3)
    image_eval = BlipImageEvalProcessor.from_config({"image_size": 32})
    torch.testing.assert_close(out, torch.stack([image_eval(f) for f in frames]))
    torch.testing.assert_close(proc(synthetic_frames()), torch.stack([image_eval(f) for f in synthetic_frames()[::8]]))


def test_train_processor_same_augmentation_for_all_frames() -> None:
    proc = BlipVideoTrainProcessor.from_config({"n_frms": 4, "image_size": 24})
    static = synthetic_frames(static=True)
    for seed in range(5):
        out = proc(static, generator=torch.Generator().manual_seed(seed))
        assert out.shape == (4, 3, 24, 24)
        assert all(torch.equal(out[0], out[t]) for t in range(1, 4))  # one crop/flip/RandAugment per video
    a, b = (proc(synthetic_frames(), generator=torch.Generator().manual_seed(1)) for _ in range(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_train_processor_reads_files(video: Path) -> None:
    out = BlipVideoTrainProcessor.from_config({"n_frms": 2, "image_size": 16})(video)
    assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
