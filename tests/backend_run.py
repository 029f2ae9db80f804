"""Run the small test model under another Keras backend (argv: backend, weights, frames .npz, out .npz), through
`vidseg.maskrcnn` and through matterport's API (`mrcnn.model`), which must agree exactly.

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

from mrcnn import model as modellib  # noqa: E402
from mrcnn.config import Config  # noqa: E402


class SmallConfig(Config):  # the same settings, written as a matterport user writes a config
    pass


for key, value in small_config().to_dict().items():
    setattr(SmallConfig, key.upper(), value)
matterport_style = modellib.MaskRCNN(mode="inference", config=SmallConfig(), model_dir=os.path.dirname(sys.argv[4]))
matterport_style.load_weights(sys.argv[2], by_name=True)
out["mrcnn_equal"] = np.array(all(
    np.array_equal(r["rois"], det.boxes) and np.array_equal(r["class_ids"], det.class_ids)
    and np.array_equal(r["scores"], det.scores) and np.array_equal(r["masks"], det.full_masks())
    for r, det in zip(matterport_style.detect(frames, verbose=0), model.detect(frames))))
np.savez(sys.argv[4], tensorflow_imported=np.array("tensorflow" in sys.modules), **out)
