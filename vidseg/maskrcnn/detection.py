"""Detection layer: refine ROIs into final detections with per-class NMS.

Per ROI: the top class and its score, its class-specific box deltas applied and
the box clipped to the image window. ROIs of the background class or below
DETECTION_MIN_CONFIDENCE are dropped, NMS runs within each class, and the best
DETECTION_MAX_INSTANCES remain, by descending score. Output is fixed-size.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from vidseg.maskrcnn import boxes as box_ops
from vidseg.maskrcnn import kernels


def refine_detections(rois, probs, deltas, windows, config):
    """Final detections from the classifier head.

    rois [B, N, 4] normalized, probs [B, N, K], deltas [B, N, K, 4] (in units of
    BBOX_STD_DEV), windows [B, 4] normalized image windows. Returns
    `(boxes [B, D, 4], class_ids [B, D] int32, scores [B, D], count [B] int32)`
    with D = DETECTION_MAX_INSTANCES; slots past `count` are zero.
    """
    class_ids = kernels.argmax(probs, axis=-1)
    scores = ops.squeeze(ops.take_along_axis(probs, ops.expand_dims(class_ids, -1), axis=-1), -1)
    index = ops.reshape(class_ids, (ops.shape(class_ids)[0], -1, 1, 1))
    class_deltas = ops.squeeze(ops.take_along_axis(deltas, index, axis=2), 2)
    std = ops.convert_to_tensor(np.reshape(config.BBOX_STD_DEV, (1, 1, 4)), dtype="float32")
    refined = box_ops.decode(rois, class_deltas * std)
    refined = box_ops.clip(refined, windows)

    candidate = ops.logical_and(class_ids > 0, scores >= config.DETECTION_MIN_CONFIDENCE)
    # Rejected ROIs get score -1; NMS only considers scores above -0.5.
    nms_scores = ops.where(candidate, scores, -1.0)
    max_out = config.DETECTION_MAX_INSTANCES
    threshold = config.DETECTION_NMS_THRESHOLD

    def per_image(args):
        return kernels.class_nms_padded(*args, max_out, threshold, -0.5)

    keep, valid = kernels.map_images(
        per_image,
        (refined, class_ids, nms_scores),
        (kernels.spec([max_out], "int32"), kernels.spec([max_out], "bool")),
    )
    out_boxes = ops.take_along_axis(refined, ops.expand_dims(keep, -1), axis=1)
    out_classes = ops.take_along_axis(class_ids, keep, axis=1)
    out_scores = ops.take_along_axis(scores, keep, axis=1)
    out_boxes = ops.where(ops.expand_dims(valid, -1), out_boxes, 0.0)
    out_classes = ops.where(valid, out_classes, 0)
    out_scores = ops.where(valid, out_scores, 0.0)
    count = ops.sum(ops.cast(valid, "int32"), axis=1)
    return out_boxes, out_classes, out_scores, count
