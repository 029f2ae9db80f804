"""The detections table as another tool's objects: one frame's rows as supervision's `Detections`.

supervision (Roboflow's MIT-licensed toolkit of annotators, zones, trackers and
dataset converters) takes boxes, masks, scores, class ids and tracker ids as
arrays, which is what a frame's rows of `results/detections` hold; this module
only decodes the masks and lines the columns up. supervision is not a dependency
of the workflow: install it where it is used (`pip install supervision`); it is
imported when called. It is in the test extra, which checks this against it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from vidseg.core.errors import VidsegError
from vidseg.formats.tables import row_rles

if TYPE_CHECKING:
    import supervision as sv


def frame_masks(rows: pd.DataFrame) -> np.ndarray:
    """The rows' masks, decoded: bool [N, height, width] (rows of one frame)."""
    if rows.empty:
        return np.zeros((0, 0, 0), bool)
    return np.moveaxis(mask_utils.decode(row_rles(rows)), -1, 0).astype(bool)


def supervision_detections(rows: pd.DataFrame) -> sv.Detections:
    """One frame's rows of the detections table as `supervision.Detections`.

    xyxy from the box columns (x_max/y_max exclusive, as supervision draws them),
    `mask` decoded from `mask_rle`, `confidence` = score, `class_id`, `tracker_id` =
    `track_id` (-1: in no confirmed track), and `data["class_name"]`.
    """
    import supervision as sv

    if rows.empty:
        return sv.Detections.empty()
    frames = rows[["video_id", "frame"]].drop_duplicates()
    if len(frames) > 1:
        raise VidsegError(f"supervision_detections takes one frame's rows; got {len(frames)} frames "
                          f"(select one, e.g. df[(df.video_id == v) & (df.frame == f)])")
    return sv.Detections(
        xyxy=rows[["x_min", "y_min", "x_max", "y_max"]].to_numpy(np.float32),
        mask=frame_masks(rows),
        confidence=rows.score.to_numpy(np.float32),
        class_id=rows.class_id.to_numpy(np.int64),
        tracker_id=rows.track_id.to_numpy(np.int64),
        data={"class_name": rows.class_name.astype(str).to_numpy()},
    )
