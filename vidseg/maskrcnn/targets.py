"""Training targets: which anchors and proposals are positive, and what they should predict.

Follows matterport (and the Mask R-CNN paper): an anchor is positive with IoU
>= 0.7 to a ground-truth box, or when it is a ground-truth box's best anchor;
negative below 0.3; RPN_TRAIN_ANCHORS_PER_IMAGE anchors are sampled, at most
half positive. Proposals are positive with IoU >= 0.5; TRAIN_ROIS_PER_IMAGE are
sampled with ROI_POSITIVE_RATIO positives. Box targets are `boxes.encode`
deltas divided by the config's standard deviations. NumPy, one image at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidseg.maskrcnn.boxes import np_encode, np_iou_matrix

RPN_POSITIVE_IOU = 0.7
RPN_NEGATIVE_IOU = 0.3
ROI_POSITIVE_IOU = 0.5


def rpn_targets(anchors: np.ndarray, gt_boxes: np.ndarray, config, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`(match [A] int32: 1 positive, -1 negative, 0 ignored; deltas [RPN_TRAIN_ANCHORS_PER_IMAGE, 4])`.

    `anchors` and `gt_boxes` in the same coordinates (pixels or normalized).
    Deltas of the positive anchors, in anchor order, fill the first rows.
    """
    per_image = config.RPN_TRAIN_ANCHORS_PER_IMAGE
    match = np.zeros(len(anchors), np.int32)
    deltas = np.zeros((per_image, 4), np.float32)
    if len(gt_boxes) == 0:
        match[:] = -1
        _subsample(match, -1, per_image, rng)
        return match, deltas
    overlaps = np_iou_matrix(anchors, gt_boxes)
    best_gt = overlaps.argmax(axis=1)
    best_iou = overlaps[np.arange(len(anchors)), best_gt]
    match[best_iou < RPN_NEGATIVE_IOU] = -1
    # every ground-truth box gets its best anchors (ties included), whatever their IoU
    best_for_gt = np.nonzero(overlaps == overlaps.max(axis=0, keepdims=True))[0]
    match[best_for_gt] = 1
    match[best_iou >= RPN_POSITIVE_IOU] = 1
    _subsample(match, 1, per_image // 2, rng)
    _subsample(match, -1, per_image - int((match == 1).sum()), rng)
    positive = np.nonzero(match == 1)[0]
    std = np.asarray(config.RPN_BBOX_STD_DEV, np.float64)
    deltas[: len(positive)] = np_encode(anchors[positive], gt_boxes[best_gt[positive]]) / std
    return match, deltas


def _subsample(match: np.ndarray, value: int, keep: int, rng: np.random.Generator) -> None:
    """Reset to 0 (ignored) a random subset of the anchors labelled `value`, leaving `keep`."""
    ids = np.nonzero(match == value)[0]
    if len(ids) > keep:
        match[rng.choice(ids, len(ids) - keep, replace=False)] = 0


@dataclass
class RoiTargets:
    """Sampled proposals of one image and their targets (fixed size TRAIN_ROIS_PER_IMAGE).

    rois [T, 4] normalized (zero rows pad); class_ids [T] (0 for negatives and padding);
    deltas [T, 4] (zero except for positives); gt_index [T] (-1 except for positives).
    Positives come first.
    """

    rois: np.ndarray
    class_ids: np.ndarray
    deltas: np.ndarray
    gt_index: np.ndarray

    @property
    def positives(self) -> int:
        return int((self.gt_index >= 0).sum())


def sample_rois(proposals: np.ndarray, gt_class_ids: np.ndarray, gt_boxes: np.ndarray, config,
                rng: np.random.Generator) -> RoiTargets:
    """Pick TRAIN_ROIS_PER_IMAGE proposals (ROI_POSITIVE_RATIO of them positive at most)."""
    total = config.TRAIN_ROIS_PER_IMAGE
    proposals = proposals[np.any(proposals != 0, axis=1)]
    if len(gt_boxes):
        overlaps = np_iou_matrix(proposals, gt_boxes)
        best_gt, best_iou = overlaps.argmax(axis=1), overlaps.max(axis=1)
    else:
        best_gt, best_iou = np.zeros(len(proposals), int), np.zeros(len(proposals))
    positive = np.nonzero(best_iou >= ROI_POSITIVE_IOU)[0]
    negative = np.nonzero(best_iou < ROI_POSITIVE_IOU)[0]
    positive = rng.permutation(positive)[: int(total * config.ROI_POSITIVE_RATIO)]
    # Negatives so that positives make ROI_POSITIVE_RATIO of the kept ROIs. Without any
    # positive, matterport keeps no negative either; here they fill the sample, so images
    # without objects still teach the background class.
    negative_count = int(len(positive) / config.ROI_POSITIVE_RATIO) - len(positive) if len(positive) else total
    negative = rng.permutation(negative)[: min(negative_count, total - len(positive))]
    rois = np.zeros((total, 4), np.float32)
    class_ids = np.zeros(total, np.int32)
    deltas = np.zeros((total, 4), np.float32)
    gt_index = np.full(total, -1, np.int32)
    p, n = len(positive), len(negative)
    rois[:p] = proposals[positive]
    rois[p : p + n] = proposals[negative]
    if p:
        assigned = best_gt[positive]
        gt_index[:p] = assigned
        class_ids[:p] = gt_class_ids[assigned]
        deltas[:p] = np_encode(proposals[positive], gt_boxes[assigned]) / np.asarray(config.BBOX_STD_DEV)
    return RoiTargets(rois, class_ids, deltas, gt_index)


def mask_targets(rois: np.ndarray, gt_index: np.ndarray, gt_masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Mask targets [P, h, w] (0/1 float32) of positive `rois` (normalized) from full-image `gt_masks` [G, H, W].

    Each ROI crops its ground-truth mask with the same bilinear sampling ROIAlign
    uses, resized to `shape`, rounded to 0/1.
    """
    if len(rois) == 0:
        return np.zeros((0, *shape), np.float32)
    from vidseg.maskrcnn import kernels

    images = np.asarray(gt_masks, np.float32)[..., None]
    crops = kernels.crop_and_resize(images, rois.astype(np.float32), gt_index.astype(np.int32), shape)
    return np.round(np.asarray(crops)[..., 0]).astype(np.float32)
