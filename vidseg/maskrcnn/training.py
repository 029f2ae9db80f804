"""Training Mask R-CNN: targets per batch, the five losses, SGD on the chosen layers.

One step, one graph: backbone and RPN forward; proposals (no gradient through
them, as in matterport); ROIs sampled against the ground truth (NumPy, inside
the graph); heads forward on the sampled ROIs; RPN class/box, head class/box and mask losses plus matterport's
L2 weight decay; SGD with momentum and gradient-norm clipping. `layers`
chooses what trains, with matterport's names: heads, 3+, 4+, 5+, all.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vidseg.core.errors import VidsegError
from vidseg.maskrcnn import losses
from vidseg.maskrcnn.anchors import pixel_anchors
from vidseg.maskrcnn.boxes import denorm_boxes
from vidseg.maskrcnn.config import LOSS_WEIGHTS
from vidseg.maskrcnn.dataset import CocoDataset, Sample, crop_sample
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
OPTIMIZERS = ("sgd", "adam")
_ROI_TARGETS = ("rois", "class_ids", "deltas", "positive", "masks")
LOSS_NAMES = tuple(LOSS_WEIGHTS)


def trained_layers(layers: Sequence[keras.layers.Layer], which: str) -> list[keras.layers.Layer]:
    """The layers that `which` (a LAYER_SETS name, or a regular expression their whole name matches) selects."""
    try:
        pattern = re.compile(LAYER_SETS.get(which, which))
    except (re.error, TypeError) as err:
        raise VidsegError(f"layers must be one of {list(LAYER_SETS)} or a regular expression, got {which!r}: "
                          f"{err}") from None
    chosen = [layer for layer in layers if pattern.fullmatch(layer.name)]
    if not chosen:
        raise VidsegError(f"layers {which!r} selects no layer of the model (names such as "
                          f"{', '.join(layer.name for layer in list(layers)[:3])}, ...)")
    return chosen


class Trainer:
    """Trains a `MaskRCNN` in place.

    Each step is one compiled TensorFlow graph: backbone and RPN, proposals
    (no gradient through them), ROIs and their targets sampled in NumPy inside
    the graph (`tf.numpy_function`), the heads, the losses and the SGD update. With `gt_proposals` (default) the
    ground-truth boxes join the proposals before sampling, as in Detectron, so
    the heads see positive ROIs from the first step even when the RPN is
    untrained; matterport samples from the RPN's proposals only
    (`gt_proposals=False`). `optimizer` is matterport's SGD with momentum, or Adam.
    With `ema` (a decay such as 0.999), the step also keeps an exponential moving
    average of the trained weights, and `fit` checkpoints and ends with those.
    `layers` is a name of LAYER_SETS or, as in matterport, a regular expression that
    the names of the layers to train match in full. `loss_weights` (matterport's
    LOSS_WEIGHTS) scales each term of the loss; all 1 by default.
    """

    def __init__(self, model, layers: str = "heads", learning_rate: float | None = None, seed: int = 0,
                 gt_proposals: bool = True, optimizer: str = "sgd", ema: float | None = None,
                 loss_weights: Mapping[str, float] | None = None):
        if optimizer not in OPTIMIZERS:
            raise VidsegError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
        if ema is not None and not 0 < ema < 1:
            raise VidsegError(f"ema must be a decay between 0 and 1 (say 0.999), got {ema!r}")
        self.model = model
        self.config = config = model.config
        self.rng = np.random.default_rng(seed)
        self.gt_proposals = gt_proposals
        chosen = trained_layers(model.network.weight_layers(), layers)
        self.loss_weights = dict(LOSS_WEIGHTS if loss_weights is None else loss_weights)
        self.variables = [v for layer in chosen for v in layer.trainable_weights]
        self.decayed = [v for v in self.variables if v.name not in ("gamma", "beta")]
        size = int(config.IMAGE_SHAPE[0])
        self.size = size
        self.anchors_px = pixel_anchors(config, (size, size))
        # Positives come first in each image's sampled ROIs and never exceed this count,
        # so the mask head only needs to run on these slots.
        self.mask_slots = max(1, int(config.TRAIN_ROIS_PER_IMAGE * config.ROI_POSITIVE_RATIO))
        rate = learning_rate or config.LEARNING_RATE
        if optimizer == "sgd":  # matterport's: momentum LEARNING_MOMENTUM, gradients clipped at GRADIENT_CLIP_NORM
            self.optimizer = keras.optimizers.SGD(learning_rate=rate, momentum=config.LEARNING_MOMENTUM,
                                                  clipnorm=config.GRADIENT_CLIP_NORM)
        else:  # converges faster from scratch (the demo model); same clipping
            self.optimizer = keras.optimizers.Adam(learning_rate=rate, clipnorm=config.GRADIENT_CLIP_NORM)
        self.ema = ema
        self.averages = [tf.Variable(v.value, trainable=False) for v in self.variables] if ema else []
        self._pending = None  # (samples, rng) of the step running now
        self._loss_graph = tf.function(self._loss_terms, autograph=False)
        self._train_graph = tf.function(self._train_step, autograph=False)

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.learning_rate)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.optimizer.learning_rate.assign(value)

    def batch_inputs(self, samples: list[Sample], rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """What a step needs before the network runs: the images and their RPN targets."""
        rng = rng or self.rng
        images = np.stack([s.image for s in samples]).astype(np.float32)
        rpn = [rpn_targets(self.anchors_px, denorm_boxes(s.boxes, (self.size, self.size)), self.config, rng)
               for s in samples]
        return {"images": images, "rpn_match": np.stack([r[0] for r in rpn]), "rpn_deltas": np.stack([r[1] for r in rpn])}

    def roi_targets(self, samples: list[Sample], proposals: np.ndarray,
                    rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """ROIs sampled from the proposals [B, N, 4] (plus the ground truth) and their class, box and mask targets."""
        config = self.config
        rng = rng or self.rng
        p, total, shape = self.mask_slots, config.TRAIN_ROIS_PER_IMAGE, tuple(config.MASK_SHAPE)
        rois = np.zeros((len(samples), total, 4), np.float32)
        class_ids = np.zeros((len(samples), total), np.int32)
        deltas = np.zeros((len(samples), total, 4), np.float32)
        positive = np.zeros((len(samples), total), bool)
        masks = np.zeros((len(samples), p, *shape), np.float32)
        for i, (sample, candidates) in enumerate(zip(samples, np.asarray(proposals))):
            if self.gt_proposals and len(sample.boxes):
                candidates = np.concatenate([candidates, sample.boxes.astype(np.float32)])
            t = sample_rois(candidates, sample.class_ids, sample.boxes, config, rng)
            rois[i], class_ids[i], deltas[i], positive[i] = t.rois, t.class_ids, t.deltas, t.gt_index >= 0
            n = t.positives
            masks[i, :n] = mask_targets(t.rois[:n], t.gt_index[:n], sample.masks, shape)
        return {"rois": rois, "class_ids": class_ids, "deltas": deltas, "positive": positive, "masks": masks}

    def _targets_in_graph(self, rpn_probs, rpn_deltas, batch: int) -> dict:
        """ROI targets inside the step's graph: proposals from this forward pass (no gradient through
        them), sampled in NumPy by `roi_targets` for the samples `_run` left in `_pending`."""
        config = self.config
        proposals = self.model.network.proposals(tf.stop_gradient(rpn_probs), tf.stop_gradient(rpn_deltas),
                                                 config.POST_NMS_ROIS_TRAINING)

        def sampled(proposals):
            samples, rng = self._pending
            targets = self.roi_targets(samples, proposals, rng)
            return tuple(targets[name] for name in _ROI_TARGETS)

        out = tf.numpy_function(sampled, [proposals], [tf.float32, tf.int32, tf.float32, tf.bool, tf.float32],
                                stateful=True)
        total, p = config.TRAIN_ROIS_PER_IMAGE, self.mask_slots
        shapes = ([batch, total, 4], [batch, total], [batch, total, 4], [batch, total], [batch, p, *config.MASK_SHAPE])
        for tensor, shape in zip(out, shapes):
            tensor.set_shape(shape)
        return dict(zip(_ROI_TARGETS, out))

    def _loss_terms(self, inputs: dict) -> dict:
        """The network's forward pass on a batch (the same methods inference runs) and the loss terms."""
        config, network = self.config, self.model.network
        feature_maps, rpn_logits, rpn_probs, rpn_pred = network.first_stage(inputs["images"])
        if "rois" not in inputs:  # one forward pass: proposals, then the heads on ROIs sampled from them
            inputs = {**inputs, **self._targets_in_graph(rpn_probs, rpn_pred, inputs["images"].shape[0])}
        rois = inputs["rois"]
        class_logits, _, box_deltas = network.classifier_outputs(feature_maps, rois)
        p = self.mask_slots
        mask_probs = network.mask_outputs(feature_maps, rois[:, :p])
        class_ids, positive = inputs["class_ids"], inputs["positive"]
        out = {
            "rpn_class_loss": losses.rpn_class_loss(inputs["rpn_match"], rpn_logits),
            "rpn_bbox_loss": losses.rpn_bbox_loss(inputs["rpn_match"], inputs["rpn_deltas"], rpn_pred),
            "mrcnn_class_loss": losses.class_loss(class_ids, class_logits),
            "mrcnn_bbox_loss": losses.bbox_loss(class_ids, inputs["deltas"], box_deltas, positive),
            "mrcnn_mask_loss": losses.mask_loss(inputs["masks"], mask_probs, class_ids[:, :p], positive[:, :p]),
        }
        # matterport's L2 weight decay, each weight's term divided by its size (gamma/beta exempt)
        out["weight_decay"] = ops.sum(ops.stack([
            config.WEIGHT_DECAY * ops.sum(ops.square(v)) / float(np.prod(v.shape)) for v in self.decayed
        ])) if self.decayed else ops.convert_to_tensor(0.0)
        weighted = [self.loss_weights[name] * out[name] for name in LOSS_NAMES]
        out["loss"] = ops.sum(ops.stack(weighted)) + out["weight_decay"]
        return out

    def _train_step(self, inputs: dict) -> dict:
        # Watch only the trained variables: frozen layers are then not recorded at all.
        trained = [v.value for v in self.variables]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(trained)
            terms = self._loss_terms(inputs)
        grads = tape.gradient(terms["loss"], trained)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, self.variables) if g is not None])
        if self.averages:  # the decay ramps up over the first steps, so the seeded start fades fast
            n = tf.cast(self.optimizer.iterations, tf.float32)
            decay = tf.minimum(self.ema, (1.0 + n) / (10.0 + n))
            for average, v in zip(self.averages, self.variables):
                average.assign(decay * average + (1.0 - decay) * v.value)
        return terms

    @contextlib.contextmanager
    def averaged_weights(self):
        """The model holds the moving-average weights inside the block (the trained ones again after);
        without `ema`, it holds the trained weights throughout."""
        current = [v.numpy() for v in self.variables] if self.averages else []
        self._load_averages()
        try:
            yield
        finally:
            for value, v in zip(current, self.variables):
                v.assign(value)

    def _load_averages(self) -> None:
        """The trained variables take their moving averages (nothing without `ema`)."""
        for average, v in zip(self.averages, self.variables):
            v.assign(average)

    def _run(self, graph, samples: list[Sample], rng: np.random.Generator) -> dict[str, float]:
        self._pending = (samples, rng)  # read by the graph's NumPy sampling step
        try:
            terms = graph(self.batch_inputs(samples, rng))
            return {k: float(v) for k, v in terms.items()}
        finally:
            self._pending = None

    def losses(self, samples: list[Sample], rng: np.random.Generator | None = None) -> dict[str, float]:
        """The loss terms of one batch, without training."""
        return self._run(self._loss_graph, samples, rng or self.rng)

    def step(self, samples: list[Sample]) -> dict[str, float]:
        """One SGD step on a batch; returns its loss terms (before the update)."""
        return self._run(self._train_graph, samples, self.rng)

    def _sample(self, dataset: CocoDataset, index: int, flip: bool, mold_config) -> Sample:
        if mold_config is None:
            return dataset.sample(index, self.config, flip=flip)
        return crop_sample(dataset.sample(index, mold_config, flip=flip), int(self.config.IMAGE_SHAPE[0]), self.rng)

    def fit(self, dataset: CocoDataset, epochs: int, steps_per_epoch: int, flip: bool = True,
            checkpoint: str | Path | None = None, report: Callable[[str], None] = log.info,
            decay_epochs: Sequence[int] = (), warmup_steps: int = 0, mold_config=None) -> list[dict[str, float]]:
        """Train for `epochs` x `steps_per_epoch` batches of IMAGES_PER_GPU random images.

        The learning rate rises linearly over the first `warmup_steps` steps and
        drops tenfold at the start of each epoch in `decay_epochs` (1-based).
        Flips (left-right, half the images) when `flip`. Mean losses per epoch are
        reported; with `checkpoint`, weights are saved there (matterport's .h5
        layout) after every epoch: the moving averages when `ema` is set, which the
        model also holds when `fit` returns. With `mold_config` (the config the model will run
        with, at a larger input size), images are molded as that config molds them and
        random crops of this model's input size are trained on: the network learns
        objects at the scale it will see them, for the cost of a smaller input.
        """
        batch = self.config.IMAGES_PER_GPU
        rate = self.learning_rate
        history = []
        done = 0
        for epoch in range(1, epochs + 1):
            if epoch in decay_epochs:
                rate /= 10
            bar = keras.utils.Progbar(steps_per_epoch, stateful_metrics=["loss"], verbose=1)
            sums: dict[str, float] = {}
            for step in range(steps_per_epoch):
                done += 1
                self.learning_rate = rate * min(1.0, done / warmup_steps) if warmup_steps else rate
                picks = self.rng.integers(0, len(dataset), batch)
                samples = [self._sample(dataset, int(i), flip and self.rng.random() < 0.5, mold_config) for i in picks]
                terms = self.step(samples)
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update(step + 1, values=[("loss", terms["loss"])])
            means = {k: v / steps_per_epoch for k, v in sums.items()}
            history.append(means)
            report(f"epoch {epoch}/{epochs} (lr {self.learning_rate:g}): " + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
            if checkpoint is not None:
                with self.averaged_weights():
                    self.model.save_weights(checkpoint)
        self._load_averages()
        return history
