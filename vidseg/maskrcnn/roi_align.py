"""Pyramid ROIAlign: pick each box's FPN level from its area, then crop-and-resize there.

A box of `sqrt(area) = 224` pixels of the molded image maps to P4; each halving
or doubling moves one level, clamped to P2..P5 (matterport / FPN paper, eq. 1).
"""

from __future__ import annotations

import math

from keras import ops

from vidseg.maskrcnn import kernels


def roi_levels(boxes, image_shape: tuple[int, int]):
    """Pyramid level (int32, 2..5) of normalized `boxes` [..., 4] on a molded image of `image_shape`."""
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    image_area = float(image_shape[0] * image_shape[1])
    scale = ops.sqrt(ops.maximum(h * w, 0.0)) / (224.0 / math.sqrt(image_area))
    # log2 of 0 (padding boxes) is -inf; clamp first so the cast is defined.
    level = ops.log(ops.maximum(scale, 1e-12)) / math.log(2.0)
    level = 4 + ops.cast(ops.round(ops.maximum(level, -10.0)), "int32")
    return ops.minimum(5, ops.maximum(2, level))


def pyramid_roi_align(boxes, feature_maps, pool_size: int, image_shape: tuple[int, int]):
    """Pool `boxes` [B, N, 4] (normalized) from [P2, P3, P4, P5] -> [B, N, pool, pool, C]."""
    batch = ops.shape(boxes)[0]
    n = ops.shape(boxes)[1]
    flat_boxes = ops.reshape(boxes, (-1, 4))
    box_image = ops.repeat(ops.arange(batch, dtype="int32"), n)
    levels = ops.reshape(roi_levels(boxes, image_shape), (-1,))
    pooled = kernels.crop_by_level(feature_maps, flat_boxes, box_image, levels, (pool_size, pool_size))
    channels = ops.shape(feature_maps[0])[-1]
    return ops.reshape(pooled, (batch, n, pool_size, pool_size, channels))
