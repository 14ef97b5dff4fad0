"""Hub ids as checkpoints, without a network: a pre-populated Hub cache read with HF_HUB_OFFLINE=1, and a local
HTTP server answering as the Hub does for a repository that does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.fixtures.fake_hub import FakeHub, populate_hub_cache
from vlkit.models import CheckpointError, load_model
from vlkit.models.export import export_to_transformers
from vlkit.models.hf_hub import HubId, parse_hub_id

REPO = "Salesforce/blip-image-captioning-base"


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hub cache in HF_HUB_CACHE, offline."""
    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _tiny_caption_export(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    model = load_model("blip_caption", "tiny", pretrained=False, is_eval=True)
    return model, export_to_transformers(model, tmp_path / "export")


@pytest.mark.parametrize(
    "text,expected",
    [
        (REPO, HubId(REPO)),
        (f"{REPO}@v1.0", HubId(REPO, "v1.0")),
        ("org/name@refs/pr/3", HubId("org/name", "refs/pr/3")),
        ("org/model.pth", None),  # a missing local file, not a repository
        ("https://example.com/a/b", None),
        ("just_a_name", None),
        ("/abs/path", None),
        ("a/b/c", None),
    ],
)
def test_parse_hub_id(text: str, expected: HubId | None) -> None:
    assert parse_hub_id(text) == expected


def test_an_existing_local_directory_is_never_a_hub_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "org" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert parse_hub_id("org/name") is None


@pytest.mark.parametrize("revision", [None, "v1", "commit"])
def test_hub_id_loads_from_the_cache_offline_with_the_directory_conversion(
    tmp_path: Path, hub_cache: Path, revision: str | None
) -> None:
    model, export = _tiny_caption_export(tmp_path)
    files = {"config.json": export / "config.json", "model.safetensors": export / "model.safetensors"}
    commit = populate_hub_cache(hub_cache, REPO, files, revision=revision if revision == "v1" else "main")
    source = REPO if revision is None else f"{REPO}@{commit if revision == 'commit' else revision}"
    loaded = load_model("blip_caption", "tiny", checkpoint=source, is_eval=True)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    images = torch.randn(2, 3, 64, 64)
    kw = {"num_beams": 3, "max_length": 12, "min_length": 3}
    assert loaded.generate({"image": images}, **kw) == model.generate({"image": images}, **kw)


def test_pickle_only_repository_is_read_safely(tmp_path: Path, hub_cache: Path) -> None:
    from safetensors.torch import load_file

    model, export = _tiny_caption_export(tmp_path)
    torch.save(load_file(str(export / "model.safetensors")), tmp_path / "pytorch_model.bin")
    populate_hub_cache(
        hub_cache,
        "org/old-repo",
        {"config.json": export / "config.json", "pytorch_model.bin": tmp_path / "pytorch_model.bin"},
    )
    loaded = load_model("blip_caption", "tiny", checkpoint="org/old-repo")
    assert torch.equal(loaded.visual_encoder.pos_embed, model.visual_encoder.pos_embed)


def test_offline_without_a_cached_copy_says_which_id_and_what_to_do(hub_cache: Path) -> None:
    with pytest.raises(CheckpointError) as info:
        load_model("blip_caption", "tiny", checkpoint="someone/not-downloaded@v2")
    msg = str(info.value)
    assert "someone/not-downloaded@v2" in msg and "HF_HUB_OFFLINE" in msg and str(hub_cache) in msg
    assert "hf download someone/not-downloaded --revision v2" in msg


def test_repository_without_weights_is_named(tmp_path: Path, hub_cache: Path) -> None:
    (tmp_path / "README.md").write_text("not a model")
    populate_hub_cache(hub_cache, "org/cardonly", {"README.md": tmp_path / "README.md"})
    with pytest.raises(CheckpointError, match="org/cardonly.*lacks config.json or weights"):
        load_model("blip_caption", "tiny", checkpoint="org/cardonly")


def test_unknown_hub_id_online_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with FakeHub(tmp_path / "hub") as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        with pytest.raises(CheckpointError) as info:
            load_model("blip_caption", "tiny", checkpoint="nobody/no-such-model")
    assert hub.requests, "the Hub API must have been asked"
    msg = str(info.value)
    assert "'nobody/no-such-model' is neither a local path nor a Hugging Face Hub model repository" in msg
    assert "hf auth login" in msg


def test_missing_local_file_keeps_its_file_error() -> None:
    with pytest.raises(FileNotFoundError, match="runs/model.pth"):
        load_model("blip_caption", "tiny", checkpoint="runs/model.pth")
