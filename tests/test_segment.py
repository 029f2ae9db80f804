import threading

import pytest

from media import short_videos
from vidseg.inference.segment import member_range
from vidseg.inference.unit import FAILURE_SUFFIX, TABLES, Member, Unit, failure_note, member_path, whole
from vidseg.maskrcnn import COCO_CLASS_NAMES
from vidseg.workflow.units import chunks


def read_tables(folder, video):
    """A unit folder's detections and frames tables of `video`."""
    import pandas as pd

    return [pd.read_parquet(member_path(folder, video, TABLES[kind])) for kind in ("detections", "frames")]


def test_chunks_cover_every_frame_once_whatever_the_probe_said():
    # probe said 10 frames (chunk 4 -> 3 chunks); the video really has 13: the last chunk takes the rest
    assert [member_range(unit.members[0], 13) for unit in chunks("v", 10, 4)] == [(0, 4), (4, 8), (8, 13)]
    # probe said 12 (3 chunks); the video really has 6: later chunks are empty, none overlaps
    assert [member_range(unit.members[0], 6) for unit in chunks("v", 12, 4)] == [(0, 4), (4, 6), (6, 6)]
    # a whole video (a pack's member) runs all it decoded
    assert member_range(whole("v").members[0], 13) == (0, 13) and member_range(Member("v", 0, None), 0) == (0, 0)


def test_out_of_memory_retries_at_half_the_batch_down_to_one(tmp_path, caplog):
    import logging

    import cv2
    import pandas as pd
    import tensorflow as tf

    from conftest import make_frames, seeded_model
    from vidseg.inference.segment import segment_unit
    from vidseg.media.frames import write_index

    model = seeded_model(0, image_min_dim=64, image_max_dim=64, images_per_gpu=4, detection_min_confidence=0.5)
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    images = make_frames() * 2
    for i, image in enumerate(images):
        cv2.imwrite(str(frames_dir / f"{i:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    write_index([i / 10 for i in range(len(images))], tmp_path / "index.tsv")

    def unit(name, io_threads=1, batch=1):
        return segment_unit(model, list(COCO_CLASS_NAMES), whole("v"), {"v": frames_dir}, {"v": tmp_path / "index.tsv"},
                            "png", tmp_path / name, io_threads, batch=batch)

    def run(name, io_threads=1, batch=1):
        outcome = unit(name, io_threads, batch)
        assert isinstance(outcome["v"], int), outcome
        return read_tables(tmp_path / name, "v")

    # The retried chunk runs at batch 1; a chunk run at batch 1 from the start is its reference
    # (batch size can flip near-ties among proposals, so batch 4 is not an exact reference).
    plain = run("plain")
    # the pipelined chunk (reader and post-processing threads) gives what detect() gives, in frame order
    assert plain[1].n_detections.tolist() == [len(r) for r in model.detect(images, batch=1)]
    assert plain[0].frame.is_monotonic_increasing
    # three reading and three post-processing threads: the same tables, in the same order
    for got, want in zip(run("three", io_threads=3), plain):
        pd.testing.assert_frame_equal(got, want)
    real = model.predict
    sizes = []

    def small_memory(images, windows):
        sizes.append(len(images))
        if len(images) > 1:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape [4,64,64,256]")
        return real(images, windows)

    model.predict = small_memory
    with caplog.at_level(logging.WARNING, logger="vidseg.inference.segment"):
        retried = run("retried", batch=4)
    assert sizes == [4, 2, 1, 1, 1, 1, 1, 1]  # halved twice, then batch 1 kept for the rest of the chunk
    assert [r.getMessage() for r in caplog.records if r.name == "vidseg.inference.segment"] == [
        "unit v.0000: out of memory on a batch of 4 frames; retrying at batch 2",
        "unit v.0000: out of memory on a batch of 2 frames; retrying at batch 1",
    ]
    assert len(plain[0]) > 0
    pd.testing.assert_frame_equal(plain[1], retried[1])
    pd.testing.assert_frame_equal(plain[0], retried[0])

    # out of memory on the last, partial batch only (nothing read ahead of it; padded to 4 frames, see
    # test_a_partial_last_batch_is_padded_so_the_model_keeps_one_shape): its 2 frames run at batch 2
    sizes.clear()

    def tight_at_the_end(images, windows):
        sizes.append(len(images))
        if len(sizes) == 2:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return real(images, windows)

    model.predict = tight_at_the_end
    at_the_end = run("at_the_end", batch=4)
    assert sizes == [4, 4, 2]
    assert at_the_end[1].frame.tolist() == list(range(6))

    # out of memory on a single frame fails the video: the reason, in its failure note, and no tables
    model.predict = lambda *batch: (_ for _ in ()).throw(tf.errors.ResourceExhaustedError(None, None, "OOM"))
    outcome = unit("never", batch=4)
    assert outcome["v"].startswith("unit v.0000: out of memory on a single frame (v frame 0)"), outcome
    assert failure_note(tmp_path / "never", "v") == outcome["v"]
    assert sorted(p.name for p in (tmp_path / "never").iterdir()) == [f"v{FAILURE_SUFFIX}"]
    # any other error stops the job, and leaves no folder
    model.predict = lambda *batch: (_ for _ in ()).throw(ValueError("a bug, not memory"))
    with pytest.raises(ValueError, match="a bug"):
        unit("bug", batch=4)
    assert not (tmp_path / "bug").exists() and not list(tmp_path.glob(".bug.*"))


def test_a_partial_last_batch_is_padded_so_the_model_keeps_one_shape(tmp_path):
    """7 frames at batch 4: two model calls of 4 frames (the second with one blank frame), and tables of the
    7 real frames only, each with what a batch of 4 real frames gives it. Its chunks of 4 (units of their own)
    run the same two batches: together, the same tables."""
    import cv2
    import pandas as pd

    from conftest import make_frames, seeded_model
    from vidseg.inference.segment import segment_unit
    from vidseg.media.frames import write_index

    model = seeded_model(0, image_min_dim=64, image_max_dim=64, images_per_gpu=4, detection_min_confidence=0.5)
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    images = (make_frames() * 4)[:7]
    for i, image in enumerate(images):
        cv2.imwrite(str(frames_dir / f"{i:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    write_index([i / 10 for i in range(7)], tmp_path / "index.tsv")
    real, sizes = model.predict, []

    def counted(batch_images, windows):
        sizes.append(len(batch_images))
        return real(batch_images, windows)

    def run(unit, name):
        return segment_unit(model, list(COCO_CLASS_NAMES), unit, {"v": frames_dir}, {"v": tmp_path / "index.tsv"},
                            "png", tmp_path / name, batch=4)

    model.predict = counted
    outcome = run(whole("v"), "whole")
    assert sizes == [4, 4]
    detections, frames = read_tables(tmp_path / "whole", "v")
    assert frames.frame.tolist() == list(range(7)) and outcome == {"v": len(detections)}
    # the last three frames get what they get in a batch of four real frames
    model.predict = real
    assert frames.n_detections.tolist()[4:] == [len(r) for r in model.detect(images[3:], batch=4)][1:]

    # the video in chunks of 4 frames (the probe said 6: the last, open-ended chunk takes frames 4..6)
    model.predict = counted
    sizes.clear()
    parts = [(run(unit, unit.name), read_tables(tmp_path / unit.name, "v")) for unit in chunks("v", 6, 4)]
    assert sizes == [4, 4] and [part[1][1].frame.tolist() for part in parts] == [[0, 1, 2, 3], [4, 5, 6]]
    assert sum(part[0]["v"] for part in parts) == len(detections)
    for kind, want in enumerate((detections, frames)):
        got = pd.concat([part[1][kind] for part in parts], ignore_index=True)
        pd.testing.assert_frame_equal(got, want)


def test_a_pack_runs_its_videos_in_shared_batches_and_a_failed_video_costs_only_itself(tmp_path):
    """Four short videos (3 + 2 + 3 + 1 frames) at batch 4: three model calls, not one a video, and per video
    the tables a job of its own gives; an unreadable frame, a video its frames job could not decode, or out of
    memory on one frame, fails only its video (a note in the unit's folder), whose frames leave the batches."""
    import pandas as pd
    import tensorflow as tf

    from conftest import seeded_model
    from vidseg.inference.segment import segment_unit
    from vidseg.media.frames import write_failed_index

    model = seeded_model(0, image_min_dim=64, image_max_dim=64, images_per_gpu=4, detection_min_confidence=0.5)
    lengths = {"a": 3, "b": 2, "c": 3, "d": 1}
    folders, indexes = short_videos(lengths, tmp_path)
    frames_dirs, indexes = dict(zip(lengths, folders)), dict(zip(lengths, indexes))
    names = list(COCO_CLASS_NAMES)
    alone = {}
    for video in lengths:
        outcome = segment_unit(model, names, whole(video), frames_dirs, indexes, "png", tmp_path / "alone" / video)
        assert list(outcome) == [video]
        alone[video] = read_tables(tmp_path / "alone" / video, video)
    real, sizes = model.predict, []
    unit = Unit("a.0000", tuple(Member(video, 0, None) for video in lengths))

    def counted(batch_images, windows):
        sizes.append(len(batch_images))
        return real(batch_images, windows)

    def pack(name, indexes=indexes):
        sizes.clear()
        outcome = segment_unit(model, names, unit, frames_dirs, indexes, "png", tmp_path / name)
        assert list(outcome) == list(lengths)
        return outcome, {video: read_tables(tmp_path / name, video)
                         for video in lengths if not isinstance(outcome[video], str)}

    model.predict = counted
    outcome, tables = pack("whole")
    assert sizes == [4, 4, 4]  # 9 frames; one job per video would make four calls
    assert outcome == {video: len(alone[video][0]) for video in lengths} and sum(outcome.values()) > 0
    for video in lengths:
        for got, want in zip(tables[video], alone[video]):
            pd.testing.assert_frame_equal(got, want)

    (folders[1] / "000001.png").write_bytes(b"not a png")  # b's last frame
    outcome, tables = pack("broken")
    assert "cannot read frame image" in outcome["b"] and "000001.png" in outcome["b"]
    assert (tmp_path / "broken" / f"b{FAILURE_SUFFIX}").read_text().strip() == outcome["b"]
    assert sorted(tables) == ["a", "c", "d"] and not list((tmp_path / "broken").glob("b.*.parquet"))
    assert sizes == [4, 4]  # b's frames left the batches: 7 frames
    for video in tables:
        for got, want in zip(tables[video], alone[video]):
            pd.testing.assert_frame_equal(got, want)

    # d's frames job could not decode it: its frame index says why, which becomes d's failure
    write_failed_index("ffmpeg: moov atom not found", tmp_path / "d.failed.tsv")
    outcome, tables = pack("undecoded", {**indexes, "d": tmp_path / "d.failed.tsv"})
    assert outcome["d"] == "ffmpeg: moov atom not found" == failure_note(tmp_path / "undecoded", "d")
    assert sorted(tables) == ["a", "c"] and sizes == [4, 4]  # b still broken: a and c, 6 frames
    for video in tables:
        for got, want in zip(tables[video], alone[video]):
            pd.testing.assert_frame_equal(got, want)

    def no_memory(*batch):
        sizes.append(len(batch[0]))
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    model.predict = no_memory
    outcome, tables = pack("no_memory")
    assert tables == {} and outcome["a"].startswith("unit a.0000: out of memory on a single frame (a frame 0)")
    assert outcome["c"].startswith("unit a.0000: out of memory on a single frame (c frame 0)")
    assert sizes == [4, 2, 1, 1, 1, 1]  # halved down to one frame, then each of the 4 fails on its first frame


def test_batches_in_several_streams_give_the_tables_and_failures_of_one(tmp_path, caplog):
    """A CPU job runs one batch per thread at once (vidseg.inference.threads): results in order, the same tables as one
    stream, an unreadable frame failing only its video, out of memory halving the batch as with one stream."""
    import logging

    import pandas as pd
    import tensorflow as tf

    from conftest import seeded_model
    from vidseg.inference.segment import segment_unit

    model = seeded_model(0, image_min_dim=64, image_max_dim=64, images_per_gpu=2, detection_min_confidence=0.5)
    lengths = {"a": 3, "b": 2, "c": 3, "d": 1}
    folders, indexes = short_videos(lengths, tmp_path)
    frames_dirs, indexes = dict(zip(lengths, folders)), dict(zip(lengths, indexes))
    names = list(COCO_CLASS_NAMES)
    real, overlap, calls = model.predict, threading.Barrier(2, timeout=120), []
    unit = Unit("a.0000", tuple(Member(video, 0, None) for video in lengths))

    def concurrent(batch_images, windows):
        calls.append(len(batch_images))
        if len(calls) <= 2:  # the first two calls wait for each other (one at a time: BrokenBarrierError)
            overlap.wait()
        return real(batch_images, windows)

    def pack(name, streams):
        outcome = segment_unit(model, names, unit, frames_dirs, indexes, "png", tmp_path / name, streams=streams)
        return outcome, {video: read_tables(tmp_path / name, video)
                         for video in lengths if not isinstance(outcome[video], str)}

    one = pack("one", 1)
    model.predict = concurrent
    three = pack("three", 3)
    model.predict = real
    assert calls == [2] * 5
    assert three[0] == one[0] and sum(one[0].values()) > 0
    for video in lengths:
        for got, want in zip(three[1][video], one[1][video]):
            pd.testing.assert_frame_equal(got, want)

    (folders[2] / "000000.png").write_bytes(b"not a png")  # c's first frame, in the second batch
    outcome, tables = pack("broken", 3)
    assert "cannot read frame image" in outcome["c"] and sorted(tables) == ["a", "b", "d"]
    for video in tables:
        for got, want in zip(tables[video], one[1][video]):
            pd.testing.assert_frame_equal(got, want)

    def chunk(name, batch, streams):
        outcome = segment_unit(model, names, whole("a"), frames_dirs, indexes, "png", tmp_path / name, batch=batch,
                               streams=streams)
        assert isinstance(outcome["a"], int), outcome
        return read_tables(tmp_path / name, "a")

    plain = chunk("plain", 1, 1)

    def small_memory(batch_images, windows):
        if len(batch_images) > 1:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return real(batch_images, windows)

    model.predict = small_memory
    with caplog.at_level(logging.WARNING, logger="vidseg.inference.segment"):
        retried = chunk("retried", 2, 3)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "unit a.0000: out of memory on a batch of 2 frames; retrying at batch 1"]
    for got, want in zip(retried, plain):
        pd.testing.assert_frame_equal(got, want)
