"""Draw detections on frames: translucent mask, box and label, one stable colour per tracked object.

A detection in a confirmed track is drawn in its track's colour and labelled
`#<track id> <class> <score>`; one outside any track (track id -1, or a table
without track ids) in its class's colour, labelled `<class> <score>`.
"""

from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from vidseg.errors import VidsegError
from vidseg.frames import frame_name

MASK_ALPHA = 0.45


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A BGR colour that depends only on the class id (golden-ratio hue steps)."""
    return _colour(int(class_id), 0.85, 1.0)


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A BGR colour that depends only on the track id; neighbouring ids differ (golden-ratio hue steps)."""
    return _colour(int(track_id) * 7 + 3, 0.75 if track_id % 2 else 0.95, 1.0 if track_id % 3 else 0.8)


def _colour(step: int, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((step * 0.618033988749895) % 1.0, saturation, value)
    return int(b * 255), int(g * 255), int(r * 255)


def _style(row) -> tuple[tuple[int, int, int], str]:
    """Colour and label of one detection row."""
    track_id = getattr(row, "track_id", -1)
    if track_id >= 0:
        return track_colour(track_id), f"#{track_id} {row.class_name} {row.score:.2f}"
    return class_colour(row.class_id), f"{row.class_name} {row.score:.2f}"


def draw(image_bgr: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """Annotate one BGR frame with its detection rows (columns of the detections table)."""
    out = image_bgr.copy()
    h, w = out.shape[:2]
    # masks first (lowest score first, so the best instance ends on top), then boxes and labels
    for row in rows.sort_values("score").itertuples():
        mask = mask_utils.decode({"size": [h, w], "counts": row.mask_rle.encode("ascii")}).astype(bool)
        colour = np.array(_style(row)[0], np.float32)
        out[mask] = (out[mask] * (1 - MASK_ALPHA) + colour * MASK_ALPHA).astype(np.uint8)
    scale = max(0.35, min(h, w) / 900)
    thickness = max(1, round(min(h, w) / 400))
    for row in rows.itertuples():
        colour, label = _style(row)
        cv2.rectangle(out, (row.x_min, row.y_min), (row.x_max - 1, row.y_max - 1), colour, thickness)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = max(row.y_min, th + base)
        cv2.rectangle(out, (row.x_min, y - th - base), (row.x_min + tw, y), colour, cv2.FILLED)
        cv2.putText(out, label, (row.x_min, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def render_video(frames_dir: str | Path, n_frames: int, detections: Iterable[tuple[int, pd.DataFrame]],
                 out_dir: str | Path, image_format: str, jpeg_quality: int = 95) -> None:
    """Write annotated copies of frames 0..n_frames-1 (same names) into `out_dir`.

    `detections` yields `(frame, rows)` in frame order (`vidseg.tables.frame_groups`
    streams them from the table), so memory does not grow with the video's length.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if image_format == "jpg" else []
    groups = iter(detections)
    upcoming = next(groups, None)
    for index in range(n_frames):
        name = frame_name(index, image_format)
        image = cv2.imread(str(Path(frames_dir) / name), cv2.IMREAD_COLOR)
        if image is None:
            raise VidsegError(f"cannot read frame image {Path(frames_dir) / name}")
        rows = None
        if upcoming is not None and upcoming[0] == index:
            rows, upcoming = upcoming[1], next(groups, None)
        annotated = draw(image, rows) if rows is not None else image
        if not cv2.imwrite(str(out_dir / name), annotated, params):
            raise VidsegError(f"cannot write {out_dir / name}")
    if upcoming is not None:
        raise VidsegError(f"detections for frame {upcoming[0]}, but the video has {n_frames} frames")
