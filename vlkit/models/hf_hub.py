"""Hugging Face Hub ids as checkpoints: ``"Salesforce/blip-image-captioning-base"`` or ``"org/name@revision"``.

Files come through ``huggingface_hub.snapshot_download`` and live in its cache (``HF_HUB_CACHE``, default
``~/.cache/huggingface/hub``); ``HF_HUB_OFFLINE=1`` reads that cache without touching the network. Only the
files vlkit reads are fetched: ``config.json``, ``model.safetensors`` (``pytorch_model.bin`` when a
repository has no safetensors) and vlkit's ``vlkit.yaml`` when present; never the tokenizer or TensorFlow
weights.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# owner/name as the Hub spells them, optionally @revision (a branch, tag, commit or refs/pr/N)
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95})(?:@(?P<rev>[\w./-]+))?$")
# a name with one of these endings is a local file that is missing, not a Hub repository
_FILE_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".ckpt", ".yaml", ".yml", ".json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class HubCheckpointError(RuntimeError):
    """A Hub id that cannot be resolved to files; the message names the id and what to do."""


@dataclass(frozen=True)
class HubId:
    """A parsed ``owner/name[@revision]``."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


def parse_hub_id(source: object) -> HubId | None:
    """The :class:`HubId` that ``source`` names, or ``None`` when it is a local path, a URL or not a Hub id.

    A string that exists on disk is always a local path; ``a/b.pth`` is a (missing) file, never a repository.
    """
    if not isinstance(source, str | os.PathLike) or "://" in str(source):
        return None
    text = str(source)
    match = _HUB_ID.match(text)
    if match is None or text.lower().endswith(_FILE_SUFFIXES) or Path(text).expanduser().exists():
        return None
    return HubId(match["repo"], match["rev"])


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set, read now rather than at import."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return constants.HF_HUB_OFFLINE or (flag or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _advice(hub_id: HubId) -> str:
    return (
        f"Download it once with network access (`hf download {hub_id.repo_id}"
        f"{f' --revision {hub_id.revision}' if hub_id.revision else ''}` or any vlkit load without "
        f"HF_HUB_OFFLINE), or pass a local transformers BLIP directory as `checkpoint=`."
    )


def _snapshot(hub_id: HubId, patterns: list[str], offline: bool, cache_dir: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(
            snapshot_download(
                hub_id.repo_id,
                revision=hub_id.revision,
                allow_patterns=patterns,
                local_files_only=offline,
                cache_dir=cache_dir,
                library_name="vlkit",
            )
        )
    except HFValidationError as err:
        raise HubCheckpointError(f"{str(hub_id)!r} is not a valid Hugging Face Hub id ({err}).") from None
    except GatedRepoError:
        raise HubCheckpointError(
            f"The Hub repository {hub_id.repo_id!r} is gated: accept its terms on huggingface.co and log in "
            f"(`hf auth login`), or pass a local directory as `checkpoint=`."
        ) from None
    except RevisionNotFoundError:
        raise HubCheckpointError(
            f"The Hub repository {hub_id.repo_id!r} has no revision {hub_id.revision!r}: check the part after '@' "
            f"(a branch, tag or commit)."
        ) from None
    except RepositoryNotFoundError:
        raise HubCheckpointError(
            f"{str(hub_id)!r} is neither a local path nor a Hugging Face Hub model repository (not found, or private "
            f"and you are not logged in: `hf auth login`). Check the id, e.g. 'Salesforce/blip-image-captioning-base', "
            f"or the path."
        ) from None
    except LocalEntryNotFoundError as err:
        why = (
            "HF_HUB_OFFLINE is set, so nothing can be downloaded"
            if offline
            else f"the Hub could not be reached ({str(err).splitlines()[0]})"
        )
        raise HubCheckpointError(
            f"The Hub model {str(hub_id)!r} is not in the Hugging Face cache ({cache_dir or _default_cache()}) "
            f"and {why}. {_advice(hub_id)}"
        ) from None


def _default_cache() -> str:
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def hub_snapshot(hub_id: HubId | str, cache_dir: str | Path | None = None) -> Path:
    """A local snapshot directory of ``hub_id`` holding ``config.json`` and its weights (downloaded once).

    Args:
        hub_id: ``owner/name[@revision]`` or a parsed :class:`HubId`.
        cache_dir: the Hub cache; default ``HF_HUB_CACHE`` as set now (else huggingface_hub's default).

    Raises:
        HubCheckpointError: unknown repository or revision, gated repository, offline without a cached copy,
            or a repository without ``config.json`` + weights; the message names the id and what to do.
    """
    parsed = parse_hub_id(hub_id) if isinstance(hub_id, str) else hub_id
    if parsed is None:
        raise HubCheckpointError(f"{hub_id!r} is not a Hugging Face Hub id (expected 'owner/name[@revision]').")
    cache = str(cache_dir) if cache_dir is not None else _default_cache()
    offline = hub_offline()
    folder = _snapshot(parsed, ["config.json", WEIGHT_FILES[0], "vlkit.yaml"], offline, cache)
    if not (folder / WEIGHT_FILES[0]).is_file():  # older repositories hold only a PyTorch pickle
        folder = _snapshot(parsed, [WEIGHT_FILES[1]], offline, cache)
    if not (folder / "config.json").is_file() or not any((folder / w).is_file() for w in WEIGHT_FILES):
        have = sorted(p.name for p in folder.iterdir())
        raise HubCheckpointError(
            f"The Hub model {str(parsed)!r} (cached at {folder}) lacks config.json or weights "
            f"({' / '.join(WEIGHT_FILES)}); it holds {have}. vlkit loads transformers BLIP repositories "
            f"(BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipForQuestionAnswering)."
        )
    return folder
