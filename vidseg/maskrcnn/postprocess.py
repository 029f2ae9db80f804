"""Post-processing: model outputs -> per-frame `Detections` in original-frame pixels.

Masks stay compact: each instance keeps only the part inside its box, which
converts straight to COCO RLE (`Detections.rle`) without building full frames.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field

import numpy as np

from vidseg.maskrcnn.boxes import denorm_boxes
from vidseg.maskrcnn.preprocess import Molding, normalized_window
from vidseg.maskrcnn.resize import resize_like_skimage


@dataclass
class Detections:
    """The instances found in one frame, sorted by descending score.

    boxes: int32 [N, 4], `(y1, x1, y2, x2)` in frame pixels, `y2`/`x2` exclusive.
    class_ids: int32 [N]; scores: float32 [N].
    masks: N bool arrays, mask `i` of shape `(y2 - y1, x2 - x1)`, covering box `i`.
    image_shape: `(height, width)` of the frame.
    """

    boxes: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray
    masks: list[np.ndarray]
    image_shape: tuple[int, int]
    _areas: np.ndarray | None = field(default=None, repr=False)
    _rle: list[dict] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.class_ids)

    @property
    def rois(self) -> np.ndarray:
        """matterport's name for `boxes`."""
        return self.boxes

    @property
    def mask_areas(self) -> np.ndarray:
        """Pixels in each mask (int64 [N])."""
        if self._areas is None:
            self._areas = np.array([m.sum() for m in self.masks], dtype=np.int64)
        return self._areas

    def full_masks(self) -> np.ndarray:
        """Masks as matterport returns them: bool [H, W, N]. Costly for many instances; prefer `rle()`.

        The array is a view of one [N, H, W] block (each instance's mask contiguous), in
        memory that only the boxes' pixels touch (`sparse_zeros`).
        """
        h, w = self.image_shape
        out = sparse_zeros((len(self), h, w))
        for i, ((y1, x1, y2, x2), mask) in enumerate(zip(self.boxes, self.masks)):
            out[i, y1:y2, x1:x2] = mask
        return out.transpose(1, 2, 0)

    def rle(self) -> list[dict]:
        """COCO compressed RLE per instance: `{"size": [h, w], "counts": bytes}` as pycocotools makes them."""
        from pycocotools import mask as mask_utils

        if self._rle is None:
            h, w = self.image_shape
            self._rle = [
                mask_utils.frPyObjects({"size": [h, w], "counts": crop_rle_counts(m, box, (h, w))}, h, w)
                for box, m in zip(self.boxes, self.masks)
            ]
        return self._rle


def sparse_zeros(shape: tuple[int, ...]) -> np.ndarray:
    """A zeroed bool array of `shape` in fresh anonymous memory kept out of transparent huge pages.

    Full-frame masks are mostly zeros: only the pages a box covers are ever written. Where the
    kernel backs large allocations with 2 MB huge pages (transparent_hugepage "always", as on
    this project's machines), one written byte makes it zero a whole 2 MB page: 100 masks of a
    640x480 frame then cost 0.1 s instead of 4 ms (docs/benchmarks.md, "mrcnn"). Elsewhere
    this is plain `np.zeros`.
    """
    size = int(np.prod(shape))
    if size == 0 or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return np.zeros(shape, dtype=bool)
    memory = mmap.mmap(-1, size)
    memory.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(memory, dtype=bool, count=size).reshape(shape)


def crop_rle_counts(mask: np.ndarray, box: np.ndarray, image_shape: tuple[int, int]) -> list[int]:
    """Uncompressed COCO RLE counts of a full frame that is `mask` inside `box` and empty elsewhere.

    COCO RLE runs over the frame in column-major order, starting with a run of
    zeros. Runs only change inside the box, so the crop is enough.
    """
    h, w = image_shape
    y1, x1 = int(box[0]), int(box[1])
    rows = mask.shape[0]
    padded = np.zeros((rows + 2, mask.shape[1]), dtype=bool)
    padded[1:-1] = mask
    change = padded[1:] != padded[:-1]  # [rows + 1, cols]: value differs from the pixel above
    cols, offs = np.nonzero(change.T)  # column-major order
    positions = (x1 + cols).astype(np.int64) * h + y1 + offs
    # A run ending at the bottom of one column and one starting at the top of the
    # next share a position: they are one run in column-major order.
    values, seen = np.unique(positions, return_counts=True)
    positions = values[seen == 1]
    counts = np.diff(np.concatenate([[0], positions, [h * w]]))
    if len(counts) > 1 and counts[-1] == 0:
        counts = counts[:-1]
    return counts.tolist()


def unmold(
    boxes: np.ndarray,
    class_ids: np.ndarray,
    scores: np.ndarray,
    masks: np.ndarray,
    count: int,
    molding: Molding,
    molded_size: int,
) -> Detections:
    """One frame's model outputs -> `Detections` in frame pixels.

    boxes [D, 4] normalized to the molded image; masks [D, m, m] probabilities
    of each detection's own class. Only the first `count` slots are real.
    """
    boxes = boxes[:count].astype(np.float64)
    window = normalized_window(molding.window, molded_size).astype(np.float64)
    wy1, wx1, wy2, wx2 = window
    shift = np.array([wy1, wx1, wy1, wx1])
    scale = np.array([wy2 - wy1, wx2 - wx1, wy2 - wy1, wx2 - wx1])
    pixel_boxes = denorm_boxes((boxes - shift) / scale, molding.original_shape)
    sizes = pixel_boxes[:, 2:] - pixel_boxes[:, :2]
    keep = np.nonzero((sizes > 0).all(axis=1))[0]
    pixel_boxes = pixel_boxes[keep]
    crops = []
    for (y1, x1, y2, x2), prob in zip(pixel_boxes, masks[keep]):
        crops.append(resize_like_skimage(prob, (int(y2 - y1), int(x2 - x1))) >= 0.5)
    return Detections(
        boxes=pixel_boxes.astype(np.int32),
        class_ids=class_ids[keep].astype(np.int32),
        scores=scores[keep].astype(np.float32),
        masks=crops,
        image_shape=molding.original_shape,
    )
