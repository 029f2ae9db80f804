"""Box coding: encode/decode deltas, clipping, IoU and pixel <-> normalized coordinates.

Boxes are always `(y1, x1, y2, x2)`, matterport's order. "Normalized" boxes use
matterport's convention: pixel box `b` of an image of size `(h, w)` maps to
`(b - (0, 0, 1, 1)) / (h - 1, w - 1, h - 1, w - 1)`, so `y2`/`x2` are exclusive
in pixels and inclusive once normalized. Graph functions take tensors and use
`keras.ops`; the `np_` functions are their NumPy twins for pre/post-processing.
"""

from __future__ import annotations

import numpy as np
from keras import ops

_SHIFT = np.array([0.0, 0.0, 1.0, 1.0])


def norm_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixel boxes -> normalized boxes (float32) for an image of `shape = (h, w)`."""
    h, w = shape
    scale = np.array([h - 1, w - 1, h - 1, w - 1], dtype=np.float64)
    return ((np.asarray(boxes, np.float64) - _SHIFT) / scale).astype(np.float32)


def denorm_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Normalized boxes -> integer pixel boxes (int32, rounded half to even) for `shape = (h, w)`."""
    h, w = shape
    scale = np.array([h - 1, w - 1, h - 1, w - 1], dtype=np.float64)
    return np.around(np.asarray(boxes, np.float64) * scale + _SHIFT).astype(np.int32)


def encode(boxes, gt_boxes):
    """Deltas `(dy, dx, log dh, log dw)` that turn `boxes` into `gt_boxes` (same shape [..., 4])."""
    height = boxes[..., 2] - boxes[..., 0]
    width = boxes[..., 3] - boxes[..., 1]
    center_y = boxes[..., 0] + 0.5 * height
    center_x = boxes[..., 1] + 0.5 * width
    gt_height = gt_boxes[..., 2] - gt_boxes[..., 0]
    gt_width = gt_boxes[..., 3] - gt_boxes[..., 1]
    gt_center_y = gt_boxes[..., 0] + 0.5 * gt_height
    gt_center_x = gt_boxes[..., 1] + 0.5 * gt_width
    dy = (gt_center_y - center_y) / height
    dx = (gt_center_x - center_x) / width
    dh = ops.log(gt_height / height)
    dw = ops.log(gt_width / width)
    return ops.stack([dy, dx, dh, dw], axis=-1)


def decode(boxes, deltas):
    """Apply deltas `(dy, dx, log dh, log dw)` to `boxes`; inverse of `encode`.

    Each center is one sum of two terms, `y1 + (0.5 + dy) * h`, not `y1 + 0.5 h + dy h`: TensorFlow's
    graph optimizer folds a sum of three same-shape terms into one AddN, and in a graph whose estimated
    peak memory passes its budget (matterport's whole graph at ResNet-101@1024, batch 2) rewrites that
    AddN into a temporary variable named by the node, so two threads running the graph at once (two
    model streams, a served SavedModel) failed with AlreadyExistsError. tests/test_model.py checks the
    optimized graph."""
    height = boxes[..., 2] - boxes[..., 0]
    width = boxes[..., 3] - boxes[..., 1]
    center_y = boxes[..., 0] + (0.5 + deltas[..., 0]) * height
    center_x = boxes[..., 1] + (0.5 + deltas[..., 1]) * width
    height = height * ops.exp(deltas[..., 2])
    width = width * ops.exp(deltas[..., 3])
    y1 = center_y - 0.5 * height
    x1 = center_x - 0.5 * width
    return ops.stack([y1, x1, y1 + height, x1 + width], axis=-1)


def clip(boxes, window):
    """Clip boxes [..., 4] to `window` `(wy1, wx1, wy2, wx2)`, a [4] tensor or one per leading index."""
    window = ops.expand_dims(window, -2) if len(ops.shape(window)) > 1 else window
    lo = ops.concatenate([window[..., :2], window[..., :2]], axis=-1)
    hi = ops.concatenate([window[..., 2:], window[..., 2:]], axis=-1)
    return ops.maximum(ops.minimum(boxes, hi), lo)


def iou_matrix(boxes_a, boxes_b):
    """Pairwise IoU of boxes [N, 4] and [M, 4] -> [N, M]; zero where a box has no area."""
    a = ops.expand_dims(boxes_a, 1)
    b = ops.expand_dims(boxes_b, 0)
    inter_h = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0.0)
    inter_w = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = inter_h * inter_w
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return ops.where(union > 0, inter / ops.maximum(union, 1e-12), 0.0)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight pixel boxes of masks [N, H, W] -> int32 [N, 4] `(y1, x1, y2, x2)`, `y2`/`x2` exclusive; zeros for an
    empty mask."""
    masks = np.asarray(masks)
    boxes = np.zeros((len(masks), 4), np.int32)
    rows_hit, cols_hit = masks.any(axis=2), masks.any(axis=1)  # [N, H], [N, W]
    for i in range(len(masks)):
        rows, cols = np.nonzero(rows_hit[i])[0], np.nonzero(cols_hit[i])[0]
        if len(rows):
            boxes[i] = rows[0], cols[0], rows[-1] + 1, cols[-1] + 1
    return boxes


def np_iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """NumPy twin of `iou_matrix` (float64)."""
    a = np.asarray(boxes_a, np.float64)[:, None]
    b = np.asarray(boxes_b, np.float64)[None]
    inter_h = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0)
    inter_w = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0)
    inter = inter_h * inter_w
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def np_encode(boxes: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """NumPy twin of `encode`: deltas (dy, dx, log dh, log dw) from `boxes` to `gt_boxes`."""
    h = boxes[:, 2] - boxes[:, 0]
    w = boxes[:, 3] - boxes[:, 1]
    gh = gt_boxes[:, 2] - gt_boxes[:, 0]
    gw = gt_boxes[:, 3] - gt_boxes[:, 1]
    dy = (gt_boxes[:, 0] + 0.5 * gh - boxes[:, 0] - 0.5 * h) / h
    dx = (gt_boxes[:, 1] + 0.5 * gw - boxes[:, 1] - 0.5 * w) / w
    return np.stack([dy, dx, np.log(gh / h), np.log(gw / w)], axis=1)
