"""The five Mask R-CNN training losses (paper and matterport), in keras.ops.

Each returns a scalar; a loss with nothing to average over (e.g. no positive
ROI in the batch) is 0, not NaN.
"""

from __future__ import annotations

from keras import ops


def _smooth_l1(diff):
    absolute = ops.abs(diff)
    return ops.where(absolute < 1.0, 0.5 * diff * diff, absolute - 0.5)


def _masked_mean(values, mask):
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


def rpn_class_loss(match, logits):
    """Cross-entropy of anchor objectness; `match` [B, A] (1/-1 used, 0 ignored), `logits` [B, A, 2]."""
    target = ops.cast(match == 1, "int32")
    ce = ops.sparse_categorical_crossentropy(target, logits, from_logits=True)
    return _masked_mean(ce, match != 0)


def rpn_bbox_loss(match, target_deltas, pred_deltas):
    """Smooth L1 of positive anchors' deltas.

    `target_deltas` [B, K, 4] hold the positives' targets in anchor order (as
    `targets.rpn_targets` packs them); `pred_deltas` [B, A, 4].
    """
    positive = match == 1
    row = ops.clip(ops.cumsum(ops.cast(positive, "int32"), axis=1) - 1, 0, ops.shape(target_deltas)[1] - 1)
    target = ops.take_along_axis(target_deltas, ops.expand_dims(row, -1), axis=1)
    per_anchor = ops.mean(_smooth_l1(target - pred_deltas), axis=-1)
    return _masked_mean(per_anchor, positive)


def class_loss(target_class_ids, logits):
    """Cross-entropy of the sampled ROIs' classes; `target_class_ids` [B, T], `logits` [B, T, K]."""
    return ops.mean(ops.sparse_categorical_crossentropy(target_class_ids, logits, from_logits=True))


def bbox_loss(target_class_ids, target_deltas, pred_deltas, positive):
    """Smooth L1 of positive ROIs' deltas for their true class; `pred_deltas` [B, T, K, 4]."""
    index = ops.expand_dims(ops.expand_dims(target_class_ids, -1), -1)
    pred = ops.squeeze(ops.take_along_axis(pred_deltas, index, axis=2), 2)
    per_roi = ops.mean(_smooth_l1(target_deltas - pred), axis=-1)
    return _masked_mean(per_roi, positive)


def mask_loss(target_masks, pred_masks, target_class_ids, positive):
    """Binary cross-entropy of positive ROIs' masks for their true class.

    `target_masks` [B, T, m, m] (0/1), `pred_masks` [B, T, m, m, K] (sigmoid outputs).
    """
    index = ops.reshape(target_class_ids, (ops.shape(target_class_ids)[0], -1, 1, 1, 1))
    pred = ops.squeeze(ops.take_along_axis(pred_masks, index, axis=-1), -1)
    bce = ops.mean(ops.binary_crossentropy(target_masks, pred), axis=(2, 3))
    return _masked_mean(bce, positive)
