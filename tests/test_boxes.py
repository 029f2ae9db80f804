import numpy as np
from keras import ops

from vidseg.maskrcnn import boxes


def random_boxes(rng, n):
    yx = rng.uniform(0, 0.8, (n, 2))
    hw = rng.uniform(0.01, 0.5, (n, 2))
    return np.concatenate([yx, yx + hw], axis=1).astype(np.float32)


def test_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    anchors, gt = random_boxes(rng, 500), random_boxes(rng, 500)
    deltas = ops.convert_to_numpy(boxes.encode(anchors, gt))
    back = ops.convert_to_numpy(boxes.decode(anchors, deltas))
    np.testing.assert_allclose(back, gt, atol=1e-5)


def test_decode_hand_computed():
    # box 10x20 centred at (5, 10); shift centre by half a height and double the width.
    box = np.array([[0.0, 0.0, 10.0, 20.0]], np.float32)
    deltas = np.array([[0.5, 0.0, 0.0, np.log(2.0)]], np.float32)
    np.testing.assert_allclose(ops.convert_to_numpy(boxes.decode(box, deltas)), [[5, -10, 15, 30]], atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(boxes.encode(box, np.array([[5, -10, 15, 30.0]], np.float32))), deltas, atol=1e-6)


def test_clip_to_window_per_image():
    b = np.array([[[-0.1, 0.2, 0.5, 1.3]], [[0.1, 0.1, 0.9, 0.9]]], np.float32)
    windows = np.array([[0, 0, 1, 1], [0.2, 0.0, 0.8, 1.0]], np.float32)
    np.testing.assert_allclose(
        ops.convert_to_numpy(boxes.clip(b, windows)), [[[0, 0.2, 0.5, 1.0]], [[0.2, 0.1, 0.8, 0.9]]], atol=1e-7
    )


def test_norm_denorm_follow_matterport_convention():
    # a 100x200 image: pixel box (0, 0, 100, 200) covers it all and maps to (0, 0, 1, 1).
    np.testing.assert_allclose(boxes.norm_boxes(np.array([[0, 0, 100, 200]]), (100, 200)), [[0, 0, 1, 1]])
    np.testing.assert_allclose(boxes.norm_boxes(np.array([[33, 0, 34, 200]]), (100, 200)), [[1 / 3, 0, 1 / 3, 1]], rtol=1e-6)
    px = np.array([[10, 20, 50, 120], [0, 0, 1, 1]])
    np.testing.assert_array_equal(boxes.denorm_boxes(boxes.norm_boxes(px, (100, 200)), (100, 200)), px)


def test_iou_hand_computed():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], np.float32)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 5, 5]], np.float32)
    expected = [[1 / 7, 1.0, 0.0], [0.0, 0.25, 0.0]]
    np.testing.assert_allclose(ops.convert_to_numpy(boxes.iou_matrix(a, b)), expected, rtol=1e-6)
    np.testing.assert_allclose(boxes.np_iou_matrix(a, b), expected, rtol=1e-6)
