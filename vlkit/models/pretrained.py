"""``save_pretrained`` / ``push_to_hub``: a model in transformers' BLIP layout, with its config and a model card.

A saved directory holds ``config.json`` + ``model.safetensors`` (what ``transformers.BlipFor*.from_pretrained``
loads, see :mod:`vlkit.models.export`), ``vlkit.yaml`` (the vlkit ``model:`` config, restored by
``load_model(..., checkpoint=dir)``) and ``README.md`` (:mod:`vlkit.models.model_card`). ``push_to_hub``
writes the same files to a temporary directory and uploads them as one commit.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from vlkit.models.export import export_to_transformers, transformers_arch
from vlkit.models.model_card import TrainingRecord, model_card, read_job

VLKIT_CONFIG_FILE = "vlkit.yaml"


def _record(job_dir: str | Path | None, metrics: dict[str, float] | None) -> TrainingRecord | None:
    record = read_job(job_dir) if job_dir is not None else None
    if metrics:
        record = record or TrainingRecord()
        record.metrics = {k: float(v) for k, v in metrics.items()}
        record.eval_split = record.eval_step = None  # given metrics replace the job's last evaluation
    return record


def _config_yaml(model: nn.Module) -> str:
    from omegaconf import OmegaConf

    cfg = asdict(model.config) if hasattr(model.config, "__dataclass_fields__") else dict(model.config)
    return OmegaConf.to_yaml(OmegaConf.create({"model": json.loads(json.dumps(cfg))}))


def save_pretrained(
    model: nn.Module,
    out_dir: str | Path,
    job_dir: str | Path | None = None,
    metrics: dict[str, float] | None = None,
    repo_id: str | None = None,
) -> Path:
    """Write ``model`` to ``out_dir`` in transformers' layout with ``vlkit.yaml`` and a ``README.md`` card.

    Args:
        model: a caption, retrieval/ITM or VQA model (the kinds transformers has a BLIP class for).
        out_dir: directory to create; files of the same names are overwritten.
        job_dir: the vlkit job directory that trained it; its ``config.yaml`` and the last evaluation in its
            ``log.jsonl`` go into the card.
        metrics: evaluation metrics to put in the card (instead of the job's last evaluation).
        repo_id: the Hub repository the card's loading example names.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        ValueError: for a model transformers has no BLIP class for.
        FileNotFoundError: when ``job_dir`` is not a vlkit job directory.
    """
    arch = transformers_arch(model)  # refuse before writing anything
    record = _record(job_dir, metrics)
    out = export_to_transformers(model, out_dir)
    (out / VLKIT_CONFIG_FILE).write_text(_config_yaml(model), encoding="utf-8")
    (out / "README.md").write_text(model_card(model, arch, repo_id, record), encoding="utf-8")
    return out


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    job_dir: str | Path | None = None,
    metrics: dict[str, float] | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload BLIP model with vlkit",
    endpoint: str | None = None,
) -> Any:
    """Create ``repo_id`` on the Hugging Face Hub if needed and upload :func:`save_pretrained`'s files to it.

    Args:
        model, job_dir, metrics: as :func:`save_pretrained`.
        repo_id: ``owner/name``.
        private: create the repository private (an existing one keeps its visibility).
        token: a Hub token with write access; default the logged-in one (``hf auth login``) or ``HF_TOKEN``.
        commit_message: the commit's title.
        endpoint: the Hub's URL; default ``HF_ENDPOINT`` or https://huggingface.co.

    Returns:
        huggingface_hub's ``CommitInfo`` (``.commit_url``, ``.oid``).

    Raises:
        RuntimeError: naming the repository when the Hub refuses (not logged in, no write access).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=endpoint, token=token, library_name="vlkit")
    with tempfile.TemporaryDirectory(prefix="vlkit_push_") as tmp:
        folder = save_pretrained(model, tmp, job_dir=job_dir, metrics=metrics, repo_id=repo_id)
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            return api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message)
        except HfHubHTTPError as err:
            status = err.response.status_code if err.response is not None else "?"
            raise RuntimeError(
                f"Could not push to the Hub repository {repo_id!r} (HTTP {status}: {str(err).splitlines()[0]}). Log "
                f"in with `hf auth login` (or set HF_TOKEN) with a token that can write to {repo_id.split('/')[0]!r}."
            ) from None
