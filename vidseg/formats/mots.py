"""MOTS text export of a video's tracked detections: the KITTI MOTS / MOTSChallenge txt that TrackEval reads.

One line per tracked detection, `frame id class_id img_height img_width rle`,
space-separated, in frame order; `rle` is the mask's COCO compressed RLE counts,
as the detections table holds it. What is written, as TrackEval 1.3.0's readers
(`trackeval.datasets.KittiMOTS`, `MOTSChallenge`) take it:
- frame: the video's frame number (0-based) plus `frame_base`. KITTI MOTS counts
  from 0 (the default), MOTSChallenge from 1 (`frame_base=1`). The readers score
  every timestep 0..n-1 (1..n) of the sequence and refuse lines outside it;
  n is the video's frame count (its frames table), not the last frame with a detection.
- id: vidseg's `track_id` (1, 2, ...; one per object over the whole video, so
  unique in a frame). The readers take the class from the third column and do not
  decode ids, so KITTI's `class_id * 1000 + instance` ground-truth ids are not
  needed here. Rows without a confirmed track (`track_id` -1) are not tracker
  output and are left out, as in vidseg.evaluation.track_eval.
- class_id: vidseg's class id, or with `class_ids` (class name -> MOTS class id)
  the mapped one, rows of other classes left out. TrackEval's MOTS readers know
  only their benchmarks' classes (KITTI MOTS: 1 car, 2 pedestrian; MOTSChallenge:
  2 pedestrian; 10 marks ignore regions in a ground truth), and vidseg's COCO ids
  differ (person is 1), so to evaluate a video pass e.g. `KITTI_MOTS_CLASSES` and
  run `KittiMOTS` with `CLASSES_TO_EVAL` ["pedestrian", "car"].
The readers refuse a frame whose masks overlap, and Mask R-CNN's do. So within a
frame the detections are placed in descending score order (ties: table order), each
keeping only pixels no higher-scoring one kept; one left with no pixels is dropped.
Classes left out and untracked rows take no part, so claim no pixels. The table is
read a batch of rows at a time (memory stays flat in video length), and the file is
written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pycocotools import mask as mask_utils

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError
from vidseg.formats.tables import frame_groups, row_rles
from vidseg.formats.track_ids import UNTRACKED

BATCH_ROWS = 4096
COLUMNS = ["frame", "track_id", "class_id", "class_name", "score", "mask_rle", "height", "width"]

# vidseg's COCO class names -> KITTI MOTS class ids (TrackEval's "car" and "pedestrian").
KITTI_MOTS_CLASSES = {"car": 1, "person": 2}


def disjoint_masks(rles: Sequence[dict], scores: Sequence[float]) -> list[dict | None]:
    """The masks (COCO RLEs of one frame, one size) with overlaps removed: higher score keeps a contested pixel.

    Returns them in input order; a mask left without pixels is None. Only masks that
    overlap a higher-scoring one are decoded; the others are returned as given."""
    if not len(rles):
        return []
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    overlaps = np.asarray(mask_utils.iou(list(rles), list(rles), [0] * len(rles))).reshape(len(rles), len(rles)) > 0
    out: list[dict | None] = [None] * len(rles)
    for rank, i in enumerate(order):
        higher = [out[j] for j in order[:rank] if overlaps[i, j] and out[j] is not None]
        if not higher:
            out[i] = rles[i] if mask_utils.area(rles[i]) > 0 else None
            continue
        kept = mask_utils.decode(rles[i]).astype(bool) & ~mask_utils.decode(mask_utils.merge(higher)).astype(bool)
        if kept.any():
            out[i] = mask_utils.encode(np.asfortranarray(kept.astype(np.uint8)))
    return out


def mots_line(frame: int, object_id: int, class_id: int, rle: dict) -> str:
    """One line of a MOTS file: `frame id class_id img_height img_width rle` (counts as bytes or str)."""
    counts = rle["counts"].decode("ascii") if isinstance(rle["counts"], bytes) else rle["counts"]
    return f"{frame} {object_id} {class_id} {rle['size'][0]} {rle['size'][1]} {counts}\n"


def write_mots(detections: str | Path, out: str | Path, class_ids: Mapping[str, int] | None = None,
               frame_base: int = 0) -> int:
    """Write the MOTS txt of a video's tracked detections table to `out`; returns the number of lines.

    `class_ids` maps class names to the class ids written (others are left out);
    without it vidseg's class ids are written. `frame_base`: 0 for KITTI MOTS, 1 for MOTSChallenge."""
    missing = sorted(set(COLUMNS) - set(pq.read_schema(detections).names))
    if missing:
        raise VidsegError(f"detections table {detections} lacks column(s) {', '.join(missing)}: "
                          f"MOTS export needs a tracked detections table")
    count = 0
    with atomic_path(out, suffix=".txt") as tmp, open(tmp, "w") as f:
        for frame, rows in frame_groups(detections, BATCH_ROWS):
            rows = rows[rows.track_id != UNTRACKED]
            if class_ids is not None:
                rows = rows[rows.class_name.isin(list(class_ids))]
            if not len(rows):
                continue
            rles = row_rles(rows)
            classes = (rows.class_name.map(class_ids) if class_ids is not None else rows.class_id).to_numpy(np.int64)
            for r, class_id, rle in zip(rows.itertuples(), classes, disjoint_masks(rles, rows.score.to_numpy())):
                if rle is None:
                    continue
                f.write(mots_line(frame + frame_base, int(r.track_id), int(class_id), rle))
                count += 1
    return count


def describe(video_id: str, count: int, class_ids: Mapping[str, int] | None) -> str:
    """A log line of what `write_mots` wrote (`class_ids`: config export.mots_classes)."""
    source = f"of export.mots_classes {class_ids}" if class_ids else "of the model"
    return f"{video_id}: {count} tracked detections as MOTS lines (frames from 0, ids = track ids, class ids {source})"
