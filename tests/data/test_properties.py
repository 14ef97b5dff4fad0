"""Property-based checks of the data layer on generated annotation files, images, shards and configs.

The invariant everywhere: a correct result, a clear error naming what to fix, or a counted skip; never a
bare traceback, never a hang, and kept + skipped = read. Examples are derandomized (the same ones every
run, so CI is stable) and few enough to take seconds.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vlkit.common.config import ConfigError
from vlkit.data.annotation_schema import AnnotationError, validate_entries
from vlkit.data.bad_samples import BadSampleCounter
from vlkit.data.builders import load_dataset
from vlkit.data.builders.schemas import IMAGE_TEXT_PAIRS, VQA_TRAIN
from vlkit.data.datasets import WebImageTextDataset
from vlkit.data.io import BadSampleError, load_image
from vlkit.data.shards import EMPTY_SHARD, ENDS_MID_RECORD, UNREADABLE_SHARD

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.timeout(120)  # a hang is a failure, not a stuck CI job

json_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=4)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=4)


def entries(keys: tuple[str, ...]) -> st.SearchStrategy:
    """Annotation entries: objects with some of ``keys`` (any JSON values), and now and then not an object."""
    entry = st.dictionaries(st.sampled_from(keys), json_values | st.text(min_size=1, max_size=6), max_size=len(keys))
    return st.lists(entry | json_scalars, max_size=8)


@PROPERTY
@given(data=entries(("image", "caption", "image_id")) | entries(("image", "question", "answer", "question_id")))
def test_annotation_files_are_kept_counted_or_named(data: list) -> None:
    schema = VQA_TRAIN if any(isinstance(e, dict) and "question" in e for e in data) else IMAGE_TEXT_PAIRS
    counter = BadSampleCounter("prop")
    kept = validate_entries(data, schema, "gen.json", "skip", counter)
    assert len(kept) + counter.total == len(data)  # kept + skipped = read
    assert all(isinstance(e, dict) and schema.problem(e) is None for e in kept)
    try:
        strict = validate_entries(data, schema, "gen.json", "error", BadSampleCounter("prop"))
    except AnnotationError as err:
        assert str(err).startswith("gen.json: entry ") and "Fix the entry" in str(err)
        index = int(str(err).split("entry ")[1].split(":")[0])
        assert index < len(data) and counter.total > 0
    else:
        assert strict == data and counter.total == 0


def encoded_image(fmt: str, mode: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG" and mode == "P":  # JPEG has no palette mode; writers convert first
        mode = "L"
    img = Image.new(mode, size, 128 if mode in ("L", "P") else None)
    img.save(buf, format=fmt)
    return buf.getvalue()


images = st.builds(
    encoded_image,
    st.sampled_from(["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"]),
    st.sampled_from(["RGB", "L", "P"]),
    st.tuples(st.integers(1, 24), st.integers(1, 24)),
)


@PROPERTY
@given(data=images, cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))
def test_damaged_image_bytes_decode_or_name_the_problem(data: bytes, cut: float, flips: list) -> None:
    damaged = bytearray(data[: max(0, int(len(data) * cut))] if cut < 0.999 else data)
    for where, value in flips:
        if damaged:
            damaged[min(int(where * len(damaged)), len(damaged) - 1)] = value
    try:
        img = load_image(bytes(damaged), name="gen.img", max_pixels=4096)  # a flipped size byte stays cheap
    except BadSampleError as err:
        assert str(err).startswith("gen.img: ") and err.kind
    else:
        assert img.mode == "RGB" and min(img.size) >= 1


def record_members() -> st.SearchStrategy:
    good_jpg = encoded_image("JPEG", "RGB", (8, 8))
    image = st.sampled_from([good_jpg, b"", b"\xff\xd8 not really"])
    text = st.sampled_from([b"a caption", b"caf\xe9", b""])
    return st.fixed_dictionaries({}, optional={"jpg": image, "txt": text, "json": st.just(b"{}")}).filter(bool)


@PROPERTY
@given(records=st.lists(record_members(), max_size=5), cut=st.floats(0, 1) | st.none())
def test_shards_keep_plus_skip_equals_read(records: list[dict[str, bytes]], cut: float | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "gen.tar"
        first_member_data: list[int] = []
        with tarfile.open(shard, "w") as tar:
            for i, members in enumerate(records):
                for j, (ext, blob) in enumerate(members.items()):
                    info = tarfile.TarInfo(f"r{i}.{ext}")
                    info.size = len(blob)
                    if j == 0:
                        first_member_data.append(tar.offset + tarfile.BLOCKSIZE)  # where its data starts
                    tar.addfile(info, io.BytesIO(blob))
            end_marker = tar.offset + tarfile.BLOCKSIZE  # the first zero block, written on close
        size = shard.stat().st_size
        if cut is not None:
            shard.write_bytes(shard.read_bytes()[: int(size * cut)])
        length = shard.stat().st_size
        # a record is read once its first member's header is complete
        read = len(records) if length == size else sum(1 for start in first_member_data if start <= length)
        ds = WebImageTextDataset([str(shard)], None, None, name="gen", policy="skip", rank=0, world_size=1)
        batch = ds.collater(list(ds))
        assert len(batch.get("text_input", [])) + batch["num_skipped"] == read
        assert all(t in ("a caption", "") for t in batch.get("text_input", []))  # no text processor here
        if length < end_marker:  # data (or the proof that there is no more) was lost: a counted reason says so
            assert {ENDS_MID_RECORD, EMPTY_SHARD, UNREADABLE_SHARD} & set(batch.get("skipped", {})), batch
        strict = WebImageTextDataset([str(shard)], None, None, name="gen", policy="error", rank=0, world_size=1)
        try:
            assert len(list(strict)) == read
        except BadSampleError as err:
            assert "gen.tar" in str(err) and "on_bad_sample=skip" in str(err)


CONFIG_VALUES = st.sampled_from(["auto", "skip", "error", "sometimes", "", "-1", "0", "12", "drop", "x y"])


@PROPERTY
@given(
    key=st.sampled_from(["alpha", "on_bad_sample", "max_image_pixels", "max_samples", "build_info.root"]),
    value=CONFIG_VALUES,
)
def test_dataset_configs_build_or_name_the_key(key: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "images").mkdir()
        Image.new("RGB", (8, 8)).save(Path(tmp) / "images" / "a.png")
        (Path(tmp) / "train.json").write_text(json.dumps([{"image": "a.png", "caption": "a black square"}]))
        overrides = {"build_info.root": tmp, "build_info.annotations.train.storage": "train.json", key: value}
        try:
            ds = load_dataset("image_text_json", **overrides)["train"]
            batch = ds.collater([ds[i] for i in range(len(ds))])
        except (ConfigError, ValueError, FileNotFoundError) as err:
            assert key.split(".")[-1] in str(err) or (key == "build_info.root" and "not found" in str(err)), str(err)
        else:
            assert len(batch.get("text_input", [])) + batch["num_skipped"] == len(ds)
