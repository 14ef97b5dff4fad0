"""Reading checkpoints: URL download (once, verified, atomic), every file format, safe unpickling, corrupt files."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from torch import nn

from vlkit.models.base_model import BaseModel
from vlkit.models.checkpoint import CheckpointError, read_state_dict
from vlkit.models.hub import ChecksumError, download

STATE = {"layer.weight": torch.arange(6.0).view(2, 3), "layer.bias": torch.ones(2)}


class _Server:
    def __init__(self, root: Path) -> None:
        self.root, self.hits = root, []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.hits.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/ckpts/{name}"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setenv("VLKIT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "www"
    (root / "ckpts").mkdir(parents=True)
    torch.save({"model": STATE}, root / "ckpts" / "tiny.pth")
    srv = _Server(root)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_url_is_downloaded_once_into_the_cache_with_a_progress_bar(
    server: _Server, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    sd = read_state_dict(server.url("tiny.pth"))
    assert _equal(sd, STATE)
    assert "tiny.pth" in capfd.readouterr().err  # tqdm's bar is labelled with the file name
    cached = download(server.url("tiny.pth"))
    assert cached.is_relative_to(tmp_path / "cache" / "checkpoints") and cached.is_file()
    assert not list(cached.parent.glob("*.tmp"))  # written to a temp name, then renamed
    assert _equal(read_state_dict(server.url("tiny.pth")), STATE)
    assert server.hits == ["/ckpts/tiny.pth"]


def test_sha256_is_verified(server: _Server) -> None:
    good = hashlib.sha256((server.root / "ckpts" / "tiny.pth").read_bytes()).hexdigest()
    assert _equal(read_state_dict(server.url("tiny.pth"), sha256=good), STATE)
    assert _equal(read_state_dict(server.url("tiny.pth"), sha256=good), STATE)  # remembered, still fine
    with pytest.raises(ChecksumError, match=r"expected sha256 0+, got " + good):
        download(server.url("tiny.pth"), sha256="0" * 64)
    # the bad copy is gone, so the next call downloads again
    assert _equal(read_state_dict(server.url("tiny.pth"), sha256=good), STATE)
    assert len(server.hits) == 2


def test_download_failure_names_the_url(server: _Server) -> None:
    with pytest.raises(RuntimeError, match=r"Could not download .*missing\.pth"):
        download(server.url("missing.pth"))


def test_corrupt_download_names_the_cached_file(server: _Server) -> None:
    data = (server.root / "ckpts" / "tiny.pth").read_bytes()
    (server.root / "ckpts" / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pth.*truncated or corrupt.*delete .*cut\.pth"):
        read_state_dict(server.url("cut.pth"))


@pytest.mark.parametrize("wrapped", [True, False])
def test_pth_original_and_bare(tmp_path: Path, wrapped: bool) -> None:
    torch.save({"model": STATE} if wrapped else STATE, tmp_path / "w.pth")
    assert _equal(read_state_dict(tmp_path / "w.pth"), STATE)


def test_safetensors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file(STATE, str(tmp_path / "w.safetensors"))
    assert _equal(read_state_dict(tmp_path / "w.safetensors"), STATE)
    (tmp_path / "bad.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match=r"bad\.safetensors.*corrupt"):
        read_state_dict(tmp_path / "bad.safetensors")


class Payload:
    """An arbitrary object: unpickling it could run code, so weights_only loading must refuse it."""

    def __reduce__(self) -> tuple:
        return (print, ("pickle executed",))


def test_arbitrary_pickle_is_refused_unless_explicitly_allowed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.save({"model": STATE, "extra": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match=r"evil\.pth.*allow_unsafe_pickle=True"):
        read_state_dict(tmp_path / "evil.pth")
    assert "pickle executed" not in capsys.readouterr().out
    with pytest.warns(UserWarning, match="weights_only=False"):
        sd = read_state_dict(tmp_path / "evil.pth", allow_unsafe_pickle=True)
    assert _equal(sd, STATE) and "pickle executed" in capsys.readouterr().out


def test_not_a_state_dict_and_missing_paths(tmp_path: Path) -> None:
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        read_state_dict(tmp_path / "list.pth")
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        read_state_dict(tmp_path / "nope.pth")
    (tmp_path / "dir").mkdir()
    with pytest.raises(CheckpointError, match="without config.json"):
        read_state_dict(tmp_path / "dir")


@dataclass
class _LinearConfig:
    finetuned: str | None = None
    load_finetuned: bool = True
    finetuned_sha256: str | None = None


class _Linear(BaseModel):
    CONFIG_CLASS: ClassVar[type] = _LinearConfig

    def __init__(self, config: _LinearConfig) -> None:
        super().__init__()
        self.config = config
        self.layer = nn.Linear(3, 2)


def test_from_config_checks_the_yaml_sha256(server: _Server) -> None:
    good = hashlib.sha256((server.root / "ckpts" / "tiny.pth").read_bytes()).hexdigest()
    model = _Linear.from_config({"finetuned": server.url("tiny.pth"), "finetuned_sha256": good})
    assert torch.equal(model.layer.weight, STATE["layer.weight"])
    with pytest.raises(ChecksumError, match="finetuned_sha256"):
        _Linear.from_config({"finetuned": server.url("tiny.pth"), "finetuned_sha256": "f" * 64})


def test_blip_yaml_sha256_keys_are_checked(server: _Server) -> None:
    """A BLIP model YAML's ``finetuned_sha256`` reaches the download check (not rejected as an unknown key)."""
    from vlkit.models import load_model

    source = load_model("blip_caption", "tiny", pretrained=False)
    torch.save({"model": source.state_dict()}, server.root / "ckpts" / "caption.pth")
    good = hashlib.sha256((server.root / "ckpts" / "caption.pth").read_bytes()).hexdigest()
    url = server.url("caption.pth")
    model = load_model("blip_caption", "tiny", load_finetuned=True, finetuned=url, finetuned_sha256=good)
    assert torch.equal(
        model.text_decoder.bert.embeddings.word_embeddings.weight,
        source.text_decoder.bert.embeddings.word_embeddings.weight,
    )
    with pytest.raises(ChecksumError, match="finetuned_sha256"):
        load_model("blip_caption", "tiny", load_finetuned=True, finetuned=url, finetuned_sha256="f" * 64)
