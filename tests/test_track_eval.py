"""Tracking evaluation (vidseg.evaluation.track_eval): TrackEval's figures on hand-made sequences with known answers."""

import json

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils

from vidseg.evaluation.track_eval import evaluate_tracking
from vidseg.media.synthetic import coco_annotation

H, W = 60, 80
FRAMES = 10


def square_mask(x: int, y: int = 10) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[y:y + 16, x:x + 16] = 1
    return mask


def positions(frame: int) -> dict[int, int]:
    """Object id -> x of two squares that never overlap."""
    return {1: 2 + frame, 2: 50 - frame}


@pytest.fixture
def truth(tmp_path):
    annotations = []
    for frame in range(FRAMES):
        for object_id, x in positions(frame).items():
            annotations.append(coco_annotation(len(annotations) + 1, frame, 1, square_mask(x), object_id))
    data = {"images": [{"id": f, "height": H, "width": W, "file_name": f"{f:06d}"} for f in range(FRAMES)],
            "annotations": annotations, "categories": [{"id": 1, "name": "square"}]}
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(data))
    return path


def rows(ids_by_frame) -> pd.DataFrame:
    """Detection rows with the true masks and the track id `ids_by_frame(frame, object)`."""
    out = []
    for frame in range(FRAMES):
        for object_id, x in positions(frame).items():
            rle = mask_utils.encode(np.asfortranarray(square_mask(x)))
            out.append({"frame": frame, "track_id": ids_by_frame(frame, object_id),
                        "mask_rle": rle["counts"].decode("ascii"), "height": H, "width": W})
    return pd.DataFrame(out)


def test_perfect_tracks_score_one(truth):
    report = evaluate_tracking(rows(lambda f, o: 10 + o), truth)
    for key in ("HOTA", "DetA", "AssA", "LocA", "IDF1", "MOTA"):
        assert report[key] == pytest.approx(1.0), key
    assert report["id_switches"] == 0 and report["objects"] == 2 and report["tracks"] == 2 and report["frames"] == 10


def test_swapped_ids_halfway_cost_two_switches(truth):
    report = evaluate_tracking(rows(lambda f, o: o if f < 5 else 3 - o), truth)
    assert report["id_switches"] == 2 and report["id_switches_per_100_frames"] == pytest.approx(20.0)
    assert report["MOTA"] == pytest.approx(1 - 2 / 20)
    assert report["IDF1"] == pytest.approx(0.5)  # each true object matches one track for half its frames
    # each match's association IoU: 5 frames together / (5 + 5 the object spent with the other id
    # + 5 the id spent on the other object) = 1/3
    assert report["DetA"] == pytest.approx(1.0) and report["AssA"] == pytest.approx(1 / 3)
    assert report["HOTA"] == pytest.approx((1 / 3) ** 0.5)


def test_untracked_detections_are_not_scored_and_a_missing_object_is(truth):
    base = rows(lambda f, o: o)
    extra = base.assign(track_id=-1)  # the same masks again, outside any track
    assert evaluate_tracking(pd.concat([base, extra]), truth) == evaluate_tracking(base, truth)
    half = evaluate_tracking(base[base.track_id == 1], truth)
    assert half["MOTA"] == pytest.approx(0.5) and half["IDR"] == pytest.approx(0.5) and half["IDP"] == 1.0


def test_ground_truth_without_object_ids_is_not_scored(truth):
    data = json.loads(truth.read_text())
    for a in data["annotations"]:
        del a["track_id"]
    truth.write_text(json.dumps(data))
    assert evaluate_tracking(rows(lambda f, o: o), truth) is None


def test_video_columns_leave_tracking_empty_where_it_was_not_scored():
    from vidseg.evaluation.evaluate import video_columns

    coco = {name: 0.5 for name in ("AP", "AP50", "AP75")}
    scored = {"video_id": "a", "bbox": coco, "segm": coco, "detections": 9, "kept_detections": 7,
              "tracking": {"HOTA": 0.8, "IDF1": 0.9, "MOTA": 0.95, "id_switches": 3, "id_switches_per_100_frames": 1.0},
              "errors": {"false positive": 2, "duplicate": 0, "wrong class": 1, "missed": 4, "id switch": 3}}
    unscored = {"video_id": "b", "bbox": coco, "segm": coco, "tracking": None}
    table = video_columns([scored, unscored]).set_index("video_id")
    assert table.loc["a", "track_HOTA"] == 0.8 and table.loc["a", "track_id_switches_per_100_frames"] == 1.0
    assert (table.loc["a", "false_positives"], table.loc["a", "missed"], table.loc["a", "track_id_switches"]) == (2, 4, 3)
    assert table.loc["b", ["track_HOTA", "track_IDF1", "track_MOTA"]].isna().all()
    assert table.loc["b", "segm_AP"] == 0.5


def test_summary_rows_carry_only_their_own_classs_figures():
    """A class without ground truth gets no AP (the video's AP is not copied onto it); a class of the ground truth
    that was never detected gets a row with its misses."""
    from vidseg.evaluation.evaluate import merge_summary
    from vidseg.formats.tables import summary

    detections = pd.DataFrame({"video_id": ["v"] * 3, "class_id": [1, 2, 2], "class_name": ["circle", "square", "square"],
                               "score": [0.9, 0.8, 0.7], "frame": [0, 0, 1]})
    frames = pd.DataFrame({"video_id": ["v", "v"], "frame": [0, 1]})
    report = {"video_id": "v", "bbox": {"AP": 0.7}, "segm": {"AP": 0.6},
              "per_class": {"circle": {"ground_truth": 0, "segm_AP": None, "bbox_AP": None},
                            "square": {"ground_truth": 2, "segm_AP": 0.9, "segm_AP50": 1.0, "segm_recall50": 1.0,
                                       "bbox_AP": 0.8, "bbox_AP50": 1.0},
                            "triangle": {"ground_truth": 2, "segm_AP": 0.0, "bbox_AP": 0.0}},
              "errors": {}, "errors_per_class": {"circle": {"false positive": 1}, "triangle": {"missed": 2}}}
    table = merge_summary(summary(detections, frames), [report]).set_index("class_name")
    assert list(table.index) == ["circle", "square", "triangle"]
    assert np.isnan(table.loc["circle", "segm_AP"]) and table.loc["circle", "false_positives"] == 1
    assert table.loc["square", "segm_AP"] == 0.9 and table.loc["square", "instances"] == 2
    assert table.loc["triangle", "instances"] == 0 and table.loc["triangle", "missed"] == 2
    assert table.loc["triangle", "gt_instances"] == 2 and table.loc["triangle", "frames_processed"] == 2
    assert "track_HOTA" not in table.columns