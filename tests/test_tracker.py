"""The tracker (vidseg.tracking.tracker): ids that follow objects, confirmation, loss, duplicates, settings errors, and
ids that depend on the detections only (not their order within a frame, nor a score's last bit)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils

from vidseg.core.errors import ConfigError
from vidseg.tracking.tracker import UNTRACKED, Tracker, TrackSettings, box_iou

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from tracking import perturbed_detections, scene_truth, track_rows  # noqa: E402

SIZE = (120, 160)


def square(x: int, y: int, side: int = 20) -> tuple[list[int], dict]:
    """Box and RLE of a filled square with its top-left corner at (x, y)."""
    mask = np.zeros(SIZE, np.uint8, order="F")
    mask[y:y + side, x:x + side] = 1
    return [x, y, x + side, y + side], mask_utils.encode(mask)


def frame(tracker: Tracker, index: int, objects: list[tuple], scores=None, classes=None) -> list[int]:
    """Feed one frame of squares [(x, y), ...] and return their ids."""
    boxes, rles = zip(*(square(*o) for o in objects)) if objects else ((), ())
    scores = [0.99] * len(objects) if scores is None else scores
    classes = [1] * len(objects) if classes is None else classes
    return tracker.update(index, np.array(boxes, float).reshape(-1, 4), np.array(scores), np.array(classes),
                          list(rles)).tolist()


@pytest.mark.parametrize("association", ["mask", "box"])
def test_two_crossing_objects_keep_their_ids(association):
    tracker = Tracker(TrackSettings(association=association, min_hits=2))
    for i in range(30):  # one moves right, the other left; they overlap as they pass
        frame(tracker, i, [(10 + 4 * i, 30), (126 - 4 * i, 42)])
    ids = tracker.ids.reshape(30, 2)
    assert (ids[:, 0] == ids[0, 0]).all() and (ids[:, 1] == ids[0, 1]).all()
    assert sorted(ids[0]) == [1, 2] and tracker.n_tracks == 2


def test_a_new_object_is_confirmed_after_min_hits_and_labelled_back_to_its_first_frame():
    tracker = Tracker(TrackSettings(min_hits=3))
    frame(tracker, 0, [(10, 10)])  # the first frame's tracks are confirmed at once
    assert frame(tracker, 1, [(12, 10), (100, 80)]) == [1, UNTRACKED]
    assert frame(tracker, 2, [(14, 10), (101, 80)]) == [1, UNTRACKED]
    assert frame(tracker, 3, [(16, 10), (102, 80)]) == [1, 2]
    assert tracker.ids.tolist() == [1, 1, 2, 1, 2, 1, 2]  # the newcomer's two earlier detections got id 2 too


def test_a_detection_seen_once_stays_untracked_and_a_one_frame_video_has_tracks():
    tracker = Tracker(TrackSettings(min_hits=2))
    assert frame(tracker, 0, [(10, 10), (80, 60)]) == [1, 2]  # first frame: confirmed at once
    frame(tracker, 1, [(11, 10), (81, 60), (40, 90)])  # (40, 90) appears once
    frame(tracker, 2, [(12, 10), (82, 60)])
    assert tracker.ids.tolist() == [1, 2, 1, 2, UNTRACKED, 1, 2]


def test_a_track_survives_max_lost_frames_and_ends_after():
    tracker = Tracker(TrackSettings(max_lost=3))
    for i in range(5):
        frame(tracker, i, [(10 + i, 10)])
    assert frame(tracker, 8, [(18, 10)]) == [1]  # unseen in frames 5-7: three frames, still alive
    assert frame(tracker, 13, [(23, 10)]) == [UNTRACKED]  # unseen for four: a new object, tentative
    assert frame(tracker, 14, [(24, 10)]) == [2]


def test_an_object_back_from_hiding_is_found_by_its_moved_on_box():
    tracker = Tracker(TrackSettings(max_lost=10, lost_buffer=0.0))
    for i in range(5):
        frame(tracker, i, [(10 + 5 * i, 40)])
    # hidden for 5 frames, moving on at 5 px/frame: its last mask is 30 px away, its moved-on box is right there
    assert frame(tracker, 10, [(60, 40)]) == [1]


def test_a_duplicate_of_another_class_gets_no_id_and_does_not_steal_the_track():
    tracker = Tracker(TrackSettings(duplicate_iou=0.5))
    frame(tracker, 0, [(10, 10)], classes=[2])
    # the same object found twice; the copy (another class, lower score) overlaps the track's last mask the most
    assert frame(tracker, 1, [(12, 10), (10, 10)], scores=[0.99, 0.95], classes=[2, 1]) == [1, UNTRACKED]
    assert frame(tracker, 2, [(12, 10)], classes=[2]) == [1]
    assert tracker.n_tracks == 1


def test_low_scores_continue_a_track_but_do_not_start_one():
    tracker = Tracker(TrackSettings(new_track_score=0.9))
    frame(tracker, 0, [(10, 10)])
    assert frame(tracker, 1, [(12, 10), (90, 70)], scores=[0.6, 0.6]) == [1, UNTRACKED]
    assert frame(tracker, 2, [(14, 10), (91, 70)], scores=[0.6, 0.6]) == [1, UNTRACKED]
    assert tracker.n_tracks == 1


def test_class_aware_tracks_do_not_take_other_classes():
    tracker = Tracker(TrackSettings(class_aware=True, min_hits=1))
    frame(tracker, 0, [(10, 10)], classes=[1])
    assert frame(tracker, 1, [(11, 10)], classes=[2]) == [2]
    plain = Tracker(TrackSettings(min_hits=1))
    frame(plain, 0, [(10, 10)], classes=[1])
    assert frame(plain, 1, [(11, 10)], classes=[2]) == [1]


@pytest.fixture(scope="module")
def doubled_scene() -> pd.DataFrame:
    """Detections of a 60-frame demo scene as a confident model gives them: many scores at float32's 1.0 or one
    unit in the last place (ulp) below it, and objects found twice (a copy one pixel off, as another class, with
    the same score), in the model's order (by descending score)."""
    rng = np.random.default_rng(7)
    rows = perturbed_detections(scene_truth(seed=103, frames=60), drop=0.1, jitter=1.0, rng=rng)
    below_one = np.nextafter(np.float32(1), np.float32(0))
    rows["score"] = np.where(rng.random(len(rows)) < 0.5, rng.choice([np.float32(1), below_one], len(rows)),
                             rows.score).astype(np.float32)
    copies = rows.sample(frac=0.3, random_state=1).copy()
    for name in ("x_min", "x_max"):
        copies[name] += 1
    copies["mask_rle"] = [shifted_right(rle, h, w) for rle, h, w in zip(copies.mask_rle, copies.height, copies.width)]
    copies["class_id"] = copies.class_id % 3 + 1
    rows = pd.concat([rows, copies], ignore_index=True).sort_values(["frame", "score"], ascending=[True, False],
                                                                      kind="stable", ignore_index=True)
    assert (np.abs(rows.score - 0.9) > 1e-6).all()  # no score on the new-track threshold: that one is a real edge
    return rows


def shifted_right(counts: str, height: int, width: int) -> str:
    mask = np.roll(mask_utils.decode({"size": [height, width], "counts": counts.encode()}), 1, axis=1)
    return mask_utils.encode(np.asfortranarray(mask))["counts"].decode()


def test_ids_do_not_depend_on_the_order_of_a_frames_detections(doubled_scene):
    ids = track_rows(doubled_scene, TrackSettings())
    assert len(set(ids) - {UNTRACKED}) >= 3 and (ids == UNTRACKED).sum() >= 0.2 * len(ids)  # copies: untracked
    shuffled = doubled_scene.sample(frac=1, random_state=2).sort_values("frame", kind="stable")
    again = pd.Series(track_rows(shuffled, TrackSettings()), index=shuffled.index).sort_index()
    np.testing.assert_array_equal(again.to_numpy(), ids)


@pytest.mark.parametrize("association", ["mask", "box"])
def test_ids_do_not_depend_on_a_scores_last_bit(doubled_scene, association):
    """What another thread count or CPU can do to a float32 score: one ulp up or down."""
    settings = TrackSettings(association=association)
    ids = track_rows(doubled_scene, settings)
    step = np.random.default_rng(3).choice([-np.inf, np.inf], len(doubled_scene)).astype(np.float32)
    nudged = doubled_scene.assign(score=np.minimum(np.nextafter(doubled_scene.score.to_numpy(np.float32), step), 1))
    assert (nudged.score != doubled_scene.score).mean() > 0.7
    np.testing.assert_array_equal(track_rows(nudged, settings), ids)


def test_frames_must_come_in_order():
    tracker = Tracker()
    frame(tracker, 3, [(10, 10)])
    with pytest.raises(ValueError, match="increasing order"):
        frame(tracker, 3, [(10, 10)])


def test_box_iou_by_hand():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0]])
    assert box_iou(a, np.zeros((0, 4))).shape == (1, 0)


@pytest.mark.parametrize("settings, key", [
    ({"association": "centroid"}, "track.association"),
    ({"match_iou": 0}, "track.match_iou"),
    ({"max_lost": -1}, "track.max_lost"),
    ({"buffer": 1}, "track"),
])
def test_bad_settings_name_the_key(settings, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        TrackSettings.from_config(settings)


def test_every_setting_is_in_the_schema_and_documented_with_its_default():
    """The defaults live in TrackSettings only; the schema checks the keys, config/README.md shows the defaults."""
    from dataclasses import fields
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((repo / "config/schema.yaml").read_text())["properties"]["track"]["properties"]
    readme = (repo / "config/README.md").read_text()
    assert set(schema) == {f.name for f in fields(TrackSettings)}
    for f in fields(TrackSettings):
        shown = str(f.default).lower() if isinstance(f.default, bool) else f.default
        assert f"| `track.{f.name}` | `{shown}` |" in readme, f.name
        assert "default" not in schema[f.name], f.name
