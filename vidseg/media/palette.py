"""Track colours that tell tracks apart: a palette spread out in CIEDE2000, and tracks alive at the same time given
colours from it as far apart as it allows.

CIEDE2000 (Sharma, Wu and Dalal, 2005: the CIE's colour difference that follows perceived
difference) is written here, twenty lines of numpy, rather than taken from scikit-image,
which the package does not otherwise need; tests/test_palette.py checks it against
scikit-image's `deltaE_ciede2000`. sRGB to CIELAB (D65) is OpenCV's.

The palette is chosen once, deterministically: from a grid of bright hues (light enough
for the black label text drawn on them), farthest-point sampling in CIEDE2000. Tracks get
colours in order of first sight; each takes the palette colour farthest from those of the
tracks alive during its own span (their first to last frames overlap), the least recently
used among equals. While fewer than `PALETTE_SIZE` tracks are alive together, every two
of them differ by at least `MIN_DELTA_E`.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

PALETTE_SIZE = 16


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB colours [..., 3] (0-255) -> CIELAB (L 0-100), D65."""
    rgb = np.asarray(rgb, np.float32).reshape(1, -1, 3) / 255.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).reshape(np.shape(rgb)[1:]).astype(np.float64)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours [..., 3] (broadcast), kL = kC = kH = 1."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    c7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c7 / (c7 + 25.0 ** 7)))
    a1, a2 = a1 * (1 + g), a2 * (1 + g)
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    chroma = c1 * c2 != 0
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)) * chroma
    d_l, d_c = L2 - L1, c2 - c1
    d_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_mean, c_mean = (L1 + L2) / 2, (c1 + c2) / 2
    h_sum = h1 + h2
    h_mean = np.where(np.abs(h1 - h2) <= 180, h_sum / 2, np.where(h_sum < 360, h_sum + 360, h_sum - 360) / 2)
    h_mean = np.where(chroma, h_mean, h_sum)
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    rotation = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * c_mean
    s_h = 1 + 0.015 * c_mean * t
    r_t = -np.sin(np.radians(2 * rotation)) * r_c
    return np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def _palette(size: int) -> np.ndarray:
    """`size` RGB colours (0-255), spread out in CIEDE2000 over bright hues."""
    grid = [colorsys.hsv_to_rgb(h / 72, s, v) for h in range(72) for s in (0.45, 0.7, 1.0) for v in (0.8, 1.0)]
    candidates = np.round(np.array(grid) * 255)
    lab = to_lab(candidates)
    keep = lab[:, 0] >= 55  # black label text stays readable on them
    candidates, lab = candidates[keep], lab[keep]
    chosen = [int(np.argmax(lab[:, 0] + np.hypot(lab[:, 1], lab[:, 2])))]  # the brightest, most saturated first
    nearest = ciede2000(lab, lab[chosen[0]])
    while len(chosen) < size:
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, ciede2000(lab, lab[chosen[-1]]))
    return candidates[chosen].astype(np.uint8)


PALETTE = _palette(PALETTE_SIZE)  # RGB
DISTANCES = ciede2000(to_lab(PALETTE)[:, None], to_lab(PALETTE)[None])  # [P, P]
MIN_DELTA_E = float(DISTANCES[~np.eye(PALETTE_SIZE, dtype=bool)].min())


def assign_colours(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """A palette index per track (`first`, `last`: its first and last frame numbers), far from those of the tracks
    alive during its span; see the module docstring."""
    first, last = np.asarray(first), np.asarray(last)
    out = np.zeros(len(first), np.int64)
    last_used = np.full(PALETTE_SIZE, -1, np.int64)  # the order in which colours were last given
    active: list[int] = []
    for step, i in enumerate(np.lexsort((np.arange(len(first)), first))):
        active = [j for j in active if last[j] >= first[i]]
        if active:
            spread = DISTANCES[:, out[active]].min(axis=1)
            best = np.flatnonzero(spread >= spread.max() - 1e-9)
        else:
            best = np.arange(PALETTE_SIZE)
        out[i] = best[np.argmin(last_used[best])]
        last_used[out[i]] = step
        active.append(int(i))
    return out


def hex_colour(index: int) -> str:
    """The palette colour `index` as "#rrggbb"."""
    r, g, b = (int(v) for v in PALETTE[index])
    return f"#{r:02x}{g:02x}{b:02x}"


def bgr(colour: str) -> tuple[int, int, int]:
    """"#rrggbb" -> OpenCV's (b, g, r)."""
    value = int(colour.lstrip("#"), 16)
    return value & 255, (value >> 8) & 255, value >> 16


def hex_of(colour: tuple[int, int, int]) -> str:
    """OpenCV's (b, g, r) -> "#rrggbb" (`bgr`'s inverse)."""
    b, g, r = colour
    return f"#{r:02x}{g:02x}{b:02x}"
