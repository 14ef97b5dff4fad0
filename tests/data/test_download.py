"""`vlkit data download` fetches from a local HTTP server (127.0.0.1), verifies the file, is atomic."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from vlkit.cli import run
from vlkit.data.download import fetch


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files and honours ``Range: bytes=N-`` (as cloud storage does); records the ranges asked for."""

    ranges: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        spec = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not spec or not path.is_file():
            return super().do_GET()
        RangeHandler.ranges.append(spec)
        data = path.read_bytes()
        start = int(spec.removeprefix("bytes=").split("-")[0])
        if start >= len(data):
            self.send_error(416)
            return
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()
    RangeHandler.ranges = []
    handler = partial(RangeHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()


def test_fetch_verifies_sha256(server: tuple[str, Path], tmp_path: Path) -> None:
    url, served = server
    (served / "a.json").write_text('[{"image": "x.jpg", "caption": "hi"}]')
    good = hashlib.sha256((served / "a.json").read_bytes()).hexdigest()
    target = fetch(f"{url}/a.json", tmp_path / "out" / "a.json", sha256=good, progress=False)
    assert target.read_text().startswith("[")
    with pytest.raises(RuntimeError, match="Checksum mismatch"):
        fetch(f"{url}/a.json", tmp_path / "out" / "b.json", sha256="0" * 64, progress=False)
    assert not (tmp_path / "out" / "b.json").exists() and not (tmp_path / "out" / "b.json.part").exists()
    with pytest.raises(RuntimeError, match="Could not download"):
        fetch(f"{url}/missing.json", tmp_path / "out" / "c.json", progress=False)


def test_an_interrupted_download_resumes_where_it_stopped(server: tuple[str, Path], tmp_path: Path) -> None:
    url, served = server
    payload = b"".join(b'{"image": "VG_100K/%d.jpg", "caption": "a tree"},' % i for i in range(2000))
    (served / "vg_caption.json").write_bytes(payload)
    target = tmp_path / "out" / "vg_caption.json"
    target.parent.mkdir()
    target.with_name("vg_caption.json.part").write_bytes(payload[:1000])  # what an interrupted run left
    good = hashlib.sha256(payload).hexdigest()
    assert fetch(f"{url}/vg_caption.json", target, sha256=good, progress=False).read_bytes() == payload
    assert RangeHandler.ranges == ["bytes=1000-"] and not target.with_name("vg_caption.json.part").exists()
    # a partial file already complete (the rename was interrupted): the server answers 416, the file is kept
    other = tmp_path / "out" / "again.json"
    other.with_name("again.json.part").write_bytes(payload)
    (served / "again.json").write_bytes(payload)
    assert fetch(f"{url}/again.json", other, sha256=good, progress=False).read_bytes() == payload


def test_pretraining_annotations_download(server: tuple[str, Path], tmp_path: Path) -> None:
    url, served = server
    for name in ("vg_caption.json", "sbu.json", "ccs_synthetic_filtered_large.json"):
        (served / name).write_text('[{"url": "http://x/1.jpg", "caption": "c"}]')
    for builder, rel in (
        ("vg_caption", "annotations/vg_caption.json"),
        ("sbu_caption", "annotations/sbu.json"),
        ("ccs_bootstrapped", "annotations/ccs_synthetic_filtered_large.json"),
    ):
        root = tmp_path / builder
        assert run(["data", "download", builder, "--root", str(root), "--base-url", url, "--no-progress"]) == 0
        assert (root / rel).read_text().startswith("[{")


def test_cli_downloads_a_builders_annotations_from_a_base_url(server: tuple[str, Path], tmp_path: Path) -> None:
    url, served = server
    names = [f"coco_karpathy_{s}.json" for s in ("train", "val", "test", "val_gt", "test_gt")]
    for name in names:
        (served / name).write_text(f'["{name}"]')
    root = tmp_path / "coco"
    assert run(["data", "download", "coco_caption", "--root", str(root), "--base-url", url, "--no-progress"]) == 0
    for name in names:
        assert (root / "annotations" / name).read_text() == f'["{name}"]'
    assert not list(root.rglob("*.part"))


def test_cli_checks_a_configured_sha256(server: tuple[str, Path], tmp_path: Path) -> None:
    url, served = server
    (served / "nlvr_dev.json").write_text("[]")
    good = hashlib.sha256(b"[]").hexdigest()
    args = ["data", "download", "nlvr2", "--root", str(tmp_path), "--base-url", url, "--no-progress", "--options"]
    keep_dev = ["build_info.annotations.train.url=null", "build_info.annotations.test.url=null"]
    bad = [*keep_dev, "build_info.annotations.val.sha256=" + "ab" * 32]
    assert run([*args, *bad]) == 2
    assert not (tmp_path / "annotations/nlvr_dev.json").exists()
    assert run([*args, *keep_dev, f"build_info.annotations.val.sha256={good}"]) == 0
    assert (tmp_path / "annotations/nlvr_dev.json").read_text() == "[]"


def test_cli_says_when_nothing_is_public(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "download", "visdial"]) == 2
    assert "no publicly downloadable annotations" in capsys.readouterr().err
