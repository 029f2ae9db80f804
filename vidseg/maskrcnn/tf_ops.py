"""The TensorFlow-only operations of the model, kept together: NMS and crop-and-resize.

Everything else is written with `keras.ops`. Each function here returns
fixed-size tensors (padded, with a count or validity mask) so callers never see
data-dependent shapes. Porting the model to another Keras backend means
reimplementing only this module.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from vidseg.errors import VidsegError


def require_tensorflow_backend() -> None:
    if keras.backend.backend() != "tensorflow":
        raise VidsegError(
            f"the Mask R-CNN model needs the TensorFlow Keras backend (KERAS_BACKEND=tensorflow); "
            f"this process uses {keras.backend.backend()!r}"
        )


def crop_and_resize(feature_map, boxes, box_indices, size: tuple[int, int]):
    """Bilinear crops of `boxes` (normalized, [K, 4]) from `feature_map[box_indices]` -> [K, h, w, C].

    Box coordinate `y` samples feature row `y * (H - 1)`; outside samples are 0.
    """
    return tf.image.crop_and_resize(feature_map, boxes, box_indices, size, method="bilinear")


def nms_padded(boxes, scores, max_output: int, iou_threshold: float, score_threshold: float = float("-inf")):
    """Greedy NMS of one image's `boxes` [N, 4] -> (indices [max_output] int32, valid [max_output] bool).

    Indices are ordered by descending score; padding slots hold index 0 and valid=False.
    """
    keep = tf.image.non_max_suppression(
        boxes, scores, max_output, iou_threshold=iou_threshold, score_threshold=score_threshold
    )
    return _pad_indices(keep, max_output)


def nms_overlaps_padded(overlaps, scores, max_output: int, threshold: float, score_threshold: float):
    """Greedy NMS over a precomputed overlap matrix [N, N] -> (indices, valid) as `nms_padded`.

    Only candidates with score > `score_threshold` are considered; a candidate is
    dropped when its overlap with a kept one exceeds `threshold`.
    """
    keep = tf.image.non_max_suppression_overlaps(
        overlaps, scores, max_output, overlap_threshold=threshold, score_threshold=score_threshold
    )
    return _pad_indices(keep, max_output)


def _pad_indices(keep, size: int):
    keep = tf.cast(keep, tf.int32)
    count = tf.shape(keep)[0]
    indices = tf.pad(keep, [[0, size - count]])
    valid = tf.range(size) < count
    return tf.ensure_shape(indices, [size]), tf.ensure_shape(valid, [size])


def map_images(fn, elems, output_signature):
    """Run a per-image function over the batch dimension of `elems` (tuple of tensors)."""
    return tf.map_fn(fn, elems, fn_output_signature=output_signature)


def traced(fn):
    """`fn` as a TensorFlow graph function; it traces once per input shape (static shapes throughout)."""
    return tf.function(fn, autograph=False)


def spec(shape, dtype):
    return tf.TensorSpec(shape, dtype)
