"""The ``vlkit demo`` page (gradio): captioning, VQA, image-text matching and zero-shot classification.

Each tab picks its model by name and type from the registry (plus an optional checkpoint: a path, URL or
Hugging Face Hub id), so any registered model with the tab's method can be tried. Every button is also an
HTTP API endpoint (``/caption``, ``/vqa``, ``/itm``, ``/classify``), callable with ``gradio_client``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from vlkit.demo import inference
from vlkit.demo.inference import TASKS, ModelCache, ModelKey

DEMO_EXTRA_HINT = "pip install 'vlkit[demo]'"


def require_gradio() -> Any:
    """The ``gradio`` module.

    Raises:
        RuntimeError: naming the extra to install when gradio is missing.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry calls from a local demo
    try:
        import gradio
    except ImportError as err:
        raise RuntimeError(
            f"vlkit demo needs gradio, which is not installed ({err}). Install the demo extra: {DEMO_EXTRA_HINT}"
        ) from None
    return gradio


def _handler(gr: Any, cache: ModelCache, task_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``task_fn(entry, *inputs)`` so the page's model fields pick the model and errors show on the page."""

    def run(name: str, model_type: str, checkpoint: str, *inputs: Any) -> Any:
        from vlkit.common.config import ConfigError
        from vlkit.common.registry import RegistryKeyError
        from vlkit.models import CheckpointError

        try:
            entry = cache.get(ModelKey(name, model_type, (checkpoint or "").strip() or None))
            return task_fn(entry, *inputs)
        except (ConfigError, RegistryKeyError, CheckpointError, FileNotFoundError, ValueError) as err:
            raise gr.Error(str(err)) from None

    return run


def _model_picker(gr: Any, task: str, default: tuple[str, str] | None) -> tuple[Any, Any, Any]:
    names = inference.models_for(task)
    if default is not None and (default[0] not in names or default[1] not in inference.types_for(default[0])):
        known = default[0] in names
        raise ValueError(
            f"--{task}-model {default[0]}:{default[1]}: "
            + (
                f"{default[0]} has the types {', '.join(inference.types_for(default[0]))}"
                if known
                else f"the {task} tab takes one of {', '.join(names)}"
            )
        )
    name, mtype = default or TASKS[task][1]
    name = name if name in names else names[0]  # a plugin registry may lack the built-in default
    types = inference.types_for(name)
    mtype = mtype if mtype in types else types[0]
    with gr.Row():
        name_box = gr.Dropdown(names, value=name, label="Model name", elem_id=f"{task}-name")
        type_box = gr.Dropdown(types, value=mtype, label="Model type", elem_id=f"{task}-type")
        ckpt_box = gr.Textbox(
            label="Checkpoint (optional: file, directory, URL or Hub id)", elem_id=f"{task}-checkpoint"
        )

    def on_name(new_name: str) -> Any:
        new_types = inference.types_for(new_name)
        return gr.Dropdown(choices=new_types, value=new_types[0] if new_types else None)

    name_box.change(on_name, name_box, type_box, api_name=False)
    return name_box, type_box, ckpt_box


def build_app(device: str = "cpu", dtype: str | None = None, defaults: dict[str, tuple[str, str]] | None = None) -> Any:
    """The gradio ``Blocks`` of the demo (not launched).

    Args:
        device: where models run.
        dtype: inference dtype for every model (``None``: float32).
        defaults: task (``caption``/``vqa``/``itm``/``classify``) → ``(name, type)`` preselected in its tab.

    Raises:
        RuntimeError: when gradio is not installed (names the ``vlkit[demo]`` extra).
        ValueError: for a ``defaults`` entry the tab cannot use, or a ``dtype`` the device cannot run.
    """
    gr = require_gradio()
    if dtype is not None:  # a dtype the device cannot run fails now, not at the first click
        from vlkit.models.precision import check_device_dtype, resolve_dtype

        check_device_dtype(resolve_dtype(dtype), device)
    defaults = defaults or {}
    cache = ModelCache(device=device, dtype=dtype)
    with gr.Blocks(title="vlkit BLIP demo") as app:
        gr.Markdown("# vlkit: BLIP demo\nPick a model for each task; weights load on first use.")
        with gr.Tab("Caption"):
            picker = _model_picker(gr, "caption", defaults.get("caption"))
            image = gr.Image(type="pil", label="Image", elem_id="caption-image")
            with gr.Row():
                method = gr.Radio(["beam", "nucleus"], value="beam", label="Decoding", elem_id="caption-method")
                beams = gr.Slider(1, 10, value=3, step=1, label="Beams")
                max_len = gr.Slider(5, 60, value=30, step=1, label="Max length")
                min_len = gr.Slider(1, 30, value=5, step=1, label="Min length")
                top_p = gr.Slider(0.1, 1.0, value=0.9, step=0.05, label="Top-p (nucleus)")
                seed = gr.Number(0, precision=0, label="Seed (nucleus)")
            button = gr.Button("Caption", variant="primary", elem_id="caption-button")
            out = gr.Textbox(label="Caption", elem_id="caption-output")
            button.click(
                _handler(gr, cache, inference.caption),
                [*picker, image, method, beams, max_len, min_len, top_p, seed],
                out,
                api_name="caption",
            )
        with gr.Tab("Visual question answering"):
            picker = _model_picker(gr, "vqa", defaults.get("vqa"))
            image = gr.Image(type="pil", label="Image", elem_id="vqa-image")
            question = gr.Textbox(label="Question", elem_id="vqa-question")
            candidates = gr.Textbox(label="Candidate answers (optional, comma-separated: ranks them)")
            button = gr.Button("Answer", variant="primary", elem_id="vqa-button")
            out = gr.Textbox(label="Answer", elem_id="vqa-output")
            button.click(
                _handler(gr, cache, inference.answer), [*picker, image, question, candidates], out, api_name="vqa"
            )
        with gr.Tab("Image-text matching"):
            picker = _model_picker(gr, "itm", defaults.get("itm"))
            image = gr.Image(type="pil", label="Image", elem_id="itm-image")
            text = gr.Textbox(label="Text", elem_id="itm-text")
            button = gr.Button("Score", variant="primary", elem_id="itm-button")
            out = gr.JSON(label="ITM match probability and ITC cosine similarity", elem_id="itm-output")
            button.click(_handler(gr, cache, inference.match), [*picker, image, text], out, api_name="itm")
        with gr.Tab("Zero-shot classification"):
            picker = _model_picker(gr, "classify", defaults.get("classify"))
            image = gr.Image(type="pil", label="Image", elem_id="classify-image")
            classes = gr.Textbox(label="Classes (comma-separated)", elem_id="classify-classes")
            template = gr.Textbox(inference.DEFAULT_TEMPLATE, label="Prompt template ({} = class name)")
            button = gr.Button("Classify", variant="primary", elem_id="classify-button")
            out = gr.Label(label="Class probabilities", elem_id="classify-output")
            button.click(
                _handler(gr, cache, inference.classify), [*picker, image, classes, template], out, api_name="classify"
            )
    return app
