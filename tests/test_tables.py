import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pycocotools import mask as mask_utils

from vidseg.formats.tables import (CHUNK_DETECTIONS_SCHEMA, DETECTIONS_SCHEMA, FRAMES_SCHEMA, TRACKS_SCHEMA,
                                   detection_table, frame_table, read_parts, summary, write_atomic)
from vidseg.maskrcnn.postprocess import Detections

NAMES = ["BG", "circle", "square"]


def detections(n, shape=(40, 60)):
    boxes = np.array([[2 + i, 3 + i, 12 + i, 20 + i] for i in range(n)], np.int32)
    masks = [np.ones((10, 17), bool) for _ in range(n)]
    return Detections(boxes, np.array([1 + i % 2 for i in range(n)], np.int32),
                      np.linspace(0.9, 0.5, n).astype(np.float32), masks, shape)


def test_detection_rows_schema_and_values():
    table = detection_table("cam", [4, 5, 6], [0.4, 0.5, 0.6], [detections(2), detections(0), detections(1)], NAMES)
    assert table.schema == CHUNK_DETECTIONS_SCHEMA and table.num_rows == 3
    assert DETECTIONS_SCHEMA.names == [*CHUNK_DETECTIONS_SCHEMA.names[:4], "track_id", *CHUNK_DETECTIONS_SCHEMA.names[4:]]
    df = table.to_pandas()
    assert df.frame.tolist() == [4, 4, 6] and df.instance.tolist() == [0, 1, 0]
    assert df.class_name.tolist() == ["circle", "square", "circle"] and df.time_s.tolist() == [0.4, 0.4, 0.6]
    first = df.iloc[0]
    assert (first.x_min, first.y_min, first.x_max, first.y_max) == (3, 2, 20, 12)
    assert (first.width, first.height, first.mask_area) == (60, 40, 170)
    rle = {"size": [40, 60], "counts": first.mask_rle.encode()}
    assert mask_utils.decode(rle)[2:12, 3:20].all() and mask_utils.area(rle) == 170
    assert detection_table("cam", [0], [0.0], [detections(0)], NAMES).num_rows == 0


def test_hive_dataset_reads_with_pandas_and_duckdb(tmp_path):
    for vid, n in [("a", 2), ("b", 3)]:
        parts = []
        for chunk in range(2):
            part = tmp_path / f"chunks/{vid}/{chunk}.parquet"
            write_atomic(detection_table(vid, [chunk], [chunk / 10], [detections(n)], NAMES), part)
            parts.append(part)
        write_atomic(read_parts(parts, CHUNK_DETECTIONS_SCHEMA), tmp_path / f"detections/video_id={vid}/part-0.parquet")
        write_atomic(frame_table(vid, [0, 1], [0.0, 0.1], [n, n]), tmp_path / f"frames/video_id={vid}/part-0.parquet")
    df = pd.read_parquet(tmp_path / "detections")
    assert len(df) == 10 and df.groupby("video_id", observed=True).size().to_dict() == {"a": 4, "b": 6}
    one = pq.read_table(tmp_path / "detections/video_id=a/part-0.parquet").to_pandas()
    assert set(one.video_id) == {"a"}  # a real column, not only the folder name
    counts = duckdb.sql(f"select video_id, count(*) from read_parquet('{tmp_path}/detections/*/*.parquet', "
                        "hive_partitioning=true) group by 1 order by 1").fetchall()
    assert counts == [("a", 4), ("b", 6)]
    frames = pd.read_parquet(tmp_path / "frames")
    table = summary(df, frames)
    row = table[(table.video_id == "b") & (table.class_id == 1)].iloc[0]
    assert (row.instances, row.frames_with, row.frames_processed) == (4, 2, 2)
    assert row.mean_score == np.float32(np.mean(np.linspace(0.9, 0.5, 3)[[0, 2]]))
    # a processed video where nothing was found still shows up
    quiet = frame_table("quiet", [0, 1, 2], [0.0, 0.1, 0.2], [0, 0, 0]).to_pandas()
    table = summary(df, pd.concat([frames, quiet]))
    row = table[table.video_id == "quiet"].iloc[0]
    assert (row.class_id, row.instances, row.frames_with, row.frames_processed, row.tracks) == (-1, 0, 0, 3, 0)


def test_summary_counts_distinct_objects_per_class_beside_instances():
    detections = pd.DataFrame({"video_id": ["a"] * 5, "frame": [0, 0, 1, 1, 2], "class_id": [1, 2, 1, 2, 2],
                               "class_name": ["circle", "square", "circle", "square", "square"],
                               "score": [0.9] * 5})
    frames = pd.DataFrame({"video_id": ["a"] * 3, "frame": [0, 1, 2]})
    tracks = pd.DataFrame({"video_id": ["a", "a", "a"], "track_id": [1, 2, 3], "class_id": [1, 2, 3],
                           "class_name": ["circle", "square", "triangle"]})  # a track mostly seen as a triangle
    table = summary(detections, frames, tracks).set_index("class_name")
    assert table.instances.to_dict() == {"circle": 2, "square": 3, "triangle": 0}
    assert table.tracks.to_dict() == {"circle": 1, "square": 1, "triangle": 1}
    assert summary(detections, frames).tracks.tolist() == [0, 0]  # no tracks table: none counted
    assert TRACKS_SCHEMA.names[:4] == ["video_id", "track_id", "class_id", "class_name"]


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "x.parquet"

    def broken(table, where, **options):
        open(where, "wb").write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    try:
        write_atomic(frame_table("v", [0], [0.0], [0]), target)
    except OSError:
        pass
    assert list(tmp_path.iterdir()) == []
    assert FRAMES_SCHEMA.names == ["video_id", "frame", "time_s", "n_detections"]


def test_frame_groups_streams_frames_in_order_across_batches(tmp_path, monkeypatch):
    import pyarrow as pa
    import pytest

    from vidseg.core.errors import VidsegError
    import vidseg.formats.tables as tables

    monkeypatch.setattr(tables, "ROW_GROUP_ROWS", 4)  # several row groups
    per_frame = {0: 3, 2: 1, 3: 5, 7: 2}  # frames without detections have no rows
    frames = sorted(per_frame)
    table = detection_table("v", frames, [f / 10 for f in frames], [detections(per_frame[f]) for f in frames], NAMES)
    tables.write_atomic(table, tmp_path / "d.parquet")
    assert pq.ParquetFile(tmp_path / "d.parquet").metadata.num_row_groups == 3
    groups = list(tables.frame_groups(tmp_path / "d.parquet", batch_rows=3))
    assert [(frame, len(rows)) for frame, rows in groups] == list(per_frame.items())
    whole = table.to_pandas()
    for frame, rows in groups:
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), whole[whole.frame == frame].reset_index(drop=True))
    shuffled = pa.concat_tables([table.slice(6), table.slice(0, 6)])
    pq.write_table(shuffled, tmp_path / "bad.parquet")
    with pytest.raises(VidsegError, match="bad.parquet is not sorted by frame"):
        list(tables.frame_groups(tmp_path / "bad.parquet", batch_rows=3))


def test_provenance_rides_in_the_schema_and_mixed_chunks_are_refused(tmp_path):
    import pytest

    from vidseg.core.errors import VidsegError
    from vidseg.formats.tables import chunks_provenance, read_provenance, with_provenance

    made = {"model_name": "shapes", "weights_sha256": "ab" * 32, "class_names": ["BG", "a"]}
    for name, record in [("0000", made), ("0001", made), ("0002", {**made, "weights_sha256": "cd" * 32})]:
        write_atomic(with_provenance(FRAMES_SCHEMA.empty_table(), record), tmp_path / f"{name}.frames.parquet")
    first, second, other = (str(tmp_path / f"{n}.frames.parquet") for n in ("0000", "0001", "0002"))
    assert read_provenance(first) == made and chunks_provenance([first, second]) == made
    with pytest.raises(VidsegError, match=f"chunk files {first} and {other} were made with different models"):
        chunks_provenance([first, second, other])
    write_atomic(FRAMES_SCHEMA.empty_table(), tmp_path / "plain.parquet")
    assert read_provenance(tmp_path / "plain.parquet") is None and chunks_provenance([]) is None
