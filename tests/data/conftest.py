"""A tiny synthetic world, generated once per session, and a helper building twins against it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from vlkit.common.registry import registry
from vlkit.data.builders import load_dataset


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlkit.data.synthetic.world import generate_world

    root = tmp_path_factory.mktemp("tiny_world") / "shapes"
    generate_world(root, num_images=40, num_web_images=60, num_videos=8, image_size=48, shard_size=20, progress=False)
    return root


def twin_root(name: str, world: Path) -> Path:
    """Where ``name``'s default config points inside the world (``${vlkit_shapes:SUB}`` → ``world/SUB``)."""
    node = OmegaConf.load(registry.get_builder_class(name).default_config_path()).datasets[name].build_info
    raw = OmegaConf.to_container(node, resolve=False)["root"]
    match = re.fullmatch(r"\$\{vlkit_shapes:([^}]*)\}", str(raw))
    assert match, f"{name}: build_info.root {raw!r} does not point into the synthetic world"
    return world / match.group(1)


@pytest.fixture(scope="session")
def build_twin(tiny_world: Path) -> Callable[..., dict]:
    """``build_twin(name, on_bad_sample="auto", **overrides)`` → the twin's splits, built from the tiny world."""

    def build(name: str, on_bad_sample: str = "auto", **overrides: object) -> dict:
        return load_dataset(
            name, on_bad_sample=on_bad_sample, **{"build_info.root": str(twin_root(name, tiny_world)), **overrides}
        )

    return build
