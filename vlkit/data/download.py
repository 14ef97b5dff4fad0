"""``vlkit data download NAME``: fetch a dataset's public annotation files (atomic, resumable, verified)."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from vlkit.data.builders.base_builder import BaseDatasetBuilder

logger = logging.getLogger(__name__)


def fetch(url: str, target: Path, sha256: str | None = None, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target`` unless it is already there (and matches ``sha256``).

    The bytes go to ``<target>.part`` first; an interrupted download is resumed from where it stopped (an
    HTTP ``Range`` request; a server that ignores it sends the whole file again) and the file is renamed
    into place only when complete and verified.

    Raises:
        RuntimeError: naming the URL on a network error or a checksum mismatch (the partial file is removed).
    """
    from tqdm import tqdm

    if target.is_file() and (sha256 is None or _sha256(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    have = tmp.stat().st_size if tmp.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            resumed = have > 0 and resp.status == 206
            if have and not resumed:
                logger.info("%s: the server does not resume downloads; fetching it again", url)
            length = int(resp.headers.get("Content-Length") or 0)
            total = (length + (have if resumed else 0)) or None
            with (
                open(tmp, "ab" if resumed else "wb") as out,
                tqdm(
                    total=total,
                    initial=have if resumed else 0,
                    unit="B",
                    unit_scale=True,
                    desc=target.name,
                    disable=not progress,
                ) as bar,
            ):
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        if not (err.code == 416 and have):  # 416: the partial file already holds every byte
            raise RuntimeError(f"Could not download {url}: {err}") from None
    except OSError as err:  # the partial file stays, so the next call resumes it
        raise RuntimeError(
            f"Could not download {url}: {err}. Run the same command again to resume ({tmp} keeps what arrived), "
            f"or fetch the file yourself to {target}."
        ) from None
    actual = _sha256(tmp)
    if sha256 is not None and actual != sha256:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"Checksum mismatch for {url}: expected sha256 {sha256}, got {actual}.")
    if sha256 is None:
        logger.info("%s: sha256 %s (none recorded for this file; set the config's sha256 to pin it)", target, actual)
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
