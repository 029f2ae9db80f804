"""The track stage (vidseg.tracking.track): chunk files in, detections with track ids, frames and tracks tables out."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vidseg.formats.tables import (CHUNK_DETECTIONS_SCHEMA, DETECTIONS_SCHEMA, FRAMES_SCHEMA, TRACKS_SCHEMA,
                                   frame_table, read_provenance, write_atomic)
import vidseg.tracking.track
from vidseg.tracking.track import track_video
from vidseg.tracking.tracker import UNTRACKED

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from tracking import perturbed_detections, scene_truth  # noqa: E402

NAMES = ["BG", "circle", "square", "triangle"]
FPS = 10


@pytest.fixture(scope="module")
def scene_rows() -> pd.DataFrame:
    """Detection rows of a 40-frame demo scene: its true masks, some dropped, shifted and rescored."""
    rows = perturbed_detections(scene_truth(seed=101, frames=40), drop=0.1, jitter=1.0, rng=np.random.default_rng(0))
    rows["score"] = np.where(np.arange(len(rows)) % 9 == 0, 0.5, rows.score)  # a few below the table threshold
    return rows


def chunk_table(rows: pd.DataFrame, frames: range) -> tuple[pa.Table, pa.Table]:
    """A segment job's two chunk tables for `frames` (rows by frame, then by descending score)."""
    rows = rows[rows.frame.isin(frames)].sort_values(["frame", "score"], ascending=[True, False])
    from pycocotools import mask as mask_utils

    table = pd.DataFrame({
        "video_id": "v", "frame": rows.frame.astype(np.int64), "time_s": rows.frame / FPS,
        "instance": rows.groupby("frame").cumcount().astype(np.int32), "class_id": rows.class_id.astype(np.int32),
        "class_name": [NAMES[c] for c in rows.class_id], "score": rows.score.astype(np.float32),
        **{c: rows[c].astype(np.int32) for c in ("x_min", "y_min", "x_max", "y_max")},
        "mask_rle": rows.mask_rle,
        "mask_area": [int(mask_utils.area({"size": [h, w], "counts": c.encode()}))
                      for h, w, c in zip(rows.height, rows.width, rows.mask_rle)],
        "width": rows.width.astype(np.int32), "height": rows.height.astype(np.int32),
    })
    detections = pa.Table.from_pandas(table, schema=CHUNK_DETECTIONS_SCHEMA, preserve_index=False)
    counts = rows.frame.value_counts().reindex(list(frames), fill_value=0).tolist()
    return detections, frame_table("v", list(frames), [f / FPS for f in frames], counts)


def write_chunks(rows: pd.DataFrame, n_frames: int, chunk_size: int, folder: Path) -> tuple[list[Path], list[Path]]:
    detections, frames = [], []
    for start in range(0, n_frames, chunk_size):
        d, f = chunk_table(rows, range(start, min(n_frames, start + chunk_size)))
        detections.append(folder / f"{start:04d}.detections.parquet")
        frames.append(folder / f"{start:04d}.frames.parquet")
        write_atomic(d, detections[-1])
        write_atomic(f, frames[-1])
    return detections, frames


def run_stage(rows: pd.DataFrame, n_frames: int, chunk_size: int, folder: Path, **settings) -> dict[str, pd.DataFrame]:
    detections, frames = write_chunks(rows, n_frames, chunk_size, folder / "chunks")
    outputs = {name: folder / f"{name}.parquet" for name in ("detections", "frames", "tracks")}
    track_video("v", detections, frames, 0.7, settings, outputs["detections"], outputs["frames"], outputs["tracks"],
                provenance={"run": "test"})
    return {name: pq.read_table(path) for name, path in outputs.items()}


def test_tracks_run_on_across_chunks_and_batches(scene_rows, tmp_path, monkeypatch):
    """Chunks of 7 frames and one chunk of all 40 give the same tables, also read 5 rows at a time."""
    whole = run_stage(scene_rows, 40, 1800, tmp_path / "whole")
    monkeypatch.setattr(vidseg.tracking.track, "BATCH_ROWS", 5)
    chunked = run_stage(scene_rows, 40, 7, tmp_path / "chunked")
    for name in ("detections", "frames", "tracks"):
        assert chunked[name].equals(whole[name]), name
    tracks = whole["tracks"].to_pandas()
    assert len(tracks) >= 3 and ((tracks.first_frame < 7) & (tracks.last_frame >= 7)).any()  # crosses a boundary


def test_tables_have_their_schemas_and_the_tracks_sum_up_the_detections(scene_rows, tmp_path):
    out = run_stage(scene_rows, 40, 7, tmp_path)
    detections, frames, tracks = (out[n] for n in ("detections", "frames", "tracks"))
    assert detections.schema.remove_metadata() == DETECTIONS_SCHEMA
    assert tracks.schema.remove_metadata() == TRACKS_SCHEMA and frames.schema.remove_metadata() == FRAMES_SCHEMA
    assert all(read_provenance(tmp_path / f"{n}.parquet") == {"run": "test"} for n in out)
    d, t = detections.to_pandas(), tracks.to_pandas().set_index("track_id")
    assert (d.score >= 0.7).all() and len(d) == (scene_rows.score >= 0.7).sum()
    assert frames.to_pandas().n_detections.tolist() == d.frame.value_counts().reindex(range(40), fill_value=0).tolist()
    tracked = d[d.track_id != UNTRACKED]
    assert sorted(t.index) == list(range(1, len(t) + 1)) == sorted(tracked.track_id.unique())
    per_track = tracked.groupby("track_id")
    pd.testing.assert_series_equal(t.frames_seen, per_track.size(), check_names=False)
    np.testing.assert_array_equal(t.first_frame, per_track.frame.min())
    np.testing.assert_array_equal(t.last_frame, per_track.frame.max())
    np.testing.assert_allclose(t.duration_s, (per_track.frame.max() - per_track.frame.min()) / FPS)
    np.testing.assert_allclose(t.mean_score, per_track.score.mean(), rtol=1e-6)
    np.testing.assert_allclose(t.mean_mask_area, per_track.mask_area.mean())
    first = tracked.sort_values("frame").groupby("track_id").head(1).set_index("track_id").sort_index()
    np.testing.assert_array_equal(t[["first_x_min", "first_y_max"]].to_numpy(), first[["x_min", "y_max"]].to_numpy())
    majority = tracked.groupby("track_id").class_name.agg(lambda s: s.value_counts().index[0])
    assert (t.class_name == majority).all() and ((t.class_share > 0.5) & (t.class_share <= 1)).all()


def test_a_track_whose_class_wavers_reports_its_main_class_and_share(tmp_path):
    rows = perturbed_detections(scene_truth(seed=3, frames=8), 0.0, 0.0, np.random.default_rng(0))
    first = rows.object.min()
    rows = rows[rows.object == first].copy()
    rows["class_id"] = [2, 2, 3, 2, 2, 3, 2, 2][:len(rows)]
    tracks = run_stage(rows, 8, 3, tmp_path)["tracks"].to_pandas()
    assert len(tracks) == 1 and tracks.class_name[0] == "square"
    assert tracks.class_share[0] == pytest.approx((rows.class_id == 2).mean())


def test_a_video_without_detections_gives_empty_tables_with_the_full_schema(scene_rows, tmp_path):
    out = run_stage(scene_rows.iloc[:0], 12, 5, tmp_path)
    assert out["detections"].num_rows == 0 and out["tracks"].num_rows == 0
    assert out["detections"].schema.remove_metadata() == DETECTIONS_SCHEMA
    assert out["tracks"].schema.remove_metadata() == TRACKS_SCHEMA
    assert out["frames"].num_rows == 12 and out["frames"].column("n_detections").to_pylist() == [0] * 12


def test_a_one_frame_video_gives_tracks_of_one_frame(scene_rows, tmp_path):
    out = run_stage(scene_rows, 1, 7, tmp_path)
    tracks = out["tracks"].to_pandas()
    assert len(tracks) == (scene_rows[scene_rows.frame == 0].score >= 0.7).sum() > 0
    assert (tracks.frames_seen == 1).all() and (tracks.duration_s == 0).all()
    assert (out["detections"].column("track_id").to_numpy() >= 1).all()
