"""The frames `benchmarks/runtimes.py --images DIR` times the runtimes on."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import runtimes  # noqa: E402


def test_images_from_a_folder_are_scaled_cut_and_repeated_in_name_order(tmp_path):
    tall = np.zeros((900, 300, 3), np.uint8)
    tall[:, :, 2] = 255  # red in OpenCV's BGR
    wide = np.zeros((240, 1280, 3), np.uint8)
    wide[:, :, 1] = 255  # green
    cv2.imwrite(str(tmp_path / "b.jpg"), wide)
    cv2.imwrite(str(tmp_path / "a.png"), tall)
    (tmp_path / "notes.txt").write_text("not an image")
    frames = runtimes.photos(3, folder=tmp_path)
    assert [f.shape for f in frames] == [(480, 640, 3)] * 3
    centres = np.array([f[240, 320] for f in frames], np.int16)  # RGB; JPEG moves a value by a few
    assert np.abs(centres - [(255, 0, 0), (0, 255, 0), (255, 0, 0)]).max() <= 3


def test_a_folder_without_images_or_with_a_broken_one_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no .jpg, .jpeg, .png files there"):
        runtimes.photos(2, folder=tmp_path)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SystemExit, match="broken.jpg is not an image OpenCV can read"):
        runtimes.photos(2, folder=tmp_path)


def test_weights_of_another_class_count_or_backbone_are_named_before_any_row_runs():
    demo = Path(__file__).resolve().parents[1] / "models" / "shapes.h5"  # the demo model: 4 classes, ResNet-50
    message = runtimes.weights_mismatch(demo, ["resnet50@512"])
    assert message.startswith(f"--weights {demo} does not fit --configs resnet50@512") and "num_classes 4" in message
    assert "81 classes" in message


def test_coco_weights_of_a_backbone_fit_its_configs_and_no_other(tmp_path):
    from matterport_layout import matterport_layers, write_keras2_h5

    coco = tmp_path / "mask_rcnn_coco_resnet50.h5"  # matterport's layout and shapes, seeded values
    write_keras2_h5(coco, matterport_layers("resnet50", 81))
    assert runtimes.weights_mismatch(coco, ["resnet50@512", "resnet50@1024"]) is None
    message = runtimes.weights_mismatch(coco, ["resnet50@512", "resnet101@1024"])
    assert message.startswith(f"--weights {coco} does not fit --configs resnet101@1024")
    assert "backbone resnet50 (the config's resnet101)" in message


def test_an_unreadable_weights_file_is_named(tmp_path):
    bad = tmp_path / "weights.h5"
    bad.write_text("not HDF5")
    message = runtimes.weights_mismatch(bad, ["resnet50@512"])
    assert message == f"--weights: file {str(bad)!r} is not an HDF5 weights file"
