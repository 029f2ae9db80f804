"""Draw detections on frames: translucent mask, box and label, one stable colour per tracked object.

A detection in a confirmed track is drawn in its track's colour (the tracks table's
`colour`, which keeps tracks alive together apart: vidseg.media.palette) and labelled
`#<track id> <class> <score>`; one outside any track (track id -1, or a table
without track ids) in its class's colour, labelled `<class> <score>`.
"""

from __future__ import annotations

import colorsys
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from vidseg.core.errors import VidsegError
from vidseg.media.palette import bgr
from vidseg.media.rle import decode_box

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


def style(row) -> tuple[tuple[int, int, int], str]:
    """Colour and label of one detection row; a tracked row's colour is its track's (`colour`, "#rrggbb", from the
    tracks table: vidseg.media.palette) where the row has one."""
    track_id = getattr(row, "track_id", -1)
    if track_id >= 0:
        colour = getattr(row, "colour", None)
        return (bgr(colour) if isinstance(colour, str) else track_colour(track_id),
                f"#{track_id} {row.class_name} {row.score:.2f}")
    return class_colour(row.class_id), f"{row.class_name} {row.score:.2f}"


def label_style(height: int, width: int) -> tuple[float, int]:
    """(font scale, line thickness) of labels and boxes on a frame of this size."""
    return max(0.35, min(height, width) / 900), max(1, round(min(height, width) / 400))


_LEVELS = np.arange(256, dtype=np.float64)[:, None]


def blend_table(colour: tuple[int, int, int]) -> np.ndarray:
    """Per channel, every pixel value blended with `colour` at MASK_ALPHA: a [256, 1, 3] table for cv2.LUT
    (a lookup instead of float arithmetic over every masked pixel; the same values, truncated)."""
    return (_LEVELS * (1 - MASK_ALPHA) + np.asarray(colour, np.float32) * MASK_ALPHA).astype(np.uint8)[:, None, :]


def blend_mask(out: np.ndarray, rle: dict, colour: tuple[int, int, int]) -> None:
    """Blend `colour` into `out` (in place) where the mask is, touching only the mask's own bounding box.

    The box comes from the RLE itself (`toBbox`, no decoding), and the mask is
    decoded inside it only (vidseg.media.rle), so the cost follows the object's size, not
    the frame's (docs/benchmarks.md, "Drawing annotated frames").
    """
    x, y, w, h = (int(v) for v in mask_utils.toBbox(rle))
    if w == 0 or h == 0:
        return
    inside = decode_box(rle["counts"], rle["size"][0], x, y, w, h)[..., None]
    region = out[y:y + h, x:x + w]
    np.copyto(region, cv2.LUT(region, blend_table(colour)), where=inside)


def place_labels(boxes: Sequence[tuple[int, int, int, int]], sizes: Sequence[tuple[int, int]], height: int,
                 width: int, order: Iterable[int]) -> list[tuple[int, int]]:
    """Top-left corners of labels of `sizes` (w, h) for `boxes` (x0, y0, x1, y1), inside the frame and not
    covering each other where the frame has room. A label covers x..x+w, y..y+h (cv2.rectangle's corners).

    Labels are placed in `order` (the best detection first, so it gets the spot
    above its box); each takes the first free one of: above its box, below it, then
    further above and below, one label height at a time, each shifted into the frame.
    Where none is free (a crowd larger than the frame holds) it takes the first.
    """
    placed: list[tuple[int, int, int, int]] = []
    corners: list[tuple[int, int]] = [(0, 0)] * len(boxes)

    def free(x: int, y: int, w: int, h: int) -> bool:
        return not any(x <= px1 and px0 <= x + w and y <= py1 and py0 <= y + h for px0, py0, px1, py1 in placed)

    for i in order:
        (x0, y0, _, y1), (w, h) = boxes[i], sizes[i]
        x = min(max(0, int(x0)), max(0, width - 1 - w))
        step = h + 1
        spots = ((x, min(max(0, y), max(0, height - 1 - h)))
                 for k in range(height // step + 1) for y in (int(y0) - h - step * k, int(y1) + step * k))
        first = next(spots)
        spot = first if free(*first, w, h) else next((s for s in spots if free(*s, w, h)), first)
        placed.append((spot[0], spot[1], spot[0] + w, spot[1] + h))
        corners[i] = spot
    return corners


def draw(image_bgr: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """Annotate one BGR frame with its detection rows (columns of the detections table)."""
    out = image_bgr.copy()
    h, w = out.shape[:2]
    # masks first (lowest score first, so the best instance ends on top), then boxes and labels
    for row in rows.sort_values("score").itertuples():
        blend_mask(out, {"size": [h, w], "counts": row.mask_rle.encode("ascii")}, style(row)[0])
    scale, thickness = label_style(h, w)
    styles = [style(row) for row in rows.itertuples()]
    texts = [cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1) for _, label in styles]  # ((w, h), base)
    sizes = [(tw, th + base) for (tw, th), base in texts]
    boxes = list(zip(rows.x_min, rows.y_min, rows.x_max, rows.y_max))
    corners = place_labels(boxes, sizes, h, w, np.argsort(-rows.score.to_numpy(), kind="stable"))
    for (x0, y0, x1, y1), (colour, label), (lx, ly), (tw, lh), (_, base) in zip(boxes, styles, corners, sizes, texts):
        cv2.rectangle(out, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), colour, thickness)
        cv2.rectangle(out, (lx, ly), (lx + tw, ly + lh), colour, cv2.FILLED)
        cv2.putText(out, label, (lx, ly + lh - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


OUTLINE = (255, 255, 255)  # the ground truth's outlines and labels, on a black edge: apart from every track colour


def draw_outlines(image_bgr: np.ndarray, outlines: Sequence[tuple[dict, str]]) -> np.ndarray:
    """`image_bgr` (drawn on in place) with each `(rle, label)` of `outlines` as a white outline on a black edge and
    its label, white on black, at the object's top left: the ground truth over the detections."""
    h, w = image_bgr.shape[:2]
    scale, thickness = label_style(h, w)
    for rle, label in outlines:
        mask = np.ascontiguousarray(mask_utils.decode(rle))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:
            continue
        cv2.drawContours(image_bgr, contours, -1, (0, 0, 0), thickness + 2)
        cv2.drawContours(image_bgr, contours, -1, OUTLINE, thickness)
        x, y, _, _ = cv2.boundingRect(np.concatenate(contours))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = min(max(y, 0), h - th - base)
        cv2.rectangle(image_bgr, (x, y), (x + tw, y + th + base), (0, 0, 0), cv2.FILLED)
        cv2.putText(image_bgr, label, (x, y + th), cv2.FONT_HERSHEY_SIMPLEX, scale, OUTLINE, 1, cv2.LINE_AA)
    return image_bgr


def render_frames(images: Iterable[np.ndarray], detections: Iterable[tuple[int, pd.DataFrame]],
                  overlay: Callable[[int], Sequence[tuple[dict, str]]] | None = None) -> Iterator[np.ndarray]:
    """The annotated frames: each of `images` (frames 0, 1, ... in order) with its detection rows drawn, and with
    `overlay(frame)`'s outlines over them (`draw_outlines`) where given.

    `detections` yields `(frame, rows)` in frame order (`vidseg.formats.tables.frame_groups`
    streams them from the table), so memory does not grow with the video's length.
    """
    groups = iter(detections)
    upcoming = next(groups, None)
    count = 0
    for index, image in enumerate(images):
        rows = None
        if upcoming is not None and upcoming[0] == index:
            rows, upcoming = upcoming[1], next(groups, None)
        drawn = draw(image, rows) if rows is not None else image
        if overlay is not None:
            outlines = overlay(index)
            drawn = draw_outlines(drawn if rows is not None else drawn.copy(), outlines) if outlines else drawn
        yield drawn
        count = index + 1
    if upcoming is not None:
        raise VidsegError(f"detections for frame {upcoming[0]}, but the video has {count} frames")
