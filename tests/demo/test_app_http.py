"""The demo through its HTTP API (gradio_client against the launched page): the answers equal the tasks run
directly on the same model, and bad input comes back as the page's error."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from vlkit.demo import inference
from vlkit.demo.inference import ModelCache, ModelKey

pytest.importorskip("gradio_client", reason="the demo needs gradio: pip install 'vlkit[demo]'")


@pytest.fixture(scope="module")
def client(demo_url: str) -> object:
    from gradio_client import Client

    return Client(demo_url, verbose=False, analytics_enabled=False, download_files=False)


def test_api_lists_the_four_tasks(client: object) -> None:
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/caption", "/vqa", "/itm", "/classify"} <= endpoints


def test_caption_over_http_equals_the_direct_call(client: object, caption_checkpoint: Path, test_image: Path) -> None:
    from gradio_client import handle_file

    args = ("beam", 3, 12, 3, 0.9, 0)
    got = client.predict(
        "blip_caption", "tiny", str(caption_checkpoint), handle_file(str(test_image)), *args, api_name="/caption"
    )
    entry = ModelCache().get(ModelKey("blip_caption", "tiny", str(caption_checkpoint)))
    assert got == inference.caption(entry, Image.open(test_image), *args)


def test_other_tasks_over_http(client: object, test_image: Path) -> None:
    from gradio_client import handle_file

    image = handle_file(str(test_image))
    answer = client.predict("blip_vqa", "tiny", "", image, "what colour?", "red, blue", api_name="/vqa")
    assert answer in ("red", "blue")
    scores = client.predict("blip_image_text_matching", "tiny", "", image, "a red circle", api_name="/itm")
    assert set(scores) == {"itm", "itc"}
    label = client.predict(
        "blip_feature_extractor", "tiny", "", image, "circle, square", "a photo of a {}", api_name="/classify"
    )
    assert label["label"] in ("circle", "square") and len(label["confidences"]) == 2


def test_bad_input_is_the_pages_error(client: object, test_image: Path) -> None:
    from gradio_client import handle_file

    with pytest.raises(Exception, match="at least two"):
        client.predict(
            "blip_feature_extractor",
            "tiny",
            "",
            handle_file(str(test_image)),
            "circle",
            "a photo of a {}",
            api_name="/classify",
        )
    with pytest.raises(Exception, match="does not exist"):
        client.predict(
            "blip_caption",
            "tiny",
            "/no/such/file.safetensors",
            handle_file(str(test_image)),
            "beam",
            3,
            12,
            3,
            0.9,
            0,
            api_name="/caption",
        )


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--caption-model", "blip_caption:nope"], "blip_caption has the types"),
        (["--itm-model", "blip_nlvr:nlvr"], "the itm tab takes one of"),
        (["--dtype", "int8"], "dtype='int8' is not one vlkit runs models in"),
    ],
)
def test_bad_demo_arguments_fail_at_start(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    from vlkit.cli import run

    assert run(["demo", "--device", "cpu", *argv]) == 2
    assert message in capsys.readouterr().err
