"""Reading checkpoints in every format vlkit accepts, safely.

Sources: a URL (downloaded once, see :mod:`vlkit.models.hub`), a Hugging Face Hub id
(``owner/name[@revision]``, through the Hub cache, see :mod:`vlkit.models.hf_hub`), a ``.pth``/``.pt``/``.bin`` in the
original format (``{"model": state_dict}``) or a bare state dict, a ``.safetensors`` file, a vlkit
training checkpoint, or a transformers BLIP directory (``config.json`` + weights; a Hub id is one), converted
on the fly.
Pickles are read with ``torch.load(weights_only=True)``: arbitrary objects are refused.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vlkit.models.hf_hub import HubCheckpointError, hub_snapshot, parse_hub_id
from vlkit.models.hub import download, is_url

logger = logging.getLogger(__name__)


# transformers BLIP class -> vlkit.models.convert_hf arch
HF_CLASS_TO_ARCH = {
    "BlipForConditionalGeneration": "caption",
    "BlipForImageTextRetrieval": "retrieval",
    "BlipForQuestionAnswering": "vqa",
}


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model; the message says which and why."""


@dataclass
class LoadReport:
    """What loading a state dict did.

    ``random_init`` marks a model built without any weights (every parameter at its random initial value);
    ``source`` then says why (e.g. ``pretrained=False``).
    """

    source: str
    random_init: bool = False
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    interpolated: list[str] = field(default_factory=list)
    skipped_shape_mismatch: list[str] = field(default_factory=list)

    def summary(self, limit: int = 10) -> str:
        def show(keys: list[str]) -> str:
            more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
            return ", ".join(keys[:limit]) + more

        if self.random_init:
            return f"random initialisation, no weights loaded ({self.source})"
        parts = [f"loaded {self.source}"]
        for label, keys in (
            ("missing", self.missing_keys),
            ("unexpected", self.unexpected_keys),
            ("interpolated", self.interpolated),
            ("skipped (shape mismatch)", self.skipped_shape_mismatch),
        ):
            if keys:
                parts.append(f"{len(keys)} {label}: {show(keys)}")
        return "; ".join(parts)


def _torch_load(path: Path, allow_unsafe_pickle: bool) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=not allow_unsafe_pickle)
    except Exception as err:  # noqa: BLE001 - pickle/zip errors come in many types
        msg = str(err)
        if "weights_only" in msg or "Unsupported global" in msg:
            raise CheckpointError(
                f"{path} contains pickled Python objects that are not plain tensors; vlkit refuses to unpickle "
                f"them because that can run arbitrary code. If you trust the file, pass allow_unsafe_pickle=True."
            ) from None
        raise CheckpointError(_corrupt_message(path, err)) from None


def _corrupt_message(path: Path, err: Exception) -> str:
    msg = str(err).splitlines()[0] if str(err) else ""
    return (
        f"Could not read checkpoint {path}: {type(err).__name__}: {msg}. The file is probably truncated or "
        f"corrupt; if it is a cached download, delete {path} and it will be downloaded again."
    )


def _read_hf_dir(path: Path, hf_arch: str | None) -> dict[str, torch.Tensor]:
    import json

    from vlkit.models.convert_hf import hf_blip_to_vlkit

    architectures = json.loads((path / "config.json").read_text()).get("architectures") or []
    hf_arch = next((HF_CLASS_TO_ARCH[a] for a in architectures if a in HF_CLASS_TO_ARCH), hf_arch)
    if hf_arch is None:
        raise CheckpointError(
            f"{path} is a transformers directory, but neither its config.json `architectures` {architectures} nor "
            f"the model name a BLIP class vlkit converts ({', '.join(HF_CLASS_TO_ARCH)})."
        )
    weights = path / "model.safetensors"
    if weights.is_file():
        from safetensors.torch import load_file

        sd = load_file(str(weights))
    elif (path / "pytorch_model.bin").is_file():
        sd = _torch_load(path / "pytorch_model.bin", False)
    else:
        raise CheckpointError(f"{path} has config.json but neither model.safetensors nor pytorch_model.bin.")
    return hf_blip_to_vlkit(dict(sd), hf_arch)


def resolve_hub_id(source: str | Path) -> str | Path:
    """The local snapshot directory of a Hugging Face Hub id (fetched into the Hub cache once); other sources
    unchanged.

    Raises:
        CheckpointError: naming the id when it is unknown, or offline and not cached.
    """
    hub_id = parse_hub_id(source)
    if hub_id is None:
        return source
    try:
        return hub_snapshot(hub_id)
    except HubCheckpointError as err:
        raise CheckpointError(str(err)) from None


def read_state_dict(
    source: str | Path | dict, hf_arch: str | None = None, sha256: str | None = None, allow_unsafe_pickle: bool = False
) -> dict[str, torch.Tensor]:
    """The state dict (original key layout) stored at ``source``.

    Raises:
        CheckpointError / FileNotFoundError: naming the file and what to do.
    """
    if isinstance(source, dict):
        sd = source
    else:
        text = str(source)
        path = download(text, sha256=sha256) if is_url(text) else Path(resolve_hub_id(source)).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"Checkpoint {text!r} does not exist (expected a file, a URL, a directory or a Hugging Face Hub id "
                f"'owner/name')."
            )
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise CheckpointError(f"{path} is a directory without config.json; expected a transformers BLIP dir.")
            return _read_hf_dir(path, hf_arch)
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            try:
                sd = load_file(str(path))
            except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
                raise CheckpointError(_corrupt_message(path, err)) from None
        else:
            if allow_unsafe_pickle:
                warnings.warn(
                    f"Unpickling {path} with weights_only=False: only do this for files you trust.", stacklevel=2
                )
            sd = _torch_load(path, allow_unsafe_pickle)
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]  # the original {"model": ...} format, and vlkit training checkpoints
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{source} does not hold a state dict (a mapping of names to tensors).")
    return sd
