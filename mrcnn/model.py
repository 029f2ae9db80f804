"""matterport's `mrcnn.model`: `MaskRCNN(mode, config, model_dir)` and the module functions notebooks call.

The network, its weights I/O, inference and the training step are vidseg's
(`vidseg.maskrcnn`); this module keeps matterport's calls and return values:
`detect` gives dicts of `rois`, `class_ids`, `scores` and [H, W, N] `masks`;
`train` takes matterport's datasets (`mrcnn.utils.Dataset`), layer names and
epoch numbering and writes checkpoints where matterport writes them
(`model_dir/<name><YYYYmmddTHHMM>/mask_rcnn_<name>_<epoch>.h5`), so
`find_last()` resumes a run. Inference runs under any Keras backend vidseg
supports; `train` needs TensorFlow's (it imports it on first call).
"""

from __future__ import annotations

import datetime
import errno
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

import keras
import numpy as np

from mrcnn import utils
from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.anchors import backbone_shapes, pixel_anchors
from vidseg.maskrcnn.boxes import norm_boxes
from vidseg.maskrcnn.model import MaskRCNN as _Model
from vidseg.maskrcnn.postprocess import Detections, unmold
from vidseg.maskrcnn.preprocess import Molding, mold_batch

logger = logging.getLogger(__name__)

# ImageNet ResNet-50 weights (without the classifier) that matterport starts from with init_with="imagenet".
IMAGENET_WEIGHTS_URL = ("https://github.com/fchollet/deep-learning-models/releases/download/v0.2/"
                        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
# The file name matterport's checkpoints carry: the config's name and the 1-based epoch, four digits.
CHECKPOINT_NAME = "mask_rcnn_{name}_{{epoch:04d}}.h5"
_LOG_DIR_TIME = "%Y%m%dT%H%M"


def log(text: str, array: np.ndarray | None = None) -> None:
    """Print `text`, and for an array its shape, min, max and dtype, in matterport's columns."""
    if array is not None:
        array = np.asarray(array)
        text = f"{text:25}shape: {str(array.shape):20}  "
        text += f"min: {array.min():10.5f}  max: {array.max():10.5f}" if array.size else f"min: {'':10}  max: {'':10}"
        text += f"  {array.dtype}"
    print(text)


# ----------------------------------------------------------------------------------------------------------
# Image meta: matterport's flat vector of what happened to an image on its way into the network
# ----------------------------------------------------------------------------------------------------------

def compose_image_meta(image_id, original_image_shape, image_shape, window, scale, active_class_ids) -> np.ndarray:
    """[1 + 3 + 3 + 4 + 1 + NUM_CLASSES]: id, original shape, molded shape, window (y1, x1, y2, x2 in the
    molded image's pixels), scale, and a 1 for each class the image's dataset source has."""
    return np.array([image_id, *original_image_shape, *image_shape, *window, scale, *active_class_ids])


def parse_image_meta(meta: np.ndarray) -> dict[str, np.ndarray]:
    """Split a batch of image metas [B, META] into their parts (the inverse of `compose_image_meta`)."""
    meta = np.asarray(meta)
    return {
        "image_id": meta[:, 0].astype(np.int32),
        "original_image_shape": meta[:, 1:4].astype(np.int32),
        "image_shape": meta[:, 4:7].astype(np.int32),
        "window": meta[:, 7:11].astype(np.int32),
        "scale": meta[:, 11].astype(np.float32),
        "active_class_ids": meta[:, 12:].astype(np.int32),
    }


def compute_backbone_shapes(config, image_shape) -> np.ndarray:
    """[[height, width]] of the backbone's feature maps (one row per BACKBONE_STRIDES) for an image of `image_shape`."""
    return np.array(backbone_shapes(tuple(int(v) for v in image_shape[:2]), config.BACKBONE_STRIDES))


def mold_image(images: np.ndarray, config) -> np.ndarray:
    """Resized RGB image(s) -> network input: float32, the config's mean pixel subtracted."""
    return np.asarray(images).astype(np.float32) - np.asarray(config.MEAN_PIXEL, np.float32)


def unmold_image(normalized_images: np.ndarray, config) -> np.ndarray:
    """The inverse of `mold_image`, back to uint8."""
    return (np.asarray(normalized_images) + np.asarray(config.MEAN_PIXEL)).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------
# Ground truth and the data generator
# ----------------------------------------------------------------------------------------------------------

# imgaug augmenters that move pixels; only these are applied to the masks (colour changes are not).
MASK_AUGMENTERS = {"Sequential", "SomeOf", "OneOf", "Sometimes", "Fliplr", "Flipud", "CropAndPad", "Affine",
                   "PiecewiseAffine"}


def _augment(augmentation, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply an imgaug augmenter to an image, and its geometric part to the masks [H, W, N]; or call
    `augmentation(image, mask) -> (image, mask)` for any other callable."""
    if not hasattr(augmentation, "to_deterministic"):
        image, augmented = augmentation(image, mask)
        return np.asarray(image), np.asarray(augmented).astype(bool)
    import imgaug  # the user's augmenter is an imgaug one, so imgaug is installed

    def geometric(images, augmenter, parents, default):
        return augmenter.__class__.__name__ in MASK_AUGMENTERS

    shapes = (image.shape, mask.shape)
    det = augmentation.to_deterministic()  # the same random draw for the image and its masks
    image = det.augment_image(image)
    mask = det.augment_image(mask.astype(np.uint8), hooks=imgaug.HooksImages(activator=geometric)).astype(bool)
    if image.shape != shapes[0] or mask.shape != shapes[1]:
        raise VidsegError("augmentation changed the image's shape; use augmenters that keep it (as matterport "
                          "requires)")
    return image, mask


def load_image_gt(dataset, config, image_id, augment: bool = False, augmentation=None,
                  use_mini_mask: bool = False):
    """An image of `dataset` as the network is trained on it, and its ground truth.

    Returns (image [S, S, 3] uint8 resized and padded, image_meta, class_ids [N] int32,
    bbox [N, 4] int32 pixels, mask [S, S, N] bool, or [mh, mw, N] with `use_mini_mask`).
    Instances whose mask is empty after resizing are dropped. `augment` (matterport's
    deprecated flag) flips half the images left-right; `augmentation` is an imgaug
    augmenter (or a callable on (image, mask)).
    """
    image = dataset.load_image(image_id)
    mask, class_ids = dataset.load_mask(image_id)
    original_shape = image.shape
    image, window, scale, padding, crop = utils.resize_image(
        image, min_dim=config.IMAGE_MIN_DIM, min_scale=config.IMAGE_MIN_SCALE, max_dim=config.IMAGE_MAX_DIM,
        mode=config.IMAGE_RESIZE_MODE)
    mask = utils.resize_mask(mask, scale, padding, crop)
    if augment and np.random.random() < 0.5:
        image, mask = np.fliplr(image), np.fliplr(mask)
    if augmentation is not None:
        image, mask = _augment(augmentation, image, mask)
    keep = mask.sum(axis=(0, 1)) > 0
    mask, class_ids = mask[:, :, keep].astype(bool), np.asarray(class_ids, np.int32)[keep]
    bbox = utils.extract_bboxes(mask)
    active_class_ids = np.zeros([dataset.num_classes], dtype=np.int32)
    active_class_ids[dataset.source_class_ids[dataset.image_info[image_id]["source"]]] = 1
    if use_mini_mask:
        mask = utils.minimize_mask(bbox, mask, config.MINI_MASK_SHAPE)
    image_meta = compose_image_meta(image_id, original_shape, image.shape, window, scale, active_class_ids)
    return image, image_meta, class_ids, bbox, mask


def build_rpn_targets(image_shape, anchors, gt_class_ids, gt_boxes, config, rng=None):
    """(rpn_match [A] int32: 1 positive, -1 negative, 0 neutral; rpn_bbox [RPN_TRAIN_ANCHORS_PER_IMAGE, 4])
    for pixel `anchors` and ground-truth boxes. Crowd boxes (negative class ids) are left out."""
    from vidseg.maskrcnn.targets import rpn_targets

    keep = np.asarray(gt_class_ids) > 0
    rng = rng if rng is not None else np.random.default_rng(np.random.randint(2**31))
    return rpn_targets(np.asarray(anchors, np.float64), np.asarray(gt_boxes, np.float64)[keep], config, rng)


def _training_images(dataset, config, shuffle: bool, augmentation, no_augmentation_sources=(),
                     use_mini_mask: bool = False) -> Iterator[tuple]:
    """`load_image_gt` results over the dataset, again and again (reshuffled each pass when `shuffle`);
    images without instances are skipped, as matterport's generator skips them."""
    ids = np.copy(dataset.image_ids)
    if len(ids) == 0:
        raise VidsegError("the training dataset has no images; call add_image() and prepare() first")
    skipped = 0
    while True:
        if shuffle:
            np.random.shuffle(ids)
        for image_id in ids:
            source = dataset.image_info[image_id]["source"]
            augment = augmentation if source not in (no_augmentation_sources or ()) else None
            gt = load_image_gt(dataset, config, image_id, augmentation=augment, use_mini_mask=use_mini_mask)
            if not (gt[2] > 0).any():
                skipped += 1
                if skipped >= len(ids):
                    raise VidsegError("no image of the dataset has an instance: load_mask() returns no masks")
                continue
            skipped = 0
            yield gt


def data_generator(dataset, config, shuffle: bool = True, augment: bool = False, augmentation=None,
                   random_rois: int = 0, batch_size: int = 1, detection_targets: bool = False,
                   no_augmentation_sources=None):
    """Endless batches `(inputs, [])` for matterport's training model, inputs being
    [images, image_metas, rpn_match [B, A, 1], rpn_bbox, gt_class_ids [B, MAX_GT_INSTANCES],
    gt_boxes [B, MAX_GT_INSTANCES, 4], gt_masks [B, h, w, MAX_GT_INSTANCES]] (pixels; mini masks when
    the config's USE_MINI_MASK). `random_rois` and `detection_targets` are not supported."""
    if random_rois or detection_targets:
        raise VidsegError("data_generator: random_rois and detection_targets (matterport's debugging outputs) "
                          "are not supported")
    if augment:
        augmentation = augmentation or _FlipLR()
    anchors = pixel_anchors(config)
    images = _training_images(dataset, config, shuffle, augmentation, no_augmentation_sources,
                              use_mini_mask=config.USE_MINI_MASK)
    limit = config.MAX_GT_INSTANCES
    while True:
        batch = [next(images) for _ in range(batch_size)]
        mask_shape = batch[0][4].shape[:2]
        out = [np.zeros((batch_size, *config.IMAGE_SHAPE), np.float32),
               np.zeros((batch_size, config.IMAGE_META_SIZE), np.float64),
               np.zeros((batch_size, len(anchors), 1), np.int32),
               np.zeros((batch_size, config.RPN_TRAIN_ANCHORS_PER_IMAGE, 4), np.float32),
               np.zeros((batch_size, limit), np.int32), np.zeros((batch_size, limit, 4), np.int32),
               np.zeros((batch_size, *mask_shape, limit), bool)]
        for b, (image, meta, class_ids, boxes, masks) in enumerate(batch):
            rpn_match, rpn_bbox = build_rpn_targets(image.shape, anchors, class_ids, boxes, config)
            if len(class_ids) > limit:  # matterport keeps a random choice of MAX_GT_INSTANCES
                pick = np.random.choice(len(class_ids), limit, replace=False)
                class_ids, boxes, masks = class_ids[pick], boxes[pick], masks[:, :, pick]
            n = len(class_ids)
            out[0][b], out[1][b], out[2][b, :, 0], out[3][b] = mold_image(image, config), meta, rpn_match, rpn_bbox
            out[4][b, :n], out[5][b, :n], out[6][b, :, :, :n] = class_ids, boxes, masks
        yield out, []


class _FlipLR:
    """matterport's deprecated `augment=True`: a left-right flip of half the images (image and masks)."""

    def __call__(self, image, mask):
        return (np.fliplr(image), np.fliplr(mask)) if np.random.random() < 0.5 else (image, mask)


# ----------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------

class MaskRCNN:
    """matterport's model class: `MaskRCNN(mode="inference" | "training", config=, model_dir=)`.

    Both modes build the same network (vidseg's); `mode` says which calls matterport
    allowed: `train` needs "training". `detect` runs in either.
    """

    def __init__(self, mode: str, config, model_dir: str | os.PathLike):
        if mode not in ("training", "inference"):
            raise VidsegError(f'mode must be "training" or "inference", got {mode!r}')
        self.mode = mode
        self.config = config
        self.model_dir = str(model_dir)
        self.model = _Model(config.copy())  # the model freezes its copy; `config` stays the caller's to edit
        self._anchor_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.anchors = None  # pixel anchors of the last `get_anchors` (or `detect`) call
        self.set_log_dir()

    @property
    def keras_model(self) -> keras.Model:
        """The Keras model holding every weight (a subclassed model: its layers are the network's parts)."""
        return self.model.network

    # -- checkpoints and logs ------------------------------------------------------------------------------

    def set_log_dir(self, model_path: str | os.PathLike | None = None) -> None:
        """Name the folder of this run's checkpoints: `model_dir/<name><YYYYmmddTHHMM>`.

        Given a checkpoint that matterport's naming describes, the run continues it:
        the same folder, and `self.epoch` the checkpoint's epoch (training resumes after it).
        """
        self.epoch = 0
        now = datetime.datetime.now()
        name = (self.config.NAME or "").lower()
        if model_path:
            found = re.match(r".*[/\\][\w-]+(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})[/\\]mask_rcnn_[\w-]+(\d{4})\.h5$",
                             str(model_path))
            if found:
                now = datetime.datetime(*(int(found.group(i)) for i in range(1, 6)))
                self.epoch = int(found.group(6))  # 1-based in the name: the next epoch's 0-based index
                print(f"Re-starting from epoch {self.epoch}")
        self.log_dir = os.path.join(self.model_dir, f"{name}{now.strftime(_LOG_DIR_TIME)}")
        self.checkpoint_path = os.path.join(self.log_dir, CHECKPOINT_NAME.format(name=name))

    def find_last(self) -> str:
        """The last checkpoint of the newest run of this config's name under `model_dir`."""
        key = (self.config.NAME or "").lower()
        runs = sorted(d for d in _listdir(self.model_dir, dirs=True) if d.startswith(key))
        if not runs:
            raise FileNotFoundError(errno.ENOENT, f"Could not find model directory under {self.model_dir}")
        folder = os.path.join(self.model_dir, runs[-1])
        checkpoints = sorted(f for f in _listdir(folder, dirs=False) if f.startswith("mask_rcnn"))
        if not checkpoints:
            raise FileNotFoundError(errno.ENOENT, f"Could not find weight files in {folder}")
        return os.path.join(folder, checkpoints[-1])

    def load_weights(self, filepath, by_name: bool = False, exclude: Sequence[str] | None = None):
        """Load a matterport `.h5` file (theirs, a checkpoint, or one vidseg saved) and continue its run.

        Layers are matched by name in both cases. With `by_name=False` (matterport's
        whole-model load) the file must fit the model exactly. With `by_name=True`, layers
        the file lacks keep their weights and are named in a warning, as are the file's
        layers the model lacks. A weight whose shape differs is always an error, naming the
        layer, unless the layer is in `exclude` (matterport's `by_name` skipped such layers
        silently, which is how ports came to run with half their weights unloaded).
        An `exclude` list implies `by_name=True`, as in matterport. Returns what was loaded
        (`vidseg.maskrcnn.LoadReport`).
        """
        by_name = by_name or bool(exclude)
        report = self.model.load_weights(filepath, exclude=exclude or (), strict=not by_name)
        if report.unexpected:
            logger.warning("%s: %d layers of the file are not in the model and were not loaded: %s",
                           filepath, len(report.unexpected), ", ".join(report.unexpected))
        self.set_log_dir(filepath)
        return report

    def get_imagenet_weights(self) -> str:
        """The path of matterport's ImageNet ResNet-50 weights in Keras's cache, downloading them once.

        Offline, raises an error naming the URL and the file to place by hand.
        """
        name = IMAGENET_WEIGHTS_URL.rsplit("/", 1)[1]
        cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
        target = cache / name
        if target.is_file():
            return str(target)
        try:
            return keras.utils.get_file(name, IMAGENET_WEIGHTS_URL, cache_subdir="models")
        except Exception as err:  # get_file raises bare Exceptions wrapping URL and HTTP errors
            raise VidsegError(f"cannot download the ImageNet weights from {IMAGENET_WEIGHTS_URL} ({err}); "
                              f"download that file by hand and place it at {target}") from None

    def save_weights(self, path) -> None:
        """Save every weight in matterport's `.h5` layout."""
        self.model.save_weights(path)

    def get_trainable_layers(self) -> list[keras.layers.Layer]:
        """The layers that hold weights, under matterport's names, in matterport's order."""
        return self.model.network.weight_layers()

    # -- inference -----------------------------------------------------------------------------------------

    def mold_inputs(self, images: Sequence[np.ndarray]):
        """RGB uint8 images -> (molded_images [B, S, S, 3] float32, image_metas [B, META], windows [B, 4] int64)."""
        molded, _, moldings = mold_batch(list(images), self.model.config)
        metas = np.stack([
            compose_image_meta(0, image.shape, molded[i].shape, m.window, m.scale,
                               np.zeros([self.config.NUM_CLASSES], np.int32))
            for i, (image, m) in enumerate(zip(images, moldings))])
        return molded, metas, np.array([m.window for m in moldings], np.int64)

    def unmold_detections(self, detections, mrcnn_mask, original_image_shape, image_shape, window):
        """One image's network output -> (boxes [N, 4] int32, class_ids, scores, masks [H, W, N] bool).

        `detections` [D, 6] (y1, x1, y2, x2 normalized to the molded image, class id, score), zero rows
        after the last detection; `mrcnn_mask` [D, h, w, NUM_CLASSES] mask probabilities.
        """
        detections, mrcnn_mask = np.asarray(detections), np.asarray(mrcnn_mask)
        zero = np.nonzero(detections[:, 4] == 0)[0]
        n = int(zero[0]) if len(zero) else len(detections)
        class_ids = detections[:n, 4].astype(np.int32)
        masks = mrcnn_mask[np.arange(n), :, :, class_ids]
        result = self._unmold_one(detections[:, :4], class_ids, detections[:, 5], masks, n,
                                  original_image_shape, image_shape, window)
        return result["rois"], result["class_ids"], result["scores"], result["masks"]

    def _unmold_one(self, boxes, class_ids, scores, masks, count, original_image_shape, image_shape, window):
        molding = Molding(tuple(int(v) for v in original_image_shape[:2]), tuple(int(v) for v in window), 1.0)
        return _result(unmold(np.asarray(boxes), np.asarray(class_ids), np.asarray(scores), np.asarray(masks),
                              int(count), molding, int(image_shape[0])))

    def detect(self, images: Sequence[np.ndarray], verbose: int = 0) -> list[dict[str, np.ndarray]]:
        """Detect instances in RGB uint8 images; one dict per image, in order:
        `rois` int32 [N, 4] (y1, x1, y2, x2 pixels), `class_ids` int32 [N], `scores` float32 [N],
        `masks` bool [H, W, N]. Any number of images, of any sizes (matterport needed BATCH_SIZE)."""
        images = list(images)
        if verbose:
            log(f"Processing {len(images)} images")
            for image in images:
                log("image", image)
            molded, metas, _ = self.mold_inputs(images)
            log("molded_images", molded)
            log("image_metas", metas)
            log("anchors", self.get_anchors(molded[0].shape))
        return [_result(d) for d in self.model.detect(images)]

    def detect_molded(self, molded_images, image_metas, verbose: int = 0) -> list[dict[str, np.ndarray]]:
        """Detect on images already molded (`mold_inputs`, or `mold_image` of `load_image_gt`'s image) with their
        image metas. As in matterport, boxes are clipped to each meta's window but the results are in the
        molded image's pixels (masks [S, S, N]), where `load_image_gt`'s ground truth is."""
        molded_images = np.asarray(molded_images, np.float32)
        size = int(self.config.IMAGE_SHAPE[0])
        if molded_images.ndim != 4 or molded_images.shape[1:] != (size, size, 3):
            raise VidsegError(f"detect_molded: expected molded images [B, {size}, {size}, 3] (the config's "
                              f"IMAGE_SHAPE), got shape {molded_images.shape}")
        meta = parse_image_meta(np.asarray(image_metas).reshape(len(molded_images), -1))
        if verbose:
            log(f"Processing {len(molded_images)} images")
            log("molded_images", molded_images)
            log("image_metas", image_metas)
        windows = utils.norm_boxes(meta["window"], (size, size))
        out = self.model.predict(molded_images, windows)
        whole = (0, 0, size, size)
        return [self._unmold_one(out["boxes"][i], out["class_ids"][i], out["scores"][i], out["masks"][i],
                                 out["count"][i], (size, size), (size, size), whole)
                for i in range(len(molded_images))]

    def get_anchors(self, image_shape) -> np.ndarray:
        """The anchors for a molded image of `image_shape`, normalized (float32 [A, 4]).

        As in matterport, `self.anchors` keeps the last ones asked for in pixels (matterport's
        inspect notebooks pass it to `build_rpn_targets`).
        """
        key = tuple(int(v) for v in image_shape[:2])
        if key not in self._anchor_cache:  # (pixels, normalized)
            pixels = pixel_anchors(self.model.config, key)
            self._anchor_cache[key] = pixels, norm_boxes(pixels, key)
        self.anchors, normalized = self._anchor_cache[key]
        return normalized

    # -- training ------------------------------------------------------------------------------------------

    def train(self, train_dataset, val_dataset, learning_rate: float, epochs: int, layers: str,
              augmentation=None, custom_callbacks: Sequence[keras.callbacks.Callback] | None = None,
              no_augmentation_sources: Sequence[str] | None = None) -> list[dict[str, float]]:
        """Train from `self.epoch` up to epoch `epochs`, as matterport's `train` does.

        `layers`: "heads", "3+", "4+", "5+", "all", or a regular expression of layer names.
        Each epoch is STEPS_PER_EPOCH steps of BATCH_SIZE images; then VALIDATION_STEPS
        batches of `val_dataset` give the `val_` losses, and the weights go to
        `checkpoint_path` with the epoch's number. Keras callbacks in `custom_callbacks`
        get `on_epoch_end(epoch, logs)` and the other epoch and train events. Returns each
        epoch's mean losses.
        """
        if self.mode != "training":
            raise VidsegError('train() needs a model made with mode="training"')
        if keras.backend.backend() != "tensorflow":
            raise VidsegError(f"training runs on Keras's TensorFlow backend; KERAS_BACKEND is "
                              f"{keras.backend.backend()!r}")
        from vidseg.maskrcnn.training import LOSS_NAMES, Trainer, trained_layers

        config = self.config
        trainer = Trainer(self.model, layers=layers, learning_rate=learning_rate, seed=np.random.randint(2**31),
                          loss_weights=config.LOSS_WEIGHTS)
        print("Selecting layers to train")
        for layer in trained_layers(self.model.network.weight_layers(), layers):
            print(f"{layer.name:20}   ({type(layer).__name__})")
        train_images = _training_images(train_dataset, config, True, augmentation, no_augmentation_sources)
        val_images = _training_images(val_dataset, config, True, None) if val_dataset is not None else None
        callbacks = keras.callbacks.CallbackList(list(custom_callbacks or []), model=self.keras_model)
        print(f"\nStarting at epoch {self.epoch}. LR={learning_rate}\n")
        print(f"Checkpoint Path: {self.checkpoint_path}")
        os.makedirs(self.log_dir, exist_ok=True)
        history = []
        callbacks.on_train_begin()
        for epoch in range(self.epoch, epochs):
            callbacks.on_epoch_begin(epoch)
            print(f"Epoch {epoch + 1}/{epochs}")
            bar = keras.utils.Progbar(config.STEPS_PER_EPOCH)
            sums = dict.fromkeys(("loss", *LOSS_NAMES), 0.0)
            for step in range(config.STEPS_PER_EPOCH):
                callbacks.on_train_batch_begin(step)
                terms = trainer.step(self._samples(train_images))
                for name in sums:
                    sums[name] += terms[name]
                callbacks.on_train_batch_end(step, {"loss": terms["loss"]})
                bar.update(step + 1, values=[("loss", terms["loss"])])
            logs = {name: total / config.STEPS_PER_EPOCH for name, total in sums.items()}
            if val_images is not None:
                val = [trainer.losses(self._samples(val_images)) for _ in range(config.VALIDATION_STEPS)]
                logs.update({f"val_{name}": float(np.mean([v[name] for v in val])) for name in sums})
            self.model.save_weights(self.checkpoint_path.format(epoch=epoch + 1))
            print(" - ".join(f"{name}: {value:.4f}" for name, value in logs.items()))
            callbacks.on_epoch_end(epoch, logs)
            history.append(logs)
        callbacks.on_train_end()
        self.epoch = max(self.epoch, epochs)
        return history

    def _samples(self, images: Iterator[tuple]) -> list:
        """The next BATCH_SIZE training images, molded, as vidseg's training step takes them."""
        from vidseg.maskrcnn.dataset import molded_sample

        config = self.model.config
        out = []
        for image, meta, class_ids, _, mask in (next(images) for _ in range(config.BATCH_SIZE)):
            keep = class_ids > 0  # crowd annotations (negative ids) are not trained on
            window = parse_image_meta(meta[None])["window"][0]
            out.append(molded_sample(mold_image(image, config), tuple(int(v) for v in window), class_ids[keep],
                                     np.moveaxis(mask[:, :, keep], -1, 0)))
        return out


def _result(detections: Detections) -> dict[str, Any]:
    """matterport's result dict of one image."""
    return {"rois": detections.boxes, "class_ids": detections.class_ids, "scores": detections.scores,
            "masks": detections.full_masks()}


def _listdir(folder: str, dirs: bool) -> list[str]:
    """The sub-folders (or files) of `folder`; none when it does not exist."""
    if not os.path.isdir(folder):
        return []
    return [e.name for e in os.scandir(folder) if e.is_dir() == dirs]
