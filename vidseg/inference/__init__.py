"""Inference: running the model. The segment stage (a unit of work through Mask R-CNN) and its unit folder
format, frame batches, model files, CPU/GPU and thread settings, training.

Layer 3 (beside vidseg.tracking and vidseg.evaluation): may import vidseg.formats, vidseg.media, vidseg.maskrcnn and
vidseg.core; never vidseg.workflow (library stages do not import workflow planning).
"""
