"""Throughput of the image processors and of each RandAugment op at 384 px (single process, CPU).

Usage: python benchmarks/bench_processors.py [--image-size 384] [--num-images 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from vlkit.processors import load_processor
from vlkit.processors import randaugment as ra


def synthetic_images(count: int, height: int = 480, width: int = 640) -> list[Image.Image]:
    """Smooth gradients plus noise, roughly photo-like for the resize and histogram ops."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    images = []
    for _ in range(count):
        phase = rng.uniform(0, 6.28, 3)
        base = np.stack([127 + 100 * np.sin(xx / 50 + yy / 70 + p) for p in phase], axis=-1)
        images.append(Image.fromarray((base + rng.normal(0, 15, base.shape)).clip(0, 255).astype(np.uint8)))
    return images


def throughput(fn: Callable[[Image.Image], object], images: list[Image.Image]) -> float:
    fn(images[0])  # warm-up: lazy imports, OpenCV init
    start = time.perf_counter()
    for image in images:
        fn(image)
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=384)
    parser.add_argument("--num-images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (1 = one DataLoader worker)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)
    torch.manual_seed(0)
    images = synthetic_images(args.num_images)
    cfg = {"image_size": args.image_size}
    print(f"{args.num_images} images 640x480 -> {args.image_size}px, {args.threads} thread(s)")
    for name in ("blip_image_eval", "blip_image_train"):
        print(f"{name:>18}: {throughput(load_processor(name, cfg), images):7.1f} images/s")

    no_aug = load_processor("blip_image_train", {**cfg, "randaug_num_ops": 0})
    print(f"{'train w/o RandAug':>18}: {throughput(no_aug, images):7.1f} images/s")
    square = np.asarray(images[0].resize((args.image_size, args.image_size)))
    print(f"RandAugment ops on one {args.image_size}px image (ms/op, BLIP magnitude 5):")
    for name, spec in ra.OPS.items():
        arg = spec.level_to_arg(5)
        start = time.perf_counter()
        for _ in range(50):
            spec.fn(square, arg)
        print(f"  {name:>12}: {(time.perf_counter() - start) / 50 * 1e3:6.2f}")


if __name__ == "__main__":
    main()
