"""Exports other tools read, written per video: COCO results JSON (`pycocotools.COCO.loadRes` takes it).

The COCO file lists what segmentation found, as COCOeval scores it: every detection
of the video's chunk files (down to `evaluate.min_confidence` for a video with a ground
truth, else to the model's DETECTION_MIN_CONFIDENCE), `image_id` = frame number,
`bbox` as COCO's [x, y, width, height], the mask as compressed RLE. Category ids are the
ground truth's, matched by class name, where the video has one (detections of classes it
lacks are left out: their ids could name another category there); else the model's class ids.
It is written a batch of rows at a time.

COCO ground truths are read here too (`read_ground_truth`, `category_ids`): the export,
COCO evaluation (`vidseg.evaluation.evaluate`) and tracking evaluation
(`vidseg.evaluation.track_eval`) all read them.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import pandas as pd
import pyarrow.parquet as pq
from pycocotools.coco import COCO

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError

BATCH_ROWS = 16384
COLUMNS = ["frame", "class_id", "class_name", "score", "x_min", "y_min", "x_max", "y_max", "mask_rle", "width",
           "height"]


def quiet(fn, *args):
    """`fn(*args)` with its prints (pycocotools' progress lines) silenced."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def read_ground_truth(ground_truth: str | Path) -> COCO:
    """A COCO ground truth file, read once for every evaluation of a video; `VidsegError` if it cannot be read."""
    try:
        return quiet(COCO, str(ground_truth))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise VidsegError(f"ground truth {ground_truth} cannot be read as COCO JSON: {err}") from None


def category_ids(gt: COCO) -> dict[str, int]:
    """The ground truth's category ids by name (detections are matched to categories by class name)."""
    return {c["name"]: c["id"] for c in gt.loadCats(gt.getCatIds())}


def coco_results(detections: pd.DataFrame, categories: Mapping[str, int] | None = None) -> Iterator[dict]:
    """Detection rows as COCO result dicts; with `categories` (class name -> category id) rows of other classes are
    left out, without them the model's class ids are the category ids."""
    if categories is not None:
        detections = detections[detections.class_name.isin(list(categories))]
    for r in detections.itertuples():
        yield {"image_id": int(r.frame),
               "category_id": int(categories[r.class_name] if categories is not None else r.class_id),
               "score": float(r.score),
               "bbox": [float(r.x_min), float(r.y_min), float(r.x_max - r.x_min), float(r.y_max - r.y_min)],
               "segmentation": {"size": [int(r.height), int(r.width)], "counts": r.mask_rle}}


def write_coco_results(parts: Sequence[str | Path], out: str | Path,
                       categories: Mapping[str, int] | None = None) -> int:
    """Write the COCO results JSON of a video's chunk files (in order) to `out`; returns the number of detections."""
    count = 0
    with atomic_path(out, suffix=".json") as tmp, open(tmp, "w") as f:
        f.write("[")
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches(batch_size=BATCH_ROWS, columns=COLUMNS):
                for result in coco_results(batch.to_pandas(), categories):
                    f.write(("," if count else "") + "\n" + json.dumps(result, separators=(",", ":")))
                    count += 1
        f.write("\n]\n")
    return count


def export_coco(detections: Sequence[str | Path], ground_truth: str | Path | None, out: str | Path) -> int:
    """The COCO results file of a video's segment tables (`vidseg.inference.unit.tables_of`), with its ground truth's
    category ids where it has one; returns the number of detections."""
    categories = category_ids(read_ground_truth(ground_truth)) if ground_truth else None
    return write_coco_results(detections, out, categories)


def describe_coco(video_id: str, count: int, ground_truth: str | Path | None) -> str:
    """A log line of what `export_coco` wrote."""
    source = f"of the ground truth {ground_truth}" if ground_truth else "of the model"
    return f"{video_id}: {count} detections as COCO results, category ids {source}"


def truth_outlines(gt: COCO) -> Callable[[int], list[tuple[dict, str]]]:
    """`outlines(frame)`: the ground truth's objects in that frame as (RLE, label) pairs, label `GT <class> <id>` (the
    object's `track_id`, else its annotation id); crowd regions labelled `GT crowd <class>`."""
    names = {c["id"]: c["name"] for c in gt.dataset.get("categories", [])}

    def outlines(frame: int) -> list[tuple[dict, str]]:
        out = []
        for a in gt.imgToAnns.get(int(frame), []):
            name = names.get(a["category_id"], str(a["category_id"]))
            label = f"GT crowd {name}" if a.get("iscrowd") else f"GT {name} {a.get('track_id', a['id'])}"
            out.append((gt.annToRLE(a), label))
        return out

    return outlines
