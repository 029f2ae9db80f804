"""Tracking: the tracker (detections to object tracks) and the track stage over a video's tables.

Layer 3 (beside vidseg.inference and vidseg.evaluation): may import vidseg.formats, vidseg.media, vidseg.maskrcnn and
vidseg.core.
"""
