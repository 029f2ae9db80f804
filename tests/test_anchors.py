import numpy as np

from vidseg.maskrcnn import Config
from vidseg.maskrcnn.anchors import backbone_shapes, level_anchors, normalized_anchors, pyramid_anchors


def test_backbone_shapes_round_up():
    assert backbone_shapes((100, 64), [4, 8, 16, 32, 64]) == [(25, 16), (13, 8), (7, 4), (4, 2), (2, 1)]


def test_level_anchors_hand_computed():
    a = level_anchors(32, [0.5, 1, 2], (2, 3), feature_stride=4, anchor_stride=1)
    assert a.shape == (2 * 3 * 3, 4)
    s = np.sqrt(2.0)
    # position (0, 0): ratio 0.5 is tall (h = 32 * sqrt 2), ratio 1 square, ratio 2 wide.
    np.testing.assert_allclose(a[0], [-16 * s, -8 * s, 16 * s, 8 * s])
    np.testing.assert_allclose(a[1], [-16, -16, 16, 16])
    np.testing.assert_allclose(a[2], [-8 * s, -16 * s, 8 * s, 16 * s])
    # then along the row: position (0, 1) is centred at x = 4.
    np.testing.assert_allclose(a[4], [-16, -12, 16, 20])
    # position (1, 0), after the 3 positions of row 0: centred at y = 4.
    np.testing.assert_allclose(a[3 * 3 + 1], [-12, -16, 20, 16])


def test_anchor_stride_skips_positions():
    a = level_anchors(32, [1], (4, 4), feature_stride=8, anchor_stride=2)
    centres = (a[:, :2] + a[:, 2:]) / 2
    np.testing.assert_allclose(centres, [[0, 0], [0, 16], [16, 0], [16, 16]])


def test_pyramid_anchors_for_a_config():
    c = Config(image_min_dim=64, image_max_dim=64)
    pixels = pyramid_anchors(c.RPN_ANCHOR_SCALES, c.RPN_ANCHOR_RATIOS, (64, 64), c.BACKBONE_STRIDES, 1)
    assert pixels.shape == ((16 * 16 + 8 * 8 + 4 * 4 + 2 * 2 + 1) * 3, 4)
    # first anchor of P3 (after 16*16*3 of P2): scale 64, ratio 0.5, at (0, 0).
    s = np.sqrt(2.0)
    np.testing.assert_allclose(pixels[16 * 16 * 3], [-32 * s, -16 * s, 32 * s, 16 * s])
    # the single P6 position, square anchor of scale 512.
    np.testing.assert_allclose(pixels[-2], [-256, -256, 256, 256])
    norm = normalized_anchors(c)
    np.testing.assert_allclose(norm[-2], [-256 / 63, -256 / 63, 255 / 63, 255 / 63], rtol=1e-6)
    assert norm.dtype == np.float32
