"""Mask R-CNN (matterport's architecture, config names and .h5 weights) on TensorFlow 2 + Keras 3.

    from vidseg.maskrcnn import CocoConfig, MaskRCNN
    model = MaskRCNN(CocoConfig())
    model.load_weights("mask_rcnn_coco.h5")
    detections = model.detect(frames)

Names that need TensorFlow load it on first use, so `Config` stays cheap to import.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from vidseg.maskrcnn.coco_classes import COCO_CLASS_NAMES  # noqa: E402
from vidseg.maskrcnn.config import CocoConfig, Config  # noqa: E402

_LAZY = {"MaskRCNN": "vidseg.maskrcnn.model", "Detections": "vidseg.maskrcnn.postprocess",
         "LoadReport": "vidseg.maskrcnn.weights"}

__all__ = ["COCO_CLASS_NAMES", "CocoConfig", "Config", "Detections", "LoadReport", "MaskRCNN"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
