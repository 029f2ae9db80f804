"""Training Mask R-CNN: targets per batch, the five losses, SGD on the chosen layers.

One step: backbone and RPN forward; proposals (no gradient through them, as
in matterport); ROIs sampled against the ground truth; heads forward on the
sampled ROIs; RPN class/box, head class/box and mask losses plus matterport's
L2 weight decay; SGD with momentum and gradient-norm clipping. `layers`
chooses what trains, with matterport's names: heads, 3+, 4+, 5+, all.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vidseg.errors import VidsegError
from vidseg.maskrcnn import losses
from vidseg.maskrcnn.anchors import pyramid_anchors
from vidseg.maskrcnn.dataset import CocoDataset, Sample
from vidseg.maskrcnn.roi_align import pyramid_roi_align
from vidseg.maskrcnn.rpn import select_proposals
from vidseg.maskrcnn.targets import mask_targets, rpn_targets, sample_rois

log = logging.getLogger(__name__)

_HEADS = r"(mrcnn_.*)|(rpn_.*)|(fpn_.*)"
LAYER_SETS = {
    "heads": _HEADS,
    "3+": r"(res3.*)|(bn3.*)|(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|" + _HEADS,
    "4+": r"(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|" + _HEADS,
    "5+": r"(res5.*)|(bn5.*)|" + _HEADS,
    "all": r".*",
}
LOSS_NAMES = ("rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss", "mrcnn_mask_loss")


class Trainer:
    """Trains a `MaskRCNN` in place."""

    def __init__(self, model, layers: str = "heads", learning_rate: float | None = None, seed: int = 0):
        if layers not in LAYER_SETS:
            raise VidsegError(f"layers must be one of {list(LAYER_SETS)}, got {layers!r}")
        self.model = model
        self.config = config = model.config
        self.rng = np.random.default_rng(seed)
        pattern = re.compile(LAYER_SETS[layers])
        chosen = [layer for layer in model.network.weight_layers() if pattern.fullmatch(layer.name)]
        self.variables = [v for layer in chosen for v in layer.trainable_weights]
        self.decayed = [v for v in self.variables if v.name not in ("gamma", "beta")]
        size = int(config.IMAGE_SHAPE[0])
        self.size = size
        self.anchors_px = pyramid_anchors(config.RPN_ANCHOR_SCALES, config.RPN_ANCHOR_RATIOS, (size, size),
                                          config.BACKBONE_STRIDES, config.RPN_ANCHOR_STRIDE)
        self.optimizer = keras.optimizers.SGD(
            learning_rate=learning_rate or config.LEARNING_RATE,
            momentum=config.LEARNING_MOMENTUM,
            clipnorm=config.GRADIENT_CLIP_NORM,
        )

    def _pixel_boxes(self, boxes: np.ndarray) -> np.ndarray:
        return boxes.astype(np.float64) * (self.size - 1) + np.array([0.0, 0.0, 1.0, 1.0])

    def losses(self, samples: list[Sample], rng: np.random.Generator | None = None) -> dict[str, tf.Tensor]:
        """The loss terms of one batch (call inside a GradientTape to train)."""
        config, network = self.config, self.model.network
        rng = rng or self.rng
        images = np.stack([s.image for s in samples])
        rpn = [rpn_targets(self.anchors_px, self._pixel_boxes(s.boxes), config, rng) for s in samples]
        rpn_match = np.stack([r[0] for r in rpn])
        rpn_deltas = np.stack([r[1] for r in rpn])

        features = network.backbone(images)
        rpn_logits, rpn_probs, rpn_pred = network.rpn_outputs(features)
        proposals, _ = select_proposals(ops.stop_gradient(rpn_probs), ops.stop_gradient(rpn_pred), network.anchors,
                                        config, config.POST_NMS_ROIS_TRAINING)
        proposals = ops.convert_to_numpy(proposals)

        total = config.TRAIN_ROIS_PER_IMAGE
        shape = tuple(config.MASK_SHAPE)
        rois, class_ids, deltas, positive, masks = [], [], [], [], []
        for sample, image_proposals in zip(samples, proposals):
            t = sample_rois(image_proposals, sample.class_ids, sample.boxes, config, rng)
            p = t.positives
            target_masks = np.zeros((total, *shape), np.float32)
            target_masks[:p] = mask_targets(t.rois[:p], t.gt_index[:p], sample.masks, shape)
            rois.append(t.rois)
            class_ids.append(t.class_ids)
            deltas.append(t.deltas)
            positive.append(t.gt_index >= 0)
            masks.append(target_masks)
        rois, class_ids, deltas = np.stack(rois), np.stack(class_ids), np.stack(deltas)
        positive, masks = np.stack(positive), np.stack(masks)

        image_shape = (self.size, self.size)
        class_logits, _, box_deltas = network.classifier(
            pyramid_roi_align(rois, features[:4], config.POOL_SIZE, image_shape))
        mask_probs = network.mask_head(pyramid_roi_align(rois, features[:4], config.MASK_POOL_SIZE, image_shape))
        out = {
            "rpn_class_loss": losses.rpn_class_loss(rpn_match, rpn_logits),
            "rpn_bbox_loss": losses.rpn_bbox_loss(rpn_match, rpn_deltas, rpn_pred),
            "mrcnn_class_loss": losses.class_loss(class_ids, class_logits),
            "mrcnn_bbox_loss": losses.bbox_loss(class_ids, deltas, box_deltas, positive),
            "mrcnn_mask_loss": losses.mask_loss(masks, mask_probs, class_ids, positive),
        }
        # matterport's L2 weight decay, each weight's term divided by its size (gamma/beta exempt)
        out["weight_decay"] = ops.sum(ops.stack([
            config.WEIGHT_DECAY * ops.sum(ops.square(v)) / float(np.prod(v.shape)) for v in self.decayed
        ])) if self.decayed else ops.convert_to_tensor(0.0)
        out["loss"] = ops.sum(ops.stack([out[name] for name in LOSS_NAMES])) + out["weight_decay"]
        return out

    def step(self, samples: list[Sample]) -> dict[str, float]:
        """One SGD step on a batch; returns its loss terms."""
        # Watch only the trained variables: frozen layers are then not recorded at all.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([v.value for v in self.variables])
            terms = self.losses(samples)
        grads = tape.gradient(terms["loss"], [v.value for v in self.variables])
        pairs = [(g, v) for g, v in zip(grads, self.variables) if g is not None]
        self.optimizer.apply_gradients(pairs)
        return {k: float(v) for k, v in terms.items()}

    def fit(self, dataset: CocoDataset, epochs: int, steps_per_epoch: int, flip: bool = True,
            checkpoint: str | Path | None = None, report: Callable[[str], None] = log.info) -> list[dict[str, float]]:
        """Train for `epochs` x `steps_per_epoch` batches of IMAGES_PER_GPU random images.

        Mean losses per epoch are reported; with `checkpoint`, weights are saved
        there (matterport's .h5 layout) after every epoch.
        """
        batch = self.config.IMAGES_PER_GPU
        history = []
        for epoch in range(1, epochs + 1):
            bar = keras.utils.Progbar(steps_per_epoch, stateful_metrics=["loss"], verbose=1)
            sums: dict[str, float] = {}
            for step in range(steps_per_epoch):
                picks = self.rng.integers(0, len(dataset), batch)
                samples = [dataset.sample(int(i), self.config, flip=bool(flip and self.rng.random() < 0.5)) for i in picks]
                terms = self.step(samples)
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update(step + 1, values=[("loss", terms["loss"])])
            means = {k: v / steps_per_epoch for k, v in sums.items()}
            history.append(means)
            report(f"epoch {epoch}/{epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
            if checkpoint is not None:
                self.model.save_weights(checkpoint)
        return history
