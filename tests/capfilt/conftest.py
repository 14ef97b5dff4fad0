"""A tiny hand-made web dataset and deterministic stand-ins for the captioner and the ITM filter.

The stand-ins let these tests check CapFilt's own logic (sharding, filtering, outputs, resume) exactly;
CapFilt with real BLIP models runs end to end in tests/test_quickstart.py and
tests/projects/test_reproduction.py (smoke size: they check the flow, not the filter's quality).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import torch
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def colour_of(img: torch.Tensor) -> str:
    means = img.mean(dim=(1, 2))
    return list(COLOURS)[int(means.argmax())]


def fake_transform(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(__import__("numpy").asarray(img.resize((8, 8)), dtype="float32") / 255.0).permute(2, 0, 1)


def fake_caption_fn(images: torch.Tensor, n: int) -> list[list[str]]:
    """Right colour most of the time, but random (seeded) so determinism depends on the job's seeding."""
    out = []
    for img in images:
        caps = []
        for _ in range(n):
            wrong = torch.rand(()).item() < 0.2
            colour = list(COLOURS)[int(torch.randint(0, 3, ()).item())] if wrong else colour_of(img)
            caps.append(f"a {colour} square number {int(torch.randint(0, 1000, ()).item())}")
        out.append(caps)
    return out


def fake_match_fn(images: torch.Tensor, texts: list[str]) -> torch.Tensor:
    return torch.tensor([0.9 if colour_of(img) in t else 0.1 for img, t in zip(images, texts)])


@pytest.fixture
def web_data(tmp_path: Path) -> dict[str, Path]:
    """24 web images (3 colours); every third caption is noise (wrong colour or generic)."""
    images = tmp_path / "web"
    (images / "images").mkdir(parents=True)
    entries, labels, tar_members = [], {}, []
    names = list(COLOURS)
    for i in range(24):
        colour = names[i % 3]
        key = f"img{i:03d}"
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), COLOURS[colour]).save(buf, format="JPEG")
        (images / "images" / f"{key}.jpg").write_bytes(buf.getvalue())
        noisy = i % 3 == 1
        caption = ("my favourite photo" if i % 2 else f"a {names[(i + 1) % 3]} thing") if noisy else f"{colour} box"
        entries.append({"image": f"images/{key}.jpg", "caption": caption})
        labels[key] = {"noisy": noisy, "kind": "generic" if noisy else "clean"}
        tar_members.append((key, buf.getvalue(), caption))
    ann = images / "web.json"
    ann.write_text(json.dumps(entries))
    noise = images / "noise_labels.json"
    noise.write_text(json.dumps(labels))
    shards = []
    for s in range(3):
        path = images / f"web-{s:06d}.tar"
        with tarfile.open(path, "w") as tar:
            for key, jpg, cap in tar_members[s * 8 : (s + 1) * 8]:
                for ext, data in (("jpg", jpg), ("txt", cap.encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        shards.append(path)
    human = images / "human.json"
    human.write_text(json.dumps([{"image": "images/img000.jpg", "caption": ["a red square", "red box"]}]))
    return {
        "root": images,
        "annotations": ann,
        "noise": noise,
        "human": human,
        "shards": images / "web-{000000..000002}.tar",
    }
