import json

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils

from media import stream_info
from vidseg.evaluation.evaluate import evaluate
from vidseg.media.synthetic import CATEGORIES, Scene, write_coco_images, write_video


def test_scenes_are_deterministic_with_exact_disjoint_masks():
    a_image, a_masks = Scene(np.random.default_rng(5), (96, 128)).render(7)
    b_image, b_masks = Scene(np.random.default_rng(5), (96, 128)).render(7)
    assert (a_image == b_image).all() and len(a_masks) == len(b_masks) > 0
    stack = np.stack([m for _, m in a_masks])
    assert stack.sum(axis=0).max() == 1  # occlusion: each pixel belongs to at most one instance
    assert {c for c, _ in a_masks} <= {1, 2, 3}
    later, _ = Scene(np.random.default_rng(5), (96, 128)).render(8)
    assert (later != a_image).any()  # things move


def test_coco_image_dataset(tmp_path):
    data = write_coco_images(tmp_path / "train", count=4, seed=1, size=(64, 80))
    on_disk = json.loads((tmp_path / "train/annotations.json").read_text())
    assert on_disk == data and len(data["images"]) == 4 and [c["name"] for c in data["categories"]] == list(CATEGORIES)
    ann = data["annotations"][0]
    rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}
    assert mask_utils.area(rle) == ann["area"] and (tmp_path / "train" / data["images"][0]["file_name"]).is_file()


def detections_from(gt, shift=0):
    rows = []
    for ann in gt["annotations"]:
        h, w = ann["segmentation"]["size"]
        mask = mask_utils.decode({"size": [h, w], "counts": ann["segmentation"]["counts"].encode()})
        mask = np.roll(mask, shift, axis=1)
        rle = mask_utils.encode(np.asfortranarray(mask))
        x, y, bw, bh = mask_utils.toBbox(rle)
        rows.append(dict(frame=ann["image_id"], class_name=CATEGORIES[ann["category_id"] - 1], score=1.0,
                         x_min=int(x), y_min=int(y), x_max=int(x + bw), y_max=int(y + bh), width=w, height=h,
                         mask_rle=rle["counts"].decode()))
    return pd.DataFrame(rows)


def test_video_ground_truth_and_evaluation(tmp_path):
    gt = write_video(tmp_path / "v.mp4", tmp_path / "v.json", frames=12, seed=3, size=(64, 96), fps=8)
    streams = {s["codec_type"]: s for s in stream_info(tmp_path / "v.mp4")}
    assert int(streams["video"]["nb_read_frames"]) == 12 and "audio" in streams
    assert [im["id"] for im in gt["images"]] == list(range(12))
    perfect = evaluate(detections_from(gt), tmp_path / "v.json")
    assert perfect["segm"]["AP"] == 1.0 and perfect["bbox"]["AP50"] == 1.0
    shifted = evaluate(detections_from(gt, shift=4), tmp_path / "v.json")
    assert shifted["segm"]["AP"] < 0.9 * perfect["segm"]["AP"]
    # the precision-recall curve: 101 recall points, precision never rising with recall, its mean AP50 / AP75
    for report in (perfect, shifted):
        curve = report["pr_curve"]["segm"]
        assert curve["recall"][:3] == [0.0, 0.01, 0.02] and len(curve["recall"]) == 101
        for key, ap in (("precision_iou50", "AP50"), ("precision_iou75", "AP75")):
            assert np.all(np.diff(curve[key]) <= 1e-9)
            assert np.mean(curve[key]) == pytest.approx(report["segm"][ap], abs=1e-5)
    assert perfect["pr_curve"]["bbox"]["precision_iou50"] == [1.0] * 101
    empty = evaluate(detections_from(gt).iloc[0:0], tmp_path / "v.json")
    assert empty["segm"]["AP"] == 0.0
    # classes the ground truth does not have (a COCO model on shapes) are counted, not scored
    extra = detections_from(gt).iloc[:3].assign(class_name="person")
    mixed = evaluate(pd.concat([detections_from(gt), extra]), tmp_path / "v.json")
    assert mixed["segm"]["AP"] == 1.0 and mixed["ignored_classes"] == {"person": 3}


def hidden_fraction(scenes):
    """Share of the shapes' drawn area that other shapes hide."""
    visible = drawn = 0
    for scene in scenes:
        visible += sum(m.sum() for _, m in scene.render(0)[1])
        shapes = scene.shapes
        for shape in shapes:
            scene.shapes = [shape]
            drawn += sum(m.sum() for _, m in scene.render(0)[1])
        scene.shapes = shapes
    return 1 - visible / drawn


def test_overlap_makes_occlusion_heavy_scenes():
    plain = hidden_fraction(Scene(np.random.default_rng(s), (96, 128), (3, 5)) for s in range(30))
    heavy = hidden_fraction(Scene(np.random.default_rng(s), (96, 128), (3, 5), overlap=0.8) for s in range(30))
    assert heavy > 1.5 * plain, (plain, heavy)
    # without overlap the random draws are those of plain scenes: demo videos did not change
    a = Scene(np.random.default_rng(3), (96, 128))
    b = Scene(np.random.default_rng(3), (96, 128), overlap=0.0)
    assert (a.render(4)[0] == b.render(4)[0]).all()


def test_video_ground_truth_names_each_object_by_its_track():
    """Every annotation has the track id of the shape it shows: unique within a frame, one class per track,
    and a track's mask in one frame overlaps its own mask in the next far more than any other track's."""
    scene_seed, size = 9, (96, 128)
    scene = Scene(np.random.default_rng(scene_seed), size)
    frames = [scene.render_tracked(i)[1] for i in range(10)]
    assert [c for c, _ in scene.render(4)[1]] == [c for _, c, _ in frames[4]]  # render is render_tracked less the ids
    classes = {}
    for instances in frames:
        ids = [t for t, _, _ in instances]
        assert len(ids) == len(set(ids)) and set(ids) <= set(range(1, len(scene.shapes) + 1))
        for track, category, _ in instances:
            assert classes.setdefault(track, category) == category
    for now, following in zip(frames, frames[1:]):
        for track, _, mask in now:
            overlaps = {t: (mask & m).sum() / (mask | m).sum() for t, _, m in following}
            if track in overlaps:
                assert max(overlaps, key=overlaps.get) == track


def test_written_ground_truth_carries_track_ids(tmp_path):
    gt = write_video(tmp_path / "v.mp4", tmp_path / "v.json", frames=6, seed=3, size=(64, 96), fps=8, audio=False)
    scene = Scene(np.random.default_rng(3), (64, 96))
    expected = [(i, t, c) for i in range(6) for t, c, _ in scene.render_tracked(i)[1]]
    assert [(a["image_id"], a["track_id"], a["category_id"]) for a in gt["annotations"]] == expected
    assert json.loads((tmp_path / "v.json").read_text())["annotations"][0]["track_id"] == expected[0][1]
