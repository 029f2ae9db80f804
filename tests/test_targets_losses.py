import numpy as np
import pytest

from vidseg.maskrcnn import Config
from vidseg.maskrcnn import losses
from vidseg.maskrcnn.boxes import np_encode
from vidseg.maskrcnn.targets import mask_targets, rpn_targets, sample_rois


def test_anchor_matching_on_hand_made_boxes():
    config = Config(rpn_train_anchors_per_image=8)
    anchors = np.array([
        [0, 0, 10, 10],    # IoU 1.0 with gt 0: positive
        [0, 0, 10, 12],    # IoU 0.83 with gt 0: positive
        [0, 0, 20, 20],    # IoU 0.25: negative
        [50, 50, 60, 60],  # no overlap: negative
        [30, 30, 40, 48],  # IoU 0.56 with gt 1, below 0.7 but its best anchor: positive
        [30, 30, 36, 40],  # IoU 0.43 with gt 1: ignored (between 0.3 and 0.7)
    ], np.float64)
    gt = np.array([[0, 0, 10, 10], [30, 32, 40, 42]], np.float64)
    from vidseg.maskrcnn.boxes import np_iou_matrix

    np.testing.assert_allclose(np_iou_matrix(anchors[4:], gt[1:])[:, 0], [100 / 180, 48 / 112])
    match, deltas = rpn_targets(anchors, gt, config, np.random.default_rng(0))
    assert match.tolist() == [1, 1, -1, -1, 1, 0]
    np.testing.assert_allclose(deltas[0], [0, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(deltas[1], np_encode(anchors[1:2], gt[:1])[0] / [0.1, 0.1, 0.2, 0.2], rtol=1e-6)
    np.testing.assert_allclose(deltas[2], np_encode(anchors[4:5], gt[1:])[0] / [0.1, 0.1, 0.2, 0.2], rtol=1e-6)
    assert (deltas[3:] == 0).all()


def test_anchor_sampling_caps_positives_at_half():
    config = Config(rpn_train_anchors_per_image=10)
    anchors = np.array([[0, 0, 10, 10]] * 30 + [[100, 100, 110, 110]] * 30, np.float64)
    match, _ = rpn_targets(anchors, np.array([[0, 0, 10, 10]], np.float64), config, np.random.default_rng(1))
    assert (match == 1).sum() == 5 and (match == -1).sum() == 5


def test_roi_sampling_keeps_the_positive_ratio():
    config = Config(num_classes=3, train_rois_per_image=30, roi_positive_ratio=0.33)
    rng = np.random.default_rng(2)
    gt = np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9]], np.float32)
    near = gt[rng.integers(0, 2, 40)] + rng.uniform(-0.02, 0.02, (40, 4))
    far = rng.uniform(0, 0.05, (60, 2))
    far = np.concatenate([far, far + 0.04], axis=1)
    proposals = np.concatenate([near, far, np.zeros((20, 4))]).astype(np.float32)
    targets = sample_rois(proposals, np.array([1, 2]), gt, config, rng)
    assert targets.positives == int(30 * 0.33) == 9
    negatives = int((np.any(targets.rois != 0, axis=1) & (targets.gt_index < 0)).sum())
    assert negatives == int(9 / 0.33) - 9
    assert set(targets.class_ids[:9]) <= {1, 2} and (targets.class_ids[9:] == 0).all()
    assert (targets.deltas[9:] == 0).all() and np.abs(targets.deltas[:9]).max() < 2


def test_mask_targets_crop_the_assigned_mask():
    masks = np.zeros((2, 20, 20), np.float32)
    masks[0, :, :10] = 1  # left half
    masks[1, 10:, :] = 1  # bottom half
    rois = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], np.float32)
    out = mask_targets(rois, np.array([0, 1]), masks, (4, 4))
    assert out[0, :, :2].all() and not out[0, :, 2:].any()
    assert out[1, 2:].all() and not out[1, :2].any()


def test_losses_are_zero_for_perfect_predictions_and_positive_otherwise():
    match = np.array([[1, -1, 0]])
    good_logits = np.array([[[-20, 20], [20, -20], [0, 0]]], np.float32)
    assert float(losses.rpn_class_loss(match, good_logits)) < 1e-6
    assert float(losses.rpn_class_loss(match, -good_logits)) > 10
    target = np.zeros((1, 4, 4), np.float32)
    target[0, 0] = [0.5, -0.5, 1.0, 0.0]
    pred = np.zeros((1, 3, 4), np.float32)
    pred[0, 0] = [0.5, -0.5, 1.0, 0.0]
    assert float(losses.rpn_bbox_loss(match, target, pred)) == 0.0
    pred[0, 0, 2] = 3.0  # |diff| 2 -> 1.5 on one of 4 coordinates
    assert float(losses.rpn_bbox_loss(match, target, pred)) == pytest.approx(1.5 / 4)
    ids = np.array([[2, 0]])
    positive = np.array([[True, False]])
    deltas = np.zeros((1, 2, 3, 4), np.float32)
    deltas[0, 0, 1] = 5.0  # wrong class's deltas: ignored
    assert float(losses.bbox_loss(ids, np.zeros((1, 2, 4)), deltas, positive)) == 0.0
    masks = np.zeros((1, 2, 2, 2, 3), np.float32) + 0.5
    masks[0, 0, :, :, 2] = [[0.999, 0.001], [0.999, 0.001]]
    target_masks = np.array([[[[1, 0], [1, 0]], [[1, 1], [1, 1]]]], np.float32)
    assert float(losses.mask_loss(target_masks, masks, ids, positive)) < 0.01
    assert float(losses.mask_loss(1 - target_masks, masks, ids, positive)) > 5
    assert float(losses.mask_loss(target_masks, masks, ids, np.zeros_like(positive))) == 0.0
    logits = np.zeros((1, 2, 3), np.float32)
    assert float(losses.class_loss(ids, logits)) == pytest.approx(np.log(3), rel=1e-5)
