"""Winograd's 3x3 convolution (vidseg.maskrcnn.winograd): the float32 graphs OpenVINO runs compute the wide 3x3
convolutions by it, equal to the direct ones up to float rounding; the Keras model's own graphs never do."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import seeded_model

from vidseg.maskrcnn import winograd
from vidseg.maskrcnn.export import DENSE_OUTPUTS, concrete_function
from vidseg.maskrcnn.layers import conv
from vidseg.maskrcnn.preprocess import mold_batch


@pytest.mark.parametrize("tile", [4, 5, 6])
@pytest.mark.parametrize("shape", [(2, 16, 16, 8, 4), (1, 14, 14, 32, 16), (3, 13, 10, 5, 7), (1, 1, 1, 4, 4),
                                   (1, 6, 3, 2, 2), (1, 18, 24, 16, 8)])
def test_conv3x3_is_the_direct_convolution(shape, tile):
    n, h, w, c, k = shape
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=(n, h, w, c)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, c, k)).astype(np.float32)
    want = tf.nn.conv2d(x, kernel, 1, "SAME").numpy()
    got = winograd.conv3x3(tf.constant(x), kernel, tile).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    # traced with an unknown batch size, as the runtimes' graphs are
    traced = tf.function(lambda t: winograd.conv3x3(t, kernel, tile)).get_concrete_function(
        tf.TensorSpec([None, h, w, c], tf.float32))
    np.testing.assert_allclose(traced(tf.constant(x)).numpy(), got, rtol=0, atol=1e-6 * np.abs(want).max())


def test_f4x4_matrices_are_lavin_and_grays():
    """Toom-Cook's construction from the points 0, +-1, +-2 and infinity gives the published F(4x4, 3x3)."""
    a_t, g, b_t = winograd.matrices(4)
    np.testing.assert_array_equal(b_t, [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                                        [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]])
    np.testing.assert_allclose(g, [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                                   [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], rtol=1e-15)
    np.testing.assert_array_equal(a_t, [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                                        [0, 1, -1, 8, -8, 1]])


@pytest.mark.parametrize("tile", sorted(winograd.POINTS))
def test_each_tiles_matrices_compute_a_1d_correlation_exactly(tile):
    """A^T ((G g) * (B^T d)) is the valid correlation of d (m+2 long) with g (3 taps), up to float64 rounding."""
    a_t, g, b_t = winograd.matrices(tile)
    rng = np.random.default_rng(tile)
    d, taps = rng.normal(size=tile + 2), rng.normal(size=3)
    np.testing.assert_allclose(a_t @ ((g @ taps) * (b_t @ d)), np.correlate(d, taps, "valid"), rtol=0, atol=1e-13)


def test_each_layer_takes_the_tile_with_fewer_transformed_elements():
    assert winograd.tile_for(256, 256) == winograd.tile_for(128, 128) == winograd.tile_for(64, 64) == 6
    assert winograd.tile_for(32, 32) == winograd.tile_for(16, 16) == 4  # a tie: F(4x4)'s transforms cost less
    assert winograd.tile_for(8, 8) == winograd.tile_for(4, 4) == 4
    assert winograd.tile_for(18, 12) == winograd.tile_for(16, 12) == 6  # 3x2 tiles of 64 against 4x3 of 36
    assert winograd.tile_for(14, 14) == 5  # the mask head's: 3x3 tiles of 49 against 4x4 of 36 and 3x3 of 64
    assert winograd.tile_for(15, 10) == 5 and winograd.tile_for(20, 20) == 5


def test_only_wide_float32_3x3_convolutions_of_stride_1_in_traced_graphs_take_it():
    wide = keras.KerasTensor((1, 16, 16, winograd.MIN_CHANNELS))
    narrow = keras.KerasTensor((1, 16, 16, winograd.MIN_CHANNELS // 2))
    unsized = keras.KerasTensor((1, None, None, winograd.MIN_CHANNELS))
    same = conv(8, 3, "same3x3", padding="same")
    others = [conv(8, 1, "one"), conv(8, 3, "valid"), conv(8, 3, "strided", strides=2, padding="same"),
              conv(8, 3, "dilated", padding="same", dilation_rate=2),
              conv(8, 3, "bf16", padding="same", dtype="mixed_bfloat16")]
    assert not winograd.suits(same, wide)  # outside `tracing()`: the Keras model's own graphs
    with winograd.tracing():
        assert winograd.suits(same, wide)
        assert not winograd.suits(same, narrow) and not winograd.suits(same, unsized)
        assert not any(winograd.suits(layer, wide) for layer in others)
    assert not winograd.suits(same, wide)


def test_the_windows_are_one_gather_and_the_output_one_transpose():
    """The tiles' overlapping windows: one gather from the padded input, not slices and concatenations (on
    OpenVINO those ran on reference kernels and cost as much as the multiplies); no crop where the tiles fit."""
    kernel = np.ones((3, 3, 8, 4), np.float32)
    for size in ((16, 16), (15, 10), (18, 12)):  # F(4x4), F(5x5) and F(6x6), each without a crop
        traced = tf.function(lambda t: winograd.conv3x3(t, kernel)).get_concrete_function(
            tf.TensorSpec([None, *size, 8], tf.float32))
        ops = traced.graph.get_operations()
        kinds = [op.type for op in ops]
        assert kinds.count("GatherV2") == 1 and kinds.count("Transpose") == 1 and kinds.count("Pad") == 1
        assert "ConcatV2" not in kinds
        # the one slice reads the batch size off the input's shape
        assert [op.inputs[0].op.type for op in ops if op.type in ("StridedSlice", "Slice")] == ["Shape"]


def _matmuls(function) -> int:
    return sum(op.type in ("MatMul", "BatchMatMulV2", "BatchMatMulV3") for op in function.graph.get_operations())


def test_the_dense_part_traced_for_runtimes_is_the_direct_one_up_to_rounding():
    model = seeded_model(0)  # 256 FPN channels: the FPN's and RPN's 3x3 convolutions, and ResNet's widest
    images = mold_batch([np.random.default_rng(1).integers(0, 255, (96, 128, 3), np.uint8)], model.config)[0]
    own_before = [np.asarray(t) for t in model._features(images)[1:]]
    direct, fast = concrete_function(model, "dense"), concrete_function(model, "dense", fast_3x3=True)
    assert _matmuls(direct) == 0 < _matmuls(fast)
    want, got = direct(tf.constant(images)), fast(tf.constant(images))
    for name in DENSE_OUTPUTS:
        scale = float(np.abs(want[name]).max())
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-4 * scale, err_msg=name)
    own_after = [np.asarray(t) for t in model._features(images)[1:]]  # the Keras model's graphs are as they were
    for a, b in zip(own_before, own_after):
        np.testing.assert_array_equal(a, b)


def test_a_convolution_applied_at_several_levels_transforms_its_kernel_once_per_tile():
    """As the RPN's shared convolution on P2..P6: one kernel transform per tile side (P2..P4 by F(6x6), P5 and P6
    by F(4x4) at 1024x1024), three matrix products per application."""
    layer = conv(8, 3, "shared", padding="same")
    sizes = (64, 8, 4)
    assert [winograd.tile_for(s, s) for s in sizes] == [6, 4, 4]
    levels = [tf.TensorSpec([None, size, size, winograd.MIN_CHANNELS], tf.float32) for size in sizes]
    function = tf.function(lambda a, b, c: [layer(a), layer(b), layer(c)])
    with winograd.tracing():
        traced = function.get_concrete_function(*levels)
    assert _matmuls(traced) == 2 + 3 * 3
