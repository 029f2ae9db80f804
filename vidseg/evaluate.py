"""COCO evaluation (pycocotools COCOeval, bbox and segm) of a detection table against a ground truth.

The ground truth is COCO JSON whose image ids are frame indices (as
`vidseg.synthetic.write_video` writes it). Detections are rows of the
detections table; their classes are matched to ground-truth categories by name.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vidseg.errors import VidsegError

STAT_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def detections_to_coco(detections: pd.DataFrame, categories: dict[str, int]) -> list[dict]:
    """Detection rows -> COCO result dicts; classes not in the ground truth are an error."""
    unknown = sorted(set(detections.class_name) - set(categories))
    if unknown:
        raise VidsegError(f"detected classes {unknown} are not categories of the ground truth ({sorted(categories)})")
    return [
        {"image_id": int(r.frame), "category_id": categories[r.class_name], "score": float(r.score),
         "bbox": [float(r.x_min), float(r.y_min), float(r.x_max - r.x_min), float(r.y_max - r.y_min)],
         "segmentation": {"size": [int(r.height), int(r.width)], "counts": r.mask_rle}}
        for r in detections.itertuples()
    ]


def evaluate(detections: pd.DataFrame, ground_truth: str | Path) -> dict[str, dict[str, float]]:
    """`{"bbox": {"AP": ..., "AP50": ...}, "segm": {...}}` over the frames of the ground truth."""
    gt = _quiet(COCO, str(ground_truth))
    categories = {c["name"]: c["id"] for c in gt.loadCats(gt.getCatIds())}
    results = detections_to_coco(detections, categories)
    out = {}
    for kind in ("bbox", "segm"):
        if not results:
            out[kind] = {name: 0.0 for name in STAT_NAMES}
            continue
        dt = _quiet(gt.loadRes, results)
        ev = COCOeval(gt, dt, kind)
        _quiet(ev.evaluate)
        _quiet(ev.accumulate)
        _quiet(ev.summarize)
        out[kind] = {name: float(value) for name, value in zip(STAT_NAMES, ev.stats)}
    return out


def write_report(report: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, indent=1))
