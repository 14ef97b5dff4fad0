"""What --input accepts, and the errors naming what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlkit.predict.inputs import open_inputs


def test_json_list_ids_fields_and_errors(tmp_path: Path) -> None:
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps(["a.jpg", {"image": "b.jpg", "question_id": 7, "question": "why?", "texts": "x"}]))
    items = open_inputs(str(listing)).items
    assert [(i.id, i.image, i.fields) for i in items] == [
        ("a.jpg", tmp_path / "a.jpg", {}),
        ("7", tmp_path / "b.jpg", {"question": "why?", "texts": ["x"]}),
    ]
    listing.write_text(json.dumps([{"image": "a.jpg", "question": "q1"}, {"image": "a.jpg", "question": "q2"}]))
    with pytest.raises(ValueError, match=r"list.json entry 1 has the same id 'a.jpg' as entry 0: give each entry"):
        open_inputs(str(listing))
    listing.write_text(json.dumps([{"caption": "no image"}]))
    with pytest.raises(ValueError, match=r"entry 0: expected an image path or an object with an 'image' path"):
        open_inputs(str(listing))


def test_missing_inputs_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder or file"):
        open_inputs(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        open_inputs(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"--input: 2 shard file\(s\) not found"):
        open_inputs(str(tmp_path / "s-{000..001}.tar"))
