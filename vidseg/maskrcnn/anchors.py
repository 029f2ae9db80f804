"""Anchor boxes for the FPN levels, generated the way matterport generates them.

Order: level by level (P2..P6); within a level, feature-map rows, then columns,
then the anchor ratios in config order — the same order as the RPN outputs.
"""

from __future__ import annotations

import math

import numpy as np

from vidseg.maskrcnn.boxes import norm_boxes


def backbone_shapes(image_shape: tuple[int, int], strides: list[int]) -> list[tuple[int, int]]:
    """Feature-map size `(ceil(h / s), ceil(w / s))` for each backbone stride."""
    return [(int(math.ceil(image_shape[0] / s)), int(math.ceil(image_shape[1] / s))) for s in strides]


def level_anchors(
    scale: float, ratios: list[float], shape: tuple[int, int], feature_stride: int, anchor_stride: int
) -> np.ndarray:
    """Pixel anchors `(y1, x1, y2, x2)` of one level: `len(ratios)` per anchor position.

    A ratio is width / height; an anchor of scale `s` and ratio `r` has
    height `s / sqrt(r)` and width `s * sqrt(r)`, centred on `index * feature_stride`.
    """
    ratios = np.asarray(ratios, dtype=np.float64)
    heights = scale / np.sqrt(ratios)
    widths = scale * np.sqrt(ratios)
    centers_y = np.arange(0, shape[0], anchor_stride) * feature_stride
    centers_x = np.arange(0, shape[1], anchor_stride) * feature_stride
    cy, cx = np.meshgrid(centers_y, centers_x, indexing="ij")  # [rows, cols]
    cy = cy.reshape(-1, 1)
    cx = cx.reshape(-1, 1)
    boxes = np.stack(
        [cy - 0.5 * heights, cx - 0.5 * widths, cy + 0.5 * heights, cx + 0.5 * widths], axis=-1
    )  # [positions, ratios, 4]
    return boxes.reshape(-1, 4)


def pyramid_anchors(
    scales: list[float],
    ratios: list[float],
    image_shape: tuple[int, int],
    feature_strides: list[int],
    anchor_stride: int,
) -> np.ndarray:
    """Pixel anchors for all levels, concatenated: one scale per level."""
    shapes = backbone_shapes(image_shape, feature_strides)
    return np.concatenate(
        [
            level_anchors(scale, ratios, shape, stride, anchor_stride)
            for scale, shape, stride in zip(scales, shapes, feature_strides)
        ],
        axis=0,
    )


def pixel_anchors(config, image_shape: tuple[int, int] | None = None) -> np.ndarray:
    """The model's anchors for `config` in pixels of a molded image of `image_shape` (default: the config's)."""
    if image_shape is None:
        image_shape = (int(config.IMAGE_SHAPE[0]), int(config.IMAGE_SHAPE[1]))
    return pyramid_anchors(config.RPN_ANCHOR_SCALES, config.RPN_ANCHOR_RATIOS, tuple(image_shape),
                           config.BACKBONE_STRIDES, config.RPN_ANCHOR_STRIDE)


def normalized_anchors(config, image_shape: tuple[int, int] | None = None) -> np.ndarray:
    """The model's anchors for `config`, normalized to the molded image (float32 [A, 4])."""
    if image_shape is None:
        image_shape = (int(config.IMAGE_SHAPE[0]), int(config.IMAGE_SHAPE[1]))
    return norm_boxes(pixel_anchors(config, image_shape), image_shape)
