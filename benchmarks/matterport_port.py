"""A TF2 port of matterport's Mask R-CNN, run on the benchmark's frames: its seconds a frame and its detections.

    python benchmarks/matterport_port.py --port DIR --weights W.h5 --config C.json --frames-dir F
                                         --count N --threads T --out RESULT.json

Issue 36 measures vidseg against "an independent TF2 port of matterport": the ports users run
today are copies of matterport's `mrcnn` package (model.py, utils.py, config.py) edited to run on
TensorFlow 2 with Keras 2, in TF1-style graph mode (`tf.compat.v1.disable_eager_execution()`), for
example ahmedfgad/Mask-RCNN-TF2 and its forks. None is on PyPI, and their code is not
this repository's to ship, so `runtimes.py --port DIR` runs this script on a checkout the user
provides (DIR holds the port's `mrcnn` package), in a process of its own: the port switches
TensorFlow to graph mode for the whole process, and needs Keras 2 (`pip install tf-keras`; this
script sets TF_USE_LEGACY_KERAS=1 so that `tensorflow.keras` is Keras 2). DIR goes first on the
import path, so its `mrcnn` is found before the one vidseg installs.

What is timed is what a port user's loop does per frame, a frame a call (IMAGES_PER_GPU 1, `--threads`
intra-op threads): read the JPEG, `model.detect` (mold,
the Keras graph, unmold with full-frame masks), and the COCO RLE of each mask (the segment stage
encodes RLEs too). As `runtimes.py` does for vidseg's rows, the frames run once (graph build and
first calls) and then again, timed. The port's configuration is vidseg's (`--config`, the
`Config.to_dict()` of the model the weights came from), upper-cased onto the port's `Config`
where the port has the field; the weights are the same `.h5` file, loaded by layer name.
Output (`--out`, JSON): seconds a frame, setup seconds, and per frame the detections (class id,
score, box in pixels, mask RLE) for `runtimes.py` to compare.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path


def port_config(port_config_class, values: dict):
    """An instance of a subclass of the port's `Config` with vidseg's `values` where the port has the field."""
    known = {name for name in dir(port_config_class) if name.isupper()}
    derived = {"BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE"}
    fields = {key.upper(): value for key, value in values.items() if key.upper() in known - derived}
    fields.update(GPU_COUNT=1, IMAGES_PER_GPU=1)
    return type("VidsegBenchConfig", (port_config_class,), fields)()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=Path, required=True, help="folder holding the port's mrcnn package")
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True, help="vidseg Config.to_dict() as JSON")
    parser.add_argument("--frames-dir", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if not (args.port / "mrcnn" / "model.py").is_file():
        sys.exit(f"--port {args.port}: no mrcnn/model.py there (give the folder that holds the port's mrcnn package)")

    if importlib.util.find_spec("tf_keras") is None:  # TF_USE_LEGACY_KERAS would then give Keras 3's tf.keras
        sys.exit("a TF2 port of matterport runs on Keras 2: pip install tf-keras (the version of your tensorflow)")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    sys.path.insert(0, str(args.port.resolve()))
    import cv2
    import numpy as np
    import tensorflow as tf
    from pycocotools import mask as mask_utils

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    try:
        import mrcnn.model as modellib
        from mrcnn.config import Config
    except ImportError as err:
        sys.exit(f"--port {args.port}: cannot import its mrcnn: {err}")
    if not Path(modellib.__file__).resolve().is_relative_to(args.port.resolve()):
        sys.exit(f"--port {args.port}: `import mrcnn` found {modellib.__file__}, not the port's")

    config = port_config(Config, json.loads(args.config.read_text()))
    start = time.perf_counter()
    model = modellib.MaskRCNN(mode="inference", config=config, model_dir=str(args.out.parent))
    model.keras_model.load_weights(str(args.weights), by_name=True)
    names = sorted(args.frames_dir.glob("*.jpg"))[:args.count]

    def one_pass() -> list:
        found = []
        for name in names:
            (result,) = model.detect([cv2.cvtColor(cv2.imread(str(name)), cv2.COLOR_BGR2RGB)], verbose=0)
            masks = np.asfortranarray(result["masks"].astype(np.uint8))
            rles = mask_utils.encode(masks) if masks.shape[-1] else []
            found.append([{"class_id": int(c), "score": float(s), "box": [float(v) for v in box],
                           "rle": {"size": list(r["size"]), "counts": r["counts"].decode()}}
                          for c, s, box, r in zip(result["class_ids"], result["scores"], result["rois"], rles)])
        return found

    one_pass()
    first = time.perf_counter() - start
    start = time.perf_counter()
    found = one_pass()
    seconds = (time.perf_counter() - start) / len(names)
    args.out.write_text(json.dumps({"s_per_frame": seconds, "setup_s": max(0.0, first - seconds * len(names)),
                                    "frames": found}))


if __name__ == "__main__":
    main()
