import numpy as np
from keras import ops

from vidseg.maskrcnn.roi_align import pyramid_roi_align, roi_levels


def square(side_px, image=1024):
    s = side_px / image
    return [0.1, 0.1, 0.1 + s, 0.1 + s]


def test_level_from_box_area():
    # sqrt(area) = 224 px maps to P4, each factor of 2 one level, clamped to P2..P5.
    b = np.array([square(224), square(112), square(56), square(448), square(20), square(1000),
                  square(224 * 2 ** 0.4), square(224 * 2 ** 0.6), [0, 0, 0, 0]], np.float32)
    levels = ops.convert_to_numpy(roi_levels(b, (1024, 1024)))
    np.testing.assert_array_equal(levels, [4, 3, 2, 5, 2, 5, 4, 5, 2])


def test_level_follows_pixel_size_in_the_molded_image():
    b = np.array([square(112, image=512), square(224, image=512)], np.float32)
    np.testing.assert_array_equal(ops.convert_to_numpy(roi_levels(b, (512, 512))), [3, 4])


def test_pooling_reads_the_assigned_level():
    # each level's feature map holds its level number; pooled crops must too.
    maps = [np.full((2, s, s, 3), float(level), np.float32) for level, s in zip(range(2, 6), (64, 32, 16, 8))]
    rois = np.array([[square(448), square(30)], [square(224), square(112)]], np.float32)
    pooled = ops.convert_to_numpy(pyramid_roi_align(rois, maps, 7, (1024, 1024)))
    assert pooled.shape == (2, 2, 7, 7, 3)
    expected = ops.convert_to_numpy(roi_levels(rois, (1024, 1024)))
    np.testing.assert_array_equal(expected, [[5, 2], [4, 3]])
    np.testing.assert_allclose(pooled, np.broadcast_to(expected[:, :, None, None, None], pooled.shape))


def test_pooling_samples_bilinearly_in_the_right_image():
    # a horizontal ramp: value = column index; image 1 is the ramp plus 100.
    ramp = np.tile(np.arange(64, dtype=np.float32)[None, :, None], (64, 1, 1))
    p2 = np.stack([ramp, ramp + 100])
    maps = [p2] + [np.zeros((2, s, s, 1), np.float32) for s in (32, 16, 8)]
    box = [0.0, 0.0, 0.1, 0.1]  # tiny box: level 2. Columns 0 .. 6.3 sampled at 7 points.
    pooled = ops.convert_to_numpy(pyramid_roi_align(np.array([[box], [box]], np.float32), maps, 7, (256, 256)))
    cols = np.linspace(0, 0.1 * 63, 7)
    np.testing.assert_allclose(pooled[0, 0, 3, :, 0], cols, rtol=1e-5)
    np.testing.assert_allclose(pooled[1, 0, 3, :, 0], cols + 100, rtol=1e-5)
