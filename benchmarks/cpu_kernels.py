"""Seconds per frame on a CPU under TensorFlow's two CPU kernel sets and two ways of using a job's threads.

    python benchmarks/cpu_kernels.py [--kernels tensorflow-avx2 tensorflow onednn-avx2 onednn] [--layouts threads streams]
                                     [--threads 2] [--frames 8] [--size 512]

Each setting runs in its own process (TensorFlow's kernels and thread pools are fixed once per
process): ResNet-50 at --size px, 81 classes, seeded weights, batches of 2 random 640x480 frames,
one warm-up batch, then --frames frames timed.
- kernels: `tensorflow` is TensorFlow's own (Eigen) kernels, what it runs by default on CPUs
  without AVX512-VNNI/BF16 or AMX, such as AVX2-only ones (TF_ENABLE_ONEDNN_OPTS=0);
  `tensorflow-avx2` the same with the matrix-multiply kernels Eigen borrows from oneDNN limited to
  AVX2 (ONEDNN_MAX_CPU_ISA=AVX2): what an AVX2-only CPU runs by default; `onednn-avx2`
  is oneDNN limited to AVX2 (TF_ENABLE_ONEDNN_OPTS=1, ONEDNN_MAX_CPU_ISA=AVX2: what an AVX2-only
  CPU would run with oneDNN on); `onednn` is oneDNN at this CPU's best (TensorFlow's default where
  the CPU has those features). On an AVX2-only CPU the last two are the same thing.
- layouts: `threads` is one model call at a time on --threads intra-op threads (segment jobs before
  issue 33); `streams` is --threads calls at once, each op on one thread (vidseg.inference.threads now).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from isa import CAPS

KERNELS = {"tensorflow-avx2": CAPS,  # what an AVX2-only CPU runs by default
           "tensorflow": {"TF_ENABLE_ONEDNN_OPTS": "0"},
           "onednn-avx2": {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2"},
           "onednn": {"TF_ENABLE_ONEDNN_OPTS": "1"}}


def child(args) -> None:
    """One setting: print {"s_per_frame": ...} as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import numpy as np
    import tensorflow as tf

    from vidseg.maskrcnn import Config, MaskRCNN
    from vidseg.maskrcnn.seeded_weights import seed_weights

    streams = args.threads if args.layouts[0] == "streams" else 1
    tf.config.threading.set_intra_op_parallelism_threads(1 if streams > 1 else args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    config = Config(name="bench", num_classes=81, backbone="resnet50", image_min_dim=args.size,
                    image_max_dim=args.size, images_per_gpu=2)
    model = MaskRCNN(config)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(2)]
    seed_weights(model, seed=0, frames=frames)
    model.detect(frames)  # traces
    calls = max(1, args.frames // 2 // streams)

    def work() -> None:
        for _ in range(calls):
            model.detect(frames)

    began = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(streams)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"s_per_frame": (time.perf_counter() - began) / (2 * calls * streams)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=list(KERNELS))
    parser.add_argument("--layouts", nargs="+", default=["threads", "streams"], choices=["threads", "streams"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    base = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")}
    base["TF_CPP_MIN_LOG_LEVEL"] = "3"
    print(f"ResNet-50 at {args.size} px, batches of 2, {args.threads} threads, {args.frames} frames timed")
    print(f"{'kernels':16} {'layout':8} s/frame")
    for kernels in args.kernels:
        for layout in args.layouts:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", "--kernels", kernels, "--layouts", layout,
                 "--threads", str(args.threads), "--frames", str(args.frames), "--size", str(args.size)],
                env={**base, **KERNELS[kernels]}, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(proc.stderr[-3000:])
            seconds = json.loads(proc.stdout.strip().splitlines()[-1])["s_per_frame"]
            print(f"{kernels:16} {layout:8} {seconds:.3f}", flush=True)


if __name__ == "__main__":
    main()
