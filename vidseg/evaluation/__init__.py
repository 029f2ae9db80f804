"""Evaluation: scoring detections against a ground truth (COCOeval) and tracks (TrackEval).

Layer 3 (beside vidseg.inference and vidseg.tracking): may import vidseg.tracking, vidseg.formats, vidseg.media,
vidseg.maskrcnn and vidseg.core.
"""
