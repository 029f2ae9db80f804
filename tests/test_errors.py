"""The errors table: every kind found in the frame it happens, and identity switches counted as TrackEval counts them."""

import json

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils

from vidseg.evaluation.errors import ERRORS_SCHEMA, error_table, find_errors
from vidseg.evaluation.track_eval import evaluate_tracking
from vidseg.formats.coco import read_ground_truth

H, W = 64, 96
BOXES = {"A": (4, 4, 24, 24), "B": (40, 4, 60, 24), "C": (4, 36, 24, 56), "background": (70, 40, 90, 60)}
CLASSES = {"A": "square", "B": "triangle", "C": "circle"}
CATEGORIES = {"circle": 1, "square": 2, "triangle": 3}


def rle(place: str) -> dict:
    x0, y0, x1, y1 = BOXES[place]
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask_utils.encode(np.asfortranarray(mask))


def ground_truth(tmp_path, frames: int = 5, track_ids: bool = True):
    annotations = []
    for frame in range(frames):
        for obj, place in enumerate("ABC", start=1):
            x0, y0, x1, y1 = BOXES[place]
            ann = {"id": len(annotations) + 1, "image_id": frame, "category_id": CATEGORIES[CLASSES[place]],
                   "segmentation": {"size": [H, W], "counts": rle(place)["counts"].decode()},
                   "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0}
            annotations.append({**ann, "track_id": obj} if track_ids else ann)
    truth = {"images": [{"id": f, "width": W, "height": H, "file_name": f"{f}.jpg"} for f in range(frames)],
             "categories": [{"id": i, "name": n} for n, i in CATEGORIES.items()], "annotations": annotations}
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(truth))
    return read_ground_truth(path)


def detections(rows: list[tuple]) -> pd.DataFrame:
    """Rows of the tracked detections table from (frame, place, class, score, track_id)."""
    out, instance = [], {}
    for frame, place, class_name, score, track_id in rows:
        x0, y0, x1, y1 = BOXES[place]
        instance[frame] = instance.get(frame, -1) + 1
        out.append({"frame": frame, "time_s": frame / 10, "instance": instance[frame], "track_id": track_id,
                    "class_name": class_name, "score": score, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1,
                    "mask_rle": rle(place)["counts"].decode(), "height": H, "width": W})
    return pd.DataFrame(out)


def correct(frame, tracks=(10, 20, 30)):
    return [(frame, place, CLASSES[place], 0.9, track) for place, track in zip("ABC", tracks)]


@pytest.fixture
def scene():
    """Five frames of three objects: frame 1 a second detection on A and one on the background, frame 2 A called a
    triangle and B missed, frame 3 B's track changes from 20 to 21."""
    rows = [*correct(0),
            *correct(1), (1, "A", "circle", 0.6, -1), (1, "background", "circle", 0.8, 40),
            (2, "A", "triangle", 0.9, 10), (2, "C", "circle", 0.9, 30),
            *correct(3, (10, 21, 30)), *correct(4, (10, 21, 30))]
    return detections(rows)


def test_each_kind_of_error_is_found_in_its_frame(tmp_path, scene):
    errors = find_errors(scene, ground_truth(tmp_path))
    got = [(r.frame, r.kind, r.class_name, r.object_class, r.track_id, r.previous_track_id) for r in errors.itertuples()]
    assert got == [(1, "false positive", "circle", "", 40, -1),
                   (1, "duplicate", "circle", "square", -1, -1),
                   (2, "wrong class", "triangle", "square", 10, -1),
                   (2, "missed", "", "triangle", -1, -1),
                   (3, "id switch", "triangle", "triangle", 21, 20)]
    assert errors.time_s.tolist() == [0.1, 0.1, 0.2, 0.2, 0.3]
    assert errors.object_id.tolist() == [-1, 1, 1, 2, 2]
    missed = errors[errors.kind == "missed"].iloc[0]
    assert (missed.x_min, missed.y_min, missed.x_max, missed.y_max) == BOXES["B"] and np.isnan(missed.score)
    assert errors.iou[errors.kind == "wrong class"].iloc[0] == pytest.approx(1.0)
    table = error_table("clip", errors)
    assert table.schema == ERRORS_SCHEMA and table.num_rows == 5


def test_identity_switches_are_those_trackeval_counts(tmp_path, scene):
    gt = ground_truth(tmp_path)
    # a longer history: B leaves its track for 22 at frame 5 and comes back to 21 at frame 6 (two more switches);
    # A keeps 10 throughout, though frame 2 calls it a triangle
    more = detections([*correct(5, (10, 22, 30)), *correct(6, (10, 21, 30))])
    gt7 = ground_truth(tmp_path, frames=7)
    both = pd.concat([scene, more], ignore_index=True)
    errors = find_errors(both, gt7)
    switches = errors[errors.kind == "id switch"]
    assert list(zip(switches.frame, switches.previous_track_id, switches.track_id)) == [(3, 20, 21), (5, 21, 22),
                                                                                        (6, 22, 21)]
    assert evaluate_tracking(both, gt7)["id_switches"] == len(switches) == 3
    assert evaluate_tracking(scene, gt)["id_switches"] == 1


def test_without_object_ids_there_are_no_identity_switches_and_no_detections_means_all_missed(tmp_path, scene):
    gt = ground_truth(tmp_path, track_ids=False)
    errors = find_errors(scene, gt)
    assert "id switch" not in set(errors.kind) and len(errors) == 4
    assert errors.object_id[errors.kind == "missed"].tolist() == [8]  # B's annotation in frame 2: ids 1-3 in frame 0
    none = find_errors(scene.iloc[:0], gt, times=pd.Series({f: f / 10 for f in range(5)}))
    assert (none.kind == "missed").all() and len(none) == 15
    assert sorted(none.time_s.unique()) == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_detections_outside_the_ground_truth_are_not_errors(tmp_path, scene):
    gt = ground_truth(tmp_path, frames=3)  # frames 3 and 4 have no ground truth
    extra = detections([(2, "background", "hexagon", 0.9, 50)])  # a class the ground truth does not have
    errors = find_errors(pd.concat([scene, extra], ignore_index=True), gt)
    assert errors.frame.max() == 2 and "hexagon" not in set(errors.class_name)
