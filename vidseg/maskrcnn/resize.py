"""Bilinear resizing as matterport's scikit-image call does it, at OpenCV's speed.

matterport resizes with `skimage.transform.resize(order=1, mode="constant")`:
half-pixel sample positions, samples beyond the edge read 0, output clipped to
the input's range. OpenCV's bilinear resize samples the same positions but
repeats the edge pixel; the two differ only where a sample falls outside the
input, i.e. in the outer rows and columns when enlarging. There, reading 0
instead of the edge pixel scales the value by a known factor per row/column,
which is applied after OpenCV's resize.
"""

from __future__ import annotations

import cv2
import numpy as np


def _edge_factors(n_in: int, n_out: int) -> np.ndarray:
    """Per output index, the weight left on the real edge pixel when beyond-edge samples read 0."""
    u = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    factors = np.ones(n_out, np.float32)
    low, high = u < 0, u > n_in - 1
    factors[low] = 1 + u[low]
    factors[high] = n_in - u[high]
    return np.clip(factors, 0, 1)


def resize_like_skimage(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float32 [H, W] or [H, W, C] array to `size = (h, w)`."""
    h, w = size
    image = np.asarray(image, np.float32)
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    if out.ndim < image.ndim:  # OpenCV drops a single channel
        out = out[..., None]
    fy = _edge_factors(image.shape[0], h)
    fx = _edge_factors(image.shape[1], w)
    rows, cols = np.nonzero(fy < 1)[0], np.nonzero(fx < 1)[0]
    if len(rows) or len(cols):
        shape = (1,) * (out.ndim - 2)
        out[rows] *= fy[rows].reshape(-1, 1, *shape)
        out[:, cols] *= fx[cols].reshape(1, -1, *shape)
        np.clip(out, image.min(), image.max(), out=out)
    return out
