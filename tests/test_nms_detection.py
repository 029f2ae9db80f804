import numpy as np
from keras import ops

from vidseg.maskrcnn import Config
from vidseg.maskrcnn.boxes import np_iou_matrix
from vidseg.maskrcnn.detection import refine_detections
from vidseg.maskrcnn.kernels import nms_padded


def greedy_nms(boxes, scores, max_out, threshold):
    order = np.argsort(-scores, kind="stable")
    iou = np_iou_matrix(boxes, boxes)
    keep = []
    for i in order:
        if all(iou[i, k] <= threshold for k in keep):
            keep.append(i)
        if len(keep) == max_out:
            break
    return keep


def test_nms_matches_reference_greedy_and_pads():
    rng = np.random.default_rng(1)
    yx = rng.uniform(0, 0.7, (300, 2))
    b = np.concatenate([yx, yx + rng.uniform(0.05, 0.3, (300, 2))], 1).astype(np.float32)
    s = rng.uniform(size=300).astype(np.float32)
    keep, valid = (ops.convert_to_numpy(t) for t in nms_padded(b, s, 250, 0.5))
    expected = greedy_nms(b, s, 250, 0.5)
    assert valid.sum() == len(expected) < 250
    np.testing.assert_array_equal(keep[: len(expected)], expected)
    assert not valid[len(expected):].any() and (keep[len(expected):] == 0).all()


def detect(rois, probs, deltas, config, window=(0, 0, 1, 1)):
    out = refine_detections(
        np.array([rois], np.float32), np.array([probs], np.float32), np.array([deltas], np.float32),
        np.array([window], np.float32), config,
    )
    return [ops.convert_to_numpy(t)[0] for t in out]


def test_detection_per_class_nms_confidence_and_order():
    config = Config(num_classes=3, detection_min_confidence=0.5, detection_nms_threshold=0.3, detection_max_instances=4)
    rois = [
        [0.1, 0.1, 0.5, 0.5],  # class 1, 0.9
        [0.12, 0.1, 0.52, 0.5],  # class 1, 0.8: overlaps roi 0 -> suppressed
        [0.12, 0.1, 0.52, 0.5],  # class 2, 0.7: same place, other class -> kept
        [0.6, 0.6, 0.9, 0.9],  # class 1, 0.4: below confidence
        [0.6, 0.6, 0.9, 0.9],  # background, 0.95
        [0.0, 0.6, 0.3, 1.2],  # class 2, 0.6: clipped to the window
    ]
    probs = np.zeros((6, 3))
    for i, (cls, score) in enumerate([(1, 0.9), (1, 0.8), (2, 0.7), (1, 0.4), (0, 0.95), (2, 0.6)]):
        probs[i, cls] = score
        probs[i, (cls + 1) % 3] = 1 - score
    probs[3] = [0.35, 0.4, 0.25]
    deltas = np.zeros((6, 3, 4))
    boxes, class_ids, scores, count = detect(rois, probs, deltas, config)
    assert count == 3
    np.testing.assert_array_equal(class_ids, [1, 2, 2, 0])
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.6, 0], rtol=1e-6)
    np.testing.assert_allclose(boxes[:3], [rois[0], rois[2], [0.0, 0.6, 0.3, 1.0]], atol=1e-6)
    np.testing.assert_array_equal(boxes[3], 0)


def test_detection_applies_class_specific_deltas_scaled_by_std():
    config = Config(num_classes=2, detection_min_confidence=0.0)
    rois = [[0.2, 0.2, 0.4, 0.4]]
    probs = [[0.1, 0.9]]
    deltas = np.zeros((1, 2, 4))
    deltas[0, 1] = [1.0, 0.0, 0.0, 0.0]  # moves by 1 * std (0.1) * height (0.2) = 0.02
    deltas[0, 0] = [9.0, 9.0, 9.0, 9.0]  # background deltas are ignored
    boxes, class_ids, scores, count = detect(rois, probs, deltas, config)
    assert count == 1 and class_ids[0] == 1
    np.testing.assert_allclose(boxes[0], [0.22, 0.2, 0.42, 0.4], atol=1e-6)
