"""mrcnn.utils (matterport's API) against scikit-image, SciPy, pycocotools and hand-computed values."""

import contextlib
import io
import logging
import random
import socket
import warnings

import cv2
import numpy as np
import pytest
import scipy.ndimage
from keras import ops
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from skimage.io import imread
from skimage.transform import resize as skimage_resize

from mrcnn import utils
from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.anchors import backbone_shapes, pyramid_anchors
from vidseg.maskrcnn.boxes import norm_boxes
from vidseg.maskrcnn.postprocess import unmold
from vidseg.maskrcnn.preprocess import Molding, square_geometry


def skimage_bilinear(image, size, preserve_range=True):
    """matterport's resize: scikit-image, order 1, zeros beyond the edge, no anti-aliasing."""
    return skimage_resize(image, size, order=1, mode="constant", cval=0, clip=True, preserve_range=preserve_range,
                          anti_aliasing=False)


def blocky_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 5 + 1, w // 5 + 1, 3), dtype=np.uint8)
    return np.kron(small, np.ones((5, 5, 1), np.uint8))[:h, :w]


def assert_equal_but_float_ties(ours, reference_float, cast):
    """`ours == cast(reference_float)` except where float32 rounding of the bilinear sum (vidseg's resize)
    against scikit-image's float64 tips the cast: there the reference lies within 1e-4 of the cast's step
    (an integer for uint8 truncation, 0.5 for masks), and the results differ by one step. Flat areas of an
    image (equal neighbours) sit exactly on integers, so a blocky image has a few percent of such pixels."""
    theirs = cast(reference_float)
    differ = ours != theirs
    if differ.any():
        frac = reference_float[differ] - np.floor(reference_float[differ])
        near = np.minimum(np.minimum(frac, 1 - frac), np.abs(frac - 0.5))
        assert near.max() < 1e-4, "differences away from a rounding step"
        assert np.abs(ours.astype(float) - theirs.astype(float)).max() <= 1


def rectangles_mask(shape, boxes):
    mask = np.zeros((*shape, len(boxes)), bool)
    for i, (y1, x1, y2, x2) in enumerate(boxes):
        mask[y1:y2, x1:x2, i] = True
    return mask


# ---------------------------------------------------------------------------------------------------------------
# Boxes
# ---------------------------------------------------------------------------------------------------------------

def test_extract_bboxes_exclusive_corners_and_zeros_for_empty_masks():
    mask = np.zeros((10, 12, 3), np.uint8)
    mask[2:5, 3:8, 0] = 1
    mask[4, 6, 0] = 0  # a hole changes nothing
    mask[9, 11, 1] = 1
    boxes = utils.extract_bboxes(mask)
    assert boxes.dtype == np.int32
    assert boxes.tolist() == [[2, 3, 5, 8], [9, 11, 10, 12], [0, 0, 0, 0]]


def test_box_overlaps_hand_computed():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(utils.compute_overlaps(a, b), [[25 / 175, 1, 0]])
    np.testing.assert_allclose(utils.compute_iou(a[0], b, 100, np.array([100, 100, 100])), [25 / 175, 1, 0])
    assert utils.compute_overlaps(np.zeros((0, 4)), b).shape == (0, 3)


def test_compute_overlaps_masks_hand_computed_and_empty_inputs():
    left = np.zeros((4, 4), bool)
    left[:, :2] = True
    top = np.zeros((4, 4), bool)
    top[:2] = True
    empty = np.zeros((4, 4), bool)
    masks1 = np.stack([left, empty], axis=2)
    masks2 = np.stack([top, left, empty], axis=2)
    # left & top: 4 shared pixels of 12; an empty mask overlaps nothing (not NaN).
    np.testing.assert_allclose(utils.compute_overlaps_masks(masks1, masks2), [[1 / 3, 1, 0], [0, 0, 0]])
    assert utils.compute_overlaps_masks(np.zeros((4, 4, 0)), masks2).shape == (0, 3)
    assert utils.compute_overlaps_masks(masks1, np.zeros((4, 4, 0))).shape == (2, 0)
    base_empty, _ = utils.Dataset().load_mask(0)  # matterport's empty mask is [0, 0, 0]
    assert not utils.compute_overlaps_masks(base_empty, masks2).any()


def test_non_max_suppression_hand_case():
    boxes = np.array([[0, 0, 10, 10], [0, 1, 10, 11], [0, 5, 10, 15], [20, 20, 30, 30]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU(0, 1) = 90/110, IoU(0, 2) = 50/150, IoU(1, 2) = 60/140; box 3 overlaps none.
    keep = utils.non_max_suppression(boxes, scores, 0.3)
    assert keep.dtype == np.int32 and keep.tolist() == [3, 0]
    assert utils.non_max_suppression(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert utils.non_max_suppression(boxes, scores, 0.9).tolist() == [3, 0, 1, 2]


def test_box_deltas_hand_computed_and_inverse():
    boxes = np.array([[0, 0, 10, 20], [5, 5, 9, 7]])
    deltas = np.array([[0.1, -0.2, np.log(2), 0.0], [0, 0, 0, 0]])
    # box 0: centre (5, 10) moves by (0.1 * 10, -0.2 * 20) to (6, 6); height 10 -> 20, width 20.
    moved = utils.apply_box_deltas(boxes, deltas)
    assert moved.dtype == np.float32
    np.testing.assert_allclose(moved, [[-4, -4, 16, 16], [5, 5, 9, 7]], atol=1e-5)
    np.testing.assert_allclose(utils.box_refinement(boxes, moved), deltas, atol=1e-6)
    graph = ops.convert_to_numpy(utils.box_refinement_graph(boxes, moved))
    np.testing.assert_allclose(graph, deltas, atol=1e-6)


def test_norm_denorm_boxes_matterport_convention():
    # (y2, x2) exclusive in pixels, inclusive once normalized: the whole 11x21 image is (0, 0, 1, 1).
    norm = utils.norm_boxes(np.array([[0, 0, 11, 21], [5, 10, 6, 11]]), (11, 21))
    np.testing.assert_allclose(norm, [[0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]])
    assert utils.denorm_boxes(norm, (11, 21)).tolist() == [[0, 0, 11, 21], [5, 10, 6, 11]]


# ---------------------------------------------------------------------------------------------------------------
# Resizing
# ---------------------------------------------------------------------------------------------------------------

def test_resize_image_square_hand_computed_and_like_scikit_image():
    image = blocky_image(50, 80)
    out, window, scale, padding, crop = utils.resize_image(image, min_dim=64, max_dim=100, mode="square")
    # min_dim asks 64/50 = 1.28, making 102 > 100 wide, so 100/80 = 1.25: 62.5 rounds (to even) to 62 rows.
    assert scale == 1.25 and out.shape == (100, 100, 3) and out.dtype == np.uint8
    assert window == (19, 0, 81, 100) and padding == [(19, 19), (0, 0), (0, 0)] and crop is None
    assert (scale, (62, 100), window) == square_geometry((50, 80), 64, 100)  # what inference uses
    assert not out[:19].any() and not out[81:].any()
    reference = skimage_bilinear(image, (62, 100))
    assert_equal_but_float_ties(out[19:81], reference, lambda x: x.astype(np.uint8))


def test_resize_image_min_scale_and_none_mode():
    image = blocky_image(20, 30)
    out, window, scale, padding, _ = utils.resize_image(image, min_dim=0, max_dim=100, min_scale=2, mode="square")
    assert scale == 2 and window == (30, 20, 70, 80)
    assert_equal_but_float_ties(out[30:70, 20:80], skimage_bilinear(image, (40, 60)), lambda x: x.astype(np.uint8))
    same, window, scale, padding, crop = utils.resize_image(image, min_dim=800, max_dim=1024, mode="none")
    assert same is image and window == (0, 0, 20, 30) and scale == 1 and crop is None
    assert padding == [(0, 0), (0, 0), (0, 0)]


def test_resize_image_pad64():
    image = blocky_image(70, 100)
    out, window, scale, padding, crop = utils.resize_image(image, min_dim=128, max_dim=1024, mode="pad64")
    # 128/70 scales to 128 x 183 (max_dim plays no part); 183 pads to 192: 4 left, 5 right.
    assert out.shape == (128, 192, 3) and window == (0, 4, 128, 187)
    assert padding == [(0, 0), (4, 5), (0, 0)] and crop is None and scale == 128 / 70
    assert not out[:, :4].any() and not out[:, 187:].any()
    assert_equal_but_float_ties(out[:, 4:187], skimage_bilinear(image, (128, 183)), lambda x: x.astype(np.uint8))
    with pytest.raises(VidsegError, match="multiple of 64"):
        utils.resize_image(image, min_dim=100, mode="pad64")


def test_resize_image_crop_draws_from_python_random():
    image = blocky_image(50, 80)
    random.seed(3)
    out, window, scale, padding, crop = utils.resize_image(image, min_dim=64, mode="crop")
    random.seed(3)
    y, x = random.randint(0, 0), random.randint(0, 102 - 64)  # scaled to 64 x 102 first
    assert crop == (y, x, 64, 64) and window == (0, 0, 64, 64) and scale == 64 / 50
    full = utils.resize_image(image, min_dim=64, mode="pad64")[0]  # the same scaling, no crop (64 x 102 -> 128)
    assert out.shape == (64, 64, 3)
    np.testing.assert_array_equal(out, full[:, 13 + x:13 + x + 64])
    with pytest.raises(VidsegError, match="not supported"):
        utils.resize_image(image, mode="stretch")


def test_resize_wrapper_scales_integers_like_scikit_image():
    image = blocky_image(30, 40)
    ours = utils.resize(image, (45, 50))
    assert ours.dtype == np.float64 and ours.max() <= 1
    np.testing.assert_allclose(ours, skimage_bilinear(image, (45, 50), preserve_range=False), atol=1e-6)
    floats = np.random.default_rng(1).uniform(0.2, 0.9, (17, 23))
    np.testing.assert_allclose(utils.resize(floats, (40, 11)), skimage_bilinear(floats, (40, 11)), atol=1e-6)


@pytest.mark.parametrize("shape, scale", [((28, 5), 0.5), ((32, 58), 0.5), ((38, 56), 800 / 38), ((50, 80), 1.25),
                                          ((7, 9), 3.3), ((64, 64), 1.0), ((45, 30), 0.37), ((1, 40), 2.0)])
def test_resize_mask_equals_scipy_zoom(shape, scale):
    # (28, 5) and (32, 58) at 0.5 are cases where zoom leaves the last row or column empty (see _zoom_rows).
    rng = np.random.default_rng(shape[0])
    mask = rng.random((*shape, 3)) > 0.4
    padding = [(2, 3), (1, 0), (0, 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zoomed = scipy.ndimage.zoom(mask, [scale, scale, 1], order=0)
    ours = utils.resize_mask(mask, scale, padding)
    assert ours.dtype == bool
    np.testing.assert_array_equal(ours, np.pad(zoomed, padding))
    np.testing.assert_array_equal(utils.resize_mask(mask, scale, padding, crop=(1, 0, 2, 3)), zoomed[1:3, 0:3])


def test_resize_mask_follows_resize_image():
    image = blocky_image(50, 80)
    mask = rectangles_mask((50, 80), [(10, 20, 30, 60)])
    out, window, scale, padding, crop = utils.resize_image(image, min_dim=64, max_dim=100, mode="square")
    resized = utils.resize_mask(mask, scale, padding, crop)
    assert resized.shape == (100, 100, 1)
    y1, x1, y2, x2 = utils.extract_bboxes(resized)[0]
    assert window[0] <= y1 and y2 <= window[2]  # the object stays inside the image's window
    assert abs(y1 - (19 + 10 * 1.25)) <= 1 and abs(x2 - 60 * 1.25) <= 1


def test_minimize_expand_round_trip_and_scikit_image():
    boxes_in = [(3, 4, 40, 30), (10, 10, 12, 50)]
    mask = rectangles_mask((48, 64), boxes_in)
    yy, xx = np.mgrid[:48, :64]
    disk = (yy - 24) ** 2 + (xx - 40) ** 2 < 15 ** 2
    mask = np.concatenate([mask, disk[:, :, None]], axis=2)
    bbox = utils.extract_bboxes(mask)
    mini = utils.minimize_mask(bbox, mask, (28, 28))
    assert mini.shape == (28, 28, 3) and mini.dtype == bool
    for i in range(3):
        y1, x1, y2, x2 = bbox[i]
        reference = skimage_bilinear(mask[y1:y2, x1:x2, i].astype(float), (28, 28))
        assert_equal_but_float_ties(mini[:, :, i], reference, lambda x: np.around(x).astype(bool))
    back = utils.expand_mask(bbox, mini, (48, 64, 3))
    assert back.shape == mask.shape and back.dtype == bool
    np.testing.assert_array_equal(back[:, :, :2], mask[:, :, :2])  # rectangles survive exactly
    iou = utils.compute_overlaps_masks(back[:, :, 2:], mask[:, :, 2:])[0, 0]
    assert iou > 0.95
    with pytest.raises(VidsegError, match="no area"):
        utils.minimize_mask(np.array([[5, 5, 5, 9]]), mask[:, :, :1], (28, 28))


def test_unmold_mask_is_the_inference_mask():
    rng = np.random.default_rng(5)
    size = 64
    boxes = np.array([[3, 4, 40, 30], [10, 10, 12, 61], [0, 0, 64, 64]])
    probs = rng.random((3, 28, 28)).astype(np.float32)
    detections = unmold(norm_boxes(boxes, (size, size)), np.array([1, 2, 3]), np.array([0.9, 0.8, 0.7]), probs, 3,
                        Molding((size, size), (0, 0, size, size), 1.0), size)
    np.testing.assert_array_equal(detections.boxes, boxes)
    full = detections.full_masks()
    for i, box in enumerate(boxes):
        ours = utils.unmold_mask(probs[i], box, (size, size, 3))
        assert ours.dtype == bool and ours.shape == (size, size)
        np.testing.assert_array_equal(ours, full[:, :, i])
        y1, x1, y2, x2 = box
        reference = skimage_bilinear(probs[i].astype(float), (y2 - y1, x2 - x1))
        assert_equal_but_float_ties(ours[y1:y2, x1:x2], reference, lambda x: x >= 0.5)
        assert not ours.sum() - ours[y1:y2, x1:x2].sum()
    with pytest.raises(NotImplementedError, match="placeholder"):
        utils.mold_mask(probs[0], None)


# ---------------------------------------------------------------------------------------------------------------
# Anchors
# ---------------------------------------------------------------------------------------------------------------

def test_generate_anchors_several_scales_hand_computed():
    anchors = utils.generate_anchors([32, 64], [0.5, 2], (2, 3), feature_stride=4, anchor_stride=1)
    assert anchors.shape == (2 * 3 * 4, 4)
    s = np.sqrt(2.0)
    # per position: (ratio 0.5, scale 32), (0.5, 64), (2, 32), (2, 64); ratio = width / height.
    np.testing.assert_allclose(anchors[:4], [[-16 * s, -8 * s, 16 * s, 8 * s], [-32 * s, -16 * s, 32 * s, 16 * s],
                                             [-8 * s, -16 * s, 8 * s, 16 * s], [-16 * s, -32 * s, 16 * s, 32 * s]])
    # the next position is one feature stride to the right
    np.testing.assert_allclose(anchors[4:8], anchors[:4] + [0, 4, 0, 4])
    np.testing.assert_allclose(anchors[12:16], anchors[:4] + [4, 0, 4, 0])  # row 1 after the 3 of row 0


def test_generate_pyramid_anchors_equals_the_models_anchors():
    scales, ratios, strides = (32, 64, 128, 256, 512), [0.5, 1, 2], [4, 8, 16, 32, 64]
    shapes = np.array(backbone_shapes((256, 192), strides))
    for anchor_stride in (1, 2):
        ours = utils.generate_pyramid_anchors(scales, ratios, shapes, strides, anchor_stride)
        model = pyramid_anchors(list(scales), ratios, (256, 192), strides, anchor_stride)
        assert ours.dtype == np.float64
        np.testing.assert_array_equal(ours, model)


# ---------------------------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------------------------

class ShapesDataset(utils.Dataset):
    """matterport's shapes sample in miniature: images and masks drawn with OpenCV."""

    def load_shapes(self, count, height, width):
        self.add_class("shapes", 1, "square")
        self.add_class("shapes", 2, "circle")
        self.add_class("shapes", 3, "triangle, pointy")
        for i in range(count):
            shapes = [("square", (0, 128, 255), (10 + i, 12, 6)), ("circle", (255, 0, 0), (30, 20 + i, 5))]
            self.add_image("shapes", image_id=i, path=None, width=width, height=height, shapes=shapes)

    def load_image(self, image_id):
        info = self.image_info[image_id]
        image = np.full((info["height"], info["width"], 3), 20, np.uint8)
        for shape, color, dims in info["shapes"]:
            image = self.draw_shape(image, shape, dims, color)
        return image

    def draw_shape(self, image, shape, dims, color):
        y, x, s = dims
        if shape == "square":
            cv2.rectangle(image, (x - s, y - s), (x + s, y + s), color, -1)
        else:
            cv2.circle(image, (x, y), s, color, -1)
        return image

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        mask = np.zeros((info["height"], info["width"], len(info["shapes"])), np.uint8)
        for i, (shape, _, dims) in enumerate(info["shapes"]):
            mask[:, :, i:i + 1] = self.draw_shape(mask[:, :, i:i + 1].copy(), shape, dims, 1)
        class_ids = np.array([self.class_names.index(s[0]) for s in info["shapes"]])
        return mask.astype(bool), class_ids.astype(np.int32)

    def image_reference(self, image_id):
        return self.image_info[image_id]["shapes"]


def test_dataset_prepare_over_two_sources():
    dataset = ShapesDataset()
    dataset.load_shapes(3, 48, 40)
    dataset.add_class("balloon", 1, "balloon")
    dataset.add_class("shapes", 2, "circle again")  # known (source, id): ignored
    dataset.add_image("balloon", image_id="b.jpg", path="b.jpg")
    dataset.prepare()
    assert dataset.num_classes == 5 and dataset.class_ids.tolist() == [0, 1, 2, 3, 4]
    assert dataset.class_names == ["BG", "square", "circle", "triangle", "balloon"]
    assert dataset.num_images == 4 and dataset.image_ids.tolist() == [0, 1, 2, 3]
    assert dataset.source_class_ids == {"": [0], "shapes": [0, 1, 2, 3], "balloon": [0, 4]}
    assert sorted(dataset.sources) == ["", "balloon", "shapes"]
    assert dataset.map_source_class_id("balloon.1") == 4 and dataset.map_source_class_id("shapes.1") == 1
    assert dataset.get_source_class_id(4, "balloon") == 1 and dataset.get_source_class_id(3, "shapes") == 3
    assert dataset.image_from_source_map == {"shapes.0": 0, "shapes.1": 1, "shapes.2": 2, "balloon.b.jpg": 3}
    assert dataset.source_image_link(3) == "b.jpg"
    with pytest.raises(VidsegError, match="balloon"):
        dataset.get_source_class_id(4, "shapes")
    with pytest.raises(VidsegError, match="dot"):
        dataset.add_class("a.b", 1, "x")


def test_shapes_subclass_masks_and_boxes():
    dataset = ShapesDataset()
    dataset.load_shapes(2, 48, 40)
    dataset.prepare()
    image = dataset.load_image(1)
    mask, class_ids = dataset.load_mask(1)
    assert image.shape == (48, 40, 3) and mask.shape == (48, 40, 2) and mask.dtype == bool
    assert class_ids.tolist() == [1, 2]
    # square centred (11, 12) with half side 6: rows 5..17, cols 6..18; circle of radius 5 at (30, 21)
    assert utils.extract_bboxes(mask).tolist() == [[5, 6, 18, 19], [25, 16, 36, 27]]
    assert (image[mask[:, :, 0]] == (0, 128, 255)).all()


def test_load_image_reads_rgb_like_scikit_image(tmp_path):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (9, 13), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((9, 13, 1), 77, np.uint8)], axis=2)
    dataset = utils.Dataset()
    for name, pixels in [("rgb.png", rgb[:, :, ::-1]), ("gray.png", gray), ("rgba.png", rgba[:, :, [2, 1, 0, 3]])]:
        cv2.imwrite(str(tmp_path / name), pixels)
        dataset.add_image("files", name, str(tmp_path / name))
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    dataset.add_image("files", "broken", str(tmp_path / "broken.jpg"))
    dataset.add_image("files", "missing", str(tmp_path / "missing.jpg"))
    dataset.prepare()
    np.testing.assert_array_equal(dataset.load_image(0), rgb)
    np.testing.assert_array_equal(dataset.load_image(1), np.stack([gray] * 3, axis=2))
    np.testing.assert_array_equal(dataset.load_image(2), rgb)
    for i, name in enumerate(["rgb.png", "gray.png", "rgba.png"]):
        reference = imread(tmp_path / name)
        reference = np.stack([reference] * 3, axis=2) if reference.ndim == 2 else reference[:, :, :3]
        np.testing.assert_array_equal(dataset.load_image(i), reference)
    with pytest.raises(VidsegError, match="broken.jpg"):
        dataset.load_image(3)
    with pytest.raises(VidsegError, match="missing.jpg"):
        dataset.load_image(4)


def test_base_load_mask_warns_and_returns_no_instances(caplog):
    with caplog.at_level(logging.WARNING):
        mask, class_ids = utils.Dataset().load_mask(0)
    assert mask.shape == (0, 0, 0) and class_ids.shape == (0,) and class_ids.dtype == np.int32
    assert "default load_mask()" in caplog.text


# ---------------------------------------------------------------------------------------------------------------
# Matching and average precision
# ---------------------------------------------------------------------------------------------------------------

def test_compute_matches_hand_case():
    gt = rectangles_mask((20, 20), [(0, 0, 10, 10), (10, 10, 20, 20)])
    gt_boxes, gt_class_ids = utils.extract_bboxes(gt), np.array([1, 2])
    # p0: gt 0 exactly; p1: gt 0 again (already taken: a false positive); p2: covers gt 1 with IoU 0.8, class 2; p3: gt 1 exactly but class 1 (no match).
    pred = rectangles_mask((20, 20), [(0, 0, 10, 10), (0, 0, 10, 10), (10, 10, 20, 18), (10, 10, 20, 20)])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    gt_match, pred_match, overlaps = utils.compute_matches(
        np.vstack([gt_boxes, np.zeros((2, 4))]), gt_class_ids, gt, utils.extract_bboxes(pred), np.array([1, 1, 2, 1]),
        scores, pred)
    # predictions in score order: p3, p0, p1, p2; the zero rows of padding are dropped
    assert pred_match.tolist() == [-1, 0, -1, 1] and gt_match.tolist() == [1, 3]
    np.testing.assert_allclose(overlaps, [[0, 1], [1, 0], [1, 0], [0, 0.8]])
    ap, precisions, recalls, _ = utils.compute_ap(gt_boxes, gt_class_ids, gt, utils.extract_bboxes(pred),
                                                  np.array([1, 1, 2, 1]), scores, pred)
    # hits at ranks 2 and 4: precision 1/2 at recall 1/2 and 2/4 at recall 1
    np.testing.assert_allclose(recalls, [0, 0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(precisions, [0.5, 0.5, 0.5, 0.5, 0.5, 0])
    assert ap == pytest.approx(0.5)


def test_a_match_of_the_top_prediction_is_taken():
    # matterport before its fix (PR #1018) let a second prediction take ground truth matched by prediction 0.
    gt = rectangles_mask((20, 20), [(0, 0, 10, 10)])
    preds = np.concatenate([gt, gt], axis=2)
    boxes = utils.extract_bboxes(preds)
    gt_match, pred_match, _ = utils.compute_matches(boxes[:1], np.array([1]), gt, boxes, np.array([1, 1]),
                                                    np.array([0.9, 0.8]), preds)
    assert gt_match.tolist() == [0] and pred_match.tolist() == [0, -1]


def test_compute_recall_and_ap_range(capsys):
    gt_boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]])
    pred_boxes = np.array([[0, 0, 10, 11], [1, 1, 10, 10], [21, 21, 35, 35], [60, 60, 70, 70]])
    # IoUs with their best ground truth (0, 0, 1, none): 100/110, 81/100, 81/215, 0
    recall, positive_ids = utils.compute_recall(pred_boxes, gt_boxes, 0.5)
    assert recall == pytest.approx(1 / 3) and positive_ids.tolist() == [0, 1]
    assert utils.compute_recall(pred_boxes, gt_boxes, 0.35)[0] == pytest.approx(2 / 3)
    masks = rectangles_mask((50, 50), gt_boxes)
    ap = utils.compute_ap_range(gt_boxes, np.ones(3), masks, gt_boxes, np.ones(3), np.array([0.9, 0.8, 0.7]), masks)
    assert ap == pytest.approx(1.0)
    printed = capsys.readouterr().out
    assert "AP @0.50:\t 1.000" in printed and "AP @0.50-0.95:\t 1.000" in printed
    assert utils.trim_zeros(np.array([[0, 0], [1, 0], [0, 0]])).tolist() == [[1, 0]]


def coco_ap50(gt_masks, pred_masks, scores):
    """COCOeval's AP at IoU 0.5 (segm, one image, one category), with its precision at recall 0 and at recall 1."""
    h, w = gt_masks.shape[:2]
    def rle(m):
        return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    gt = COCO()
    gt.dataset = {
        "images": [{"id": 1, "height": h, "width": w}], "categories": [{"id": 1, "name": "thing"}],
        "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "segmentation": rle(gt_masks[:, :, i]),
                         "area": float(gt_masks[:, :, i].sum()), "bbox": list(mask_utils.toBbox(rle(gt_masks[:, :, i]))),
                         "iscrowd": 0} for i in range(gt_masks.shape[2])]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([{"image_id": 1, "category_id": 1, "segmentation": rle(pred_masks[:, :, i]),
                          "score": float(scores[i])} for i in range(pred_masks.shape[2])])
        evaluation = COCOeval(gt, dt, "segm")
        evaluation.params.iouThrs = np.array([0.5])
        evaluation.evaluate()
        evaluation.accumulate()
    curve = evaluation.eval["precision"][0, :, 0, 0, -1]  # IoU 0.5, 101 recall points, area "all", 100 dets
    return curve.mean(), curve[0], curve[-1]


def matterport_ap(gt_masks, pred_masks, scores):
    ones_gt, ones_pred = np.ones(gt_masks.shape[2], np.int32), np.ones(pred_masks.shape[2], np.int32)
    return utils.compute_ap(utils.extract_bboxes(gt_masks), ones_gt, gt_masks, utils.extract_bboxes(pred_masks),
                            ones_pred, scores, pred_masks)[0]


def random_boxes(rng, n, size=64):
    y1, x1 = rng.integers(0, size - 12, (2, n))
    h, w = rng.integers(6, 20, (2, n))
    return np.stack([y1, x1, np.minimum(y1 + h, size), np.minimum(x1 + w, size)], axis=1)


def test_compute_ap_equals_coco_ap50_where_both_define_it_alike():
    # With all ground truth found and a flat precision envelope, COCO's 101-point mean and the
    # all-point area both equal that envelope's value.
    gt = rectangles_mask((64, 64), random_boxes(np.random.default_rng(0), 6))
    scores = np.linspace(0.9, 0.4, 6)
    assert matterport_ap(gt, gt, scores) == pytest.approx(1.0, abs=1e-6)
    assert coco_ap50(gt, gt, scores)[0] == pytest.approx(1.0, abs=1e-6)
    # A false positive ranked first: precision k/(k+1) at the k-th hit, envelope 6/7 everywhere.
    false_positive = rectangles_mask((64, 64), [(60, 0, 64, 4)])
    preds = np.concatenate([false_positive, gt], axis=2)
    scores = np.concatenate([[0.95], scores])
    assert matterport_ap(gt, preds, scores) == pytest.approx(6 / 7, abs=1e-6)
    assert coco_ap50(gt, preds, scores)[0] == pytest.approx(6 / 7, abs=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_compute_ap_within_the_interpolation_gap_of_coco(seed):
    """Both integrate the same non-increasing precision envelope f(recall), f = 0 past the last hit:
    matterport exactly (all points), COCO as the mean of f at the 101 recalls r_i = i/100 (its
    `recThrs`; it reads f at the first detection whose recall reaches r_i, as the envelope's step does).
    For non-increasing f, 0.01 * f(r_{i+1}) <= integral over [r_i, r_{i+1}] <= 0.01 * f(r_i); summing,
    0.01 * (S - f(0)) <= AP_all <= 0.01 * (S - f(1)) with S = 101 * AP_101, so
    0.01 * (AP_101 - f(0)) <= AP_all - AP_101 <= 0.01 * (AP_101 - f(1)): never more than 0.01 apart.
    """
    rng = np.random.default_rng(seed)
    gt_boxes = random_boxes(rng, int(rng.integers(3, 12)))
    found = gt_boxes[rng.random(len(gt_boxes)) < 0.8]
    jittered = found + rng.integers(-3, 4, found.shape)  # some stay above IoU 0.5, some fall below
    duplicates = found[rng.random(len(found)) < 0.3]
    pred_boxes = np.clip(np.vstack([jittered, duplicates, random_boxes(rng, int(rng.integers(1, 6)))]), 0, 64)
    gt = rectangles_mask((64, 64), gt_boxes)
    preds = rectangles_mask((64, 64), pred_boxes)
    keep = preds.any(axis=(0, 1))
    preds = preds[:, :, keep]
    scores = rng.permutation(np.linspace(0.05, 0.95, preds.shape[2]))
    ours = matterport_ap(gt, preds, scores)
    coco, f_start, f_end = coco_ap50(gt, preds, scores)
    slack = 1e-6  # matterport keeps recall in float32
    assert 0.01 * (coco - f_start) - slack <= ours - coco <= 0.01 * (coco - f_end) + slack


def test_batch_slice_stacks_each_output():
    a, b = np.arange(6).reshape(3, 2), np.arange(3)
    out = utils.batch_slice([a, b], lambda x, y: (x * y, y + 1), 3)
    np.testing.assert_array_equal(ops.convert_to_numpy(out[0]), a * b[:, None])
    np.testing.assert_array_equal(ops.convert_to_numpy(out[1]), b + 1)
    single = utils.batch_slice(a, lambda x: x.sum(), 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(single), [1, 5])


def test_download_trained_weights_offline_names_url_and_place(tmp_path, monkeypatch, capsys):
    with socket.socket() as s:  # a loopback port nobody listens on: the connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mask_rcnn_coco.h5"
    monkeypatch.setattr(utils, "COCO_MODEL_URL", url)
    target = tmp_path / "weights" / "mask_rcnn_coco.h5"
    with pytest.raises(VidsegError) as err:
        utils.download_trained_weights(str(target))
    assert url in str(err.value) and str(target) in str(err.value) and "by hand" in str(err.value)
    assert "Downloading pretrained model to" in capsys.readouterr().out
    assert not target.exists()
