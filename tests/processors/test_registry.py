"""load_processor, config validation and lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from vlkit.common.config import ConfigError
from vlkit.common.registry import RegistryKeyError, registry
from vlkit.processors import load_processor

NAMES = ["blip_caption", "blip_image_eval", "blip_image_train", "blip_question", "blip_video_eval", "blip_video_train"]


@pytest.mark.parametrize("name", NAMES)
def test_every_processor_builds_with_defaults(name: str) -> None:
    assert name in registry.list_processors()
    proc = load_processor(name)
    assert type(proc).NAME == name
    assert type(proc).__name__ in repr(proc)


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(RegistryKeyError, match="Did you mean 'blip_caption'"):
        load_processor("blip_captoin")


def test_unknown_key_names_processor_and_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_processor("blip_caption", {"max_word": 3})
    msg = str(info.value)
    assert "blip_caption" in msg and "max_word" in msg and "Did you mean 'max_words'" in msg


def test_wrong_type_is_config_error() -> None:
    with pytest.raises(ConfigError, match="image_size"):
        load_processor("blip_image_eval", {"image_size": "big"})


def test_bad_value_is_value_error() -> None:
    with pytest.raises(ValueError, match="min_scale"):
        load_processor("blip_image_train", {"min_scale": 0.9, "max_scale": 0.5})


def test_dictconfig_and_name_key_accepted() -> None:
    cfg = OmegaConf.create({"name": "blip_image_eval", "image_size": 224})
    assert load_processor("blip_image_eval", cfg).config.image_size == 224
    assert load_processor("blip_video_train", {"n_frms": 4, "image_size": 32}).config.n_frms == 4


def test_import_loads_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "import vlkit.processors as p\n"
        "p.BlipImageEvalProcessor.from_config({'image_size': 8}); p.BlipCaptionProcessor.from_config(None)\n"
        "print(sorted(m for m in ('cv2', 'decord', 'av', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
