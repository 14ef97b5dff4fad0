from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.capfilt.conftest import fake_caption_fn, fake_match_fn, fake_transform
from vlkit.capfilt.config import CapFiltConfig, ModelRef, WebDataConfig, capfilt_decoding, load_capfilt_config
from vlkit.capfilt.config import DecodingConfig as DecodingConfigAlias
from vlkit.capfilt.job import CapFiltJob
from vlkit.common.config import ConfigError


def make_cfg(web: dict[str, Path], out: Path, fmt: str = "json", **kw: object) -> CapFiltConfig:
    data = WebDataConfig(
        format=fmt,
        annotations=str(web["annotations"]),
        images_root=str(web["root"]),
        shards=str(web["shards"]),
        noise_labels=str(web["noise"]),
        human_annotations=str(web["human"]),
        human_images_root=str(web["root"]),
    )
    base = dict(
        captioner=ModelRef("fake", "fake"),
        filter=ModelRef("fake", "fake"),
        data=data,
        decoding=capfilt_decoding(),
        num_captions=2,
        batch_size=5,
        shard_size=7,
        output_dir=str(out),
        progress="off",
    )
    base.update(kw)
    return CapFiltConfig(**base)


def run_job(cfg: CapFiltConfig) -> dict:
    return CapFiltJob(cfg, fake_caption_fn, fake_match_fn, fake_transform).run()


def test_filters_noise_and_reports(web_data: dict[str, Path], tmp_path: Path) -> None:
    report = run_job(make_cfg(web_data, tmp_path / "out"))
    counts = report["counts"]
    assert counts["images"] == 24 and counts["images_skipped"] == 0
    assert counts["web_kept"] == 16 and counts["web_removed"] == 8  # exactly the 8 noisy captions go
    assert counts["synthetic_kept"] + counts["synthetic_removed"] == 48
    assert 0 < counts["synthetic_removed"] < 48  # the fake captioner is wrong ~13% of the time
    nf = report["noise_filter"]
    assert nf["precision"] == 1.0 and nf["recall"] == 1.0 and nf["noisy_web_texts"] == 8
    assert nf["score_auc"] == 1.0
    assert nf["removed_rate_by_kind"] == {"clean": 0.0, "generic": 1.0}
    pairs = json.loads((tmp_path / "out" / "bootstrapped.json").read_text())
    assert [p["source"] for p in pairs[:2]] == ["human", "human"]
    assert report["pairs"]["web"] == 16
    assert len(pairs) == 2 + 16 + counts["synthetic_kept"]
    assert all(Path(p["image"]).is_file() for p in pairs)
    assert not any(p["caption"] == "my favourite photo" for p in pairs)
    examples = json.loads((tmp_path / "out" / "examples.json").read_text())
    assert examples[0]["texts"][0]["source"] == "web" and len(examples[0]["texts"]) == 3


def test_same_seed_same_output_different_seed_differs(web_data: dict[str, Path], tmp_path: Path) -> None:
    run_job(make_cfg(web_data, tmp_path / "a"))
    run_job(make_cfg(web_data, tmp_path / "b", batch_size=3))  # batch size does not change results
    run_job(make_cfg(web_data, tmp_path / "c", seed=1))
    a, b, c = ((tmp_path / d / "bootstrapped.json").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_webdataset_input_and_output(web_data: dict[str, Path], tmp_path: Path) -> None:
    import tarfile

    report = run_job(
        make_cfg(web_data, tmp_path / "out", fmt="wds", output_formats=["json", "wds"], output_shard_size=10)
    )
    assert report["counts"]["web_kept"] == 16
    tars = [tmp_path / "out" / t for t in report["outputs"]["wds"]]
    n_pairs = report["pairs"]["web"] + report["pairs"]["synthetic"]
    assert len(tars) == -(-n_pairs // 10)
    names = [m for t in tars for m in tarfile.open(t).getnames()]
    assert sum(n.endswith(".txt") for n in names) == n_pairs
    pairs = json.loads((tmp_path / "out" / "bootstrapped.json").read_text())
    assert all(Path(p["image"]).is_file() for p in pairs)


def test_bad_images_are_counted_or_raise(web_data: dict[str, Path], tmp_path: Path) -> None:
    (web_data["root"] / "images" / "img005.jpg").write_bytes(b"not a jpeg")
    (web_data["root"] / "images" / "img006.jpg").unlink()
    report = run_job(make_cfg(web_data, tmp_path / "skip"))
    assert report["counts"]["images_skipped"] == 2 and report["counts"]["images"] == 22
    with pytest.raises(ValueError, match="img005.jpg"):
        run_job(make_cfg(web_data, tmp_path / "err", on_bad_sample="error"))


def test_webdataset_losses_are_in_the_report_by_reason_and_shard(web_data: dict[str, Path], tmp_path: Path) -> None:
    import tarfile

    shards = sorted((web_data["root"]).glob("web-*.tar"))
    with tarfile.open(shards[1]) as tar:
        cut_at = tar.getmembers()[6].offset_data + 10  # inside the 4th record's jpg
    shards[1].write_bytes(shards[1].read_bytes()[:cut_at])
    with tarfile.open(shards[2]) as tar:
        kept = [(m, tar.extractfile(m).read()) for m in tar.getmembers()[1:]]  # the 1st record loses its jpg
    with tarfile.open(shards[2], "w") as tar:
        for member, data in kept:
            tar.addfile(member, io.BytesIO(data))

    report = run_job(make_cfg(web_data, tmp_path / "out", fmt="wds"))
    losses = {"web-000001": {"shard ends mid-record": 1}, "web-000002": {"record missing a member": 1}}
    assert report["skipped_by_shard"] == losses
    assert report["skipped_by_reason"] == {"record missing a member": 1, "shard ends mid-record": 1}
    assert report["counts"]["images_skipped"] == 2 and report["counts"]["images"] == 8 + 3 + 7
    assert json.loads((tmp_path / "out" / "report.json").read_text())["skipped_by_shard"] == losses
    with pytest.raises(ValueError, match=r"capfilt shard web-000001: web-000001.tar: shard ends mid-record"):
        run_job(make_cfg(web_data, tmp_path / "err", fmt="wds", on_bad_sample="error"))


def test_changed_settings_refuse_stale_work_dir(web_data: dict[str, Path], tmp_path: Path) -> None:
    run_job(make_cfg(web_data, tmp_path / "out"))
    with pytest.raises(RuntimeError, match="different settings"):
        run_job(make_cfg(web_data, tmp_path / "out", itm_threshold=0.95))


def test_rewritten_checkpoint_refuses_stale_work_dir(web_data: dict[str, Path], tmp_path: Path) -> None:
    """A filter re-trained into the same file is a different filter: its shards must not be reused."""
    ckpt = tmp_path / "filter.pth"
    ckpt.write_bytes(b"weights v1")
    run_job(make_cfg(web_data, tmp_path / "out", filter=ModelRef("fake", "fake", checkpoint=str(ckpt))))
    run_job(make_cfg(web_data, tmp_path / "out", filter=ModelRef("fake", "fake", checkpoint=str(ckpt))))  # same: fine
    ckpt.write_bytes(b"weights v2")
    with pytest.raises(RuntimeError, match="different settings"):
        run_job(make_cfg(web_data, tmp_path / "out", filter=ModelRef("fake", "fake", checkpoint=str(ckpt))))


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from tests.capfilt.conftest import fake_caption_fn, fake_match_fn, fake_transform
from tests.capfilt.test_job import make_cfg
from vlkit.capfilt.job import CapFiltJob
from pathlib import Path
import json
web = {{k: Path(v) for k, v in json.loads({web!r}).items()}}
calls = 0
def dying_match(images, texts):
    global calls
    calls += 1
    if calls == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_match_fn(images, texts)
CapFiltJob(make_cfg(web, Path({out!r})), fake_caption_fn, dying_match, fake_transform).run()
"""


def test_sigkill_and_resume_is_byte_identical(web_data: dict[str, Path], tmp_path: Path) -> None:
    repo = str(Path(__file__).resolve().parents[2])
    run_job(make_cfg(web_data, tmp_path / "ref"))
    web = json.dumps({k: str(v) for k, v in web_data.items()})
    script = tmp_path / "kill.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT.format(repo=repo, web=web, kill_at=5, out=str(tmp_path / "resumed"))))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == -9, proc.stderr
    done = sorted(p.name for p in (tmp_path / "resumed" / "work").glob("*.json"))
    assert 0 < len(done) < 4  # killed part-way: some shards finished, not all
    assert not (tmp_path / "resumed" / "bootstrapped.json").exists()
    run_job(make_cfg(web_data, tmp_path / "resumed"))
    for name in ("bootstrapped.json", "report.json", "examples.json"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name


def test_config_validation(tmp_path: Path) -> None:
    good = """
capfilt:
  captioner: {arch: blip_caption, model_type: tiny}
  filter: {arch: blip_image_text_matching, model_type: tiny}
  data: {format: json, annotations: web.json}
"""
    path = tmp_path / "c.yaml"
    path.write_text(good)
    cfg = load_capfilt_config(path, ["capfilt.num_captions=3"])
    assert cfg.num_captions == 3 and cfg.decoding.top_p == 0.9 and cfg.filter.arch == "blip_image_text_matching"
    path.write_text(good + "  itm_treshold: 0.3\n")
    with pytest.raises(ConfigError, match=r"capfilt\.itm_treshold.*Did you mean 'itm_threshold'"):
        load_capfilt_config(path)
    path.write_text(good.replace("format: json", "format: csv"))
    with pytest.raises(ConfigError, match="json' or 'wds"):
        load_capfilt_config(path)
    path.write_text(good)
    for bad, msg in [
        ("decoding.top_p=0", "top_p"),
        ("decoding.top_k=-1", "top_k"),
        ("num_captions=-1", "num_captions"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            load_capfilt_config(path, [f"capfilt.{bad}"])
    with pytest.raises(ConfigError, match="repetition_penalty"):
        load_capfilt_config(path, ["capfilt.decoding.repetition_penalty=0"])
    assert load_capfilt_config(path).decoding.length_normalization == "full"  # the original code's beam scoring
    with pytest.raises(ConfigError, match=r"capfilt\.decoding\.length_normalization must be one of full, generated"):
        load_capfilt_config(path, ["capfilt.decoding.length_normalization=gen"])


def test_decoding_defaults_follow_blip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nucleus sampling as in the original code (top-k 50, repetition penalty 1.1); beam search without them;
    and a filter-only run (+F) loads no captioner."""
    import types

    import torch

    import vlkit.models
    from vlkit.capfilt.models import build_models

    calls: list[tuple[str, dict]] = []

    def fake_load_model(arch: str, model_type: str, **kw: object) -> object:
        calls.append((arch, kw))
        model = types.SimpleNamespace(config=types.SimpleNamespace(image_size=32))
        model.generate = lambda samples, **g: calls.append(("generate", g)) or ["x"] * samples["image"].shape[0]
        return model

    monkeypatch.setattr(vlkit.models, "load_model", fake_load_model)
    base = dict(
        captioner=ModelRef("blip_caption", "tiny", overrides={"prompt": "a photo of "}),
        filter=ModelRef("blip_retrieval", "tiny", overrides={"queue_size": 64}),
        data=WebDataConfig(annotations="unused.json"),
        device="cpu",
    )
    caption_fn, _, _ = build_models(CapFiltConfig(**base))
    caption_fn(torch.zeros(2, 3, 32, 32), 1)
    assert calls[0] == (
        "blip_caption",
        {"is_eval": True, "device": torch.device("cpu"), "checkpoint": None, "prompt": "a photo of "},
    )
    assert calls[1][1]["queue_size"] == 64
    nucleus = calls[-1][1]["generation_config"].resolved()
    assert nucleus.use_nucleus_sampling and nucleus.top_k == 50 and nucleus.repetition_penalty == 1.1
    assert nucleus.num_return_sequences == 1 and nucleus.top_p == 0.9
    caption_fn, _, _ = build_models(
        CapFiltConfig(**base, decoding=capfilt_decoding(use_nucleus_sampling=False, num_beams=3))
    )
    caption_fn(torch.zeros(1, 3, 32, 32), 1)
    beam = calls[-1][1]["generation_config"].resolved()
    assert beam.repetition_penalty == 1.0 and beam.num_beams == 3 and not beam.use_nucleus_sampling
    calls.clear()
    build_models(CapFiltConfig(**base, num_captions=0))
    assert [arch for arch, _ in calls] == ["blip_retrieval"]


def test_score_auc_counts_ties_as_half() -> None:
    from vlkit.capfilt.outputs import _auc

    assert _auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert _auc([0.1], [0.9]) == 0.0
    assert _auc([0.5, 0.5], [0.5]) == 0.5
    assert _auc([0.9, 0.5], [0.5, 0.1]) == 0.875  # 3 wins + 1 tie out of 4 pairs
    assert _auc([], [0.3]) is None


def test_decoding_is_a_generation_config_and_old_work_dirs_keep_their_fingerprint(tmp_path: Path) -> None:
    """``capfilt.decoding`` is the shared GenerationConfig; fields CapFilt never had do not change the fingerprint
    while unset, so a work dir started before the change still resumes."""
    import hashlib
    import json
    from dataclasses import asdict

    from vlkit.capfilt.job import FINGERPRINTED_DECODING_KEYS, CapFiltJob
    from vlkit.models.decoding import GenerationConfig

    with pytest.warns(DeprecationWarning, match="capfilt_decoding"):
        old_style = DecodingConfigAlias(num_beams=2)
    assert isinstance(old_style, GenerationConfig) and old_style.num_beams == 2 and old_style.top_k == 50
    cfg = CapFiltConfig(
        captioner=ModelRef("a", "b"), filter=ModelRef("c", "d"), data=WebDataConfig(annotations="x.json")
    )
    keys = asdict(cfg)
    for k in ("output_dir", "progress", "batch_size", "device", "output_shard_size", "examples_in_report"):
        keys.pop(k)
    keys["decoding"] = {k: keys["decoding"][k] for k in FINGERPRINTED_DECODING_KEYS}  # the former DecodingConfig
    keys["weights"] = {"captioner": None, "filter": None}
    legacy = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]
    noop = lambda *a: None  # noqa: E731
    assert CapFiltJob(cfg, noop, noop, noop).config_fingerprint() == legacy
    cfg.decoding.temperature = 0.7  # a newly available setting changes the output, so it changes the fingerprint
    assert CapFiltJob(cfg, noop, noop, noop).config_fingerprint() != legacy
