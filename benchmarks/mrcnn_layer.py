"""What `import mrcnn` costs over `vidseg.maskrcnn`: the same frames through both, seconds per frame.

    python benchmarks/mrcnn_layer.py [--spec resnet50@512] [--frames 8] [--repeats 5]

One seeded COCO-class model (benchmarks/common.py) is loaded into a `vidseg.maskrcnn.MaskRCNN`
and an `mrcnn.model.MaskRCNN` from the same `.h5` file; 640x480 synthetic frames go through
`detect` of each, in turns, `--repeats` times. Prints the best time per frame of each, their
ratio, and whether the detections are equal. matterport's results carry full-frame masks
([H, W, N] bool), which vidseg's compact masks do not: building them is the layer's cost.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from common import CALIBRATION_SIZE, seeded_model


def best_seconds(detect, frames, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        detect(frames)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="resnet50@512", help="backbone@input size")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from mrcnn import model as modellib
    from mrcnn.config import Config
    from vidseg.maskrcnn import MaskRCNN
    from vidseg.maskrcnn.seeded_weights import calibration_frames

    reference = seeded_model(args.spec, args.batch, 0.5)
    weights = Path(tempfile.mkdtemp()) / "seeded.h5"
    reference.save_weights(weights)

    config = Config.from_dict(reference.config.to_dict())
    vidseg_model = MaskRCNN(config.copy())
    vidseg_model.load_weights(weights, strict=True)
    mrcnn_model = modellib.MaskRCNN(mode="inference", config=config, model_dir=weights.parent)
    mrcnn_model.load_weights(weights)
    frames = calibration_frames(count=args.frames, size=CALIBRATION_SIZE, seed=5)

    ours, theirs = vidseg_model.detect(frames), mrcnn_model.detect(frames)  # also the warm-up (graph tracing)
    equal = all(np.array_equal(a.boxes, b["rois"]) and np.array_equal(a.scores, b["scores"])
                and np.array_equal(a.full_masks(), b["masks"]) for a, b in zip(ours, theirs))
    vidseg_times, mrcnn_times = [], []
    for _ in range(args.repeats):  # in turns, so both see the same machine state
        vidseg_times += best_seconds(vidseg_model.detect, frames, 1)
        mrcnn_times += best_seconds(mrcnn_model.detect, frames, 1)
    per_frame = min(vidseg_times) / len(frames), min(mrcnn_times) / len(frames)
    found = sum(len(d) for d in ours)
    print(f"{args.spec}, {len(frames)} frames of {CALIBRATION_SIZE[1]}x{CALIBRATION_SIZE[0]}, batch {args.batch}, "
          f"{found / len(frames):.1f} detections per frame")
    print(f"vidseg.maskrcnn detect: {per_frame[0]:.4f} s/frame (best of {args.repeats})")
    print(f"mrcnn.model detect:     {per_frame[1]:.4f} s/frame (best of {args.repeats})")
    print(f"mrcnn / vidseg: {per_frame[1] / per_frame[0]:.3f}; detections equal: {equal}")


if __name__ == "__main__":
    main()
