"""resolve_device: one parser for run.device, capfilt.device and `vlkit predict --device`."""

import pytest
import torch

from vlkit.common.config import ConfigError
from vlkit.common.dist import resolve_device


def test_auto_and_cpu() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("key", ["run.device", "capfilt.device", "--device"])
def test_errors_name_the_setting(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}='gpu0' is not a device"):
        resolve_device("gpu0", key)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=rf"{key}='cuda:0' but CUDA is not available"):
            resolve_device("cuda", key)
