"""The annotated frame as vidseg drew it before issue 22 (full-frame mask decode and blend), kept as the
reference that the in-box drawing (vidseg.media.render.draw) is measured and checked against
(benchmarks/draw.py, tests/test_encode_render.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from vidseg.media.render import MASK_ALPHA, label_style, style


def draw_before(image_bgr: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    out = image_bgr.copy()
    h, w = out.shape[:2]
    for row in rows.sort_values("score").itertuples():
        mask = mask_utils.decode({"size": [h, w], "counts": row.mask_rle.encode("ascii")}).astype(bool)
        colour = np.array(style(row)[0], np.float32)
        out[mask] = (out[mask] * (1 - MASK_ALPHA) + colour * MASK_ALPHA).astype(np.uint8)
    scale, thickness = label_style(h, w)
    for row in rows.itertuples():
        colour, label = style(row)
        cv2.rectangle(out, (row.x_min, row.y_min), (row.x_max - 1, row.y_max - 1), colour, thickness)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = max(row.y_min, th + base)
        cv2.rectangle(out, (row.x_min, y - th - base), (row.x_min + tw, y), colour, cv2.FILLED)
        cv2.putText(out, label, (row.x_min, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out
