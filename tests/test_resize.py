import numpy as np
import pytest
from skimage.transform import resize

from vidseg.maskrcnn.resize import resize_like_skimage


def matterport_resize(image, size):
    """What matterport's utils.resize does (order 1, mode constant, no anti-aliasing)."""
    return resize(image, size, order=1, mode="constant", cval=0, clip=True, preserve_range=True, anti_aliasing=False)


@pytest.mark.parametrize("in_shape, out_shape", [((28, 28), (60, 50)), ((28, 28), (300, 250)), ((28, 28), (7, 3)),
                                                 ((28, 28), (1, 40)), ((48, 64, 3), (77, 103, 3)), ((90, 120, 3), (45, 61, 3))])
def test_matches_scikit_image(in_shape, out_shape):
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.9, in_shape).astype(np.float32)  # min > 0: clipping matters too
    ours = resize_like_skimage(image, out_shape[:2])
    assert ours.shape == out_shape
    np.testing.assert_allclose(ours, matterport_resize(image, out_shape), atol=2e-5)


def test_uint8_frames_truncate_like_matterport():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    ours = resize_like_skimage(frame, (77, 103)).astype(np.uint8)
    theirs = matterport_resize(frame, (77, 103, 3)).astype(np.uint8)
    assert (ours.astype(int) - theirs).max() <= 1 and (ours != theirs).mean() < 0.01
