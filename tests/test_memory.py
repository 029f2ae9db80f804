"""Memory of the segment, annotate and track stages does not grow with the video's length."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import seeded_model
from flow import MODEL
from media import make_video
from vidseg.media.frames import extract, write_index

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A 1 s and a 10 s video (160x120, 10 fps, audio), decoded, with seeded weights."""
    root = tmp_path_factory.mktemp("memory")
    model = {k: v for k, v in MODEL.items() if k != "name"}
    weights = root / "weights.h5"
    seeded_model(0, **model).save_weights(weights)
    out = {}
    for name, seconds in [("short", 1), ("long", 10)]:
        work = root / name
        make_video(work / "video.mp4", seconds=seconds, size="160x120", audio=True)
        write_index(extract(work / "video.mp4", work / "frames"), work / "index.tsv")
        (work / "weights.h5").symlink_to(weights)
        (work / "model.json").write_text(json.dumps(model))
        out[name] = work
    return out


def peaks(stage: str, work: Path) -> dict[str, int]:
    """Peak KiB of the stage's own process and of its largest child (ffmpeg, for annotate)."""
    proc = subprocess.run([sys.executable, str(HERE / "stage_memory.py"), stage, str(work)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_peak_memory_of_a_10x_longer_video_stays_within_20_percent(videos):
    ratios = {}
    for stage in ("segment", "annotate"):  # in order: annotate reads the detections segment wrote
        short, long = peaks(stage, videos["short"]), peaks(stage, videos["long"])
        ratios[stage] = (short["self_kib"], long["self_kib"])
        if stage == "annotate":
            ratios["annotate (ffmpeg)"] = (short["children_kib"], long["children_kib"])
    print({stage: f"{s / 1024:.0f} -> {lg / 1024:.0f} MiB (x{lg / s:.3f})" for stage, (s, lg) in ratios.items()})
    assert all(lg / s < 1.2 for s, lg in ratios.values()), ratios


def write_track_chunks(folder: Path, frames: int, per_frame: int = 20, chunk_size: int = 1800) -> None:
    """Chunk files of `per_frame` drifting 12x12 squares per 120x160 frame (as a segment job writes them)."""
    import numpy as np
    import pyarrow as pa
    from pycocotools import mask as mask_utils

    from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, frame_table, write_atomic

    rng = np.random.default_rng(0)
    start = rng.uniform(0, 100, (per_frame, 2))
    for first in range(0, frames, chunk_size):
        ids = np.arange(first, min(frames, first + chunk_size))
        xy = (start[None] + ids[:, None, None] * 0.5) % np.array([140, 100])
        boxes = np.concatenate([xy, xy + 12], axis=2).astype(np.int32).reshape(-1, 4)
        rles = []
        for frame_boxes in boxes.reshape(len(ids), per_frame, 4):
            masks = np.zeros((120, 160, per_frame), np.uint8, order="F")
            for i, (x0, y0, x1, y1) in enumerate(frame_boxes):
                masks[y0:y1, x0:x1, i] = 1
            rles += [r["counts"].decode() for r in mask_utils.encode(masks)]
        n = len(boxes)
        table = pa.table({
            "video_id": pa.array(["v"] * n).dictionary_encode(), "frame": np.repeat(ids, per_frame),
            "time_s": np.repeat(ids / 10, per_frame),
            "instance": np.tile(np.arange(per_frame, dtype=np.int32), len(ids)),
            "class_id": np.ones(n, np.int32), "class_name": ["square"] * n, "score": np.full(n, 0.95, np.float32),
            "x_min": boxes[:, 0], "y_min": boxes[:, 1], "x_max": boxes[:, 2], "y_max": boxes[:, 3], "mask_rle": rles,
            "mask_area": np.full(n, 144), "width": np.full(n, 160, np.int32), "height": np.full(n, 120, np.int32),
        }, schema=CHUNK_DETECTIONS_SCHEMA)
        write_atomic(table, folder / f"chunks/{first:06d}.detections.parquet")
        write_atomic(frame_table("v", ids.tolist(), (ids / 10).tolist(), [per_frame] * len(ids)),
                     folder / f"chunks/{first:06d}.frames.parquet")


def test_track_stage_memory_of_a_10x_longer_video_stays_within_20_percent(tmp_path):
    """1,800 and 18,000 frames of 20 detections each: the track stage streams its chunks (8 bytes per detection
    stay, its track id), and so does the report's video page."""
    write_track_chunks(tmp_path / "short", 1800)
    write_track_chunks(tmp_path / "long", 18000)
    short, long = peaks("track", tmp_path / "short")["self_kib"], peaks("track", tmp_path / "long")["self_kib"]
    import pyarrow.parquet as pq

    assert pq.read_metadata(tmp_path / "long/out/detections.parquet").num_rows == 360000
    print(f"track: {short / 1024:.0f} -> {long / 1024:.0f} MiB (x{long / short:.3f})")
    assert long / short < 1.2, (short, long)
    # the report's page of the same video reads those tables a batch at a time, without the masks
    short, long = peaks("report", tmp_path / "short")["self_kib"], peaks("report", tmp_path / "long")["self_kib"]
    assert (tmp_path / "long/root/results/report/videos/v/detections.png").is_file()
    print(f"report: {short / 1024:.0f} -> {long / 1024:.0f} MiB (x{long / short:.3f})")
    assert long / short < 1.2, (short, long)
