"""Tracking accuracy of a tracked detections table against a ground truth with object ids: TrackEval's figures.

The evaluator is TrackEval (`trackeval`, MIT): HOTA (with DetA, AssA, LocA),
CLEAR (MOTA, MOTP, ID switches) and Identity (IDF1), fed in memory with mask IoU
as the similarity, as its MOTS benchmarks do. Its PyPI package declares
`opencv-python` and matplotlib, which only its dataset readers and plots use;
`make setup` installs it without them (`pip install --no-deps`) so that the
GUI OpenCV wheel does not overwrite the headless one.

Scoring is class-agnostic: it asks whether each object keeps one id, and COCOeval
already scores the classes. The ground truth is COCO JSON whose annotations carry
a `track_id` (vidseg.media.synthetic writes one); its image ids are frame indices, and
only those frames are scored. Detections the tracker left without a confirmed
track (`track_id` -1) are not tracker output and are not scored.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from vidseg.core.errors import VidsegError
from vidseg.formats.coco import read_ground_truth
from vidseg.formats.tables import row_rles
from vidseg.formats.track_ids import UNTRACKED

# Reported figures: TrackEval's field -> the report's key. HOTA-family figures are means over its 19 IoU thresholds.
HOTA_FIELDS = {"HOTA": "HOTA", "DetA": "DetA", "AssA": "AssA", "LocA": "LocA"}
CLEAR_FIELDS = {"MOTA": "MOTA", "MOTP": "MOTP", "IDSW": "id_switches", "Frag": "fragmentations",
                "MT": "mostly_tracked", "ML": "mostly_lost"}
IDENTITY_FIELDS = {"IDF1": "IDF1", "IDP": "IDP", "IDR": "IDR"}


def ground_truth_tracks(ground_truth: str | Path | COCO) -> dict | None:
    """{frame: (object ids, RLEs)} from a COCO ground truth whose annotations carry `track_id`, or None without ids.

    Masks come from pycocotools' own conversion (`COCO.annToRLE`: polygons, RLE of either kind)."""
    gt = ground_truth if isinstance(ground_truth, COCO) else read_ground_truth(ground_truth)
    annotations = gt.dataset.get("annotations", [])
    if not annotations or any("track_id" not in a for a in annotations):
        return None
    frames: dict[int, tuple[list[int], list[dict]]] = {int(frame): ([], []) for frame in gt.getImgIds()}
    for a in annotations:
        ids, rles = frames[int(a["image_id"])]
        ids.append(int(a["track_id"]))
        rles.append(gt.annToRLE(a))
    return frames


def _contiguous(ids: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Ids renumbered 0..n-1 over the whole sequence (what TrackEval expects)."""
    unique = np.unique(np.concatenate(ids)) if ids else np.array([], np.int64)
    return [np.searchsorted(unique, i).astype(int) for i in ids], len(unique)


def sequence_data(detections: pd.DataFrame, truth: dict) -> dict:
    """TrackEval's per-sequence input: ids per frame and gt-by-tracker mask IoU, over the ground truth's frames."""
    detections = detections[detections.track_id != UNTRACKED]
    by_frame = {int(f): rows for f, rows in detections.groupby("frame", sort=False)}
    gt_ids, tracker_ids, similarity = [], [], []
    for frame in sorted(truth):
        ids, gt_rles = truth[frame]
        rows = by_frame.get(frame)
        if rows is None:
            rows = detections.iloc[:0]
        rles = row_rles(rows)
        gt_ids.append(np.asarray(ids, np.int64))
        tracker_ids.append(rows.track_id.to_numpy(np.int64))
        if ids and rles:
            iou = np.asarray(mask_utils.iou(rles, gt_rles, [0] * len(gt_rles))).reshape(len(rles), len(gt_rles))
            similarity.append(iou.T)
        else:
            similarity.append(np.zeros((len(ids), len(rles))))
    gt_ids, n_gt = _contiguous(gt_ids)
    tracker_ids, n_tracker = _contiguous(tracker_ids)
    return {"num_timesteps": len(truth), "num_gt_ids": n_gt, "num_tracker_ids": n_tracker,
            "num_gt_dets": int(sum(len(i) for i in gt_ids)), "num_tracker_dets": int(sum(len(i) for i in tracker_ids)),
            "gt_ids": gt_ids, "tracker_ids": tracker_ids, "similarity_scores": similarity}


def _trackeval():
    try:
        from trackeval import metrics
    except ImportError:
        raise VidsegError("tracking evaluation needs TrackEval: pip install --no-deps trackeval==1.3.0 "
                          "(make setup installs it)") from None
    return metrics


def tracking_figures(data: dict) -> dict[str, float | int]:
    """HOTA, DetA, AssA, LocA, MOTA, MOTP, IDF1, ID switches (and per 100 frames) for one sequence."""
    metrics = _trackeval()
    with contextlib.redirect_stdout(io.StringIO()):  # TrackEval prints its configs
        hota = metrics.HOTA().eval_sequence(data)
        clear = metrics.CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
        identity = metrics.Identity({"PRINT_CONFIG": False}).eval_sequence(data)
    out: dict[str, float | int] = {key: float(np.mean(hota[name])) for name, key in HOTA_FIELDS.items()}
    for source, fields in ((clear, CLEAR_FIELDS), (identity, IDENTITY_FIELDS)):
        for name, key in fields.items():
            value = source[name]
            out[key] = int(value) if name in ("IDSW", "Frag", "MT", "ML") else float(value)
    frames = max(1, data["num_timesteps"])
    out["id_switches_per_100_frames"] = 100.0 * out["id_switches"] / frames
    out["frames"] = int(data["num_timesteps"])
    out["objects"] = int(data["num_gt_ids"])
    out["tracks"] = int(data["num_tracker_ids"])
    return out


def evaluate_tracking(detections: pd.DataFrame, ground_truth: str | Path | COCO) -> dict | None:
    """Tracking figures of `detections` (rows with `track_id`) against `ground_truth`; None if it has no object ids."""
    truth = ground_truth_tracks(ground_truth)
    if truth is None:
        return None
    return tracking_figures(sequence_data(detections, truth))
