"""Encoding annotated frames, and drawing detections on them."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

from media import make_video, stream_info
from vidseg.media.frames import extract
from vidseg.media.render import class_colour, draw, place_labels

REPO = Path(__file__).resolve().parents[1]


def test_draw_colours_the_mask_and_keeps_the_rest():
    image = np.zeros((60, 80, 3), np.uint8)
    mask = np.zeros((60, 80), np.uint8, order="F")
    mask[30:50, 40:70] = 1
    rle = mask_utils.encode(mask)
    rows = pd.DataFrame([dict(class_id=3, class_name="car", score=0.9, x_min=40, y_min=30, x_max=70, y_max=50,
                              mask_rle=rle["counts"].decode())])
    out = draw(image, rows)
    inside = out[40, 55].astype(int)
    np.testing.assert_allclose(inside, np.array(class_colour(3)) * 0.45, atol=2)
    assert (out[5:25, 0:35] == 0).all()  # far from the box and label
    assert class_colour(3) == class_colour(3) != class_colour(4)
    assert (draw(image, rows.iloc[0:0]) == image).all()


def test_annotate_draws_and_encodes_without_an_image_folder(tmp_path):
    """One job reads, draws and encodes, writing nothing but the video; a frame that cannot be read stops it
    with an error naming the file, and no partial video is left."""
    import cv2
    import pytest

    from vidseg.core.errors import VidsegError
    from vidseg.media.annotate import annotate_video
    from vidseg.media.encoders import EncodeSettings
    from vidseg.media.probe import probe

    video = make_video(tmp_path / "in.mp4", seconds=1.0, size="80x60", fps="10", audio=True)
    times = extract(video, tmp_path / "frames")
    mask = np.zeros((60, 80), np.uint8, order="F")
    mask[10:50, 10:70] = 1
    rows = pd.DataFrame([dict(class_id=3, class_name="car", score=0.9, x_min=10, y_min=10, x_max=70, y_max=50,
                              mask_rle=mask_utils.encode(mask)["counts"].decode())])
    record = probe(video)
    before = set(tmp_path.rglob("*"))
    assert annotate_video(tmp_path / "frames", times, [(4, rows)], "jpg", record, video, tmp_path / "out.mp4",
                          EncodeSettings(preset="ultrafast")) == 10
    assert set(tmp_path.rglob("*")) - before == {tmp_path / "out.mp4"}
    streams = {s["codec_type"]: s for s in stream_info(tmp_path / "out.mp4")}
    assert int(streams["video"]["nb_read_frames"]) == len(times) == 10 and "audio" in streams
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    frames = [capture.read()[1] for _ in range(6)]
    source = [cv2.imread(str(tmp_path / "frames" / f"{i:06d}.jpg")) for i in range(6)]
    # frame 4 carries the car's colour over its mask; frame 3 is the source frame (up to coding)
    assert np.abs(frames[4][30, 40].astype(int) - source[4][30, 40]).max() > 40
    assert np.abs(frames[3].astype(int) - source[3]).mean() < 6

    (tmp_path / "frames" / "000007.jpg").unlink()
    with pytest.raises(VidsegError, match="cannot read frame image .*000007.jpg"):
        annotate_video(tmp_path / "frames", times, [], "jpg", record, video, tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()


def test_annotate_falls_back_to_libx264_where_the_hardware_encoder_cannot_run(tmp_path, caplog):
    """No NVIDIA GPU here: with encode.encoder h264_nvenc the video is still made (by libx264), and the log
    says why; the detections are read again for the second encoding."""
    from vidseg.media.annotate import annotate_video
    from vidseg.media.encoders import EncodeSettings
    from vidseg.media.probe import probe

    video = make_video(tmp_path / "in.mp4", seconds=0.5, size="80x60", fps="10")
    times = extract(video, tmp_path / "frames")
    reads = []
    with caplog.at_level("WARNING", logger="vidseg"):
        annotate_video(tmp_path / "frames", times, lambda: reads.append(1) or [], "jpg", probe(video), video,
                       tmp_path / "out.mp4", EncodeSettings("h264_nvenc"))
    (v,) = stream_info(tmp_path / "out.mp4")
    assert v["codec_name"] == "h264" and int(v["nb_read_frames"]) == 5 and len(reads) == 2
    assert "h264_nvenc" in caplog.text and "encoding with libx264 instead" in caplog.text


def test_drawing_in_the_boxes_gives_the_full_frame_picture_where_labels_do_not_collide():
    """vidseg.media.render.draw (masks blended in their own boxes) against the full-frame drawing it replaced."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from draw import grid_objects
    from draw_before import draw_before

    image = np.random.default_rng(1).integers(0, 255, (240, 400, 3), dtype=np.uint8)
    rows = grid_objects(10, 240, 400)
    assert (draw(image, rows) == draw_before(image, rows)).all()
    assert (draw(image, rows) != image).any()


def test_labels_stay_inside_the_frame_and_apart():
    """A crowd of 12 objects on one spot, one at the right edge, one at the top: every label inside the frame,
    none covering another; the best-scoring object keeps the spot above its box."""
    boxes = [(100, 100, 160, 140)] * 12 + [(380, 50, 400, 70), (10, 0, 50, 30)]
    sizes = [(70, 12)] * len(boxes)
    scores = np.linspace(0.9, 0.5, len(boxes))
    corners = place_labels(boxes, sizes, 240, 400, np.argsort(-scores, kind="stable"))
    rects = [(x, y, x + w, y + h) for (x, y), (w, h) in zip(corners, sizes)]
    assert all(0 <= x0 and x1 < 400 and 0 <= y0 and y1 < 240 for x0, y0, x1, y1 in rects)
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not (a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]), (a, b)
    assert corners[0] == (100, 100 - 12)


def test_the_ground_truths_outlines_are_drawn_over_the_detections_only_where_given():
    from vidseg.media.render import OUTLINE, render_frames

    mask = np.zeros((60, 80), np.uint8)
    mask[20:40, 30:60] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    images = [np.full((60, 80, 3), 100, np.uint8) for _ in range(2)]
    frames = list(render_frames(images, [], overlay=lambda frame: [(rle, "GT box 7")] if frame == 1 else []))
    assert (frames[0] == 100).all()  # no outline where the overlay has none
    drawn = frames[1]
    assert (drawn[31:37, 30] == OUTLINE).all()  # the object's left edge, below its label: the outline
    assert (drawn[31:37, 28] == 0).all()  # on a black edge outside it
    assert (drawn[32:36, 40:50] == 100).all()  # inside: the picture (the detections' masks), not filled
    assert (drawn[20:40, 20:26] == 100).all()  # outside: untouched
    label = drawn[22:29, 30:60]
    assert (label == 0).any() and (label > 150).any()  # the label, light text on black
