import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vidseg.maskrcnn import Config
from vidseg.maskrcnn.boxes import norm_boxes
from vidseg.maskrcnn.postprocess import Detections, crop_rle_counts, unmold
from vidseg.maskrcnn.preprocess import Molding, mold_frame, normalized_window, square_geometry
from vidseg.maskrcnn.resize import resize_like_skimage


def test_square_geometry_like_matterport():
    # 480x640 into 1024 with min_dim 800: scale 800/480 would make 1067 > 1024, so 1024/640.
    scale, size, window = square_geometry((480, 640), 800, 1024)
    assert scale == 1.6 and size == (768, 1024) and window == (128, 0, 896, 1024)
    # small frames are scaled up to min_dim; big ones are never below max_dim
    assert square_geometry((100, 100), 800, 1024)[1] == (800, 800)
    assert square_geometry((321, 241), 0, 512) == (1.0, (321, 241), (95, 135, 416, 376))


def test_mold_frame_pads_with_minus_mean_and_keeps_rgb():
    config = Config(image_min_dim=0, image_max_dim=64)
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[..., 0] = 200  # red channel only
    molded, molding = mold_frame(frame, config)
    assert molded.shape == (64, 64, 3) and molded.dtype == np.float32
    assert molding == Molding((32, 64), (16, 0, 48, 64), 1.0)
    np.testing.assert_allclose(molded[0, 0], -np.array([123.7, 116.8, 103.9]), rtol=1e-6)
    np.testing.assert_allclose(molded[20, 5], [200 - 123.7, -116.8, -103.9], rtol=1e-6)


@pytest.mark.parametrize("shape", [(40, 20), (64, 64), (30, 50), (7, 90)])
def test_mold_frame_equals_the_plain_per_pixel_formula(shape):
    config = Config(image_min_dim=0, image_max_dim=64)
    frame = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    molded, molding = mold_frame(frame, config)
    mean = np.array(config.MEAN_PIXEL, np.float32)
    want = np.broadcast_to(-mean, (64, 64, 3)).copy()
    y1, x1, y2, x2 = molding.window
    resized = frame if (y2 - y1, x2 - x1) == shape else resize_like_skimage(frame, (y2 - y1, x2 - x1)).astype(np.uint8)
    want[y1:y2, x1:x2] = resized.astype(np.float32) - mean
    np.testing.assert_array_equal(molded, want)
    with pytest.raises(ValueError, match="contiguous"):
        mold_frame(frame, config, out=np.zeros((64, 64, 4), np.float32)[..., :3])


def random_crop_masks(rng, shape):
    h, w = shape
    out = []
    for _ in range(30):
        y1, x1 = rng.integers(0, h - 1), rng.integers(0, w - 1)
        y2, x2 = rng.integers(y1 + 1, h + 1), rng.integers(x1 + 1, w + 1)
        out.append((np.array([y1, x1, y2, x2]), rng.random((y2 - y1, x2 - x1)) < rng.random()))
    # edge cases: full frame, touching the bottom edge across columns, single pixels at the corners
    out.append((np.array([0, 0, h, w]), np.ones((h, w), bool)))
    out.append((np.array([0, 3, h, 6]), np.ones((h, 3), bool)))
    out.append((np.array([h - 1, w - 1, h, w]), np.ones((1, 1), bool)))
    out.append((np.array([0, 0, 1, 1]), np.ones((1, 1), bool)))
    out.append((np.array([2, 2, 5, 5]), np.zeros((3, 3), bool)))
    return out


@pytest.mark.parametrize("shape", [(17, 23), (1, 9), (40, 1)])
def test_rle_from_crop_equals_pycocotools_on_the_full_mask(shape):
    rng = np.random.default_rng(3)
    for box, crop in random_crop_masks(rng, shape) if min(shape) > 1 else [(np.array([0, 0, *shape]), rng.random(shape) < 0.5)]:
        full = np.zeros(shape, np.uint8)
        full[box[0] : box[2], box[1] : box[3]] = crop
        expected = mask_utils.encode(np.asfortranarray(full))
        det = Detections(box[None].astype(np.int32), np.array([1]), np.array([0.9]), [crop], shape)
        (got,) = det.rle()
        assert got["counts"] == expected["counts"] and list(got["size"]) == list(shape)
        assert mask_utils.area(got) == crop.sum() == det.mask_areas[0]


def test_crop_counts_are_column_major_runs():
    counts = crop_rle_counts(np.array([[1, 0], [1, 1]], bool), np.array([1, 1, 3, 3]), (3, 3))
    # frame columns: [0,0,0] [0,1,1] [0,0,1] -> runs 4 zeros, 2 ones, 2 zeros, 1 one
    assert counts == [4, 2, 2, 1]


def test_unmold_maps_boxes_back_to_frame_pixels_and_resizes_masks():
    size = 128
    molding = Molding((48, 64), (16, 0, 112, 128), 2.0)  # a 48x64 frame scaled by 2 into 128
    # a detection covering frame pixels (y 10..30, x 8..40) -> molded (36..76, 16..80)
    molded_box = norm_boxes(np.array([[16 + 20, 16, 16 + 60, 80]]), (size, size))
    masks = np.zeros((2, 28, 28), np.float32)
    masks[0, :, :14] = 0.9  # left half on
    boxes = np.concatenate([molded_box, np.zeros((1, 4), np.float32)])
    det = unmold(boxes, np.array([3, 0]), np.array([0.8, 0.0], np.float32), masks, 1, molding, size)
    assert len(det) == 1 and det.image_shape == (48, 64)
    np.testing.assert_array_equal(det.boxes, [[10, 8, 30, 40]])
    assert det.class_ids.tolist() == [3] and det.scores.tolist() == pytest.approx([0.8])
    mask = det.masks[0]
    assert mask.shape == (20, 32)
    assert mask[:, :15].all() and not mask[:, 17:].any()


def test_unmold_drops_boxes_without_area():
    molding = Molding((10, 10), (0, 0, 64, 64), 6.4)
    # inverted boxes (also both sides inverted, whose "area" product is positive)
    boxes = np.array([[0.5, 0.5, 0.2, 0.7], [0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.3, 0.3]], np.float32)
    det = unmold(boxes, np.array([1, 2, 3]), np.array([0.9, 0.8, 0.7], np.float32), np.ones((3, 28, 28), np.float32), 3, molding, 64)
    assert det.class_ids.tolist() == [3]
    det = unmold(boxes[:2], np.array([1, 2]), np.array([0.9, 0.8], np.float32), np.ones((2, 28, 28), np.float32), 2, molding, 64)
    assert len(det) == 0 and det.full_masks().shape == (10, 10, 0) and det.rle() == []


def test_normalized_window():
    np.testing.assert_allclose(normalized_window((16, 0, 112, 128), 128), [16 / 127, 0, 111 / 127, 1], rtol=1e-6)


def test_too_elongated_frame_is_a_clear_error():
    from vidseg.core.errors import VidsegError

    with pytest.raises(VidsegError, match="5000x2 frame is too elongated"):
        mold_frame(np.zeros((2, 5000, 3), np.uint8), Config(image_min_dim=0, image_max_dim=128))


def test_full_masks_are_the_crops_placed_in_their_boxes():
    from vidseg.maskrcnn.postprocess import Detections, sparse_zeros

    rng = np.random.default_rng(1)
    boxes = np.array([[0, 0, 5, 7], [3, 2, 10, 12], [9, 11, 10, 12]], np.int32)
    crops = [rng.random((y2 - y1, x2 - x1)) > 0.5 for y1, x1, y2, x2 in boxes]
    det = Detections(boxes, np.array([1, 2, 3], np.int32), np.ones(3, np.float32), crops, (10, 12))
    full = det.full_masks()
    assert full.shape == (10, 12, 3) and full.dtype == bool
    for i, ((y1, x1, y2, x2), crop) in enumerate(zip(boxes, crops)):
        want = np.zeros((10, 12), bool)
        want[y1:y2, x1:x2] = crop
        np.testing.assert_array_equal(full[:, :, i], want)
    zeros = sparse_zeros((4, 1000, 1000))
    assert zeros.flags.writeable and not zeros.any()
