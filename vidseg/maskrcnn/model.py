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
from vidseg.maskrcnn import tf_ops
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
        return tuple(ops.concatenate([level[i] for level in levels], axis=1) for i in range(3))

    def call(self, images, windows):
        config = self.config
        feature_maps = self.backbone(images)
        _, rpn_probs, rpn_deltas = self.rpn_outputs(feature_maps)
        rois, _ = select_proposals(rpn_probs, rpn_deltas, self.anchors, config, config.POST_NMS_ROIS_INFERENCE)
        shape = (self.image_size, self.image_size)
        pooled = pyramid_roi_align(rois, feature_maps[:4], config.POOL_SIZE, shape)
        _, class_probs, box_deltas = self.classifier(pooled)
        boxes, class_ids, scores, count = refine_detections(rois, class_probs, box_deltas, windows, config)
        mask_pooled = pyramid_roi_align(boxes, feature_maps[:4], config.MASK_POOL_SIZE, shape)
        masks = self.mask_head(mask_pooled)  # [B, D, m, m, K]
        index = ops.reshape(class_ids, (ops.shape(class_ids)[0], -1, 1, 1, 1))
        masks = ops.squeeze(ops.take_along_axis(masks, index, axis=-1), -1)
        return {
            "boxes": boxes,
            "class_ids": class_ids,
            "scores": scores,
            "count": count,
            "masks": masks,
            "rois": rois,
        }


class MaskRCNN:
    """Mask R-CNN for inference, matterport-compatible in config, weights and results.

    >>> model = MaskRCNN(CocoConfig())
    >>> model.load_weights("mask_rcnn_coco.h5")
    >>> detections = model.detect(frames)  # list of HxWx3 uint8 RGB arrays
    """

    def __init__(self, config: Config):
        tf_ops.require_tensorflow_backend()
        self.config = config
        self.network = MaskRCNNNetwork(config)
        self._predict = tf_ops.traced(lambda images, windows: self.network(images, windows, training=False))

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
        size = int(self.config.IMAGE_SHAPE[0])
        images, windows, moldings = mold_batch(frames, self.config)
        out = {k: np.asarray(v) for k, v in self._predict(images, windows).items()}
        return [
            unmold(out["boxes"][i], out["class_ids"][i], out["scores"][i], out["masks"][i], int(out["count"][i]), m, size)
            for i, m in enumerate(moldings)
        ]

