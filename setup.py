"""Packaging for vlkit. Lower bounds are the versions the test suite was run with."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

INSTALL_REQUIRES = [
    "torch>=2.14",
    "torchvision>=0.29",
    "timm>=1.0.31",
    "transformers>=5.23",
    "omegaconf>=2.4",
    "iopath>=0.1.10",
    "webdataset>=1.0.2",
    "opencv-python-headless>=4.8",
    "pycocoevalcap>=1.2",
    "safetensors>=0.4",
    "tqdm>=4.66",
    "numpy>=1.26",
    "pillow>=10.0",
    "pyyaml>=6.0",
]

EXTRAS = {
    # Video decoding: decord when it has a wheel for the platform, PyAV everywhere else.
    "video": ["av>=12.0", "decord>=0.6; platform_machine == 'x86_64' and sys_platform == 'linux'"],
    # fairscale is optional: vlkit uses torch-native activation checkpointing, DDP and FSDP2 (run.strategy)
    # (docs/training.md).
    "fairscale": ["fairscale>=0.4.13"],
    "tensorboard": ["tensorboard>=2.14"],
    # `vlkit demo`: the gradio page (gradio_client, used by its tests, comes with gradio)
    "demo": ["gradio>=6.31"],
    "dev": ["pytest>=8.0", "pytest-timeout>=2.3", "hypothesis>=6.100", "ruff>=0.6", "setuptools>=68", "wheel"],
}
EXTRAS["all"] = sorted({r for k in ("video", "fairscale", "tensorboard") for r in EXTRAS[k]})
EXTRAS["all"] = sorted({*EXTRAS["all"], *EXTRAS["demo"]})
# the demo's browser test drives Debian's chromium with playwright (.ci/run installs chromium when it can)
EXTRAS["dev"] = EXTRAS["dev"] + EXTRAS["video"] + EXTRAS["fairscale"] + EXTRAS["demo"] + ["playwright>=1.65"]

setup(
    name="vlkit",
    version="0.1.0",
    description="Vision-language models (BLIP): pre-training, CapFilt, fine-tuning and evaluation from YAML configs",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.11",
    # The project configs (projects/, which the checkout keeps at the top level) travel in the wheel as
    # vlkit/_projects, where config resolution finds `projects/...` paths outside a checkout (vlkit/common/paths.py):
    # an installed wheel runs `vlkit quickstart` from any directory.
    packages=[*find_packages(include=["vlkit", "vlkit.*"]), "vlkit._projects"],
    package_dir={"vlkit._projects": "projects"},
    include_package_data=True,
    package_data={"vlkit": ["configs/**/*.yaml", "models/assets/*"], "vlkit._projects": ["**/*.yaml"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["vlkit = vlkit.cli:entry_point"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
