"""What the HTML report shows of one video, read from the run's tables a batch at a time (from the files it is given:
the plots job's declared inputs, or the run's folder: vidseg.report.build.read_video).

Only the columns a figure needs are read (never `mask_rle`), and the detections
table is streamed, so memory grows with frames x classes, not with detections.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vidseg.evaluation.evaluate import SCORE_BINS
from vidseg.formats.tables import read_provenance
from vidseg.media.palette import hex_of
from vidseg.media.render import track_colour

TRACK_COLUMNS = ["track_id", "class_name", "class_share", "first_time_s", "last_time_s", "frames_seen", "mean_score",
                 "colour"]
ERROR_COLUMNS = ["frame", "time_s", "kind", "class_name", "score", "track_id", "object_id", "object_class", "iou",
                 "previous_track_id"]
BATCH_ROWS = 16384  # the tables' row group size (vidseg.formats.tables.ROW_GROUP_ROWS)


@dataclass
class VideoData:
    """One video's figures for the report: per-frame times, per-class counts, score histograms, tracks, evaluation."""

    video: str
    times: np.ndarray  # (frames,) presentation time of each processed frame, seconds
    frame_numbers: np.ndarray = field(default_factory=lambda: np.array([], np.int64))  # (frames,) their numbers
    per_frame: dict[str, np.ndarray] = field(default_factory=dict)  # class -> (frames,) detections in each frame
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # class -> counts in SCORE_BINS
    class_ids: dict[str, int] = field(default_factory=dict)  # class name -> class id
    tracked: int = 0  # detections in a confirmed track
    tracks: dict[str, np.ndarray] = field(default_factory=dict)  # column -> values, one per track
    probe: dict | None = None
    evaluation: dict | None = None
    errors: pd.DataFrame | None = None  # the errors table (vidseg.evaluation.errors), where there is one
    provenance: dict | None = None

    @property
    def n_frames(self) -> int:
        return len(self.times)

    @property
    def detections(self) -> dict[str, int]:
        return {name: int(counts.sum()) for name, counts in self.per_frame.items()}

    @property
    def objects(self) -> dict[str, int]:
        """Distinct objects (confirmed tracks) per class, by each track's main class."""
        names, counts = np.unique(self.tracks.get("class_name", np.array([], dtype=object)), return_counts=True)
        return {str(name): int(count) for name, count in zip(names, counts)}


READ = ("frames_table", "detections", "tracks", "probe", "evaluation", "errors")  # the files a video's figures read


def read_files(video: str, paths: dict[str, str | Path]) -> VideoData:
    """A video's report figures from its frames, detections and tracks tables, probe record, evaluation and errors
    table (`paths`: by kind of `READ`; the tracks, probe, evaluation and errors may be missing or absent)."""
    frames = pq.read_table(paths["frames_table"], columns=["frame", "time_s"])
    frame_numbers = frames.column("frame").to_numpy()
    order = np.argsort(frame_numbers, kind="stable")
    frame_numbers = frame_numbers[order]
    data = VideoData(video, frames.column("time_s").to_numpy()[order], frame_numbers)
    _count_detections(data, Path(paths["detections"]), frame_numbers)
    data.provenance = read_provenance(paths["detections"])
    if _exists(paths.get("tracks")):
        names = pq.read_schema(paths["tracks"]).names
        table = pq.read_table(paths["tracks"], columns=[c for c in TRACK_COLUMNS if c in names])
        data.tracks = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
        if "colour" not in names:  # a tracks table from before the palette: the colours its video was drawn in
            data.tracks["colour"] = np.array([hex_of(track_colour(int(i))) for i in data.tracks["track_id"]], object)
    data.probe = _json(paths.get("probe"))
    data.evaluation = _json(paths.get("evaluation"))
    if data.evaluation is not None and _exists(paths.get("errors")):
        data.errors = pd.read_parquet(paths["errors"], columns=ERROR_COLUMNS)
    return data


def _exists(path) -> bool:
    return bool(path) and Path(path).is_file()


def _count_detections(data: VideoData, path: Path, frame_numbers: np.ndarray) -> None:
    """Per class (grouped by class id; class names read dictionary-encoded, never as one string per row): detections
    per frame and score histograms; and the detections in a track."""
    columns = ["frame", "class_id", "class_name", "score", "track_id"]
    # buffered reads, one thread: the default read-ahead made the peak grow with the file's length
    table = pq.ParquetFile(path, read_dictionary=["class_name"], pre_buffer=False, buffer_size=1 << 20)
    for batch in table.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False):
        position = np.searchsorted(frame_numbers, batch.column("frame").to_numpy())
        position = np.minimum(position, max(len(frame_numbers) - 1, 0))
        class_ids = batch.column("class_id").to_numpy()
        names = batch.column("class_name")
        scores = batch.column("score").to_numpy()
        data.tracked += int((batch.column("track_id").to_numpy() >= 0).sum())
        for class_id, first in zip(*np.unique(class_ids, return_index=True)):
            rows = class_ids == class_id
            name = names.dictionary[names.indices[int(first)].as_py()].as_py()
            data.class_ids.setdefault(name, int(class_id))
            counts = np.bincount(position[rows], minlength=len(frame_numbers))
            hist = np.histogram(scores[rows], bins=SCORE_BINS)[0]
            if name in data.per_frame:
                data.per_frame[name] += counts
                data.scores[name] += hist
            else:
                data.per_frame[name] = counts
                data.scores[name] = hist


def _json(path) -> dict | None:
    return json.loads(Path(path).read_text()) if _exists(path) else None

