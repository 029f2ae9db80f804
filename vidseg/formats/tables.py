"""The output tables: their schemas, building rows from detections, atomic Parquet writes.

Detections: one row per instance. Frames: one row per processed frame, so
"processed, nothing found" differs from "not processed". Summary: per video and
class. `video_id` is dictionary-encoded so it agrees with the hive partition
(`.../video_id=<id>/`, vidseg.workflow.plan.PATHS) when the whole dataset is read at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError

if TYPE_CHECKING:
    from vidseg.maskrcnn.postprocess import Detections

VIDEO_ID = pa.dictionary(pa.int32(), pa.string())

# What a segment job writes per chunk; the per-video table adds `track_id` after `instance`.
CHUNK_DETECTIONS_SCHEMA = pa.schema([
    ("video_id", VIDEO_ID),
    ("frame", pa.int64()),
    ("time_s", pa.float64()),
    ("instance", pa.int32()),
    ("class_id", pa.int32()),
    ("class_name", pa.string()),
    ("score", pa.float32()),
    ("x_min", pa.int32()),
    ("y_min", pa.int32()),
    ("x_max", pa.int32()),
    ("y_max", pa.int32()),
    ("mask_rle", pa.string()),
    ("mask_area", pa.int64()),
    ("width", pa.int32()),
    ("height", pa.int32()),
])

DETECTIONS_SCHEMA = CHUNK_DETECTIONS_SCHEMA.insert(CHUNK_DETECTIONS_SCHEMA.get_field_index("instance") + 1,
                                                   pa.field("track_id", pa.int64()))

# One row per confirmed track of a video (vidseg.tracking.track).
TRACKS_SCHEMA = pa.schema([
    ("video_id", VIDEO_ID),
    ("track_id", pa.int64()),
    ("class_id", pa.int32()),
    ("class_name", pa.string()),
    ("class_share", pa.float32()),
    ("first_frame", pa.int64()),
    ("last_frame", pa.int64()),
    ("first_time_s", pa.float64()),
    ("last_time_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("frames_seen", pa.int64()),
    ("mean_score", pa.float32()),
    ("mean_mask_area", pa.float64()),
    *[(f"{when}_{side}", pa.int32()) for when in ("first", "last") for side in ("x_min", "y_min", "x_max", "y_max")],
    ("colour", pa.string()),  # "#rrggbb": the track's colour in the annotated video and the report (media.palette)
])

FRAMES_SCHEMA = pa.schema([
    ("video_id", VIDEO_ID),
    ("frame", pa.int64()),
    ("time_s", pa.float64()),
    ("n_detections", pa.int32()),
])


def detection_table(video_id: str, frames: Sequence[int], times: Sequence[float], results: Sequence["Detections"],
                    class_names: Sequence[str]) -> pa.Table:
    """Rows for `results[i]` found in frame `frames[i]` at `times[i]` seconds."""
    counts = np.array([len(r) for r in results], dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return CHUNK_DETECTIONS_SCHEMA.empty_table()
    boxes = np.concatenate([r.boxes for r in results if len(r)])
    class_ids = np.concatenate([r.class_ids for r in results if len(r)])
    rles = [rle["counts"].decode("ascii") for r in results for rle in r.rle()]
    heights = np.repeat([r.image_shape[0] for r in results], counts)
    widths = np.repeat([r.image_shape[1] for r in results], counts)
    names = np.asarray(class_names, dtype=object)
    if class_ids.max() >= len(names):
        raise ValueError(f"class id {class_ids.max()} has no name ({len(names)} class names)")
    columns = {
        "video_id": pa.array([video_id] * total).dictionary_encode(),
        "frame": np.repeat(np.asarray(frames, np.int64), counts),
        "time_s": np.repeat(np.asarray(times, np.float64), counts),
        "instance": np.concatenate([np.arange(c, dtype=np.int32) for c in counts]),
        "class_id": class_ids.astype(np.int32),
        "class_name": names[class_ids].tolist(),
        "score": np.concatenate([r.scores for r in results if len(r)]).astype(np.float32),
        "x_min": boxes[:, 1], "y_min": boxes[:, 0], "x_max": boxes[:, 3], "y_max": boxes[:, 2],
        "mask_rle": rles,
        "mask_area": np.concatenate([r.mask_areas for r in results if len(r)]),
        "width": widths.astype(np.int32), "height": heights.astype(np.int32),
    }
    return pa.table(columns, schema=CHUNK_DETECTIONS_SCHEMA)


def frame_table(video_id: str, frames: Sequence[int], times: Sequence[float], counts: Sequence[int]) -> pa.Table:
    return pa.table({
        "video_id": pa.array([video_id] * len(frames), pa.string()).dictionary_encode(),
        "frame": np.asarray(frames, np.int64),
        "time_s": np.asarray(times, np.float64),
        "n_detections": np.asarray(counts, np.int32),
    }, schema=FRAMES_SCHEMA)


PROVENANCE_KEY = b"vidseg"


def with_provenance(table: pa.Table, provenance: Mapping[str, Any] | None) -> pa.Table:
    """`table` with `provenance` (JSON) under the schema metadata key `vidseg` (None: unchanged)."""
    if provenance is None:
        return table
    metadata = {**(table.schema.metadata or {}), PROVENANCE_KEY: json.dumps(dict(provenance), sort_keys=True).encode()}
    return table.replace_schema_metadata(metadata)


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance a table was written with (`with_provenance`), or None."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[PROVENANCE_KEY]) if PROVENANCE_KEY in metadata else None


def chunks_provenance(paths: Sequence[str | Path]) -> dict[str, Any] | None:
    """The provenance that every one of a video's chunk files records; an error if they differ (mixed runs)."""
    records = [read_provenance(p) for p in paths]
    for path, record in zip(paths[1:], records[1:]):
        if record != records[0]:
            raise VidsegError(f"chunk files {paths[0]} and {path} were made with different models, weights or settings "
                              f"(their Parquet metadata 'vidseg' differ); rerun their segment jobs (--forcerun segment)")
    return records[0] if records else None


# Rows per Parquet row group: readers that stream a table (render) hold one group at a time.
ROW_GROUP_ROWS = 16384


def write_atomic(table: pa.Table, path: str | Path) -> None:
    """Write Parquet to a temporary file in the same folder, then rename: readers never see half a file."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS)


def row_rles(rows: pd.DataFrame) -> list[dict]:
    """The rows' masks as pycocotools RLEs (`{"size": [height, width], "counts": bytes}`; the table keeps the counts
    as a string)."""
    return [{"size": [int(h), int(w)], "counts": c.encode("ascii")}
            for h, w, c in zip(rows.height, rows.width, rows.mask_rle)]


def frame_groups(path: str | Path, batch_rows: int = 4096,
                 tracks: str | Path | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """`(frame, rows)` of a detections file in frame order, read a batch at a time (memory stays flat); with the
    video's `tracks` table, each row gains its track's `colour` (None outside a track)."""
    if tracks is not None:
        colours = pq.read_table(tracks, columns=["track_id", "colour"]).to_pandas().set_index("track_id").colour
        for frame, rows in frame_groups(path, batch_rows):
            yield frame, rows.assign(colour=rows.track_id.map(colours).astype(object).where(lambda c: c.notna(), None))
        return
    pending = None
    previous = -1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        rows = batch.to_pandas()
        frames = rows["frame"].to_numpy()
        if len(frames) and (frames[0] < previous or (np.diff(frames) < 0).any()):
            raise VidsegError(f"detections table {path} is not sorted by frame")
        if len(frames):
            previous = int(frames[-1])
        if pending is not None:
            rows = pd.concat([pending, rows], ignore_index=True)
        last = rows["frame"] == previous
        pending = rows[last]
        for frame, group in rows[~last].groupby("frame", sort=True):
            yield int(frame), group
    if pending is not None and len(pending):
        yield previous, pending


def read_parts(parts: Sequence[str | Path], schema: pa.Schema) -> pa.Table:
    """Chunk files (in the given order) as one table."""
    tables = [pq.read_table(p, schema=schema) for p in parts]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    table = table.unify_dictionaries() if hasattr(table, "unify_dictionaries") else table
    return table.combine_chunks()


def summary(detections: pd.DataFrame, frames: pd.DataFrame, tracks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per video and class: instances, frames with at least one, mean score, tracks, and the video's processed frames.

    `tracks` counts a video's distinct objects by each track's class (`TRACKS_SCHEMA`);
    a class seen only outside confirmed tracks has 0. A processed video without any
    detection gets one row with class_id -1 and 0 instances.
    """
    detections = detections.astype({"video_id": str})
    frames = frames.astype({"video_id": str})
    keys = ["video_id", "class_id", "class_name"]
    grouped = detections.groupby(keys, observed=True)
    out = grouped.agg(instances=("score", "size"), frames_with=("frame", "nunique"), mean_score=("score", "mean"))
    out = out.reset_index()
    if tracks is not None and len(tracks):
        counted = tracks.astype({"video_id": str}).groupby(keys, observed=True).size().rename("tracks").reset_index()
        out = out.merge(counted, on=keys, how="outer")
        out[["instances", "frames_with"]] = out[["instances", "frames_with"]].fillna(0)
    out["tracks"] = out["tracks"].fillna(0).astype(np.int64) if "tracks" in out else np.int64(0)
    processed = frames.groupby("video_id").size().rename("frames_processed").reset_index()
    empty = processed[~processed.video_id.isin(out.video_id)]
    if len(empty):
        none = pd.DataFrame({"video_id": empty.video_id, "class_id": -1, "class_name": "", "instances": 0,
                             "frames_with": 0, "mean_score": float("nan"), "tracks": 0})
        out = pd.concat([out, none], ignore_index=True) if len(out) else none
    out = out.merge(processed, on="video_id", how="left")
    out = out.astype({"instances": np.int64, "frames_with": np.int64, "tracks": np.int64})
    return out.sort_values(["video_id", "class_id"]).reset_index(drop=True)
