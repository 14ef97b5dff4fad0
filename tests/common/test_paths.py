"""Config path resolution: owner packages first, ``package:path``, and the project configs of an installed wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlkit.common import paths
from vlkit.common.paths import config_candidates, owner_packages, resolve_config_path

QUICKSTART = "projects/blip/pipelines/quickstart.yaml"


def test_projects_resolve_from_any_directory_in_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(QUICKSTART) == paths.package_root().parent / QUICKSTART


def test_projects_resolve_to_the_packaged_copy_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "site" / "vlkit"  # a wheel's layout: no setup.py beside the package
    packaged = installed / "_projects" / "blip" / "pipelines" / "quickstart.yaml"
    packaged.parent.mkdir(parents=True)
    packaged.write_text("pipeline: {}\n")
    monkeypatch.setattr(paths, "package_root", lambda: installed)
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(QUICKSTART) == packaged
    (tmp_path / QUICKSTART).parent.mkdir(parents=True)
    (tmp_path / QUICKSTART).write_text("pipeline: {}\n")
    assert resolve_config_path(QUICKSTART) == tmp_path / QUICKSTART  # a file under the cwd comes first
    with pytest.raises(FileNotFoundError, match=r"projects/blip/nope\.yaml.*_projects/blip/nope\.yaml"):
        resolve_config_path("projects/blip/nope.yaml")


def test_owner_packages_come_before_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Owned:
        pass

    Owned.__module__ = "vlkit.models.blip.caption"
    assert owner_packages(Owned) == ["vlkit.models.blip", "vlkit"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs" / "models" / "blip_caption").mkdir(parents=True)
    (tmp_path / "configs" / "models" / "blip_caption" / "tiny.yaml").write_text("model: {}\n")
    found = resolve_config_path("configs/models/blip_caption/tiny.yaml", owner_packages(Owned))
    assert found == paths.package_root() / "configs" / "models" / "blip_caption" / "tiny.yaml"


def test_package_qualified_paths_and_urls() -> None:
    assert config_candidates("vlkit:configs/x.yaml") == [paths.package_root() / "configs" / "x.yaml"]
    assert config_candidates("/abs/x.yaml") == [Path("/abs/x.yaml")]
    # a URL is not `package:path`: it is a relative path that exists nowhere
    assert Path.cwd() / "https:/example.com/x.yaml" in config_candidates("https://example.com/x.yaml")
