"""``vlkit data download NAME``: fetch a dataset's public annotation files (atomic, verified, with progress)."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

from vlkit.data.builders.base_builder import BaseDatasetBuilder

logger = logging.getLogger(__name__)


def fetch(url: str, target: Path, sha256: str | None = None, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target`` unless it is already there (and matches ``sha256``).

    Raises:
        RuntimeError: naming the URL on a network error or a checksum mismatch (the partial file is removed).
    """
    from tqdm import tqdm

    if target.is_file() and (sha256 is None or _sha256(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=not progress) as bar:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"Could not download {url}: {err}") from None
    if sha256 is not None and digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"Checksum mismatch for {url}: expected sha256 {sha256}, got {digest.hexdigest()}.")
    os.replace(tmp, target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def rebase_url(url: str, base_url: str | None) -> str:
    """``url`` with everything before its file name replaced by ``base_url`` (a mirror, or a test server)."""
    if not base_url:
        return url
    return f"{base_url.rstrip('/')}/{url.rsplit('/', 1)[-1]}"


def download_dataset(builder: BaseDatasetBuilder, progress: bool = True, base_url: str | None = None) -> list[Path]:
    """Fetch every file with a public URL in the builder's config into its dataset root.

    Args:
        builder: The dataset's builder (its config names the URLs, targets and checksums).
        progress: Show a progress bar per file.
        base_url: Fetch the same file names from this server instead of the configured one.

    Raises:
        RuntimeError: when nothing is publicly downloadable (saying what to obtain), or a download fails.
    """
    items = builder.downloads()
    if not items:
        raise RuntimeError(
            f"{builder.name} has no publicly downloadable annotations; {builder.IMAGES_HINT} and put the files "
            f"under {builder.root} as described in docs/datasets.md."
        )
    paths = [fetch(rebase_url(url, base_url), target, sha, progress) for url, target, sha in items]
    logger.info(
        "%s: annotations are in %s. %s (media are never downloaded by vlkit).",
        builder.name,
        builder.root,
        builder.IMAGES_HINT,
    )
    return paths
