"""Run the small test model under another Keras backend (argv: backend, weights, frames .npz, out .npz).

Run as its own process: the Keras backend is chosen once per process.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = sys.argv[1]
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from conftest import small_config  # noqa: E402
from vidseg.maskrcnn import MaskRCNN  # noqa: E402

assert keras.backend.backend() == sys.argv[1]
model = MaskRCNN(small_config())
model.load_weights(sys.argv[2], strict=True)
frames = list(np.load(sys.argv[3]).values())
out = {}
for i, det in enumerate(model.detect(frames)):
    out[f"boxes{i}"], out[f"class_ids{i}"], out[f"scores{i}"] = det.boxes, det.class_ids, det.scores
    out[f"areas{i}"] = det.mask_areas
np.savez(sys.argv[4], tensorflow_imported=np.array("tensorflow" in sys.modules), **out)
