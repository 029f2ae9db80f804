"""The segment stage's host side alone: what it sustains when the model costs nothing.

`segment_unit` (JPEG read, mold, post-processing, RLE, Parquet) runs with a
stand-in model whose `predict` returns fixed outputs at once (`--detections`
boxes a frame, 28x28 mask probabilities), so the frames/s printed is the ceiling
the host side puts on any accelerator, per `io_threads`. Also the single-thread
cost of each step per frame. Keras is imported (it needs a backend) but no model runs.

    python benchmarks/host_pipeline.py [--frames 64] [--size 720x1280] [--io-threads 1 2 4 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import read_frames, segment_seconds, write_frames  # noqa: E402


class InstantModel:
    """Stands in for `MaskRCNN` in `segment_unit`: fixed outputs, no compute."""

    def __init__(self, config, detections: int, seed: int = 0):
        from vidseg.maskrcnn.model import mask_slots

        self.config = config
        batch, slots = config.IMAGES_PER_GPU, config.DETECTION_MAX_INSTANCES
        rng = np.random.default_rng(seed)
        y1, x1 = rng.uniform(0.25, 0.6, (2, batch, slots))
        h, w = rng.uniform(0.03, 0.2, (2, batch, slots))
        self.out = {"boxes": np.stack([y1, x1, y1 + h, x1 + w], -1).astype(np.float32),
                    "class_ids": rng.integers(1, config.NUM_CLASSES, (batch, slots)).astype(np.int32),
                    "scores": np.sort(rng.uniform(0.7, 1, (batch, slots)))[:, ::-1].astype(np.float32),
                    "count": np.full(batch, detections, np.int32),
                    "masks": rng.random((batch, mask_slots(detections, slots), 28, 28)).astype(np.float32)}

    def predict(self, images, windows):
        return {k: v[: len(images)] for k, v in self.out.items()}

    def unmold_batch(self, out, moldings):
        from vidseg.maskrcnn.model import MaskRCNN

        return MaskRCNN.unmold_batch(self, out, moldings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", default="720x1280", help="frame size HxW")
    parser.add_argument("--image-max-dim", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--detections", type=int, default=12)
    parser.add_argument("--io-threads", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()

    from vidseg.inference.batches import BatchReader, frames_of
    from vidseg.maskrcnn import CocoConfig
    from vidseg.maskrcnn.preprocess import mold_batch

    size = tuple(int(v) for v in args.size.split("x"))
    config = CocoConfig(image_min_dim=min(800, args.image_max_dim), image_max_dim=args.image_max_dim,
                        images_per_gpu=args.batch)
    model = InstantModel(config, args.detections)
    n = args.frames
    print(f"# host side of the segment stage, {os.cpu_count()} CPUs; {n} frames {size[1]}x{size[0]} JPEG -> "
          f"{args.image_max_dim} px, batch {args.batch}, {args.detections} detections a frame, instant model")
    with tempfile.TemporaryDirectory(prefix="vidseg-host-") as tmp:
        work = Path(tmp)
        frames_dir = write_frames(work, n, size)
        read_frames(frames_dir, n)  # warm the page cache and OpenCV
        start = time.perf_counter()
        images = read_frames(frames_dir, n)
        decode = (time.perf_counter() - start) / n
        start = time.perf_counter()
        molded = [mold_batch(images[i:i + args.batch], config) for i in range(0, n, args.batch)]
        fresh = (time.perf_counter() - start) / n
        with BatchReader("jpg", config) as reader:
            reader.recycle(reader.start(frames_of("bench", frames_dir, 0, args.batch)))  # one buffer, reused below
            start = time.perf_counter()
            for i in range(0, n, args.batch):
                batch = reader.start(frames_of("bench", frames_dir, i, min(i + args.batch, n)))
                reader.result(batch)
                reader.recycle(batch)
            reused = (time.perf_counter() - start) / n
        start = time.perf_counter()
        for x in molded:  # what segment_unit's post-processing threads do with a batch
            for found in model.unmold_batch(model.predict(*x[:2]), x[2]):
                found.rle()
                found.mask_areas  # computed on first use, as the detection table reads it
        post = (time.perf_counter() - start) / n
        print(f"one thread, ms a frame: JPEG decode {decode * 1e3:.1f}; decode + mold into a new array "
              f"{decode * 1e3 + fresh * 1e3:.1f} (mold alone {fresh * 1e3:.1f}), into a reused buffer "
              f"{reused * 1e3:.1f}; post-processing + RLE {post * 1e3:.1f}")
        print("| io threads | frames/s |")
        print("|---|---|")
        for threads in args.io_threads:
            seconds = segment_seconds(model, work, work / "index.tsv", n, "host", threads)
            print(f"| {threads} | {1 / seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
