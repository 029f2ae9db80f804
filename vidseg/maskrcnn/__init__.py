"""Mask R-CNN (matterport's architecture, config names and .h5 weights) on TensorFlow 2 + Keras 3.

    from vidseg.maskrcnn import CocoConfig, MaskRCNN
    model = MaskRCNN(CocoConfig())
    model.load_weights("mask_rcnn_coco.h5")
    detections = model.detect(frames)
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from vidseg.maskrcnn.coco_classes import COCO_CLASS_NAMES  # noqa: E402
from vidseg.maskrcnn.config import CocoConfig, Config  # noqa: E402
from vidseg.maskrcnn.model import MaskRCNN  # noqa: E402
from vidseg.maskrcnn.postprocess import Detections  # noqa: E402
from vidseg.maskrcnn.weights import LoadReport  # noqa: E402

__all__ = ["COCO_CLASS_NAMES", "CocoConfig", "Config", "Detections", "LoadReport", "MaskRCNN"]
