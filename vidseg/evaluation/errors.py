"""Where a video's detections and tracks go wrong against its ground truth: one row per error and frame.

The detections are the tracked table's (what the tables and the annotated video
keep), matched to the ground truth at mask IoU 0.5. Kinds (`KINDS`):

- "false positive": a detection on no ground-truth object;
- "duplicate": a detection on an object that another detection already found;
- "wrong class": a detection on an object of another class that nothing found
  (the object is then not also listed as missed);
- "missed": an object no detection of its class found;
- "id switch": an object matched to another track than the one it last had.

Detections are matched to objects by COCOeval itself (pycocotools, segm, IoU 0.5,
per class, greedy by score, crowd regions ignored), so these errors are the ones
its AP50 counts; unmatched detections are then told apart by their best mask
IoU with any object of the frame. Identity switches follow CLEAR MOT as TrackEval
counts them (`id_switches` in the evaluation): per frame, objects and confirmed
tracks are paired by a maximum assignment on mask IoU >= 0.5 that keeps the
previous frame's pairs first; a switch is an object paired to another track than
its last one. Only frames of the ground truth are scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from scipy.optimize import linear_sum_assignment

from vidseg.formats.coco import category_ids, coco_results, quiet, read_ground_truth
from vidseg.formats.tables import VIDEO_ID, row_rles
from vidseg.formats.track_ids import UNTRACKED

IOU = 0.5
KINDS = ("false positive", "duplicate", "wrong class", "missed", "id switch")
NONE = -1  # no track, object or instance

ERRORS_SCHEMA = pa.schema([
    ("video_id", VIDEO_ID),
    ("frame", pa.int64()),
    ("time_s", pa.float64()),
    ("kind", pa.string()),
    ("class_name", pa.string()),  # the detection's class ("" for a missed object)
    ("score", pa.float32()),  # the detection's score (NaN for a missed object)
    ("instance", pa.int32()),  # the detection's row in its frame (detections.instance; -1 for a missed object)
    ("track_id", pa.int64()),  # the detection's track (-1: none); for an id switch the object's new track
    ("object_id", pa.int64()),  # the ground-truth object: its track_id, else its annotation id (-1: none)
    ("object_class", pa.string()),  # the object's class ("" for a false positive)
    ("iou", pa.float32()),  # mask IoU of the detection and the object (NaN where there is no pair)
    ("previous_track_id", pa.int64()),  # an id switch's earlier track (-1 otherwise)
    *[(side, pa.int32()) for side in ("x_min", "y_min", "x_max", "y_max")],  # the detection's box, else the object's
])


def find_errors(detections: pd.DataFrame, ground_truth: str | Path | COCO, times: pd.Series | None = None) -> pd.DataFrame:
    """The errors (`ERRORS_SCHEMA`'s columns but video_id) of `detections` (rows of the tracked detections table)
    against `ground_truth`, sorted by frame; `times`: presentation time by frame number (else from the rows)."""
    gt = ground_truth if isinstance(ground_truth, COCO) else read_ground_truth(ground_truth)
    categories = category_ids(gt)
    names = {cat_id: name for name, cat_id in categories.items()}
    frames = set(gt.getImgIds())
    detections = detections[detections.frame.isin(frames) & detections.class_name.isin(list(categories))]
    detections = detections.reset_index(drop=True)
    matched, gt_matched = _coco_matches(gt, detections, categories)
    objects = {a["id"]: a for a in gt.dataset.get("annotations", [])}
    rows = []
    for frame, rows_of_frame in detections.groupby("frame", sort=True) if len(detections) else ():
        unmatched = rows_of_frame[~matched[rows_of_frame.index]]
        if not len(unmatched):
            continue
        anns = [a for a in gt.imgToAnns.get(int(frame), []) if not a.get("iscrowd", 0)]
        iou = _ious(row_rles(unmatched), [gt.annToRLE(a) for a in anns])
        for row in unmatched.sort_values("score", ascending=False, kind="stable").itertuples():
            j = unmatched.index.get_loc(row.Index)
            best = int(np.argmax(iou[j])) if anns else -1
            if best < 0 or iou[j, best] < IOU:
                rows.append(_detection_row(row, "false positive", None, np.nan, names))
                continue
            # the best unfound object of another class, else the object it overlaps most (found already)
            free = [k for k, a in enumerate(anns) if not gt_matched.get(a["id"]) and iou[j, k] >= IOU
                    and names[a["category_id"]] != row.class_name]
            if free:
                k = max(free, key=lambda k: iou[j, k])
                gt_matched[anns[k]["id"]] = "wrong class"
                rows.append(_detection_row(row, "wrong class", anns[k], iou[j, k], names))
            else:
                rows.append(_detection_row(row, "duplicate", anns[best], iou[j, best], names))
    for ann_id, ann in objects.items():
        if not gt_matched.get(ann_id) and not ann.get("iscrowd", 0) and ann["image_id"] in frames:
            x, y, w, h = mask_utils.toBbox(gt.annToRLE(ann))
            rows.append({"frame": int(ann["image_id"]), "kind": "missed", "class_name": "", "score": np.nan,
                         "instance": NONE, "track_id": NONE, "object_id": _object_id(ann),
                         "object_class": names[ann["category_id"]], "iou": np.nan, "previous_track_id": NONE,
                         "x_min": int(x), "y_min": int(y), "x_max": int(round(x + w)), "y_max": int(round(y + h))})
    rows += identity_switches(detections, gt)
    out = pd.DataFrame(rows, columns=[n for n in ERRORS_SCHEMA.names if n not in ("video_id", "time_s")])
    by_frame = (times if times is not None else
                detections.drop_duplicates("frame").set_index("frame").time_s)
    out.insert(1, "time_s", out.frame.map(by_frame).astype(float))
    order = out.kind.map({kind: i for i, kind in enumerate(KINDS)})
    return out.assign(_order=order).sort_values(["frame", "_order", "object_id", "instance"], kind="stable") \
        .drop(columns="_order").reset_index(drop=True)


def _coco_matches(gt: COCO, detections: pd.DataFrame, categories) -> tuple[np.ndarray, dict]:
    """(per detection row: matched at IoU 0.5?, {annotation id: matched?}) as COCOeval matches them."""
    matched = np.zeros(len(detections), bool)
    if not len(detections):
        return matched, {}
    results = list(coco_results(detections, categories))  # in row order: loadRes numbers them 1..n
    ev = COCOeval(gt, quiet(gt.loadRes, results), "segm")
    ev.params.iouThrs = np.array([IOU])
    ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
    ev.params.maxDets = [len(results)]  # every detection of a frame takes part, not COCO's 100
    quiet(ev.evaluate)
    gt_matched = {}
    for image in ev.evalImgs:
        if image is None:
            continue
        for dt_id, match, ignored in zip(image["dtIds"], image["dtMatches"][0], image["dtIgnore"][0]):
            matched[dt_id - 1] = bool(match) or bool(ignored)  # a detection on a crowd region is not an error
        for gt_id, match in zip(image["gtIds"], image["gtMatches"][0]):
            gt_matched[gt_id] = bool(match)
    return matched, gt_matched


def _ious(rles: list[dict], gt_rles: list[dict]) -> np.ndarray:
    if not rles or not gt_rles:
        return np.zeros((len(rles), len(gt_rles)))
    return np.asarray(mask_utils.iou(rles, gt_rles, [0] * len(gt_rles))).reshape(len(rles), len(gt_rles))


def _object_id(ann: dict) -> int:
    return int(ann.get("track_id", ann["id"]))


def _detection_row(row, kind: str, ann: dict | None, iou: float, names: dict) -> dict:
    return {"frame": int(row.frame), "kind": kind, "class_name": row.class_name, "score": float(row.score),
            "instance": int(row.instance), "track_id": int(getattr(row, "track_id", NONE)),
            "object_id": NONE if ann is None else _object_id(ann),
            "object_class": "" if ann is None else names[ann["category_id"]], "iou": float(iou),
            "previous_track_id": NONE, "x_min": int(row.x_min), "y_min": int(row.y_min), "x_max": int(row.x_max),
            "y_max": int(row.y_max)}


def identity_switches(detections: pd.DataFrame, gt: COCO) -> list[dict]:
    """CLEAR MOT's identity switches of the confirmed tracks in `detections` against the objects of `gt` (annotations
    with a `track_id`; none without), one row each."""
    annotations = gt.dataset.get("annotations", [])
    if not annotations or any("track_id" not in a for a in annotations) or "track_id" not in detections:
        return []
    tracked = detections[detections.track_id != UNTRACKED]
    by_frame = {int(f): rows for f, rows in tracked.groupby("frame", sort=False)}
    names = {c["id"]: c["name"] for c in gt.dataset["categories"]}
    last: dict[int, int] = {}  # object -> the track it was last paired with
    previous: dict[int, int] = {}  # object -> its track in the frame before
    out = []
    for frame in sorted(gt.getImgIds()):
        anns = [a for a in gt.imgToAnns.get(frame, []) if not a.get("iscrowd", 0)]
        rows = by_frame.get(frame, tracked.iloc[:0])
        iou = _ious(row_rles(rows), [gt.annToRLE(a) for a in anns]).T  # [objects, detections]
        tracks = rows.track_id.to_numpy()
        kept = np.array([[previous.get(a["track_id"]) == t for t in tracks] for a in anns], bool).reshape(iou.shape)
        score = np.where(iou >= IOU - 1e-9, 1000.0 * kept + iou, 0.0)
        pairs = [(i, j) for i, j in zip(*linear_sum_assignment(-score)) if score[i, j] > 1e-9]
        current = {}
        for i, j in pairs:
            obj, track = int(anns[i]["track_id"]), int(tracks[j])
            if obj in last and last[obj] != track:
                row = rows.iloc[j]
                out.append({**_detection_row(row, "id switch", anns[i], iou[i, j], names),
                            "previous_track_id": last[obj]})
            last[obj] = current[obj] = track
        previous = current
    return out


def error_table(video_id: str, errors: pd.DataFrame) -> pa.Table:
    """`find_errors`' rows as the errors table of `video_id`."""
    columns = {"video_id": pa.array([video_id] * len(errors), pa.string()).dictionary_encode(),
               **{name: errors[name].to_numpy() for name in ERRORS_SCHEMA.names if name != "video_id"}}
    return pa.table(columns, schema=ERRORS_SCHEMA)
