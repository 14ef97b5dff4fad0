"""Downloading released checkpoints once into ``$VLKIT_CACHE/checkpoints`` (iopath), with verification.

iopath's HTTP handler stores ``<cache>/checkpoints/<url path>``, downloads to a ``.tmp`` name that is
renamed only when complete (so an interrupted download never looks finished), holds a file lock so
concurrent ranks download once, and draws a tqdm progress bar.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import urlparse

from vlkit.common.paths import cache_root

logger = logging.getLogger(__name__)


class ChecksumError(RuntimeError):
    """A downloaded file whose sha256 differs from the expected one."""


def is_url(source: str | Path) -> bool:
    """Whether ``source`` is an http(s) URL."""
    return urlparse(str(source)).scheme in ("http", "https")


def checkpoint_cache_dir() -> Path:
    """``cache_root()/"checkpoints"``: where downloaded checkpoints live."""
    return cache_root() / "checkpoints"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, url: str, sha256: str) -> None:
    # Hashing a 1.8 GB checkpoint takes seconds; remember a successful check for this exact file state.
    stat = path.stat()
    marker = path.with_name(path.name + ".sha256")
    stamp = f"{sha256} {stat.st_size} {stat.st_mtime_ns}"
    if marker.is_file() and marker.read_text().strip() == stamp:
        return
    actual = sha256_of(path)
    if actual != sha256.lower():
        path.unlink()  # a bad copy must not be picked up by the next call
        raise ChecksumError(
            f"Checksum mismatch for {url}: expected sha256 {sha256}, got {actual}. The downloaded copy was "
            f"deleted; check the URL and the expected sha256 (the model YAML's `finetuned_sha256` / "
            f"`pretrained_sha256`)."
        )
    marker.write_text(stamp)


def download(url: str, sha256: str | None = None, cache_dir: Path | None = None) -> Path:
    """Fetch ``url`` into the cache (once; later calls reuse the file) and verify ``sha256`` when given.

    Args:
        url: http(s) URL of the file.
        sha256: expected hex digest, or ``None`` to skip verification.
        cache_dir: where to store it; default :func:`checkpoint_cache_dir`.

    Raises:
        RuntimeError: naming the URL when the download fails.
        ChecksumError: when the digest does not match (the bad copy is deleted).
    """
    from iopath.common.file_io import HTTPURLHandler, PathManager

    cache_dir = Path(cache_dir or checkpoint_cache_dir())
    target = cache_dir / urlparse(url).netloc / urlparse(url).path.lstrip("/")
    if not target.is_file():
        logger.info("downloading %s to %s", url, target)
        try:
            manager = PathManager()
            manager.register_handler(HTTPURLHandler(), allow_override=True)
            local = Path(manager.get_local_path(url, cache_dir=str(cache_dir / urlparse(url).netloc)))
        except Exception as err:  # noqa: BLE001 - urllib/socket errors come in many types
            raise RuntimeError(
                f"Could not download {url}: {type(err).__name__}: {err}. Check the URL and your network, or "
                f"download it yourself and pass the local path as `checkpoint=`."
            ) from err
        if local != target:  # iopath's layout is ours; this only guards against it changing
            local.replace(target)
        if not sha256:
            # Salesforce publishes no checksums for its releases: record what arrived, so it can be pinned
            logger.info(
                "sha256 of %s: %s (no expected value was given; pin it with the model YAML's `*_sha256`)",
                target,
                sha256_of(target),
            )
    if sha256:
        _verify(target, url, sha256)
    return target
