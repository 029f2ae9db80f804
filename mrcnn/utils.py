"""matterport's `mrcnn.utils` API (boxes, masks, anchors, resizing, `Dataset`, AP metrics) over vidseg's parts.

Names, arguments, return types and results follow matterport's published
`mrcnn/utils.py`, so code written against it runs unchanged. Where vidseg already
holds a fact, this module calls it instead of restating it, so training data,
inference and these helpers cannot drift apart:
- bilinear resizing as scikit-image does it: `vidseg.maskrcnn.resize.resize_like_skimage`
  (scikit-image is not needed; results agree with it up to float32 rounding);
- the "square" placement (scale, size, window): `vidseg.maskrcnn.preprocess.square_geometry`,
  the one the model's inference uses;
- anchors: `vidseg.maskrcnn.anchors.level_anchors`; box coding and IoU, pixel <-> normalized
  boxes: `vidseg.maskrcnn.boxes`;
- the COCO weights download (resumable, checked): `vidseg.core.download`.
Boxes are `(y1, x1, y2, x2)` pixels with `y2`/`x2` exclusive, masks `[H, W, N]`.
"""

from __future__ import annotations

import logging
import random
import sys
from pathlib import Path

import cv2
import numpy as np
from keras import ops

from vidseg.core import download
from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.anchors import level_anchors
from vidseg.maskrcnn.boxes import decode, denorm_boxes, encode, mask_boxes, norm_boxes, np_encode, np_iou_matrix
from vidseg.maskrcnn.preprocess import square_geometry
from vidseg.maskrcnn.resize import resize_like_skimage

__all__ = [
    "COCO_MODEL_URL", "Dataset", "apply_box_deltas", "batch_slice", "box_refinement", "box_refinement_graph",
    "compute_ap", "compute_ap_range", "compute_iou", "compute_matches", "compute_overlaps",
    "compute_overlaps_masks", "compute_recall", "denorm_boxes", "download_trained_weights", "expand_mask",
    "extract_bboxes", "generate_anchors", "generate_pyramid_anchors", "minimize_mask", "mold_mask",
    "non_max_suppression", "norm_boxes", "resize", "resize_image", "resize_mask", "trim_zeros", "unmold_mask",
]

logger = logging.getLogger(__name__)

# Where `download_trained_weights` fetches matterport's COCO weights (read at call time).
COCO_MODEL_URL = download.COCO_WEIGHTS_URL


############################################################
#  Boxes
############################################################

def extract_bboxes(mask: np.ndarray) -> np.ndarray:
    """Tight boxes of masks [H, W, N] -> int32 [N, (y1, x1, y2, x2)], `y2`/`x2` exclusive; zeros for an empty mask."""
    return mask_boxes(np.moveaxis(np.asarray(mask), -1, 0))


def compute_iou(box: np.ndarray, boxes: np.ndarray, box_area: float, boxes_area: np.ndarray) -> np.ndarray:
    """IoU of one box with each of `boxes` [N, 4], given the areas (the caller computes them once)."""
    box = np.asarray(box)
    boxes = np.asarray(boxes)
    inter_h = np.maximum(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0)
    inter_w = np.maximum(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0)
    intersection = inter_h * inter_w
    return intersection / (box_area + np.asarray(boxes_area) - intersection)


def compute_overlaps(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU matrix [N1, N2] (float64) of two sets of boxes; 0 where a pair has no area at all."""
    return np_iou_matrix(np.asarray(boxes1).reshape(-1, 4), np.asarray(boxes2).reshape(-1, 4))


def compute_overlaps_masks(masks1: np.ndarray, masks2: np.ndarray) -> np.ndarray:
    """IoU matrix [N1, N2] of masks [H, W, N1] and [H, W, N2] (pixels > 0.5 count); zeros if either is empty.

    A pair of two empty masks gets 0 (matterport divides 0 by 0 there).
    """
    masks1, masks2 = np.asarray(masks1), np.asarray(masks2)
    n1, n2 = masks1.shape[-1], masks2.shape[-1]
    if masks1.size == 0 or masks2.size == 0:
        return np.zeros((n1, n2))
    flat1 = (masks1 > 0.5).reshape(-1, n1).astype(np.float32)
    flat2 = (masks2 > 0.5).reshape(-1, n2).astype(np.float32)
    intersections = flat1.T @ flat2
    unions = flat1.sum(axis=0)[:, None] + flat2.sum(axis=0)[None, :] - intersections
    return np.divide(intersections, unions, out=np.zeros_like(intersections), where=unions > 0)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS: indices (int32) of the boxes kept, best score first; a box goes when its IoU with a kept one
    exceeds `threshold`."""
    boxes = np.asarray(boxes)
    order = np.asarray(scores).argsort()[::-1]  # the order (ties included) matterport visits boxes in
    keep = []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(best)
        order = order[np_iou_matrix(boxes[best:best + 1], boxes[order])[0] <= threshold]
    return np.array(keep, dtype=np.int32)


def apply_box_deltas(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Boxes [N, 4] moved by `(dy, dx, log dh, log dw)` deltas [N, 4] -> float32 [N, 4]."""
    moved = decode(np.asarray(boxes, np.float32), np.asarray(deltas, np.float32))
    return np.asarray(ops.convert_to_numpy(moved), np.float32)


def box_refinement(box: np.ndarray, gt_box: np.ndarray) -> np.ndarray:
    """Deltas `(dy, dx, log dh, log dw)` (float32 [N, 4]) that turn `box` [N, 4] into `gt_box` [N, 4]."""
    return np_encode(np.asarray(box, np.float32), np.asarray(gt_box, np.float32))


def box_refinement_graph(box, gt_box):
    """`box_refinement` on tensors (keras.ops: any Keras backend); inputs cast to float32."""
    return encode(ops.cast(box, "float32"), ops.cast(gt_box, "float32"))


############################################################
#  Dataset
############################################################

class Dataset:
    """Base class of a dataset: subclass it, add classes and images, override `load_mask` (and
    `load_image`, `image_reference` where needed), then call `prepare()`.

    Class 0 is the background of every source; internal class and image ids are
    positions in `class_info` and `image_info`.
    """

    def __init__(self, class_map=None):
        self._image_ids = []
        self.image_info = []
        self.class_info = [{"source": "", "id": 0, "name": "BG"}]
        self.source_class_ids = {}

    def add_class(self, source: str, class_id: int, class_name: str) -> None:
        if "." in source:
            raise VidsegError(f"dataset source {source!r}: a source name cannot contain a dot")
        if any(info["source"] == source and info["id"] == class_id for info in self.class_info):
            return
        self.class_info.append({"source": source, "id": class_id, "name": class_name})

    def add_image(self, source: str, image_id, path, **kwargs) -> None:
        self.image_info.append({"id": image_id, "source": source, "path": path, **kwargs})

    def image_reference(self, image_id: int) -> str:
        """A link or description of the image for debugging; override it (this one returns "")."""
        return ""

    def prepare(self, class_map=None) -> None:
        """Build the id tables from `class_info` and `image_info` (call after adding, again after changes)."""
        self.num_classes = len(self.class_info)
        self.class_ids = np.arange(self.num_classes)
        # The display name is what comes before the first comma (ImageNet-style "a, b" names).
        self.class_names = [info["name"].split(",")[0] for info in self.class_info]
        self.num_images = len(self.image_info)
        self._image_ids = np.arange(self.num_images)
        self.class_from_source_map = {f"{info['source']}.{info['id']}": class_id
                                      for info, class_id in zip(self.class_info, self.class_ids)}
        self.image_from_source_map = {f"{info['source']}.{info['id']}": image_id
                                      for info, image_id in zip(self.image_info, self._image_ids)}
        self.sources = list(dict.fromkeys(info["source"] for info in self.class_info))
        self.source_class_ids = {
            source: [i for i, info in enumerate(self.class_info) if i == 0 or info["source"] == source]
            for source in self.sources
        }

    def map_source_class_id(self, source_class_id: str) -> int:
        """Internal class id of a `"source.id"` string, e.g. `"coco.12"`."""
        return self.class_from_source_map[source_class_id]

    def get_source_class_id(self, class_id: int, source: str):
        """The id that `source` gives internal class `class_id`."""
        info = self.class_info[class_id]
        if info["source"] != source:
            raise VidsegError(f"class {class_id} ({info['name']!r}) comes from source {info['source']!r}, "
                              f"not {source!r}")
        return info["id"]

    def append_data(self, class_info, image_info):
        raise NotImplementedError("Dataset.append_data: matterport's is unfinished (it reads keys its datasets "
                                  "never set); add classes and images with add_class and add_image")

    @property
    def image_ids(self) -> np.ndarray:
        return self._image_ids

    def source_image_link(self, image_id: int):
        """The path (or URL) of the image."""
        return self.image_info[image_id]["path"]

    def load_image(self, image_id: int) -> np.ndarray:
        """The image at `image_info[image_id]["path"]` as an RGB array [H, W, 3] of the file's dtype.

        Grayscale becomes three equal channels and an alpha channel is dropped,
        as matterport's scikit-image reader gives them; EXIF orientation is ignored, as there.
        """
        path = self.image_info[image_id]["path"]
        return _read_rgb(path, f"image {image_id}")

    def load_mask(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Instance masks bool [H, W, N] and class ids int32 [N]; override it (this one returns no instances)."""
        logger.warning("You are using the default load_mask(), maybe you need to define your own one.")
        return np.empty([0, 0, 0]), np.empty([0], np.int32)


def _read_rgb(path, what: str = "image") -> np.ndarray:
    """Read an image file as RGB [H, W, 3], keeping its dtype (see `Dataset.load_image`)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as err:
        raise VidsegError(f"{what}: cannot read {path}: {err.strerror or err}") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise VidsegError(f"{what}: {path} is not an image file OpenCV can decode")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, 2::-1])  # BGR(A) -> RGB


############################################################
#  Resizing images and masks
############################################################

def _as_float(image: np.ndarray) -> np.ndarray:
    """scikit-image's `img_as_float`: integers scaled by their dtype's maximum, bool to 0/1."""
    if image.dtype == bool:
        return image.astype(np.float64)
    if np.issubdtype(image.dtype, np.unsignedinteger):
        return image / np.iinfo(image.dtype).max
    if np.issubdtype(image.dtype, np.signedinteger):
        return np.maximum(image / np.iinfo(image.dtype).max, -1.0)
    return image


def resize(image, output_shape, order=1, mode="constant", cval=0, clip=True, preserve_range=False,
           anti_aliasing=False, anti_aliasing_sigma=None) -> np.ndarray:
    """matterport's wrapper of `skimage.transform.resize` (float64 result, as scikit-image returns).

    Its defaults (bilinear, zeros beyond the edge, clipped, no anti-aliasing) run
    on `resize_like_skimage`; other settings are passed to scikit-image, which must
    then be installed.
    """
    image = np.asarray(image)
    if not (order == 1 and mode == "constant" and cval == 0 and clip and not anti_aliasing):
        try:
            from skimage.transform import resize as skimage_resize
        except ImportError:
            raise VidsegError("mrcnn.utils.resize: only order=1, mode='constant', cval=0, clip=True without "
                              "anti-aliasing work without scikit-image; pip install scikit-image") from None
        return skimage_resize(image, output_shape, order=order, mode=mode, cval=cval, clip=clip,
                              preserve_range=preserve_range, anti_aliasing=anti_aliasing,
                              anti_aliasing_sigma=anti_aliasing_sigma)
    output_shape = tuple(int(n) for n in output_shape)
    if output_shape[2:] not in ((), image.shape[2:]):
        raise VidsegError(f"mrcnn.utils.resize: cannot resize a {image.shape} array to {output_shape}: "
                          "only height and width can change")
    source = image if preserve_range else _as_float(image)
    return resize_like_skimage(source, output_shape[:2]).astype(np.float64)


def resize_image(image: np.ndarray, min_dim=None, max_dim=None, min_scale=None, mode="square"):
    """Resize keeping the aspect ratio -> (image, window, scale, padding, crop), image in its input dtype.

    mode "none": unchanged. "square": scale up so the short side is at least
    `min_dim` (and by at least `min_scale`), but the long side at most `max_dim`,
    then pad with zeros to `max_dim` x `max_dim`. "pad64": scale as for square
    without `max_dim`, pad each side to a multiple of 64 (`min_dim` must be one).
    "crop": scale the same way, then a random `min_dim` square crop (Python's `random`).
    window: `(y1, x1, y2, x2)` of the image in the result; padding:
    `[(top, bottom), (left, right), (0, 0)]`; crop: `(y, x, h, w)` or None.
    """
    image = np.asarray(image)
    h, w = image.shape[:2]
    padding = [(0, 0), (0, 0), (0, 0)]
    if mode == "none":
        return image, (0, 0, h, w), 1, padding, None
    if mode not in ("square", "pad64", "crop"):
        raise VidsegError(f"resize_image: mode {mode!r} not supported (none, square, pad64 or crop)")
    if mode == "square" and not max_dim:
        raise VidsegError("resize_image: mode 'square' needs max_dim, the side of the square")
    if mode == "pad64" and (not min_dim or min_dim % 64):
        raise VidsegError(f"resize_image: mode 'pad64' needs min_dim a multiple of 64, got {min_dim}")
    if mode == "crop" and not min_dim:
        raise VidsegError("resize_image: mode 'crop' needs min_dim, the side of the crop")
    # Only "square" caps the long side; the other modes place no limit on it.
    limit = max_dim if mode == "square" else sys.maxsize
    scale, (new_h, new_w), window = square_geometry((h, w), min_dim, limit, min_scale)
    dtype = image.dtype
    if scale != 1:
        image = resize_like_skimage(image, (new_h, new_w)).astype(dtype)
    crop = None
    if mode == "square":
        top, left = window[:2]
        padding = [(top, max_dim - new_h - top), (left, max_dim - new_w - left), (0, 0)]
    elif mode == "pad64":
        pad_h, pad_w = -new_h % 64, -new_w % 64
        padding = [(pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)]
        window = (pad_h // 2, pad_w // 2, pad_h // 2 + new_h, pad_w // 2 + new_w)
    else:
        y = random.randint(0, new_h - min_dim)
        x = random.randint(0, new_w - min_dim)
        crop = (y, x, min_dim, min_dim)
        return image[y:y + min_dim, x:x + min_dim], (0, 0, min_dim, min_dim), scale, padding, crop
    image = np.pad(image, padding[:image.ndim], mode="constant", constant_values=0)
    return image, tuple(window), scale, padding, crop


def _zoom_rows(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Source index per output index of `scipy.ndimage.zoom(order=0)` along one axis, and where it reads cval.

    zoom maps output `k` to `k * (n_in - 1) / (n_out - 1)` and takes the nearest
    input (halves round up). Where rounding puts that past `n_in - 1` (the last
    index, e.g. 31 -> 31.000000000000004), mode "constant" reads 0 instead.
    """
    step = (n_in - 1) / (n_out - 1) if n_out > 1 else 1.0
    positions = np.arange(n_out) * step
    return np.minimum(np.floor(positions + 0.5).astype(np.intp), n_in - 1), positions > n_in - 1


def resize_mask(mask: np.ndarray, scale: float, padding, crop=None) -> np.ndarray:
    """Masks [H, W, N] resized by `scale` (nearest neighbour, exactly as scipy.ndimage.zoom(order=0)), then
    cropped by `crop = (y, x, h, w)` or else padded by `padding`; as `resize_image` did to the image."""
    mask = np.asarray(mask)
    h, w = mask.shape[:2]
    new_h, new_w = int(round(h * scale)), int(round(w * scale))
    rows, rows_out = _zoom_rows(h, new_h)
    cols, cols_out = _zoom_rows(w, new_w)
    mask = mask[rows][:, cols]
    mask[rows_out] = 0
    mask[:, cols_out] = 0
    if crop is not None:
        y, x, h, w = crop
        return mask[y:y + h, x:x + w]
    return np.pad(mask, padding, mode="constant", constant_values=0)


def minimize_mask(bbox: np.ndarray, mask: np.ndarray, mini_shape: tuple[int, int]) -> np.ndarray:
    """Each mask's box content resized (bilinear, rounded) to `mini_shape` -> bool [h, w, N]."""
    mini_mask = np.zeros(tuple(mini_shape) + (mask.shape[-1],), dtype=bool)
    for i in range(mask.shape[-1]):
        y1, x1, y2, x2 = bbox[i][:4]
        crop = mask[y1:y2, x1:x2, i].astype(bool)
        if crop.size == 0:
            raise VidsegError(f"minimize_mask: box {i} {tuple(bbox[i][:4])} has no area")
        mini_mask[:, :, i] = np.around(resize(crop, mini_shape)).astype(bool)
    return mini_mask


def expand_mask(bbox: np.ndarray, mini_mask: np.ndarray, image_shape) -> np.ndarray:
    """Inverse of `minimize_mask`: mini masks resized (bilinear, rounded) into their boxes of an image of
    `image_shape` -> bool [H, W, N]."""
    mask = np.zeros(tuple(image_shape[:2]) + (mini_mask.shape[-1],), dtype=bool)
    for i in range(mask.shape[-1]):
        y1, x1, y2, x2 = bbox[i][:4]
        mask[y1:y2, x1:x2, i] = np.around(resize(mini_mask[:, :, i], (y2 - y1, x2 - x1))).astype(bool)
    return mask


def mold_mask(mask, config):
    raise NotImplementedError("mold_mask: matterport's is an empty placeholder (it returns None); "
                              "use minimize_mask or resize_mask")


def unmold_mask(mask: np.ndarray, bbox, image_shape) -> np.ndarray:
    """A network mask (float [h, w], e.g. 28x28) resized into `bbox` and thresholded at 0.5 -> bool
    [H, W] of `image_shape`; the same per-instance mask as vidseg's inference post-processing."""
    y1, x1, y2, x2 = (int(v) for v in bbox)
    full_mask = np.zeros(tuple(image_shape[:2]), dtype=bool)
    full_mask[y1:y2, x1:x2] = resize(mask, (y2 - y1, x2 - x1)) >= 0.5
    return full_mask


############################################################
#  Anchors
############################################################

def generate_anchors(scales, ratios, shape, feature_stride, anchor_stride) -> np.ndarray:
    """Pixel anchors (float64 [positions * len(ratios) * len(scales), 4]) of one feature map.

    Order: feature-map rows, columns, then ratios, then scales (matterport's);
    pyramid levels pass one scale each.
    """
    scales = np.atleast_1d(np.asarray(scales, dtype=np.float64))
    per_scale = [level_anchors(s, list(np.atleast_1d(ratios)), tuple(shape[:2]), feature_stride, anchor_stride)
                 for s in scales]  # each [positions * ratios, 4]
    return np.stack(per_scale, axis=1).reshape(-1, 4)


def generate_pyramid_anchors(scales, ratios, feature_shapes, feature_strides, anchor_stride) -> np.ndarray:
    """Anchors of all pyramid levels concatenated, level `i` with `scales[i]` on `feature_shapes[i]`."""
    return np.concatenate([generate_anchors(scales[i], ratios, feature_shapes[i], feature_strides[i], anchor_stride)
                           for i in range(len(scales))], axis=0)


############################################################
#  Evaluation and miscellaneous
############################################################

def trim_zeros(x: np.ndarray) -> np.ndarray:
    """Rows of a 2-D array that are not all zeros (drops the padding of fixed-size outputs)."""
    if np.ndim(x) != 2:
        raise VidsegError(f"trim_zeros: expected a 2-D array, got shape {np.shape(x)}")
    return x[~np.all(x == 0, axis=1)]


def compute_matches(gt_boxes, gt_class_ids, gt_masks, pred_boxes, pred_class_ids, pred_scores, pred_masks,
                    iou_threshold=0.5, score_threshold=0.0):
    """Match predictions to ground truth by mask IoU -> (gt_match, pred_match, overlaps).

    Predictions are taken best score first; each takes the unmatched ground truth
    of highest IoU among those at or above `iou_threshold`, if the class agrees
    (else the next best), as COCO's evaluation does. Overlaps below
    `score_threshold` are not considered. gt_match [G]: index of the matching
    prediction or -1; pred_match [P]: index of the ground truth or -1 (both float,
    predictions in descending score order); overlaps [P, G] in that order.
    Rows of all-zero boxes (padding) are dropped first.
    """
    gt_boxes = trim_zeros(np.asarray(gt_boxes))
    gt_masks = np.asarray(gt_masks)[..., :gt_boxes.shape[0]]
    pred_boxes = trim_zeros(np.asarray(pred_boxes))
    pred_scores = np.asarray(pred_scores)[:pred_boxes.shape[0]]
    order = np.argsort(pred_scores)[::-1]
    pred_class_ids = np.asarray(pred_class_ids)[order]
    pred_masks = np.asarray(pred_masks)[..., order]
    gt_class_ids = np.asarray(gt_class_ids)

    overlaps = compute_overlaps_masks(pred_masks, gt_masks)
    pred_match = -np.ones(len(order))
    gt_match = -np.ones(gt_boxes.shape[0])
    for i in range(len(order)):
        candidates = np.argsort(overlaps[i])[::-1]
        below = np.nonzero(overlaps[i, candidates] < score_threshold)[0]
        if below.size:
            candidates = candidates[:below[0]]
        for j in candidates:
            if gt_match[j] > -1:
                continue
            if overlaps[i, j] < iou_threshold:
                break
            if pred_class_ids[i] == gt_class_ids[j]:
                gt_match[j], pred_match[i] = i, j
                break
    return gt_match, pred_match, overlaps


def compute_ap(gt_boxes, gt_class_ids, gt_masks, pred_boxes, pred_class_ids, pred_scores, pred_masks,
               iou_threshold=0.5):
    """Average precision of one image at `iou_threshold` -> (mAP, precisions, recalls, overlaps).

    The area under the precision/recall curve over all recall steps (VOC 2010+
    style), the precision at each recall being the best at that recall or beyond.
    precisions and recalls carry sentinels: recall starts at 0 and ends at 1,
    precision ends at 0.
    """
    gt_match, pred_match, overlaps = compute_matches(gt_boxes, gt_class_ids, gt_masks, pred_boxes,
                                                     pred_class_ids, pred_scores, pred_masks, iou_threshold)
    hits = np.cumsum(pred_match > -1)
    precisions = hits / (np.arange(len(pred_match)) + 1)
    recalls = hits.astype(np.float32) / len(gt_match)  # float32, as matterport's
    precisions = np.concatenate([[0], precisions, [0]])
    recalls = np.concatenate([[0], recalls, [1]])
    precisions = np.maximum.accumulate(precisions[::-1])[::-1]
    steps = np.nonzero(recalls[:-1] != recalls[1:])[0] + 1
    m_ap = np.sum((recalls[steps] - recalls[steps - 1]) * precisions[steps])
    return m_ap, precisions, recalls, overlaps


def compute_ap_range(gt_box, gt_class_id, gt_mask, pred_box, pred_class_id, pred_score, pred_mask,
                     iou_thresholds=None, verbose=1):
    """Mean of `compute_ap` over IoU thresholds (default 0.5, 0.55, ..., 0.95); printed when `verbose`."""
    if iou_thresholds is None or len(iou_thresholds) == 0:
        iou_thresholds = np.arange(0.5, 1.0, 0.05)
    aps = []
    for threshold in iou_thresholds:
        ap = compute_ap(gt_box, gt_class_id, gt_mask, pred_box, pred_class_id, pred_score, pred_mask,
                        iou_threshold=threshold)[0]
        if verbose:
            print(f"AP @{threshold:.2f}:\t {ap:.3f}")
        aps.append(ap)
    mean = np.array(aps).mean()
    if verbose:
        print(f"AP @{iou_thresholds[0]:.2f}-{iou_thresholds[-1]:.2f}:\t {mean:.3f}")
    return mean


def compute_recall(pred_boxes, gt_boxes, iou):
    """Share of ground-truth boxes that some predicted box overlaps by >= `iou` (each prediction counting for
    its best ground truth) -> (recall, indices of those predictions)."""
    overlaps = compute_overlaps(pred_boxes, gt_boxes)
    best = np.argmax(overlaps, axis=1)
    positive_ids = np.nonzero(np.max(overlaps, axis=1) >= iou)[0]
    recall = len(set(best[positive_ids].tolist())) / np.asarray(gt_boxes).shape[0]
    return recall, positive_ids


def batch_slice(inputs, graph_fn, batch_size, names=None):
    """Run `graph_fn` on each of the first `batch_size` items of `inputs` (a tensor or a list of them) and stack
    each output along a new first axis (keras.ops); one output is returned bare. `names` is accepted and
    ignored (Keras 3 ops take no names)."""
    if not isinstance(inputs, list):
        inputs = [inputs]
    outputs = []
    for i in range(batch_size):
        result = graph_fn(*[x[i] for x in inputs])
        outputs.append(result if isinstance(result, (tuple, list)) else [result])
    stacked = [ops.stack(list(parts), axis=0) for parts in zip(*outputs)]
    return stacked[0] if len(stacked) == 1 else stacked


def download_trained_weights(coco_model_path, verbose=1) -> None:
    """Download matterport's COCO weights from `COCO_MODEL_URL` to `coco_model_path` (resumable, checked).

    Without network access the error names the URL to fetch by hand and where to put the file.
    """
    path = Path(coco_model_path)
    if verbose > 0:
        print(f"Downloading pretrained model to {path} ...")
    try:
        download.download_weights(COCO_MODEL_URL, path, report=print if verbose > 0 else None)
    except VidsegError as err:
        raise VidsegError(f"{err}. Download {COCO_MODEL_URL} by hand and place it at {path.resolve()}") from None
    if verbose > 0:
        print("... done downloading pretrained model!")
