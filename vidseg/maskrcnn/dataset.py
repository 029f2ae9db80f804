"""COCO-format training data, read with pycocotools and molded like inference frames.

Category ids of the file map to contiguous class ids 1..K in ascending id order
(0 is background); the class names follow the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.boxes import denorm_boxes, mask_boxes, norm_boxes
from vidseg.maskrcnn.preprocess import mold_frame, normalized_window


@dataclass
class Sample:
    """One molded training image and its ground truth in molded-image coordinates."""

    image: np.ndarray  # [S, S, 3] float32, mean subtracted
    window: np.ndarray  # [4] normalized
    class_ids: np.ndarray  # [G] int32, 1..K
    boxes: np.ndarray  # [G, 4] normalized (y1, x1, y2, x2)
    masks: np.ndarray  # [G, S, S] bool


class CocoDataset:
    """Images and instance masks of a COCO annotations file; `image_dir` holds the `file_name`s."""

    def __init__(self, annotations: str | Path, image_dir: str | Path | None = None):
        from pycocotools.coco import COCO
        import contextlib
        import io

        self.path = path = Path(annotations)
        if not path.is_file():
            raise VidsegError(f"COCO annotations {path} do not exist")
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                self.coco = COCO(str(path))
            except (ValueError, KeyError, TypeError) as err:
                raise VidsegError(f"COCO annotations {path} cannot be read: {err}") from None
        self.image_dir = Path(image_dir) if image_dir is not None else path.parent
        self.category_ids = sorted(self.coco.getCatIds())
        self.class_of = {cat: i + 1 for i, cat in enumerate(self.category_ids)}
        self.class_names = ["BG"] + [self.coco.loadCats(c)[0]["name"] for c in self.category_ids]
        self.image_ids = sorted(self.coco.getImgIds())
        if not self.image_ids:
            raise VidsegError(f"COCO annotations {path} list no images")

    def __len__(self) -> int:
        return len(self.image_ids)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RGB image, class ids [G] and masks [G, H, W] of image `index` (crowd annotations skipped)."""
        info = self.coco.loadImgs(self.image_ids[index])[0]
        path = self.image_dir / info["file_name"]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VidsegError(f"cannot read training image {path}")
        anns = [a for a in self.coco.loadAnns(self.coco.getAnnIds(imgIds=info["id"])) if not a.get("iscrowd", 0)]
        masks = [self.coco.annToMask(a).astype(bool) for a in anns]
        keep = [i for i, m in enumerate(masks) if m.any()]
        h, w = bgr.shape[:2]
        class_ids = np.array([self.class_of[anns[i]["category_id"]] for i in keep], np.int32)
        stacked = np.stack([masks[i] for i in keep]) if keep else np.zeros((0, h, w), bool)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), class_ids, stacked

    def sample(self, index: int, config, flip: bool = False) -> Sample:
        image, class_ids, masks = self.load(index)
        if flip:
            image, masks = image[:, ::-1].copy(), masks[:, :, ::-1].copy()
        return mold_sample(image, class_ids, masks, config)


def mold_sample(image: np.ndarray, class_ids: np.ndarray, masks: np.ndarray, config) -> Sample:
    """Mold an image as inference does and carry its masks and boxes along."""
    size = int(config.IMAGE_SHAPE[0])
    molded, molding = mold_frame(image, config)
    y1, x1, y2, x2 = molding.window
    placed = np.zeros((len(masks), size, size), bool)
    for i, mask in enumerate(masks):
        resized = cv2.resize(mask.astype(np.uint8), (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
        placed[i, y1:y2, x1:x2] = resized.astype(bool)
    return molded_sample(molded, molding.window, class_ids, placed)


def crop_sample(sample: Sample, size: int, rng: np.random.Generator) -> Sample:
    """A random `size` x `size` crop of a molded sample, anywhere in it, padding included.

    The model runs on padded squares, so it trains on padding too (crops kept inside
    the image teach it nothing about the padding, and it then finds objects there).
    Instances the crop cuts away are dropped; cut ones keep their visible part.
    """
    full = sample.image.shape[0]
    if not 0 < size <= full:
        raise VidsegError(f"cannot crop {size}x{size} out of a {full}x{full} training image")
    win = denorm_boxes(sample.window[None], (full, full))[0]  # y1, x1, y2, x2 in pixels
    y, x = (int(v) for v in rng.integers(0, full - size + 1, 2))
    window = (min(max(win[0] - y, 0), size), min(max(win[1] - x, 0), size),
              max(min(win[2] - y, size), 0), max(min(win[3] - x, size), 0))
    image = sample.image[y:y + size, x:x + size]
    return molded_sample(image, window, sample.class_ids, sample.masks[:, y:y + size, x:x + size])


def molded_sample(image: np.ndarray, window, class_ids: np.ndarray, masks: np.ndarray) -> Sample:
    """Sample from a molded image, its pixel window and masks [G, S, S]; empty masks dropped, boxes from the masks."""
    size = image.shape[0]
    keep = masks.reshape(len(masks), -1).any(axis=1) if len(masks) else np.zeros(0, bool)
    masks, class_ids = masks[keep], class_ids[keep]
    return Sample(np.ascontiguousarray(image), normalized_window(tuple(window), size), class_ids,
                  norm_boxes(mask_boxes(masks), (size, size)), np.ascontiguousarray(masks))
