"""The Mask R-CNN inference model: assembles the parts and runs frames through them.

`MaskRCNN(config)` builds the network, `load_weights` reads matterport `.h5`
files, `detect(frames)` returns one `Detections` per RGB frame.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import keras
import numpy as np
from keras import ops

from vidseg.errors import VidsegError
from vidseg.maskrcnn import kernels
from vidseg.maskrcnn.anchors import normalized_anchors
from vidseg.maskrcnn.backbone import ResNetFPN
from vidseg.maskrcnn.config import Config
from vidseg.maskrcnn.detection import refine_detections
from vidseg.maskrcnn.heads import ClassifierHead, MaskHead
from vidseg.maskrcnn.postprocess import Detections, unmold
from vidseg.maskrcnn.preprocess import check_frame, mold_batch
from vidseg.maskrcnn.roi_align import pyramid_roi_align
from vidseg.maskrcnn.rpn import RPNHead, select_proposals
from vidseg.maskrcnn.weights import LoadReport, load_weights, save_weights


class MaskRCNNNetwork(keras.Model):
    """The inference graph: molded images [B, S, S, 3] and windows [B, 4] -> detections and masks."""

    def __init__(self, config: Config, **kw):
        super().__init__(name="mask_rcnn", **kw)
        self.config = config
        self.image_size = int(config.IMAGE_SHAPE[0])
        self.anchors = normalized_anchors(config)
        self.backbone = ResNetFPN(config.BACKBONE, config.TOP_DOWN_PYRAMID_SIZE, config.BACKBONE_WIDTH)
        self.rpn = RPNHead(len(config.RPN_ANCHOR_RATIOS), config.RPN_ANCHOR_STRIDE, config.RPN_CONV_SIZE)
        self.classifier = ClassifierHead(config.NUM_CLASSES, config.POOL_SIZE, config.FPN_CLASSIF_FC_LAYERS_SIZE)
        self.mask_head = MaskHead(config.NUM_CLASSES, config.MASK_HEAD_CONV_SIZE)
        self._build_weights()

    def _build_weights(self) -> None:
        """Create every variable by running each part once on a tiny input."""
        depth = self.config.TOP_DOWN_PYRAMID_SIZE
        features = self.backbone(ops.zeros((1, 64, 64, 3)))
        self.rpn(features[0])
        self.classifier(ops.zeros((1, 1, self.config.POOL_SIZE, self.config.POOL_SIZE, depth)))
        self.mask_head(ops.zeros((1, 1, self.config.MASK_POOL_SIZE, self.config.MASK_POOL_SIZE, depth)))
        self.built = True

    def weight_layers(self) -> list[keras.layers.Layer]:
        """The layers that hold weights, under matterport's names, in matterport's order."""
        return (
            self.backbone.weight_layers()
            + self.rpn.weight_layers()
            + self.classifier.weight_layers()
            + self.mask_head.weight_layers()
        )

    def rpn_outputs(self, feature_maps):
        """The RPN head over every pyramid level: (logits, probs, deltas), anchors concatenated in order."""
        levels = [self.rpn(p) for p in feature_maps]
        return tuple(_f32(ops.concatenate([level[i] for level in levels], axis=1)) for i in range(3))

    def features(self, images):
        """The dense part: FPN maps (P2..P5, for ROIAlign) and the RPN's (probs, deltas) over all anchors (P2..P6)."""
        feature_maps = self.backbone(images)
        _, rpn_probs, rpn_deltas = self.rpn_outputs(feature_maps)
        return tuple(_f32(p) for p in feature_maps[:4]), rpn_probs, rpn_deltas

    def detections(self, feature_maps, rpn_probs, rpn_deltas, windows):
        """Proposals, the classifier head and per-class NMS -> fixed-size detections (no masks)."""
        config = self.config
        rois, _ = select_proposals(rpn_probs, rpn_deltas, self.anchors, config, config.POST_NMS_ROIS_INFERENCE)
        shape = (self.image_size, self.image_size)
        pooled = pyramid_roi_align(rois, feature_maps, config.POOL_SIZE, shape)
        _, class_probs, box_deltas = self.classifier(pooled)
        class_probs, box_deltas = _f32(class_probs), _f32(box_deltas)
        boxes, class_ids, scores, count = refine_detections(rois, class_probs, box_deltas, windows, config)
        return {"boxes": boxes, "class_ids": class_ids, "scores": scores, "count": count, "rois": rois}

    def masks(self, feature_maps, boxes, class_ids):
        """Mask probabilities [B, n, m, m] of `boxes` [B, n, 4], each for its own class in `class_ids` [B, n]."""
        shape = (self.image_size, self.image_size)
        pooled = pyramid_roi_align(boxes, feature_maps, self.config.MASK_POOL_SIZE, shape)
        masks = _f32(self.mask_head(pooled))  # [B, n, m, m, K]
        index = ops.reshape(class_ids, (ops.shape(class_ids)[0], -1, 1, 1, 1))
        return ops.squeeze(ops.take_along_axis(masks, index, axis=-1), -1)

    def call(self, images, windows):
        """The whole graph as matterport builds it: the mask head runs on every one of the D detection slots."""
        feature_maps, rpn_probs, rpn_deltas = self.features(images)
        out = self.detections(feature_maps, rpn_probs, rpn_deltas, windows)
        out["masks"] = self.masks(feature_maps, out["boxes"], out["class_ids"])
        return out


def _f32(x):
    """Head outputs in float32 whatever the layers compute in (see `MaskRCNN`'s `precision`)."""
    return x if keras.backend.standardize_dtype(x.dtype) == "float32" else ops.cast(x, "float32")


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def mask_slots(count: int, max_instances: int) -> int:
    """Detection slots the mask head runs on for a batch whose fullest frame has `count` detections.

    Rounded up to a power of two (capped at `max_instances`), so a video's frames
    trace the mask stage a handful of times at most; 0 when there is nothing to mask.
    """
    if count <= 0:
        return 0
    return min(max_instances, 1 << (int(count) - 1).bit_length())


class MaskRCNN:
    """Mask R-CNN for inference, matterport-compatible in config, weights and results.

    >>> model = MaskRCNN(CocoConfig())
    >>> model.load_weights("mask_rcnn_coco.h5")
    >>> detections = model.detect(frames)  # list of HxWx3 uint8 RGB arrays
    """

    def __init__(self, config: Config, xla: bool = False, all_mask_slots: bool = False, precision: str = "float32"):
        """`xla` compiles the dense part (backbone, FPN, RPN head) with XLA. `all_mask_slots`
        runs the mask head on all DETECTION_MAX_INSTANCES slots in one graph, as
        matterport does; by default it runs on the frames' real detections only.
        `precision` "mixed_float16" or "mixed_bfloat16" runs the convolutions and
        dense layers in 16 bits (weights stay float32; box decoding, NMS and
        ROIAlign stay float32): for GPUs, and CPUs with AVX512-BF16 or AMX.
        """
        if precision not in PRECISIONS:
            raise VidsegError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.config = config
        self.xla = bool(xla)
        self.all_mask_slots = bool(all_mask_slots)
        self.precision = precision
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(precision)  # layers take the policy in force when they are made
        try:
            self.network = MaskRCNNNetwork(config)
        finally:
            keras.config.set_dtype_policy(previous)
        net = self.network
        weights = net.variables
        self._full = kernels.traced(lambda images, windows: net(images, windows, training=False), variables=weights)
        self._features = kernels.traced(net.features, jit=self.xla, variables=weights)
        self._detections = kernels.traced(net.detections, variables=weights)
        self._masks = kernels.traced(net.masks, relax=True, variables=weights)  # called with 1, 2, 4, ... slots

    def predict(self, images: np.ndarray, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Molded images [B, S, S, 3] and windows [B, 4] -> the network's outputs as numpy arrays.

        `masks` is [B, n, m, m] with n >= the fullest frame's `count` (n = D with
        `all_mask_slots`); slots past a frame's `count` are padding.
        """
        if self.all_mask_slots:
            return {k: np.asarray(v) for k, v in self._full(images, windows).items()}
        feature_maps, rpn_probs, rpn_deltas = self._features(images)
        out = {k: np.asarray(v) for k, v in self._detections(feature_maps, rpn_probs, rpn_deltas, windows).items()}
        n = mask_slots(int(out["count"].max(initial=0)), self.config.DETECTION_MAX_INSTANCES)
        if n == 0:
            m = 2 * self.config.MASK_POOL_SIZE  # the mask head's output size
            out["masks"] = np.zeros((len(images), 0, m, m), np.float32)
        else:
            out["masks"] = np.asarray(self._masks(feature_maps, out["boxes"][:, :n], out["class_ids"][:, :n]))
        return out

    @property
    def keras_model(self) -> keras.Model:
        return self.network

    def load_weights(self, path: str | os.PathLike, exclude: Iterable[str] = (), strict: bool = False) -> LoadReport:
        """Load a matterport-layout `.h5` file; see `vidseg.maskrcnn.weights.load_weights`."""
        return load_weights(self.network.weight_layers(), path, exclude=exclude, strict=strict)

    def save_weights(self, path: str | os.PathLike) -> None:
        """Save in matterport's `.h5` layout (loadable by `load_weights` and by matterport)."""
        save_weights(self.network.weight_layers(), path)

    def detect(self, frames: Sequence[np.ndarray] | np.ndarray) -> list[Detections]:
        """Detect instances in RGB uint8 frames [H, W, 3]; one `Detections` per frame, in order.

        Frames may differ in size. They run in batches of IMAGES_PER_GPU; a last
        partial batch runs at its own size. A frame's result does not depend on
        the other frames of its batch, up to float rounding (which can swap
        near-tied detections).
        """
        if isinstance(frames, np.ndarray):
            if frames.ndim != 4:
                raise VidsegError(f"detect() takes a list of frames or an [N, H, W, 3] array, got shape {frames.shape}")
        frames = list(frames)
        for i, frame in enumerate(frames):
            check_frame(frame, i)
        results: list[Detections] = []
        batch = self.config.IMAGES_PER_GPU
        for start in range(0, len(frames), batch):
            results += self.detect_batch(frames[start : start + batch])
        return results

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Run one batch (any size) through the model."""
        return self.unmold_batch(*self.predict_batch(frames))

    def predict_batch(self, frames: Sequence[np.ndarray]) -> tuple[dict[str, np.ndarray], list]:
        """The model half of `detect_batch`: (network outputs, moldings) for `unmold_batch`."""
        images, windows, moldings = mold_batch(frames, self.config)
        return self.predict(images, windows), moldings

    def unmold_batch(self, out: dict[str, np.ndarray], moldings: list) -> list[Detections]:
        """The post-processing half of `detect_batch` (numpy only: it can run beside the next batch)."""
        size = int(self.config.IMAGE_SHAPE[0])
        return [
            unmold(out["boxes"][i], out["class_ids"][i], out["scores"][i], out["masks"][i], int(out["count"][i]), m, size)
            for i, m in enumerate(moldings)
        ]
