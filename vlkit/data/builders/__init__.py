"""Registered dataset builders: the real datasets, their ``shapes_*`` synthetic twins and the warm start's scenes.

A twin is the same builder class with a default config pointing into the synthetic world, so the
synthetic data goes through exactly the code path a user's COCO goes through.
"""

from __future__ import annotations

from vlkit.common.registry import registry
from vlkit.data.builders import warm_start  # noqa: F401 (registers warm_start_scenes, warm_start_captions)
from vlkit.data.builders.base_builder import BaseDatasetBuilder, DatasetConfig
from vlkit.data.builders.families import (
    CaptionBuilder,
    ImageTextJsonBuilder,
    NLVRBuilder,
    NoCapsBuilder,
    RetrievalBuilder,
    VGCaptionBuilder,
    VideoQABuilder,
    VideoRetrievalBuilder,
    VQABuilder,
    WebCaptionBuilder,
    WebDatasetBuilder,
)
from vlkit.data.builders.image_folder import ImageFolderBuilder
from vlkit.data.builders.visdial import VisDialBuilder

# registered name -> (builder family, synthetic twin name or None)
BUILDERS: dict[str, tuple[type[BaseDatasetBuilder], str | None]] = {
    "coco_caption": (CaptionBuilder, "shapes_coco_caption"),
    "coco_retrieval": (RetrievalBuilder, "shapes_coco_retrieval"),
    "flickr30k": (RetrievalBuilder, "shapes_flickr30k"),
    "nocaps": (NoCapsBuilder, "shapes_nocaps"),
    "vqav2": (VQABuilder, "shapes_vqa"),
    "vg_vqa": (VQABuilder, "shapes_vg_vqa"),
    "nlvr2": (NLVRBuilder, "shapes_nlvr2"),
    "visdial": (VisDialBuilder, "shapes_visdial"),
    "msrvtt_retrieval": (VideoRetrievalBuilder, "shapes_msrvtt_retrieval"),
    "msrvtt_qa": (VideoQABuilder, "shapes_msrvtt_qa"),
    "msvd_qa": (VideoQABuilder, "shapes_msvd_qa"),
    "conceptual_captions_3m": (WebCaptionBuilder, None),
    "conceptual_captions_12m": (WebCaptionBuilder, None),
    "sbu_caption": (WebCaptionBuilder, None),
    "vg_caption": (VGCaptionBuilder, None),
    "laion": (WebDatasetBuilder, "shapes_web_wds"),
    # BLIP's released bootstrapped pre-training lists ({url, caption}): the json to fetch, the shards to train on
    "ccs_bootstrapped": (WebDatasetBuilder, None),
    "laion_bootstrapped": (WebDatasetBuilder, None),
    "image_text_json": (ImageTextJsonBuilder, None),
    "image_folder": (ImageFolderBuilder, None),
}
EXTRA_TWINS: dict[str, type[BaseDatasetBuilder]] = {"shapes_web": WebCaptionBuilder}


def _register(name: str, family: type[BaseDatasetBuilder]) -> None:
    cls = type(
        "".join(p.capitalize() for p in name.split("_")) + "Builder",
        (family,),
        {
            "name": name,
            "DATASET_CONFIG_DICT": {"default": f"configs/datasets/{name}/defaults.yaml"},
            "__module__": __name__,
        },
    )
    registry.register_builder(name)(cls)


for _name, (_family, _twin) in BUILDERS.items():
    _register(_name, _family)
    if _twin:
        _register(_twin, _family)
for _name, _family in EXTRA_TWINS.items():
    _register(_name, _family)


def load_dataset(name: str, cfg_path: str | None = None, on_bad_sample: str = "auto", **overrides: object) -> dict:
    """Build a registered dataset's splits from its default config (LAVIS-style convenience).

    ``overrides`` are dotted keys of the dataset section, e.g. ``{"build_info.root": "/data/coco"}``.
    """
    from omegaconf import OmegaConf

    from vlkit.common.config import validate_section

    builder_cls = registry.get_builder_class(name)
    cfg = OmegaConf.load(cfg_path or builder_cls.default_config_path()).datasets[name]
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{k}={v}" for k, v in overrides.items()]))
    cfg = validate_section(cfg, builder_cls.CONFIG_CLASS, f"datasets.{name}", "load_dataset")
    return builder_cls(cfg, on_bad_sample=on_bad_sample).build_datasets()


__all__ = ["BUILDERS", "BaseDatasetBuilder", "DatasetConfig", "load_dataset"]
