"""generate_world / ensure_world: determinism, reuse, clean regeneration, refusal to clobber, locking."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from vlkit.data.synthetic.world import FORMAT_VERSION, PARTS, ensure_world, generate_world, read_world

SMALL = {"num_images": 10, "num_web_images": 12, "num_videos": 5, "image_size": 32, "shard_size": 5, "progress": False}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def twin_worlds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("determinism")
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        generate_world(base / name, seed=seed, **SMALL)
    return base / "a", base / "b", base / "c"


def test_same_seed_gives_byte_identical_worlds(twin_worlds: tuple[Path, Path, Path]) -> None:
    a, b, _ = twin_worlds
    files_a, files_b = tree(a), tree(b)
    assert files_a.keys() == files_b.keys()
    assert [k for k in files_a if files_a[k] != files_b[k]] == []
    assert any(k.endswith(".jpg") for k in files_a) and any(k.endswith(".mp4") for k in files_a)


def test_another_seed_changes_annotations_and_images(twin_worlds: tuple[Path, Path, Path]) -> None:
    a, _, c = twin_worlds
    files_a, files_c = tree(a), tree(c)
    same = [k for k in files_a if k in files_c and files_a[k] == files_c[k] and not k.endswith("answer_list.json")]
    assert same == []


def test_a_subset_of_tasks_writes_identical_parts(tmp_path: Path, twin_worlds: tuple[Path, Path, Path]) -> None:
    full = twin_worlds[0]
    info = generate_world(tmp_path / "w", seed=0, tasks=["web", "vqa"], **SMALL)  # VQA without COCO renders its images
    assert info.tasks == ("web", "vqa") and sorted(p.name for p in (tmp_path / "w").iterdir()) == [
        "WORLD.json",
        "vqa",
        "web",
    ]
    for part in ("web", "vqa"):
        assert tree(tmp_path / "w" / part) == tree(full / part)


def test_identical_world_is_reused_and_a_different_one_replaced(tmp_path: Path) -> None:
    root = tmp_path / "world"
    first = generate_world(root, **SMALL)
    sentinel = root / "coco" / "sentinel"
    sentinel.write_text("kept while the world is reused")
    again = generate_world(root, **SMALL)
    assert sentinel.is_file() and again.counts == first.counts
    generate_world(root, **{**SMALL, "num_images": 12})
    assert not sentinel.exists() and read_world(root)["num_images"] == 12
    assert len(json.loads((root / "coco/annotations/coco_karpathy_train.json").read_text())) == 5 * int(12 * 0.7)
    assert [p.name for p in tmp_path.iterdir()] == ["world"]  # no temporary folders left behind


def test_a_world_without_marker_is_regenerated(tmp_path: Path) -> None:
    root = tmp_path / "world"
    generate_world(root, tasks=["coco"], **SMALL)
    (root / "WORLD.json").unlink()  # as if the generating process had died before finishing
    (root / "coco/annotations/coco_karpathy_val.json").write_text("[")
    generate_world(root, tasks=["coco"], **SMALL)
    assert json.loads((root / "coco/annotations/coco_karpathy_val.json").read_text())
    assert read_world(root)["format_version"] == FORMAT_VERSION


def test_refuses_to_replace_a_folder_that_is_not_a_world(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a synthetic world"):
        generate_world(tmp_path, tasks=["coco"], **SMALL)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"noise": 1.5}, "noise"),
        ({"tasks": ["coco", "imagenet"]}, "imagenet"),
        ({"tasks": []}, "tasks"),
        ({"num_images": 2}, "num_images"),
        ({"seed": -1}, "seed"),
        ({"max_objects": 0}, "max_objects"),
        ({"max_objects": 5}, "max_objects"),
        ({"short_captions": 6}, "short_captions"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path: Path, bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_world(tmp_path / "w", **{**SMALL, **bad})
    assert not (tmp_path / "w").exists()


def test_max_objects_makes_one_object_scenes_and_keeps_the_default_world(
    tmp_path: Path, twin_worlds: tuple[Path, Path, Path]
) -> None:
    from vlkit.data.synthetic.web_noise import web_samples

    assert {len(s.scene.objects) for s in web_samples(0, 60, 0.4, max_objects=1)} == {1}
    assert max(len(s.scene.objects) for s in web_samples(0, 60, 0.4)) > 1
    one = generate_world(tmp_path / "one", seed=0, tasks=["coco", "web"], max_objects=1, **SMALL)
    assert read_world(one.root)["max_objects"] == 1
    assert tree(one.root / "coco") != tree(twin_worlds[0] / "coco")
    default = generate_world(tmp_path / "four", seed=0, tasks=["coco", "web"], max_objects=4, **SMALL)
    for part in ("coco", "web"):  # max_objects=4 is the default: the same bytes as a world made without it
        assert tree(default.root / part) == tree(twin_worlds[0] / part)


def test_short_captions_name_only_the_object_and_keep_the_other_captions() -> None:
    from vlkit.data.synthetic.captions import REGION_PHRASES, clean_captions
    from vlkit.data.synthetic.scene import random_scene, rng_for

    for i in range(40):
        scene = random_scene(rng_for(0, "t", i), max_objects=1)
        plain = clean_captions(scene, rng_for(0, "c", i), specific=True)
        mixed = clean_captions(scene, rng_for(0, "c", i), specific=True, short=2)
        assert len(mixed) == 5 and mixed[:3] == plain[:3]  # the grounded ones are drawn as before
        obj = scene.objects[0]
        assert all(REGION_PHRASES[obj.region] in c for c in mixed[:3])
        for short in mixed[3:]:  # the object's colour and shape, and nowhere said
            assert f"{obj.colour} {obj.shape}" in short and not any(p in short for p in REGION_PHRASES.values())
    with pytest.raises(ValueError, match="short captions"):
        clean_captions(scene, rng_for(0, "c", 0), short=6)


def test_a_world_written_before_max_objects_existed_is_reused(tmp_path: Path) -> None:
    root = tmp_path / "world"
    generate_world(root, tasks=["coco"], **SMALL)
    marker = json.loads((root / "WORLD.json").read_text())
    del marker["max_objects"]  # as format 3 wrote it before the argument was added
    (root / "WORLD.json").write_text(json.dumps(marker))
    sentinel = root / "coco" / "sentinel"
    sentinel.write_text("kept: the world is the same")
    generate_world(root, tasks=["coco"], **SMALL)
    assert sentinel.is_file()
    generate_world(root, tasks=["coco"], max_objects=1, **SMALL)
    assert not sentinel.exists()


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".world.tmp-999999999-deadbeef"  # no such pid
    stale.mkdir()
    generate_world(tmp_path / "world", tasks=["coco"], **SMALL)
    assert not stale.exists()


def test_ensure_world_generates_in_the_cache_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLKIT_CACHE", str(tmp_path / "cache"))
    small = {**SMALL, "tasks": ["coco", "web"]}
    path = ensure_world(**small)
    assert path == tmp_path / "cache" / "datasets" / "shapes" and read_world(path)["tasks"] == ["coco", "web"]
    (path / "coco" / "sentinel").write_text("")
    assert ensure_world() == path and (path / "coco" / "sentinel").exists()  # any complete world is used as is
    marker = read_world(path)
    (path / "WORLD.json").write_text(json.dumps({**marker, "format_version": FORMAT_VERSION - 1}))
    ensure_world()  # an old format is regenerated, with the arguments it was made with
    assert not (path / "coco" / "sentinel").exists()
    assert read_world(path) == {**marker, "format_version": FORMAT_VERSION}


def test_concurrent_first_uses_produce_one_complete_world(tmp_path: Path) -> None:
    root, errors = tmp_path / "shapes", []

    def use() -> None:
        try:
            ensure_world(root, tasks=["coco", "nlvr2"], **SMALL)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=use) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and read_world(root)["tasks"] == ["coco", "nlvr2"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["shapes"]


def test_importing_the_package_does_not_import_opencv() -> None:
    code = "import sys, vlkit.data.synthetic, vlkit.data.synthetic.cli; assert 'cv2' not in sys.modules, 'cv2'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_parts_are_the_documented_datasets() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "data_formats.md").read_text(encoding="utf-8")
    assert all(f"ROOT/{part}/" in text for part in PARTS)
