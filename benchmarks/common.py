"""Helpers the benchmark scripts share: the seeded COCO-class model, synthetic frames, the timed segment stage.

Imports of vidseg, Keras and TensorFlow happen inside the functions, so a script
sets its backend and environment before any of them loads.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

CALIBRATION_SIZE = (480, 640)  # frames the seeded weights' batch-norm statistics are calibrated on, HxW
BENCH_VIDEO = "bench"  # the video id `segment_seconds` runs work/frames as


def make_config(spec: str, batch: int, min_confidence: float):
    """The COCO configuration (81 classes) for `spec` "backbone@size", e.g. "resnet101@1024"."""
    from vidseg.maskrcnn import CocoConfig

    backbone, size = spec.split("@")
    return CocoConfig(backbone=backbone, image_min_dim=min(800, int(size)), image_max_dim=int(size),
                      images_per_gpu=batch, detection_min_confidence=min_confidence)


def seeded_model(spec: str, batch: int, min_confidence: float, weights: Path | None = None, **options):
    """A `MaskRCNN` (`options` as its own) for `spec` with seeded COCO-class weights (they detect arbitrary things),
    or with `weights` loaded: a matterport-layout `.h5` of COCO's 81 classes (mask_rcnn_coco.h5), every layer."""
    from vidseg.maskrcnn import MaskRCNN
    from vidseg.maskrcnn.seeded_weights import calibration_frames, seed_weights

    model = MaskRCNN(make_config(spec, batch, min_confidence), **options)
    if weights is not None:
        model.load_weights(weights, strict=True)
    else:
        seed_weights(model, seed=0, frames=calibration_frames(count=2, size=CALIBRATION_SIZE, seed=1))
    return model


def write_frames(work: Path, count: int, size: tuple[int, int], seed: int = 3) -> Path:
    """`count` frames [H, W] = `size` of one moving synthetic scene as JPEGs (the workflow's names) in
    work/frames, and their index work/index.tsv (30 fps); returns the frames folder."""
    import cv2

    from vidseg.media.frames import frame_name, write_index
    from vidseg.media.synthetic import Scene

    frames_dir = work / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    scene = Scene(np.random.default_rng(seed), size, shapes=(3, 8))
    for i in range(count):
        image, _ = scene.render(i)
        cv2.imwrite(str(frames_dir / frame_name(i, "jpg")), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    write_index([i / 30 for i in range(count)], work / "index.tsv")
    return frames_dir


def read_frames(frames_dir: Path, count: int) -> list[np.ndarray]:
    """The first `count` JPEG frames of `frames_dir` as RGB uint8 arrays [H, W, 3]."""
    from vidseg.media.frames import read_rgb

    return [read_rgb(frames_dir, i, "jpg") for i in range(count)]


def segment_table(work: Path, tag: str, kind: str) -> Path:
    """The table of `kind` ("detections", "frames") that `segment_seconds` wrote for `tag`: in the unit's folder
    work/<tag>, as a segment job writes it (`vidseg.inference.unit.TABLES`)."""
    from vidseg.inference.unit import TABLES, member_path

    return Path(member_path(work / tag, BENCH_VIDEO, TABLES[kind]))


def segment_seconds(model, work: Path, index: Path, count: int, tag: str, io_threads: int = 1,
                    batch: int | None = None, streams: int = 1, prepare=None) -> float:
    """Seconds a frame of the segment stage as a job runs it (`segment_unit`: JPEG read, mold, model,
    post-processing, RLE, Parquet) on the first `count` frames of work/frames, as one chunk of the video
    "bench"; its tables are written into the unit's folder work/<tag> (`segment_table` gives their paths).
    `batch`: frames per model call (default the model's IMAGES_PER_GPU); `streams` and `prepare` as
    `segment_unit`'s."""
    from vidseg.core.errors import VidsegError
    from vidseg.inference.segment import segment_unit
    from vidseg.inference.unit import Member, Unit, unit_name
    from vidseg.maskrcnn import COCO_CLASS_NAMES

    unit = Unit(unit_name(BENCH_VIDEO, 0), (Member(BENCH_VIDEO, 0, count),))
    start = time.perf_counter()
    outcome = segment_unit(model, list(COCO_CLASS_NAMES), unit, {BENCH_VIDEO: work / "frames"}, {BENCH_VIDEO: index},
                           "jpg", work / tag, io_threads, batch=batch, streams=streams, prepare=prepare)
    seconds = (time.perf_counter() - start) / count
    if isinstance(outcome[BENCH_VIDEO], str):
        raise VidsegError(f"the segment stage failed the benchmark's frames: {outcome[BENCH_VIDEO]}")
    return seconds


def agreement(reference: list, other: list) -> dict:
    """Share of the reference's detections found again (same class, box IoU >= 0.9) and their mean mask IoU."""
    from pycocotools import mask as mask_utils

    from vidseg.maskrcnn.boxes import np_iou_matrix

    found = total = 0
    mask_ious = []
    for want, got in zip(reference, other):
        total += len(want)
        if not len(want) or not len(got):
            continue
        ious = np_iou_matrix(want.boxes, got.boxes)
        ious[want.class_ids[:, None] != got.class_ids[None]] = 0
        used = set()
        for i in range(len(want)):
            j = int(np.argmax(ious[i]))
            if ious[i, j] >= 0.9 and j not in used:
                used.add(j)
                found += 1
                mask_ious.append(float(mask_utils.iou([want.rle()[i]], [got.rle()[j]], [0])[0, 0]))
    return {"detections_found": found / max(total, 1), "reference_detections": total,
            "mask_iou_mean": float(np.mean(mask_ious)) if mask_ious else float("nan")}
