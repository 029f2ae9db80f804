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
PER_CLASS = ("AP", "AP50", "recall50")  # per class and kind: COCOeval's AP, AP at IoU 0.5, recall at IoU 0.5
SCORE_BINS = np.linspace(0.0, 1.0, 41)  # score histogram edges (0.025 wide): the evaluation's and the report's


def evaluate(detections: pd.DataFrame, ground_truth: str | Path | COCO) -> dict[str, dict[str, float]]:
    """`{"bbox": {"AP": ..., "AP50": ...}, "segm": {...}, "ignored_classes": {...}, "pr_curve": {"bbox": ...,
    "segm": ...}, "per_class": {...}}` over the ground truth's frames (`pr_curve`: see `pr_curve`; empty without
    detections; `per_class`: see `per_class`).

    Detections of classes the ground truth does not have (say, a COCO model
    scored on a person-only ground truth) are not scored; `ignored_classes`
    counts them per class name.
    """
    gt = ground_truth if isinstance(ground_truth, COCO) else read_ground_truth(ground_truth)
    categories = category_ids(gt)
    names = {cat_id: name for name, cat_id in categories.items()}
    # Frames without ground truth (e.g. past its last image) are not scored.
    detections = detections[detections.frame.isin(gt.getImgIds())]
    results = list(coco_results(detections, categories))
    ignored = detections[~detections.class_name.isin(list(categories))].class_name.value_counts()
    instances = {name: sum(not a.get("iscrowd") for a in gt.loadAnns(gt.getAnnIds(catIds=[cat_id])))
                 for name, cat_id in sorted(categories.items())}
    out: dict = {"ignored_classes": {str(k): int(v) for k, v in ignored.items()}, "pr_curve": {},
                 "per_class": {name: {"ground_truth": count} for name, count in instances.items()}}
    for kind in ("bbox", "segm"):
        if not results:
            out[kind] = {name: 0.0 for name in STAT_NAMES}
            for name, figures in out["per_class"].items():
                figures.update({f"{kind}_{f}": 0.0 if figures["ground_truth"] else None for f in PER_CLASS})
            continue
        dt = quiet(gt.loadRes, results)
        ev = COCOeval(gt, dt, kind)
        quiet(ev.evaluate)
        quiet(ev.accumulate)
        quiet(ev.summarize)
        out[kind] = {name: float(value) for name, value in zip(STAT_NAMES, ev.stats)}
        out["pr_curve"][kind] = pr_curve(ev)
        for name, figures in per_class(ev).items():
            out["per_class"][names[name]].update({f"{kind}_{f}": value for f, value in figures.items()})
    return out


def per_class(ev: COCOeval) -> dict[int, dict[str, float | None]]:
    """Per category id: AP (mean over IoU 0.5-0.95 and the 101 recall points), AP50 and recall at IoU 0.5, all areas,
    100 detections a frame; None for a category without ground truth (COCOeval's -1)."""
    precision, recall = ev.eval["precision"], ev.eval["recall"]  # [T, R, K, A, M], [T, K, A, M]
    t50 = int(np.argmin(np.abs(ev.params.iouThrs - 0.5)))
    out = {}
    for k, cat_id in enumerate(ev.params.catIds):
        every, at50 = precision[:, :, k, 0, -1], precision[t50, :, k, 0, -1]
        known = every > -1
        out[cat_id] = {"AP": float(every[known].mean()) if known.any() else None,
                       "AP50": float(at50[at50 > -1].mean()) if (at50 > -1).any() else None,
                       "recall50": float(recall[t50, k, 0, -1]) if recall[t50, k, 0, -1] > -1 else None}
    return out


def pr_curve(ev: COCOeval) -> dict[str, list]:
    """Precision at COCO's 101 recall points, IoU 0.5 and 0.75, all areas, 100 detections, mean over the
    ground truth's classes (COCOeval's interpolated precision, whose mean over the points is AP50 / AP75)."""
    precision = ev.eval["precision"]  # [IoU threshold, recall point, class, area range, max detections]
    curve = {"recall": [round(float(r), 2) for r in ev.params.recThrs]}
    for name, iou in (("precision_iou50", 0.5), ("precision_iou75", 0.75)):
        t = int(np.argmin(np.abs(ev.params.iouThrs - iou)))
        classes = precision[t, :, :, 0, -1]
        known = classes[:, (classes > -1).all(axis=0)]  # classes without ground truth are -1 throughout
        curve[name] = known.mean(axis=1).round(6).tolist() if known.size else [None] * len(curve["recall"])
    return curve


def evaluate_video(video_id: str, parts: Sequence[str | Path], ground_truth: str | Path, min_confidence: float,
                   table_min_confidence: float, out: str | Path, tracked: str | Path | None = None,
                   frames: str | Path | None = None, errors_out: str | Path | None = None) -> dict:
    """Evaluate one video's detection chunks (COCOeval) and its tracked detections table (TrackEval,
    `vidseg.evaluation.track_eval`) against its ground truth; writes and returns the report. With `errors_out`, the
    tracked table's errors (`vidseg.evaluation.errors`) go there (Parquet) and are counted in the report."""
    from vidseg.core.atomic import atomic_path
    from vidseg.evaluation.track_eval import evaluate_tracking
    from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, read_parts

    detections = read_parts(parts, CHUNK_DETECTIONS_SCHEMA).to_pandas()
    gt = read_ground_truth(ground_truth)
    scored = detections[detections.frame.isin(gt.getImgIds()) & detections.class_name.isin(list(category_ids(gt)))]
    report = {
        "video_id": video_id,
        "ground_truth": str(ground_truth),
        "min_confidence": min_confidence,
        "table_min_confidence": table_min_confidence,
        "note": (f"scored detections with score >= {min_confidence:g} (evaluate.min_confidence); the detection "
                 f"table and the annotated video keep scores >= {table_min_confidence:g} (DETECTION_MIN_CONFIDENCE)"),
        "detections": int(len(detections)),
        "scored_detections": int(len(scored)),
        "scored_histogram": np.histogram(scored.score, bins=SCORE_BINS)[0].tolist(),  # every scored detection's score
        **evaluate(detections, gt),
    }
    table = None if tracked is None else pd.read_parquet(tracked)
    if table is not None:
        tracking = evaluate_tracking(table, gt)
        report["tracking"] = tracking
        report["tracking_note"] = (
            "TrackEval on the detections table (score >= DETECTION_MIN_CONFIDENCE) with mask IoU, class-agnostic; "
            "HOTA, DetA, AssA, LocA: means over IoU thresholds 0.05-0.95; MOTA, IDF1: at IoU 0.5"
            if tracking is not None else "the ground truth has no track_id on its annotations: tracking not scored")
    if table is not None and errors_out is not None:
        from vidseg.evaluation.errors import KINDS, error_table, find_errors
        from vidseg.formats.tables import write_atomic

        times = None if frames is None else pd.read_parquet(frames, columns=["frame", "time_s"]).set_index("frame").time_s
        errors = find_errors(table, gt, times)
        write_atomic(error_table(video_id, errors), errors_out)
        report["errors"] = {kind: int((errors.kind == kind).sum()) for kind in KINDS}
        report["errors_per_class"] = _errors_per_class(errors)
        report["kept_detections"] = int((table.frame.isin(gt.getImgIds())
                                         & table.class_name.isin(list(category_ids(gt)))).sum())
    with atomic_path(out) as tmp:
        Path(tmp).write_text(json.dumps(report, indent=1))
    return report


def _errors_per_class(errors: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per class: false positives, duplicates and wrong classes by the detection's class; misses by the object's."""
    out: dict[str, dict[str, int]] = {}
    for kind, column in (("false positive", "class_name"), ("duplicate", "class_name"), ("wrong class", "class_name"),
                         ("missed", "object_class")):
        for name, count in errors[errors.kind == kind][column].value_counts().items():
            out.setdefault(str(name), {})[kind] = int(count)
    return out


VIDEO_FIGURES = [(kind, name) for kind in ("bbox", "segm") for name in ("AP", "AP50", "AP75")]
VIDEO_TRACKING = ("HOTA", "IDF1", "MOTA", "id_switches", "id_switches_per_100_frames")
SUMMARY_ERRORS = {"false positive": "false_positives", "duplicate": "duplicates", "wrong class": "wrong_class",
                  "missed": "missed"}


def video_columns(reports: Sequence[dict]) -> pd.DataFrame:
    """One row per evaluated video (the summary job's evaluation table): detections scored and kept, its main COCO figures
    (`bbox_AP`, ..., `segm_AP75`), tracking figures (`track_HOTA`, ..., empty when not scored; its identity switches
    are the errors table's) and its other errors."""
    columns = ["video_id", "scored_detections", "kept_detections", *(f"{kind}_{name}" for kind, name in VIDEO_FIGURES),
               *(f"track_{name}" for name in VIDEO_TRACKING), *SUMMARY_ERRORS.values()]
    rows = []
    for r in reports:
        errors = r.get("errors") or {}
        rows.append([r["video_id"], r.get("scored_detections"), r.get("kept_detections"),
                     *(r[kind][name] for kind, name in VIDEO_FIGURES),
                     *((r.get("tracking") or {}).get(name, float("nan")) for name in VIDEO_TRACKING),
                     *(errors.get(kind) for kind in SUMMARY_ERRORS)])
    return pd.DataFrame(rows, columns=columns)


def summary_columns(reports: Sequence[dict]) -> pd.DataFrame:
    """One row per evaluated video and class of its ground truth or its errors: the class's own figures only
    (`gt_instances`: annotated instances over the frames; `bbox_AP`, `bbox_AP50`, `segm_AP`, `segm_AP50`,
    `segm_recall50`: COCOeval per class, empty for a class without ground truth; `false_positives`, `duplicates`,
    `wrong_class`, `missed`: the errors of the kept detections). A video's overall and tracking figures are in its
    evaluation report, not on class rows."""
    figures = [f"{kind}_{name}" for kind in ("bbox", "segm") for name in PER_CLASS if (kind, name) != ("bbox", "recall50")]
    rows = []
    for r in reports:
        per_class, errors = r.get("per_class", {}), r.get("errors_per_class", {})
        for name in sorted(set(per_class) | set(errors)):
            own = per_class.get(name, {})
            counted = errors.get(name, {})
            rows.append([r["video_id"], name, own.get("ground_truth", 0), *(own.get(f) for f in figures),
                         *(counted.get(kind, 0) if "errors" in r else None for kind in SUMMARY_ERRORS)])
    columns = ["video_id", "class_name", "gt_instances", *figures, *SUMMARY_ERRORS.values()]
    return pd.DataFrame(rows, columns=columns).astype({f: float for f in figures})


def merge_summary(table: pd.DataFrame, reports: Sequence[dict]) -> pd.DataFrame:
    """The summary table (`vidseg.formats.tables.summary`) with each evaluated video's per-class figures
    (`summary_columns`); a class of the ground truth that the video's tables never show gets its own row."""
    if not reports:
        return table
    out = table.astype({"video_id": str}).merge(summary_columns(reports), on=["video_id", "class_name"], how="outer")
    known = table.drop_duplicates("class_name").set_index("class_name").class_id
    out["class_id"] = out.class_id.fillna(out.class_name.map(known)).fillna(-1)
    processed = table.drop_duplicates("video_id").set_index("video_id").frames_processed
    out["frames_processed"] = out.frames_processed.fillna(out.video_id.map(processed))
    counts = ["instances", "frames_with", "tracks", "gt_instances"]
    out[counts] = out[counts].fillna(0)
    out = out.astype({name: np.int64 for name in ["class_id", "frames_processed", *counts]})
    unknown = out.class_id < 0  # a class of the ground truth the model's tables never named: after the model's
    return out.assign(_unknown=unknown).sort_values(["video_id", "_unknown", "class_id", "class_name"]) \
        .drop(columns="_unknown").reset_index(drop=True)
