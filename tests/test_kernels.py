"""The generic keras.ops paths of vidseg.maskrcnn.kernels (what JAX and PyTorch run) agree with TensorFlow's.

The whole model on the generic paths is tested under JAX (tests/test_backends.py).
"""

import numpy as np
import pytest

from vidseg.maskrcnn import kernels


@pytest.fixture
def generic(monkeypatch):
    def run(fn, *args):
        monkeypatch.setenv("VIDSEG_GENERIC_OPS", "1")
        try:
            return fn(*args)
        finally:
            monkeypatch.delenv("VIDSEG_GENERIC_OPS")
    return run


def random_boxes(rng, n, spread=1.0):
    y1, x1 = rng.uniform(-0.1, 0.9 * spread, (2, n))
    h, w = rng.uniform(0.01, 0.4, (2, n))
    return np.stack([y1, x1, y1 + h, x1 + w], 1).astype(np.float32)


def test_fast_path_is_tensorflows_unless_switched_off(generic):
    assert kernels.fast_path()
    assert generic(kernels.fast_path) is False


def test_crop_and_resize_generic_matches_tensorflow(generic):
    rng = np.random.default_rng(0)
    fmap = rng.normal(size=(2, 13, 17, 5)).astype(np.float32)
    boxes = random_boxes(rng, 40)
    boxes[:3] = [[0, 0, 1, 1], [0.2, 0.3, 0.2, 0.3], [-0.5, -0.5, 1.5, 1.5]]  # whole map, a point, partly outside
    index = rng.integers(0, 2, 40).astype(np.int32)
    for size in [(7, 7), (14, 14), (1, 3)]:
        want = np.asarray(kernels.crop_and_resize(fmap, boxes, index, size))
        got = np.asarray(generic(kernels.crop_and_resize, fmap, boxes, index, size))
        assert got.shape == want.shape == (40, *size, 5)
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert (want[2] == 0).any() and (want[0] != 0).all()  # outside samples are zero, inside ones are not


@pytest.mark.parametrize("n, max_output, threshold", [(60, 20, 0.3), (60, 100, 0.5), (8, 5, 0.0)])
def test_nms_generic_matches_tensorflow(generic, n, max_output, threshold):
    rng = np.random.default_rng(n + max_output)
    boxes = random_boxes(rng, n, spread=0.5)  # crowded: plenty to suppress
    scores = rng.permutation(n).astype(np.float32) / n  # distinct scores: the order is defined
    want_ix, want_valid = (np.asarray(a) for a in kernels.nms_padded(boxes, scores, max_output, threshold, 0.1))
    got_ix, got_valid = (np.asarray(a) for a in generic(kernels.nms_padded, boxes, scores, max_output, threshold, 0.1))
    assert got_ix.shape == want_ix.shape == (max_output,) and got_ix.dtype == np.int32
    np.testing.assert_array_equal(got_valid, want_valid)
    np.testing.assert_array_equal(got_ix, want_ix)
    kept = want_ix[want_valid]
    assert len(kept) and not np.array_equal(kept, np.argsort(-scores)[:len(kept)])  # something was suppressed


def test_nms_generic_matches_tensorflow_on_a_chain_and_at_rpn_size(generic):
    # a chain: each box overlaps only its neighbours, in score order, so greedy keeps every
    # other one and each survivor depends on all before it (the generic NMS's slowest case)
    n = 50
    x = np.arange(n, dtype=np.float32) * 0.01
    chain = np.stack([np.zeros(n), x, np.full(n, 0.1), x + 0.02], 1).astype(np.float32)  # neighbours IoU 1/3
    scores = np.linspace(1, 0.5, n).astype(np.float32)
    want = [np.asarray(a) for a in kernels.nms_padded(chain, scores, n, 0.3)]
    got = [np.asarray(a) for a in generic(kernels.nms_padded, chain, scores, n, 0.3)]
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[0], want[0])
    # greedy keeps 0, 2, 4, ...: box 2's neighbour 1 fell to box 0, box 4's to box 2, and so on
    assert list(want[0][want[1]]) == list(range(0, n, 2))
    # the RPN's size: 6,000 candidates down to 1,000
    rng = np.random.default_rng(11)
    boxes = random_boxes(rng, 6000)
    scores = (rng.permutation(6000) / 6000).astype(np.float32)  # distinct: the order is defined
    want = [np.asarray(a) for a in kernels.nms_padded(boxes, scores, 1000, 0.7)]
    got = [np.asarray(a) for a in generic(kernels.nms_padded, boxes, scores, 1000, 0.7)]
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[0], want[0])


def test_nms_over_overlaps_generic_matches_tensorflow(generic):
    from vidseg.maskrcnn.boxes import iou_matrix

    rng = np.random.default_rng(3)
    boxes = random_boxes(rng, 50, spread=0.4)
    classes = rng.integers(0, 3, 50)
    overlaps = np.where(classes[:, None] == classes[None], np.asarray(iou_matrix(boxes, boxes)), 0).astype(np.float32)
    scores = np.where(rng.random(50) < 0.2, -1.0, rng.random(50)).astype(np.float32)  # some rejected
    args = (overlaps, scores, 20, 0.3, -0.5)
    for want, got in zip(kernels.nms_overlaps_padded(*args), generic(kernels.nms_overlaps_padded, *args)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_crop_by_level_generic_matches_tensorflows_per_level_crops(generic):
    rng = np.random.default_rng(5)
    maps = [rng.normal(size=(2, s, s, 4)).astype(np.float32) for s in (32, 16, 8, 4)]
    boxes = random_boxes(rng, 30)
    index = rng.integers(0, 2, 30).astype(np.int32)
    levels = rng.integers(2, 6, 30).astype(np.int32)
    levels[:4] = 3  # a level with several boxes; level 5 may get none: an empty crop must work
    want = np.asarray(kernels.crop_by_level(maps, boxes, index, levels, (7, 7)))
    got = np.asarray(generic(kernels.crop_by_level, maps, boxes, index, levels, (7, 7)))
    np.testing.assert_allclose(got, want, atol=1e-5)
    for k in (0, 10, 29):  # and each box comes from its own level
        own = np.asarray(kernels.crop_and_resize(maps[levels[k] - 2], boxes[k:k + 1], index[k:k + 1], (7, 7)))[0]
        np.testing.assert_allclose(want[k], own, atol=1e-6)
    none = np.asarray(kernels.crop_by_level(maps, boxes[:0], index[:0], levels[:0], (7, 7)))
    assert none.shape == (0, 7, 7, 4)
