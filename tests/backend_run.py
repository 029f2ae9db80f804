"""Run the small test model under another Keras backend (argv: backend, weights, frames .npz, out .npz), built
and loaded through matterport's API (`mrcnn.model`), whose `detect` must give exactly what the `vidseg.maskrcnn`
model inside it detects.

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

from mrcnn import model as modellib  # noqa: E402
from mrcnn.config import Config  # noqa: E402

assert keras.backend.backend() == sys.argv[1]


class SmallConfig(Config):  # conftest's small_config, written as a matterport user writes a config
    pass


for key, value in small_config().to_dict().items():
    setattr(SmallConfig, key.upper(), value)
# one model, built and loaded through matterport's API (one compilation of each part: the backend's is slow)
matterport_style = modellib.MaskRCNN(mode="inference", config=SmallConfig(), model_dir=os.path.dirname(sys.argv[4]))
matterport_style.load_weights(sys.argv[2], by_name=True)
model = matterport_style.model  # vidseg's MaskRCNN inside
built = model.config.to_dict()  # small_config's settings (matterport's Config adds training keys of its own)
assert isinstance(model, MaskRCNN) and all(built[key] == value for key, value in small_config().to_dict().items())
frames = list(np.load(sys.argv[3]).values())
out = {}
detections = model.detect(frames)
for i, det in enumerate(detections):
    out[f"boxes{i}"], out[f"class_ids{i}"], out[f"scores{i}"] = det.boxes, det.class_ids, det.scores
    out[f"areas{i}"] = det.mask_areas
out["mrcnn_equal"] = np.array(all(
    np.array_equal(r["rois"], det.boxes) and np.array_equal(r["class_ids"], det.class_ids)
    and np.array_equal(r["scores"], det.scores) and np.array_equal(r["masks"], det.full_masks())
    for r, det in zip(matterport_style.detect(frames, verbose=0), detections)))
np.savez(sys.argv[4], tensorflow_imported=np.array("tensorflow" in sys.modules), **out)
