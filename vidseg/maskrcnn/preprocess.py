"""Frame preprocessing: resize into the square model input, pad, subtract the mean pixel.

Follows matterport's `resize_image` (mode "square") and `mold_image`: bilinear
resize as scikit-image does it (see `resize.py`) truncated back to uint8, zero padding centred, and the
window of real pixels inside the padded image recorded for post-processing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.boxes import norm_boxes
from vidseg.maskrcnn.resize import resize_like_skimage


@dataclass(frozen=True)
class Molding:
    """How one frame was placed in the model input."""

    original_shape: tuple[int, int]  # (h, w) of the frame
    window: tuple[int, int, int, int]  # (y1, x1, y2, x2) of the frame's pixels in the molded image
    scale: float


def square_geometry(shape: tuple[int, int], min_dim: int, max_dim: int, min_scale: float = 0.0) -> tuple[float, tuple[int, int], tuple[int, int, int, int]]:
    """Scale, resized size `(h, w)` and window for a frame of `shape` in a `max_dim` square."""
    h, w = shape
    scale = max(1.0, min_dim / min(h, w)) if min_dim else 1.0
    if min_scale and scale < min_scale:
        scale = min_scale
    if round(max(h, w) * scale) > max_dim:
        scale = max_dim / max(h, w)
    new_h, new_w = (round(h * scale), round(w * scale)) if scale != 1 else (h, w)
    top = (max_dim - new_h) // 2
    left = (max_dim - new_w) // 2
    return scale, (new_h, new_w), (top, left, top + new_h, left + new_w)


def check_frame(frame: np.ndarray, index: int) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        desc = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise VidsegError(f"frame {index}: expected an HxWx3 uint8 RGB array, got a {desc}")
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        raise VidsegError(f"frame {index}: frames must be at least 2x2 pixels, got {frame.shape[1]}x{frame.shape[0]}")


def mold_frame(frame: np.ndarray, config, out: np.ndarray | None = None) -> tuple[np.ndarray, Molding]:
    """One RGB uint8 frame -> model input [S, S, 3] float32 (mean subtracted) and its `Molding`."""
    h, w = frame.shape[:2]
    size = config.IMAGE_MAX_DIM
    scale, (new_h, new_w), window = square_geometry((h, w), config.IMAGE_MIN_DIM, size, config.IMAGE_MIN_SCALE)
    if min(new_h, new_w) < 1:
        raise VidsegError(f"a {w}x{h} frame is too elongated to fit a {size}x{size} model input")
    if (new_h, new_w) != (h, w):
        # matterport casts the float resize back to the frame's dtype (truncation).
        frame = resize_like_skimage(frame, (new_h, new_w)).astype(np.uint8)
    if out is None:
        out = np.empty((size, size, 3), np.float32)
    if out.shape != (size, size, 3) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"mold_frame: out must be a contiguous float32 array of shape {(size, size, 3)}")
    mean = np.asarray(config.MEAN_PIXEL, np.float32)
    # Whole rows at a time: broadcasting a 3-vector makes NumPy loop 3 values at a time (8x slower).
    out.reshape(size, size * 3)[...] = np.tile(-mean, size)
    y1, x1, y2, x2 = window
    rows = out[y1:y2].reshape(y2 - y1, size * 3)[:, x1 * 3 : x2 * 3]
    np.subtract(frame.reshape(y2 - y1, (x2 - x1) * 3), np.tile(mean, x2 - x1), out=rows, dtype=np.float32)
    return out, Molding((h, w), window, scale)


def mold_batch(frames, config) -> tuple[np.ndarray, np.ndarray, list[Molding]]:
    """Frames -> model inputs [B, S, S, 3], normalized windows [B, 4] and each frame's `Molding`."""
    size = int(config.IMAGE_SHAPE[0])
    images = np.empty((len(frames), size, size, 3), np.float32)
    moldings = [mold_frame(frame, config, out=images[i])[1] for i, frame in enumerate(frames)]
    windows = np.stack([normalized_window(m.window, size) for m in moldings])
    return images, windows, moldings


def normalized_window(window: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Pixel window in a `size` square -> normalized window (float32 [4])."""
    return norm_boxes(np.array([window]), (size, size))[0]
