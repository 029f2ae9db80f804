"""COCO results export: the chunk files' detections as pycocotools reads them."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from vidseg.formats import coco
from vidseg.formats.coco import write_coco_results
from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA


def chunk(path, rows):
    """A chunk file of (frame, class_id, class_name, score, box) rows on 40x60 frames, each mask its box."""
    columns = {name: [] for name in CHUNK_DETECTIONS_SCHEMA.names}
    for i, (frame, class_id, name, score, (x0, y0, x1, y1)) in enumerate(rows):
        mask = np.zeros((40, 60), np.uint8, order="F")
        mask[y0:y1, x0:x1] = 1
        values = {"video_id": "v", "frame": frame, "time_s": frame / 10, "instance": i, "class_id": class_id,
                  "class_name": name, "score": score, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1,
                  "mask_rle": mask_utils.encode(mask)["counts"].decode(), "mask_area": int(mask.sum()), "width": 60,
                  "height": 40}
        for key in columns:
            columns[key].append(values[key])
    pq.write_table(pa.table(columns, schema=CHUNK_DETECTIONS_SCHEMA), path)
    return path


ROWS = [(0, 1, "cat", 0.9, (2, 3, 12, 13)), (0, 2, "dog", 0.8, (20, 5, 40, 25)), (1, 1, "cat", 0.7, (3, 3, 13, 13))]


def test_detections_become_coco_results_with_the_models_class_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(coco, "BATCH_ROWS", 1)  # streamed a row at a time: the same file
    parts = [chunk(tmp_path / "0.parquet", ROWS[:2]), chunk(tmp_path / "1.parquet", ROWS[2:])]
    assert write_coco_results(parts, tmp_path / "out.json") == 3
    results = json.loads((tmp_path / "out.json").read_text())
    assert [(r["image_id"], r["category_id"]) for r in results] == [(0, 1), (0, 2), (1, 1)]
    assert results[1]["bbox"] == [20.0, 5.0, 20.0, 20.0] and results[1]["score"] == np.float32(0.8)
    mask = mask_utils.decode({"size": results[0]["segmentation"]["size"],
                              "counts": results[0]["segmentation"]["counts"].encode()})
    assert mask.shape == (40, 60) and mask.sum() == 100 and mask[3:13, 2:12].all()


def test_with_a_ground_truth_its_category_ids_and_loadres_reads_the_file(tmp_path):
    truth = {"images": [{"id": f, "width": 60, "height": 40, "file_name": f"{f}.jpg"} for f in (0, 1)],
             "categories": [{"id": 7, "name": "cat"}],
             "annotations": [{"id": 1, "image_id": 0, "category_id": 7, "bbox": [2, 3, 10, 10], "area": 100,
                              "iscrowd": 0, "segmentation": [[2, 3, 12, 3, 12, 13, 2, 13]]}]}
    (tmp_path / "gt.json").write_text(json.dumps(truth))
    gt = COCO(str(tmp_path / "gt.json"))
    count = write_coco_results([chunk(tmp_path / "0.parquet", ROWS)], tmp_path / "out.json", {"cat": 7})
    assert count == 2  # the dog, a class the ground truth lacks, is left out
    results = gt.loadRes(str(tmp_path / "out.json"))
    assert sorted(a["category_id"] for a in results.dataset["annotations"]) == [7, 7]
    assert {a["image_id"] for a in results.dataset["annotations"]} == {0, 1}


def test_no_detections_give_an_empty_list(tmp_path):
    assert write_coco_results([chunk(tmp_path / "0.parquet", [])], tmp_path / "out.json") == 0
    assert json.loads((tmp_path / "out.json").read_text()) == []
