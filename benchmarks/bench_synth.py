"""Speed of the synthetic shapes world: images rendered + JPEG-encoded per second on one core, and the time
to generate the default world.

Usage: python benchmarks/bench_synth.py [--image-size 96] [--num-images 2000] [--skip-world]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

if __name__ == "__main__":  # one thread, set before torch loads; never on import (the tests import this file,
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # and the variable would then hold every later test to one thread)


def image_rate(image_size: int, num_images: int) -> float:
    """Scenes sampled, rendered and JPEG-encoded per second, single-threaded."""
    import cv2

    from vlkit.data.synthetic.render import encode_jpeg, render_scene
    from vlkit.data.synthetic.scene import random_scene, rng_for

    cv2.setNumThreads(1)
    encode_jpeg(render_scene(random_scene(rng_for(0, "warmup", 0)), image_size, rng_for(0, "warmup", 1)))
    start = time.perf_counter()
    for i in range(num_images):
        rng = rng_for(0, "bench", i)
        encode_jpeg(render_scene(random_scene(rng), image_size, rng))
    return num_images / (time.perf_counter() - start)


def world_seconds() -> float:
    """Wall time of ``generate_world`` with its defaults (600 images, 1200 web, 2×120 clips, ...)."""
    from vlkit.data.synthetic import generate_world

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_world(os.path.join(tmp, "shapes"), progress=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--skip-world", action="store_true", help="only measure the image rate")
    args = parser.parse_args()
    for size in sorted({64, args.image_size, 128}):
        print(f"render + JPEG at {size:3d} px: {image_rate(size, args.num_images):7.0f} images/s (1 thread)")
    if not args.skip_world:
        print(f"default world (generate_world defaults): {world_seconds():.1f} s")


if __name__ == "__main__":
    main()
