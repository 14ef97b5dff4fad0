"""``capfilt.itm_threshold: auto``: the threshold calibrated on held-out human pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.capfilt.conftest import COLOURS, fake_caption_fn, fake_match_fn, fake_transform
from tests.capfilt.test_job import make_cfg
from vlkit.capfilt.calibration import heldout_pairs, keep_matches_threshold, youden_threshold
from vlkit.capfilt.config import CapFiltConfig, WebDataConfig, load_capfilt_config
from vlkit.capfilt.job import CapFiltJob
from vlkit.common.config import ConfigError


@pytest.fixture
def heldout(tmp_path: Path) -> Path:
    """Six held-out images (two per colour), two captions each, in the Karpathy val format."""
    root = tmp_path / "val"
    root.mkdir()
    entries = []
    for i in range(6):
        colour = list(COLOURS)[i % 3]
        Image.new("RGB", (16, 16), COLOURS[colour]).save(root / f"v{i}.jpg")
        entries.append({"image": f"v{i}.jpg", "caption": [f"a {colour} square", f"one {colour} box {i}"]})
    path = root / "val.json"
    path.write_text(json.dumps(entries))
    return path


def test_youden_threshold_separates_best() -> None:
    assert youden_threshold([0.9, 0.8, 0.7], [0.1, 0.2, 0.3])["threshold"] == pytest.approx(0.5)
    overlap = youden_threshold([0.9, 0.6, 0.4], [0.5, 0.2, 0.1])
    assert overlap["threshold"] == pytest.approx(0.55) and overlap["matches_kept"] == 0.6667
    assert overlap["mismatches_kept"] == 0.0
    with pytest.raises(ValueError, match="both"):
        youden_threshold([], [0.1])


def test_keep_matches_threshold_is_the_quantile_of_the_match_scores() -> None:
    matches = [i / 10 for i in range(1, 11)]  # 0.1 .. 1.0
    got = keep_matches_threshold(matches, [0.05, 0.15, 0.95], keep=0.9)
    assert got["threshold"] == pytest.approx(0.2) and got["matches_kept"] == 0.9
    assert got["mismatches_kept"] == pytest.approx(0.3333, abs=1e-4)
    assert keep_matches_threshold(matches, [0.0], keep=0.05)["threshold"] == pytest.approx(1.0)  # at least one kept
    with pytest.raises(ValueError, match="both"):
        keep_matches_threshold([0.5], [], keep=0.9)


def test_heldout_pairs_pair_each_image_with_its_own_and_anothers_captions(heldout: Path, tmp_path: Path) -> None:
    cfg = CapFiltConfig(data=WebDataConfig(annotations="w.json", heldout_annotations=str(heldout)))
    matches, mismatches = heldout_pairs(cfg)
    assert len(matches) == 12 and len(mismatches) == 12
    assert (str(heldout.parent / "v0.jpg"), "a red square") in matches
    assert (str(heldout.parent / "v0.jpg"), "a green square") in mismatches  # the next image's captions
    heldout.write_text(json.dumps([{"image": "v0.jpg"}]))
    with pytest.raises(ValueError, match=r"val\.json: entry 0 needs 'image' and a non-empty 'caption'"):
        heldout_pairs(cfg)


@pytest.mark.parametrize(("rule", "threshold"), [("youden", 0.5), ("keep_matches", 0.9)])
def test_auto_threshold_is_calibrated_reported_and_used(
    web_data: dict[str, Path], heldout: Path, tmp_path: Path, rule: str, threshold: float
) -> None:
    cfg = make_cfg(web_data, tmp_path / "out", itm_threshold="auto")
    cfg.calibration_rule = rule
    cfg.data.heldout_annotations, cfg.data.heldout_images_root = str(heldout), str(heldout.parent)
    report = CapFiltJob(cfg, fake_caption_fn, fake_match_fn, fake_transform).run()
    cal = report["calibration"]
    # the fake filter scores 0.9 for the right colour and 0.1 otherwise: any cut between them is perfect
    assert cal["matching_pairs"] == 12 and cal["mismatching_pairs"] == 12
    assert cal["matches_kept"] == 1.0 and cal["mismatches_kept"] == 0.0
    assert report["itm_threshold"] == cal["threshold"] == pytest.approx(threshold, abs=2e-6)
    assert report["counts"]["web_removed"] == 8 and report["noise_filter"]["precision"] == 1.0
    assert json.loads((tmp_path / "out" / "work" / "calibration.json").read_text()) == cal


def test_auto_without_heldout_pairs_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "capfilt:\n  captioner: {arch: blip_caption, model_type: tiny}\n"
        "  filter: {arch: blip_retrieval, model_type: tiny}\n  data: {format: json, annotations: web.json}\n"
        "  itm_threshold: auto\n"
    )
    with pytest.raises(ConfigError, match=r"capfilt\.itm_threshold is 'auto' but capfilt\.data\.heldout_annotations"):
        load_capfilt_config(path)
    assert load_capfilt_config(path, ["capfilt.data.heldout_annotations=val.json"]).itm_threshold == "auto"
    for bad in ("1.5", "sometimes", "true"):
        with pytest.raises(ConfigError, match=r"capfilt\.itm_threshold must be a probability in \[0, 1\] or 'auto'"):
            load_capfilt_config(path, [f"capfilt.itm_threshold={bad}"])
    assert load_capfilt_config(path, ["capfilt.itm_threshold=0.3"]).itm_threshold == 0.3
    ok = ["capfilt.data.heldout_annotations=val.json"]
    with pytest.raises(ConfigError, match=r"capfilt\.calibration_rule must be 'keep_matches' or 'youden'"):
        load_capfilt_config(path, [*ok, "capfilt.calibration_rule=best"])
    with pytest.raises(ConfigError, match=r"capfilt\.calibration_keep must be in \(0, 1\)"):
        load_capfilt_config(path, [*ok, "capfilt.calibration_keep=1.0"])
