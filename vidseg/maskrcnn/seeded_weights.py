"""Seeded weights: stand-ins for tests and benchmarks, and the start of training from scratch.

Plain random initialisation through 50-100 frozen batch-norm layers makes
activations explode and every score saturate near 1. Here, in one eager pass
over a calibration batch, each batch norm takes the statistics of its input and
each layer without one is rescaled to a target output scale (logits a little
wider, box deltas narrower), so scores spread out the way a trained model's do.
The result is deterministic per seed.
"""

from __future__ import annotations

import keras
import numpy as np

from vidseg.maskrcnn.layers import FrozenBatchNorm, _Calibration
from vidseg.maskrcnn.preprocess import mold_batch


def calibration_frames(count: int = 2, size: tuple[int, int] = (240, 320), seed: int = 0) -> list[np.ndarray]:
    """Smooth random RGB frames with blobs and edges (not white noise)."""
    rng = np.random.default_rng(seed)
    import cv2

    frames = []
    for _ in range(count):
        coarse = rng.integers(0, 256, (size[0] // 16, size[1] // 16, 3), dtype=np.uint8)
        frames.append(cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC))
    return frames


def seed_weights(model, seed: int = 0, frames: list[np.ndarray] | None = None) -> None:
    """Give `model` (a `MaskRCNN`) seeded weights with calibrated batch-norm statistics."""
    keras.utils.set_random_seed(seed)
    network = model.network
    for layer in network.weight_layers():
        for variable in layer.weights:
            init = _initial_value(variable)
            variable.assign(init)
    frames = frames if frames is not None else calibration_frames(seed=seed)
    images, windows, _ = mold_batch(frames, model.config)
    layers = network.weight_layers() + network.rpn.inner_layers()
    norms = [layer for layer in layers if isinstance(layer, FrozenBatchNorm)]
    for layer in norms:
        layer.calibrate_next_call = True
    scaled = [layer for layer in layers if isinstance(layer, _Calibration) and not _feeds_batch_norm(layer.name)]
    for layer in scaled:
        layer.calibrate_to = OUTPUT_SCALES.get(layer.name, 1.0)
    network(images, windows)  # eager, so every layer calibrates on its real input, in order
    left = [layer.name for layer in norms if layer.calibrate_next_call]
    left += [layer.name for layer in scaled if layer.calibrate_to is not None]
    if left:
        raise RuntimeError(f"layers not reached during calibration: {left}")


# Output standard deviation per layer without a batch norm after it (default 1).
OUTPUT_SCALES = {
    "rpn_class_raw": 2.0,
    "rpn_bbox_pred": 0.5,
    "mrcnn_class_logits": 2.5,
    "mrcnn_bbox_fc": 0.5,
    "mrcnn_mask": 2.0,
}


def _feeds_batch_norm(name: str) -> bool:
    return name == "conv1" or name.startswith(("res", "mrcnn_class_conv", "mrcnn_mask_conv"))


def _initial_value(variable) -> np.ndarray:
    shape = tuple(variable.shape)
    role = variable.name
    if role in ("gamma", "moving_variance"):
        return np.ones(shape, np.float32)
    if role in ("beta", "moving_mean", "bias"):
        return np.zeros(shape, np.float32)
    fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else shape[0]
    rng_value = keras.random.normal(shape, stddev=float(np.sqrt(2.0 / fan_in)))
    return keras.ops.convert_to_numpy(rng_value)
