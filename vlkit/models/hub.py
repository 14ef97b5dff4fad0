"""Downloading released checkpoints once into ``$VLKIT_CACHE/checkpoints`` (iopath), with verification."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from urllib.parse import urlparse

from vlkit.common.paths import cache_root

logger = logging.getLogger(__name__)


def is_url(source: str) -> bool:
    return urlparse(str(source)).scheme in ("http", "https")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, sha256: str | None = None, cache_dir: Path | None = None) -> Path:
    """Fetch ``url`` into the cache (once; later calls reuse the file) and verify ``sha256`` when given.

    The download goes through iopath's HTTP handler into a temporary name and is renamed when complete,
    so an interrupted download never looks finished.

    Raises:
        RuntimeError: naming the URL when the download fails or the checksum does not match.
    """
    from iopath.common.file_io import HTTPURLHandler, PathManager

    cache_dir = cache_dir or cache_root() / "checkpoints"
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = Path(urlparse(url).path).name or hashlib.sha1(url.encode()).hexdigest()
    target = cache_dir / name
    if not target.is_file():
        tmp_cache = cache_dir / ".iopath"
        manager = PathManager()
        manager.register_handler(HTTPURLHandler(), allow_override=True)
        logger.info("downloading %s to %s", url, target)
        try:
            local = manager.get_local_path(url, cache_dir=str(tmp_cache))
        except Exception as err:  # noqa: BLE001 - network errors come in many types
            raise RuntimeError(
                f"Could not download {url}: {err}. Check the URL or your network, or pass a local path."
            ) from err
        tmp = target.with_name(target.name + ".part")
        os.replace(local, tmp)
        os.replace(tmp, target)
    if sha256 is not None:
        actual = sha256_of(target)
        if actual != sha256:
            raise RuntimeError(
                f"Checksum mismatch for {target} (from {url}): expected sha256 {sha256}, got {actual}. "
                f"Delete the file to download it again."
            )
    return target
