"""The track stage: one video's chunk tables -> its detections table with track ids, its frames and tracks tables.

It reads the chunks in frame order as one stream, so tracks run on across chunk
boundaries while segment jobs stay independent. Two streaming passes, a batch of
rows at a time: the first runs the tracker (`vidseg.tracking.tracker`), the second writes
the rows with their track ids and sums up each track. What stays in memory is
one batch, the live tracks, one track id per detection (8 bytes) and one row per
frame and per track.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vidseg.core.atomic import atomic_path
from vidseg.formats.tables import (CHUNK_DETECTIONS_SCHEMA, DETECTIONS_SCHEMA, FRAMES_SCHEMA, ROW_GROUP_ROWS,
                                   TRACKS_SCHEMA, chunks_provenance, read_parts, with_provenance, write_atomic)
from vidseg.media.palette import assign_colours, hex_colour
from vidseg.tracking.tracker import UNTRACKED, Tracker, TrackSettings

BATCH_ROWS = 4096
BOX = ["x_min", "y_min", "x_max", "y_max"]
_TRACKER_COLUMNS = ["frame", "score", "class_id", *BOX, "mask_rle", "height", "width"]


def confident_batches(parts: Sequence[str | Path], min_score: float,
                      columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The chunk files' rows in order, scoring >= `min_score`, batch by batch.

    The comparison is the model's own (float32 score >= threshold), so filtering
    detections made at a lower threshold gives what the higher threshold gives:
    NMS and the per-frame cap only ever let higher scores remove lower ones.
    """
    threshold = np.float32(min_score)
    for part in parts:
        source = pq.ParquetFile(part)
        for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            keep = batch.column("score").to_numpy(zero_copy_only=False) >= threshold
            if keep.any():
                yield batch.filter(pa.array(keep)) if not keep.all() else batch


def _frames(batches: Iterator[pa.RecordBatch]) -> Iterator[dict[str, np.ndarray | list]]:
    """Per frame (in order): its rows' columns as NumPy arrays (mask_rle: an object array of str)."""
    pending: dict | None = None
    previous = -1
    for batch in batches:
        cols = {name: batch.column(name).to_numpy(zero_copy_only=False) for name in batch.schema.names}
        frames = cols["frame"]
        if frames[0] < previous or (np.diff(frames) < 0).any():
            raise ValueError("detections are not in frame order")
        starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
        ends = np.r_[starts[1:], len(frames)]
        for start, end in zip(starts, ends):
            group = {k: v[start:end] for k, v in cols.items()}
            if pending is not None:
                if pending["frame"][0] == group["frame"][0]:
                    group = {k: np.concatenate([pending[k], group[k]]) for k in group}
                else:
                    yield pending
            pending = group
        previous = int(frames[-1])
    if pending is not None:
        yield pending


def assign_track_ids(parts: Sequence[str | Path], min_score: float, settings: TrackSettings) -> np.ndarray:
    """Pass 1: every kept detection's track id, in stream order."""
    tracker = Tracker(settings)
    for rows in _frames(confident_batches(parts, min_score, _TRACKER_COLUMNS)):
        boxes = np.stack([rows[c] for c in BOX], axis=1)
        size = [int(rows["height"][0]), int(rows["width"][0])]
        rles = [{"size": size, "counts": r.encode("ascii")} for r in rows["mask_rle"]]
        tracker.update(int(rows["frame"][0]), boxes, rows["score"], rows["class_id"], rles)
    return tracker.ids


class _TrackSums:
    """Per-track running sums over the rows written in pass 2 (in frame order), for the tracks table."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []
        self.classes: list[pd.DataFrame] = []

    def add(self, rows: pd.DataFrame) -> None:
        rows = rows[rows.track_id != UNTRACKED]
        if not len(rows):
            return
        # float64 sums: the same total whichever batches (chunks) the rows came in, once the mean is float32
        rows = rows.assign(score=rows.score.astype(np.float64))
        grouped = rows.groupby("track_id", sort=False)
        first = grouped.head(1).set_index("track_id")
        last = grouped.tail(1).set_index("track_id")
        part = pd.DataFrame({
            "first_frame": first.frame, "first_time_s": first.time_s,
            **{f"first_{c}": first[c] for c in BOX},
            "last_frame": last.frame, "last_time_s": last.time_s,
            **{f"last_{c}": last[c] for c in BOX},
            "frames_seen": grouped.size(), "score_sum": grouped.score.sum(),
            "area_sum": grouped.mask_area.sum().astype(np.float64),
        })
        self.parts.append(part)
        self.classes.append(rows.groupby(["track_id", "class_id", "class_name"], sort=False).size().rename("n")
                            .reset_index())

    def table(self, video_id: str) -> pa.Table:
        if not self.parts:
            return TRACKS_SCHEMA.empty_table()
        parts = pd.concat(self.parts).reset_index()  # batch order = frame order
        grouped = parts.groupby("track_id", sort=True)
        first = grouped.head(1).set_index("track_id").sort_index()
        last = grouped.tail(1).set_index("track_id").sort_index()
        sums = grouped[["frames_seen", "score_sum", "area_sum"]].sum()
        classes = pd.concat(self.classes).groupby(["track_id", "class_id", "class_name"], sort=False).n.sum()
        classes = classes.reset_index().sort_values(["track_id", "n", "class_id"], ascending=[True, False, True])
        main = classes.groupby("track_id").head(1).set_index("track_id").sort_index()
        out = pd.DataFrame({
            "video_id": video_id,
            "track_id": sums.index.to_numpy(np.int64),
            "class_id": main.class_id.to_numpy(np.int32),
            "class_name": main.class_name.to_numpy(),
            "class_share": (main.n / sums.frames_seen).to_numpy(np.float32),
            "first_frame": first.first_frame.to_numpy(np.int64),
            "last_frame": last.last_frame.to_numpy(np.int64),
            "first_time_s": first.first_time_s.to_numpy(np.float64),
            "last_time_s": last.last_time_s.to_numpy(np.float64),
            "duration_s": (last.last_time_s - first.first_time_s).to_numpy(np.float64),
            "frames_seen": sums.frames_seen.to_numpy(np.int64),
            "mean_score": (sums.score_sum / sums.frames_seen).to_numpy(np.float32),
            "mean_mask_area": (sums.area_sum / sums.frames_seen).to_numpy(np.float64),
            **{f"first_{c}": first[f"first_{c}"].to_numpy(np.int32) for c in BOX},
            **{f"last_{c}": last[f"last_{c}"].to_numpy(np.int32) for c in BOX},
        })
        out["colour"] = [hex_colour(i) for i in assign_colours(out.first_frame.to_numpy(), out.last_frame.to_numpy())]
        return pa.Table.from_pandas(out, schema=TRACKS_SCHEMA, preserve_index=False)


def track_video(video_id: str, detection_parts: Sequence[str | Path], frame_parts: Sequence[str | Path],
                min_score: float, settings: TrackSettings | Mapping[str, Any], out_detections: str | Path,
                out_frames: str | Path, out_tracks: str | Path,
                provenance: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Write the video's detections (score >= `min_score`, with `track_id`), frames and tracks tables."""
    if not isinstance(settings, TrackSettings):
        settings = TrackSettings.from_config(settings)
    ids = assign_track_ids(detection_parts, min_score, settings)
    schema = with_provenance(DETECTIONS_SCHEMA.empty_table(), provenance).schema
    sums = _TrackSums()
    per_frame: dict[int, int] = {}
    done = 0
    with atomic_path(out_detections) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        pending: list[pa.Table] = []  # batches collected into row groups of ROW_GROUP_ROWS
        pending_rows = 0
        for batch in confident_batches(detection_parts, min_score, CHUNK_DETECTIONS_SCHEMA.names):
            track_ids = ids[done:done + batch.num_rows]
            done += batch.num_rows
            table = pa.Table.from_batches([batch]).add_column(schema.get_field_index("track_id"), "track_id",
                                                              pa.array(track_ids))
            pending.append(table)
            pending_rows += table.num_rows
            rows = table.select(["frame", "time_s", "track_id", "class_id", "class_name", "score", "mask_area",
                                 *BOX]).to_pandas()
            for frame, n in rows.frame.value_counts().items():
                per_frame[int(frame)] = per_frame.get(int(frame), 0) + int(n)
            sums.add(rows)
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(pending).cast(schema), row_group_size=ROW_GROUP_ROWS)
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.concat_tables(pending).cast(schema), row_group_size=ROW_GROUP_ROWS)
    if done != len(ids):
        raise RuntimeError(f"{video_id}: the chunk files changed while tracking ({done} rows, {len(ids)} ids)")
    frames = read_parts(frame_parts, FRAMES_SCHEMA)
    counts = [per_frame.get(int(f), 0) for f in frames.column("frame").to_numpy(zero_copy_only=False)]
    frames = frames.set_column(frames.schema.get_field_index("n_detections"), "n_detections",
                               pa.array(np.asarray(counts, np.int32)))
    write_atomic(with_provenance(frames, provenance), out_frames)
    tracks = sums.table(video_id)
    write_atomic(with_provenance(tracks, provenance), out_tracks)
    return {"detections": done, "frames": frames.num_rows, "tracks": tracks.num_rows,
            "tracked": int((ids != UNTRACKED).sum())}


def track_segmented(video_id: str, detections: Sequence[str | Path], frames: Sequence[str | Path], min_score: float,
                    settings: TrackSettings | Mapping[str, Any], outputs: Mapping[str, str | Path],
                    config_digest: str) -> dict[str, int]:
    """`track_video` on a video's segment tables (`vidseg.inference.unit.tables_of`), recording their provenance and the
    config's digest; `outputs`: detections, frames, tracks."""
    provenance = {**(chunks_provenance(detections + frames) or {}), "config_digest": config_digest}
    return track_video(video_id, detections, frames, min_score, settings, outputs["detections"], outputs["frames"],
                       outputs["tracks"], provenance=provenance)


def describe(video_id: str, counts: Mapping[str, int], min_score: float) -> str:
    """A log line of what `track_video` counted."""
    return (f"{video_id}: {counts['detections']} detections (score >= {min_score:g}) in {counts['frames']} frames; "
            f"{counts['tracks']} tracks, {counts['tracked']} detections in them")
