"""Model benchmark: build time and seconds per frame at batch 1, 2 and 4 (not a test).

Prints one table. Weights are seeded (`vidseg.maskrcnn.seeded_weights`), frames
synthetic, so the figures measure compute, not accuracy. Usage:

    python benchmarks/model_speed.py [--repeats N] [--configs resnet50@512 resnet101@1024]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from vidseg.maskrcnn import CocoConfig, MaskRCNN  # noqa: E402
from vidseg.maskrcnn.seeded_weights import calibration_frames, seed_weights  # noqa: E402


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench(backbone: str, size: int, batches: list[int], repeats: int) -> list[str]:
    config = CocoConfig(backbone=backbone, image_min_dim=min(800, size), image_max_dim=size, images_per_gpu=max(batches))
    start = time.perf_counter()
    model = MaskRCNN(config)
    build_s = time.perf_counter() - start
    frames = calibration_frames(count=max(batches), size=(480, 640), seed=1)
    seed_weights(model, seed=0, frames=frames)
    rows = []
    for batch in batches:
        chunk = frames[:batch]
        model.detect_batch(chunk)  # trace for this batch size
        times, counts = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            results = model.detect_batch(chunk)
            times.append(time.perf_counter() - t)
            counts += [len(r) for r in results]
        per_frame = np.median(times) / batch
        rows.append(
            f"| {backbone} | {size} | {build_s:.1f} | {batch} | {per_frame:.3f} | {1 / per_frame:.2f} | {np.mean(counts):.1f} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", nargs="+", default=["resnet50@512", "resnet101@1024"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 2, 4])
    args = parser.parse_args()
    import tensorflow as tf

    print(f"# CPU: {cpu_name()}, {os.cpu_count()} cores; TensorFlow {tf.__version__}; median of {args.repeats} runs")
    print("| backbone | input px | build s | batch | s/frame | frames/s | detections/frame |")
    print("|---|---|---|---|---|---|---|")
    for spec in args.configs:
        backbone, size = spec.split("@")
        bench(backbone, int(size), args.batches, args.repeats)


if __name__ == "__main__":
    main()
