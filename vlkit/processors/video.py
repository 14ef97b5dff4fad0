"""Video reading (decord, PyAV fallback) and the ``blip_video_eval`` / ``blip_video_train`` processors.

Both processors take a video path (or already decoded ``uint8`` frames ``[T, H, W, 3]``) and return a
normalised ``float32`` tensor ``[T, 3, S, S]``. Eval samples ``n_frms`` frames uniformly — the first frame of
each of ``n_frms`` equal segments, as BLIP's video evaluation does — and resizes each like ``blip_image_eval``.
Train samples one random frame inside each segment and applies ``blip_image_train``'s augmentation with the
same random choices (crop box, flip, RandAugment ops) for every frame of a video, so motion stays coherent.
Randomness uses torch's RNG (see :mod:`vlkit.processors.image`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vlkit.processors.base_processor import BaseProcessor, register_processor
from vlkit.processors.image import (
    BlipImageEvalConfig,
    BlipImageEvalProcessor,
    BlipImageTrainConfig,
    BlipImageTrainProcessor,
    normalize_to_tensor,
)

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

SAMPLINGS = ("uniform", "random")
VideoInput = str | Path | np.ndarray


class VideoDecodeError(RuntimeError):
    """A video file is missing, empty, truncated or unreadable; the message names the file and the problem."""


def sample_frame_indices(
    num_available: int, num_frames: int, sampling: str = "uniform", generator: torch.Generator | None = None
) -> list[int]:
    """Pick ``num_frames`` indices out of ``num_available`` frames, one per equal-length segment.

    ``"uniform"`` takes each segment's first frame; ``"random"`` a uniformly random frame of each segment.
    Videos shorter than ``num_frames`` repeat frames, so the result always has ``num_frames`` entries.
    """
    if num_available < 1 or num_frames < 1:
        raise ValueError(f"Need num_available >= 1 and num_frames >= 1, got {num_available}, {num_frames}.")
    if sampling not in SAMPLINGS:
        raise ValueError(f"Unknown frame sampling {sampling!r}; use one of {', '.join(SAMPLINGS)}.")
    starts = [i * num_available // num_frames for i in range(num_frames)]
    if sampling == "uniform":
        return starts
    import torch

    ends = [(i + 1) * num_available // num_frames for i in range(num_frames)]
    offsets = torch.rand(num_frames, generator=generator).tolist()
    return [s + int(u * (e - s)) if e > s else min(s, num_available - 1) for s, e, u in zip(starts, ends, offsets)]


def _read_with_decord(path: Path, num_frames: int, sampling: str, generator: torch.Generator | None) -> np.ndarray:
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    if len(reader) == 0:
        raise VideoDecodeError(f"{path}: the video has zero frames.")
    batch = reader.get_batch(sample_frame_indices(len(reader), num_frames, sampling, generator))
    # Another library may have switched decord's global bridge to torch; accept either return type.
    return batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)


def _pyav_declared_frames(path: Path) -> int:
    """The frame count the container states (0 when it states none)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{path}: the file has no video stream.")
            return int(container.streams.video[0].frames or 0)
    except av.error.FFmpegError as err:
        raise VideoDecodeError(f"{path}: unreadable or truncated video ({err}).") from None


def _pyav_pass(path: Path, wanted: set[int]) -> tuple[dict[int, np.ndarray], int]:
    """Decode ``path`` front to back, keeping the frames in ``wanted``. Returns (kept frames, decodable count)."""
    import av

    kept: dict[int, np.ndarray] = {}
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if count in wanted:
                    kept[count] = frame.to_ndarray(format="rgb24")
                count += 1
        except av.error.FFmpegError as err:
            # A cut-off file decodes up to the damage; the caller decides whether that is enough.
            logger.debug("%s: decoding stopped after %d frames: %s", path, count, err)
    return kept, count


def _read_with_pyav(path: Path, num_frames: int, sampling: str, generator: torch.Generator | None) -> np.ndarray:
    declared = _pyav_declared_frames(path)
    if declared > 0:
        indices = sample_frame_indices(declared, num_frames, sampling, generator)
        kept, decodable = _pyav_pass(path, set(indices))
        if decodable >= declared:
            return np.stack([kept[i] for i in indices])
    else:  # the container states no frame count: count by decoding
        kept, decodable = _pyav_pass(path, set())
    if decodable == 0:
        raise VideoDecodeError(f"{path}: the video has zero decodable frames.")
    if declared > 0:  # fewer frames decode than the container states: the file is truncated
        if decodable < num_frames:
            raise VideoDecodeError(
                f"{path}: truncated video: only {decodable} of {declared} frames decode, fewer than the "
                f"{num_frames} requested."
            )
        logger.warning("%s: truncated video; sampling from its first %d of %d frames.", path, decodable, declared)
    indices = sample_frame_indices(decodable, num_frames, sampling, generator)
    if not set(indices) <= kept.keys():
        kept, _ = _pyav_pass(path, set(indices))
    return np.stack([kept[i] for i in indices])


def read_video_frames(
    path: str | Path, num_frames: int, sampling: str = "uniform", generator: torch.Generator | None = None
) -> np.ndarray:
    """Decode ``num_frames`` frames of a video file as ``uint8`` RGB ``[T, H, W, 3]``.

    Uses decord when it is installed and can read the file, else PyAV (which also salvages truncated files:
    their decodable frames are used when there are at least ``num_frames`` of them).

    Args:
        path: The video file.
        num_frames: Frames to return (``T``).
        sampling: ``"uniform"`` or ``"random"``; see :func:`sample_frame_indices`.
        generator: torch RNG for ``"random"`` (default: torch's global RNG).

    Raises:
        VideoDecodeError: the file is missing, has no (decodable) frames, or is truncated/unreadable.
        ImportError: neither decord nor PyAV is installed.
    """
    path = Path(path)
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}.")
    if sampling not in SAMPLINGS:
        raise ValueError(f"Unknown frame sampling {sampling!r}; use one of {', '.join(SAMPLINGS)}.")
    if not path.is_file():
        raise VideoDecodeError(f"{path}: no such video file.")
    decord_problem = "decord is not installed"
    try:
        return _read_with_decord(path, num_frames, sampling, generator)
    except ImportError:
        pass
    except Exception as err:  # noqa: BLE001 - decord raises DECORDError/RuntimeError/...; PyAV gets a second try.
        decord_problem = f"decord failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        logger.debug("%s: %s; trying PyAV", path, decord_problem)
    try:
        return _read_with_pyav(path, num_frames, sampling, generator)
    except ImportError:
        raise ImportError(
            f"Reading {path} needs decord or PyAV ({decord_problem}; PyAV is not installed). "
            f"Install them with: pip install 'vlkit[video]'."
        ) from None


@dataclass
class BlipVideoEvalConfig(BlipImageEvalConfig):
    """Options of ``blip_video_eval``."""

    n_frms: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_frms < 1:
            raise ValueError(f"n_frms must be >= 1, got {self.n_frms}.")


@dataclass
class BlipVideoTrainConfig(BlipImageTrainConfig):
    """Options of ``blip_video_train``."""

    n_frms: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_frms < 1:
            raise ValueError(f"n_frms must be >= 1, got {self.n_frms}.")


def _frames_from(video: VideoInput, num_frames: int, sampling: str, generator: torch.Generator | None) -> np.ndarray:
    if isinstance(video, np.ndarray):
        if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or len(video) == 0:
            raise ValueError(f"Expected uint8 frames [T, H, W, 3] with T >= 1, got {video.dtype} {video.shape}.")
        return video[sample_frame_indices(len(video), num_frames, sampling, generator)]
    return read_video_frames(video, num_frames, sampling, generator)


@register_processor("blip_video_eval")
class BlipVideoEvalProcessor(BaseProcessor):
    """Video path or frames → ``Tensor[n_frms, 3, S, S]`` (uniform sampling, bicubic resize, normalise)."""

    CONFIG_CLASS = BlipVideoEvalConfig
    config: BlipVideoEvalConfig

    def __init__(self, config: BlipVideoEvalConfig | None = None) -> None:
        super().__init__(config)
        self.frame_processor = BlipImageEvalProcessor(self.config)

    def __call__(self, video: VideoInput) -> torch.Tensor:
        frames = _frames_from(video, self.config.n_frms, "uniform", None)
        pixels = np.stack([self.frame_processor.transform_pixels(frame) for frame in frames])
        return normalize_to_tensor(pixels, self.config.mean, self.config.std)


@register_processor("blip_video_train")
class BlipVideoTrainProcessor(BaseProcessor):
    """Video path or frames → ``Tensor[n_frms, 3, S, S]`` (random per-segment frames, BLIP augmentation)."""

    CONFIG_CLASS = BlipVideoTrainConfig
    config: BlipVideoTrainConfig

    def __init__(self, config: BlipVideoTrainConfig | None = None) -> None:
        super().__init__(config)
        self.frame_processor = BlipImageTrainProcessor(self.config)

    def __call__(self, video: VideoInput, generator: torch.Generator | None = None) -> torch.Tensor:
        frames = _frames_from(video, self.config.n_frms, "random", generator)
        aug = self.frame_processor.sample(frames.shape[2], frames.shape[1], generator)
        pixels = np.stack([self.frame_processor.augment(frame, aug) for frame in frames])
        return normalize_to_tensor(pixels, self.config.mean, self.config.std)
