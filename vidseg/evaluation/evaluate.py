"""COCO evaluation (pycocotools COCOeval, bbox and segm) of a detection table against a ground truth.

The ground truth is COCO JSON whose image ids are frame indices (as
`vidseg.media.synthetic.write_video` writes it). Detections are rows of the
detections table; their classes are matched to ground-truth categories by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vidseg.formats.coco import quiet, category_ids, coco_results, read_ground_truth

STAT_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


def evaluate(detections: pd.DataFrame, ground_truth: str | Path | COCO) -> dict[str, dict[str, float]]:
    """`{"bbox": {"AP": ..., "AP50": ...}, "segm": {...}, "ignored_classes": {...}, "pr_curve": {"bbox": ...,
    "segm": ...}}` over the ground truth's frames (`pr_curve`: see `pr_curve`; empty without detections).

    Detections of classes the ground truth does not have (say, a COCO model
    scored on a person-only ground truth) are not scored; `ignored_classes`
    counts them per class name.
    """
    gt = ground_truth if isinstance(ground_truth, COCO) else read_ground_truth(ground_truth)
    categories = category_ids(gt)
    # Frames without ground truth (e.g. past its last image) are not scored.
    detections = detections[detections.frame.isin(gt.getImgIds())]
    results = list(coco_results(detections, categories))
    ignored = detections[~detections.class_name.isin(list(categories))].class_name.value_counts()
    out: dict = {"ignored_classes": {str(k): int(v) for k, v in ignored.items()}, "pr_curve": {}}
    for kind in ("bbox", "segm"):
        if not results:
            out[kind] = {name: 0.0 for name in STAT_NAMES}
            continue
        dt = quiet(gt.loadRes, results)
        ev = COCOeval(gt, dt, kind)
        quiet(ev.evaluate)
        quiet(ev.accumulate)
        quiet(ev.summarize)
        out[kind] = {name: float(value) for name, value in zip(STAT_NAMES, ev.stats)}
        out["pr_curve"][kind] = pr_curve(ev)
    return out


def pr_curve(ev: COCOeval) -> dict[str, list]:
    """Precision at COCO's 101 recall points, IoU 0.5 and 0.75, all areas, 100 detections, mean over the
    ground truth's classes (COCOeval's interpolated precision, whose mean over the points is AP50 / AP75)."""
    precision = ev.eval["precision"]  # [IoU threshold, recall point, class, area range, max detections]
    curve = {"recall": [round(float(r), 2) for r in ev.params.recThrs]}
    for name, iou in (("precision_iou50", 0.5), ("precision_iou75", 0.75)):
        t = int(np.argmin(np.abs(ev.params.iouThrs - iou)))
        per_class = precision[t, :, :, 0, -1]
        known = per_class[:, (per_class > -1).all(axis=0)]  # classes without ground truth are -1 throughout
        curve[name] = known.mean(axis=1).round(6).tolist() if known.size else [None] * len(curve["recall"])
    return curve


def evaluate_video(video_id: str, parts: Sequence[str | Path], ground_truth: str | Path, min_confidence: float,
                   table_min_confidence: float, out: str | Path, tracked: str | Path | None = None) -> dict:
    """Evaluate one video's detection chunks (COCOeval) and its tracked detections table (TrackEval,
    `vidseg.evaluation.track_eval`) against its ground truth; writes and returns the report."""
    from vidseg.core.atomic import atomic_path
    from vidseg.evaluation.track_eval import evaluate_tracking
    from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, read_parts

    detections = read_parts(parts, CHUNK_DETECTIONS_SCHEMA).to_pandas()
    gt = read_ground_truth(ground_truth)
    report = {
        "video_id": video_id,
        "ground_truth": str(ground_truth),
        "min_confidence": min_confidence,
        "note": (f"scored detections with score >= {min_confidence:g} (evaluate.min_confidence); the detection "
                 f"table and the annotated video keep scores >= {table_min_confidence:g} (DETECTION_MIN_CONFIDENCE)"),
        "detections": int(len(detections)),
        **evaluate(detections, gt),
    }
    if tracked is not None:
        columns = ["frame", "track_id", "mask_rle", "height", "width"]
        tracking = evaluate_tracking(pd.read_parquet(tracked, columns=columns), gt)
        report["tracking"] = tracking
        report["tracking_note"] = (
            "TrackEval on the detections table (score >= DETECTION_MIN_CONFIDENCE) with mask IoU, class-agnostic; "
            "HOTA, DetA, AssA, LocA: means over IoU thresholds 0.05-0.95; MOTA, IDF1: at IoU 0.5"
            if tracking is not None else "the ground truth has no track_id on its annotations: tracking not scored")
    with atomic_path(out) as tmp:
        Path(tmp).write_text(json.dumps(report, indent=1))
    return report


SUMMARY_FIGURES = [(kind, name) for kind in ("bbox", "segm") for name in ("AP", "AP50", "AP75")]
SUMMARY_TRACKING = ("HOTA", "IDF1", "MOTA", "id_switches_per_100_frames")


def summary_columns(reports: Sequence[dict]) -> pd.DataFrame:
    """One row per evaluated video: its main COCO figures (`bbox_AP`, ..., `segm_AP75`) and tracking figures
    (`track_HOTA`, `track_IDF1`, `track_MOTA`, `track_id_switches_per_100_frames`; empty when not scored)."""
    columns = [f"{kind}_{name}" for kind, name in SUMMARY_FIGURES] + [f"track_{name}" for name in SUMMARY_TRACKING]
    rows = [[r["video_id"], *(r[kind][name] for kind, name in SUMMARY_FIGURES),
             *((r.get("tracking") or {}).get(name, float("nan")) for name in SUMMARY_TRACKING)] for r in reports]
    return pd.DataFrame(rows, columns=["video_id", *columns])
