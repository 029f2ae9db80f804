"""The Mask R-CNN inference model: assembles the parts and runs frames through them.

`MaskRCNN(config)` builds the network, `load_weights` reads matterport `.h5`
files, `detect(frames)` returns one `Detections` per RGB frame.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Sequence

import keras
import numpy as np
from keras import ops

from vidseg.core.errors import VidsegError
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

    def first_stage(self, images):
        """Backbone, FPN and RPN head: images [B, S, S, 3] -> (feature_maps, rpn_logits, rpn_probs, rpn_deltas).

        `feature_maps` are P2..P5 in float32 (what ROIAlign pools from); the RPN's
        logits and probs [B, A, 2] and deltas [B, A, 4] cover the anchors of P2..P6 in order.
        """
        feature_maps = self.backbone(images)
        rpn_logits, rpn_probs, rpn_deltas = self.rpn_outputs(feature_maps)
        return tuple(_f32(p) for p in feature_maps[:4]), rpn_logits, rpn_probs, rpn_deltas

    def features(self, images):
        """The dense part for inference: `first_stage` less the RPN logits -> (feature_maps, rpn_probs, rpn_deltas)."""
        feature_maps, _, rpn_probs, rpn_deltas = self.first_stage(images)
        return feature_maps, rpn_probs, rpn_deltas

    def proposals(self, rpn_probs, rpn_deltas, count: int):
        """The RPN's `count` best boxes after NMS: [B, count, 4] normalized, zero boxes in empty slots."""
        rois, _ = select_proposals(rpn_probs, rpn_deltas, self.anchors, self.config, count)
        return rois

    def pool(self, feature_maps, rois, size: int):
        """ROIAlign of `rois` [B, N, 4] (normalized) from P2..P5 -> [B, N, size, size, C]."""
        return pyramid_roi_align(rois, feature_maps, size, (self.image_size, self.image_size))

    def classifier_outputs(self, feature_maps, rois):
        """ROIAlign and the classifier head on `rois` [B, N, 4] (normalized), as inference and training run it.

        Returns (class logits [B, N, K], class probs [B, N, K], box deltas [B, N, K, 4]), float32.
        """
        return tuple(_f32(x) for x in self.classifier(self.pool(feature_maps, rois, self.config.POOL_SIZE)))

    def mask_outputs(self, feature_maps, rois):
        """ROIAlign and the mask head on `rois` [B, N, 4] (normalized), as inference and training run it.

        Returns mask probabilities [B, N, m, m, K] (float32) for every class K.
        """
        return _f32(self.mask_head(self.pool(feature_maps, rois, self.config.MASK_POOL_SIZE)))

    def refine(self, rois, class_probs, box_deltas, windows):
        """The classifier head's outputs on `rois` -> fixed-size detections (per-class NMS; no masks)."""
        boxes, class_ids, scores, count = refine_detections(rois, class_probs, box_deltas, windows, self.config)
        return {"boxes": boxes, "class_ids": class_ids, "scores": scores, "count": count, "rois": rois}

    def detections(self, feature_maps, rpn_probs, rpn_deltas, windows):
        """Proposals, the classifier head and per-class NMS -> fixed-size detections (no masks)."""
        rois = self.proposals(rpn_probs, rpn_deltas, self.config.POST_NMS_ROIS_INFERENCE)
        _, class_probs, box_deltas = self.classifier_outputs(feature_maps, rois)
        return self.refine(rois, class_probs, box_deltas, windows)

    def pooled_proposals(self, feature_maps, rpn_probs, rpn_deltas):
        """The proposals [B, R, 4] and their pooled features, what the classifier head takes (an engine's path)."""
        rois = self.proposals(rpn_probs, rpn_deltas, self.config.POST_NMS_ROIS_INFERENCE)
        return rois, self.pool(feature_maps, rois, self.config.POOL_SIZE)

    def masks(self, feature_maps, boxes, class_ids):
        """Mask probabilities [B, n, m, m] of `boxes` [B, n, 4], each for its own class in `class_ids` [B, n]."""
        return own_class(self.mask_outputs(feature_maps, boxes), class_ids)

    def call(self, images, windows):
        """The whole graph as matterport builds it: the mask head runs on every one of the D detection slots."""
        feature_maps, rpn_probs, rpn_deltas = self.features(images)
        out = self.detections(feature_maps, rpn_probs, rpn_deltas, windows)
        out["masks"] = self.masks(feature_maps, out["boxes"], out["class_ids"])
        return out


def own_class(masks, class_ids):
    """Each slot's mask of its own class: masks [B, n, m, m, K], class_ids [B, n] -> [B, n, m, m]."""
    index = ops.reshape(class_ids, (ops.shape(class_ids)[0], -1, 1, 1, 1))
    return ops.squeeze(ops.take_along_axis(masks, index, axis=-1), -1)


def _f32(x):
    """Head outputs in float32 whatever the layers compute in (see `MaskRCNN`'s `precision`)."""
    return x if keras.backend.standardize_dtype(x.dtype) == "float32" else ops.cast(x, "float32")


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")

PartRunner = Callable[..., Any]
"""`run(name, part, *args) -> part's result`: how `MaskRCNN.predict` calls each compiled part."""


def _run_part(name: str, part: Callable, *args):
    """`predict`'s default `run`: call the part."""
    return part(*args)


MASK_CHUNK = 8  # detections per call of an engine's mask head (per detection as fast as 12 or 16 at once)


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
        self.config = config.freeze()  # a built model's settings cannot change under it; Config.copy() edits a copy
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
        self._features = kernels.traced(net.features, jit=self.xla, variables=net.variables)
        self._pooled_proposals = kernels.traced(net.pooled_proposals)  # an engine's path, with _pool_masks
        self._pool_masks = kernels.traced(lambda feature_maps, boxes: net.pool(feature_maps, boxes,
                                                                               self.config.MASK_POOL_SIZE), relax=True)
        self.engine, self._engine_options, self._parts = "keras", {}, None
        self._masks = kernels.traced(net.masks, relax=True, variables=net.variables)  # called with 1, 2, 4, ... slots
        self._trace_detections()

    def _trace_detections(self) -> None:
        """New graphs for the parts that read the detection thresholds (they trace at their next call)."""
        net = self.network
        weights = net.variables
        self._full = kernels.traced(lambda images, windows: net(images, windows, training=False), variables=weights)
        self._detections = kernels.traced(net.detections, variables=weights)
        self._refine = kernels.traced(net.refine, variables=weights)  # an engine's path

    def set_min_confidence(self, value: float) -> None:
        """Keep detections scoring `value` or more from now on: the model takes a copy of its config with
        DETECTION_MIN_CONFIDENCE `value` (the old config object is left as it was).

        The detection part traces anew; the dense part and the mask head keep their graphs.
        """
        self.config = self.network.config = self.config.copy(detection_min_confidence=float(value)).freeze()
        self._trace_detections()

    def predict(self, images: np.ndarray, windows: np.ndarray, run: PartRunner | None = None) -> dict[str, np.ndarray]:
        """Molded images [B, S, S, 3] and windows [B, 4] -> the network's outputs as numpy arrays.

        `masks` is [B, n, m, m] with n >= the fullest frame's `count` (n = D with
        `all_mask_slots`); slots past a frame's `count` are padding.

        `run(name, part, *args)`, when given, makes each call of a compiled part and
        returns its result: "features" (images), "detections" (feature maps, RPN
        probs and deltas, windows) and "masks" (feature maps, boxes, class ids), or
        "whole" (images, windows) with `all_mask_slots`. Benchmarks time or count
        each part through it.
        """
        run = run or _run_part
        if self.all_mask_slots:
            return {k: np.asarray(v) for k, v in run("whole", self._full, images, windows).items()}
        if self._parts is not None:
            return self._predict_engine(images, windows, run)
        feature_maps, rpn_probs, rpn_deltas = run("features", self._features, images)
        found = run("detections", self._detections, feature_maps, rpn_probs, rpn_deltas, windows)
        out = {k: np.asarray(v) for k, v in found.items()}
        n = self._slots(out)
        if n == 0:
            out["masks"] = self._no_masks(len(images))
        else:
            masks = run("masks", self._masks, feature_maps, out["boxes"][:, :n], out["class_ids"][:, :n])
            out["masks"] = np.asarray(masks)
        return out

    def _predict_engine(self, images: np.ndarray, windows: np.ndarray, run: PartRunner) -> dict[str, np.ndarray]:
        """`predict` with the dense part and the heads under `use_engine`'s runtime, the rest in Keras between."""
        parts = self._parts
        dense = run("features", parts.dense, images)
        feature_maps = tuple(dense[name] for name in ("p2", "p3", "p4", "p5"))
        rois, pooled = run("proposals", self._pooled_proposals, feature_maps, dense["rpn_probs"], dense["rpn_deltas"])
        heads = run("classifier", parts.classifier, np.asarray(pooled))
        found = run("detections", self._refine, rois, heads["class_probs"], heads["box_deltas"], windows)
        out = {k: np.asarray(v) for k, v in found.items()}
        n = self._slots(out)
        if n == 0:
            out["masks"] = self._no_masks(len(images))
        else:
            pooled = np.asarray(run("mask_pool", self._pool_masks, feature_maps, out["boxes"][:, :n]))
            out["masks"] = self._engine_masks(pooled, out["class_ids"][:, :n], out["count"], run)
        return out

    def _engine_masks(self, pooled: np.ndarray, class_ids: np.ndarray, count: np.ndarray, run: PartRunner) -> np.ndarray:
        """The engine's mask head on the frames' detections only, each for its own class -> [B, n, m, m] (slots past
        a frame's count zero). In calls of `MASK_CHUNK` detections and one for the rest, rounded up to a power of
        two: four input shapes at most, where whole slot counts (`mask_slots`) would compile a graph per power of
        two up to D and compute up to twice the detections."""
        frame, slot = np.nonzero(np.arange(pooled.shape[1]) < count[:, None])  # the real detections, in order
        rest = len(frame) % MASK_CHUNK
        calls = [MASK_CHUNK] * (len(frame) // MASK_CHUNK) + ([mask_slots(rest, MASK_CHUNK)] if rest else [])
        real = np.zeros((sum(calls), *pooled.shape[2:]), np.float32)
        real[:len(frame)] = pooled[frame, slot]
        own = np.zeros(len(real), np.int32)  # the padding's class 0 (background) is as good as any
        own[:len(frame)] = class_ids[frame, slot]
        probs = np.concatenate([run("masks", self._parts.mask_head, real[None, i:i + n], own[None, i:i + n])["masks"][0]
                                for i, n in zip(range(0, len(real), MASK_CHUNK), calls)])  # [T, m, m]
        masks = np.zeros((*pooled.shape[:2], *probs.shape[1:]), np.float32)
        masks[frame, slot] = probs[:len(frame)]
        return masks

    def _slots(self, out: dict) -> int:
        return mask_slots(int(out["count"].max(initial=0)), self.config.DETECTION_MAX_INSTANCES)

    def _no_masks(self, batch: int) -> np.ndarray:
        m = 2 * self.config.MASK_POOL_SIZE  # the mask head's output size
        return np.zeros((batch, 0, m, m), np.float32)

    def use_engine(self, engine: str, streams: int = 1, gpu: bool = False,
                   calibration: Sequence[np.ndarray] | None = None) -> None:
        """Run the dense part (backbone, FPN, RPN head) and the heads under `engine` from now on: "keras",
        "openvino" or "onnxruntime" (vidseg.maskrcnn.engines), for `streams` threads calling `predict` at once.

        `calibration`, RGB uint8 frames (a dozen or so, like the ones to come), quantizes those parts to
        int8 on them (OpenVINO only). The weights loaded now are compiled in; `load_weights` compiles
        again. Proposals, ROIAlign and NMS stay in Keras. Not with `all_mask_slots`.
        """
        from vidseg.maskrcnn.engines import build_engine

        if self.all_mask_slots and engine != "keras":
            raise VidsegError("all_mask_slots runs the whole graph in Keras: it takes no engine")
        images = None if calibration is None else mold_batch(list(calibration), self.config)[0]
        self._parts = build_engine(engine, self, streams=streams, gpu=gpu, calibration=images)
        self.engine, self._engine_options = engine, {"streams": streams, "gpu": gpu, "calibration": calibration}

    @property
    def keras_model(self) -> keras.Model:
        return self.network

    def load_weights(self, path: str | os.PathLike, exclude: Iterable[str] = (), strict: bool = False) -> LoadReport:
        """Load a matterport-layout `.h5` file; see `vidseg.maskrcnn.weights.load_weights`."""
        report = load_weights(self.network.weight_layers(), path, exclude=exclude, strict=strict)
        if self.engine != "keras":
            self.use_engine(self.engine, **self._engine_options)  # the engine's graph holds the old weights
        return report

    def save_weights(self, path: str | os.PathLike) -> None:
        """Save in matterport's `.h5` layout (loadable by `load_weights` and by matterport)."""
        save_weights(self.network.weight_layers(), path)

    def detect(self, frames: Sequence[np.ndarray] | np.ndarray, batch: int | None = None) -> list[Detections]:
        """Detect instances in RGB uint8 frames [H, W, 3]; one `Detections` per frame, in order.

        Frames may differ in size. They run in batches of `batch` (default IMAGES_PER_GPU); a last
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
        batch = batch or self.config.IMAGES_PER_GPU
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
