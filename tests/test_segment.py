import threading

import pytest

from media import short_videos
from vidseg.errors import VidsegError
from vidseg.maskrcnn import COCO_CLASS_NAMES
from vidseg.segment import chunk_range


def test_chunks_cover_every_frame_once_whatever_the_probe_said():
    # probe said 10 frames (chunk 4 -> 3 chunks); the video really has 13: the last chunk takes the rest
    assert [chunk_range(c, 4, 3, 13) for c in range(3)] == [(0, 4), (4, 8), (8, 13)]
    # probe said 12 (3 chunks); the video really has 6: later chunks are empty, none overlaps
    assert [chunk_range(c, 4, 3, 6) for c in range(3)] == [(0, 4), (4, 6), (6, 6)]


def test_out_of_memory_retries_at_half_the_batch_down_to_one(tmp_path, caplog):
    import logging

    import cv2
    import pandas as pd
    import tensorflow as tf

    from conftest import make_frames, seeded_model
    from vidseg.frames import write_index
    from vidseg.segment import segment_chunk

    model = seeded_model(0, image_min_dim=64, image_max_dim=64, images_per_gpu=4, detection_min_confidence=0.5)
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    images = make_frames() * 2
    for i, image in enumerate(images):
        cv2.imwrite(str(frames_dir / f"{i:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    write_index([i / 10 for i in range(len(images))], tmp_path / "index.tsv")

    def run(name, io_threads=1, batch=1):
        segment_chunk(model, list(COCO_CLASS_NAMES), "v", frames_dir, tmp_path / "index.tsv", "png", 0, 6, 1,
                      tmp_path / f"{name}.det.parquet", tmp_path / f"{name}.frames.parquet", io_threads, batch=batch)
        return pd.read_parquet(tmp_path / f"{name}.det.parquet"), pd.read_parquet(tmp_path / f"{name}.frames.parquet")

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
    with caplog.at_level(logging.WARNING, logger="vidseg.segment"):
        retried = run("retried", batch=4)
    assert sizes == [4, 2, 1, 1, 1, 1, 1, 1]  # halved twice, then batch 1 kept for the rest of the chunk
    assert [r.getMessage() for r in caplog.records if r.name == "vidseg.segment"] == [
        "v chunk 0: out of memory on a batch of 4 frames; retrying at batch 2",
        "v chunk 0: out of memory on a batch of 2 frames; retrying at batch 1",
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

    model.predict = lambda *batch: (_ for _ in ()).throw(tf.errors.ResourceExhaustedError(None, None, "OOM"))
    with pytest.raises(VidsegError, match=r"v chunk 0: out of memory on a single frame \(0\)"):
        run("never", batch=4)
    model.predict = lambda *batch: (_ for _ in ()).throw(ValueError("a bug, not memory"))
    with pytest.raises(ValueError, match="a bug"):
        run("bug", batch=4)


def test_a_partial_last_batch_is_padded_so_the_model_keeps_one_shape(tmp_path):
    """7 frames at batch 4: two model calls of 4 frames (the second with one blank frame), and tables of the
    7 real frames only, each with what a batch of 4 real frames gives it."""
    import cv2
    import pandas as pd

    from conftest import make_frames, seeded_model
    from vidseg.frames import write_index
    from vidseg.segment import segment_chunk

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

    model.predict = counted
    segment_chunk(model, list(COCO_CLASS_NAMES), "v", frames_dir, tmp_path / "index.tsv", "png", 0, 7, 1,
                  tmp_path / "d.parquet", tmp_path / "f.parquet", batch=4)
    assert sizes == [4, 4]
    frames = pd.read_parquet(tmp_path / "f.parquet")
    assert frames.frame.tolist() == list(range(7))
    # the last three frames get what they get in a batch of four real frames
    model.predict = real
    assert frames.n_detections.tolist()[4:] == [len(r) for r in model.detect(images[3:], batch=4)][1:]


def test_a_pack_runs_its_videos_in_shared_batches_and_a_failed_video_costs_only_itself(tmp_path):
    """Four short videos (3 + 2 + 3 + 1 frames) at batch 4: three model calls, not one a video, and per video
    the tables a job of its own gives; an unreadable frame, or out of memory on one frame, fails only its
    video (a note in the pack's folder), whose frames leave the batches."""
    import pandas as pd
    import tensorflow as tf

    from conftest import seeded_model
    from vidseg.packs import FAILURE_SUFFIX, PACKED, member_path
    from vidseg.segment import segment_chunk, segment_pack

    model = seeded_model(0, image_min_dim=64, image_max_dim=64, images_per_gpu=4, detection_min_confidence=0.5)
    lengths = {"a": 3, "b": 2, "c": 3, "d": 1}
    folders, indexes = short_videos(lengths, tmp_path)
    names = list(COCO_CLASS_NAMES)
    alone = {}
    for video, folder, index in zip(lengths, folders, indexes):
        segment_chunk(model, names, video, folder, index, "png", 0, 10, 1, tmp_path / f"{video}.d.parquet",
                      tmp_path / f"{video}.f.parquet")
        alone[video] = [pd.read_parquet(tmp_path / f"{video}.{kind}.parquet") for kind in "df"]
    real, sizes = model.predict, []

    def counted(batch_images, windows):
        sizes.append(len(batch_images))
        return real(batch_images, windows)

    def pack(name):
        sizes.clear()
        outcome = segment_pack(model, names, list(lengths), folders, indexes, "png", tmp_path / name)
        return outcome, {video: [pd.read_parquet(member_path(tmp_path / name, video, PACKED[kind]))
                                 for kind in ("detections", "frames")]
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

    def no_memory(*batch):
        sizes.append(len(batch[0]))
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    model.predict = no_memory
    outcome, tables = pack("no_memory")
    assert tables == {} and outcome["a"].startswith("pack no_memory: out of memory on a single frame (a frame 0)")
    assert outcome["c"].startswith("pack no_memory: out of memory on a single frame (c frame 0)")
    assert sizes == [4, 2, 1, 1, 1, 1]  # halved down to one frame, then each of the 4 fails on its first frame


def test_batches_in_several_streams_give_the_tables_and_failures_of_one(tmp_path, caplog):
    """A CPU job runs one batch per thread at once (vidseg.threads): results in order, the same tables as one
    stream, an unreadable frame failing only its video, out of memory halving the batch as with one stream."""
    import logging

    import pandas as pd
    import tensorflow as tf

    from conftest import seeded_model
    from vidseg.packs import PACKED, member_path
    from vidseg.segment import segment_chunk, segment_pack

    model = seeded_model(0, image_min_dim=64, image_max_dim=64, images_per_gpu=2, detection_min_confidence=0.5)
    lengths = {"a": 3, "b": 2, "c": 3, "d": 1}
    folders, indexes = short_videos(lengths, tmp_path)
    names = list(COCO_CLASS_NAMES)
    real, overlap, calls = model.predict, threading.Barrier(2, timeout=120), []

    def concurrent(batch_images, windows):
        calls.append(len(batch_images))
        if len(calls) <= 2:  # the first two calls wait for each other (one at a time: BrokenBarrierError)
            overlap.wait()
        return real(batch_images, windows)

    def pack(name, streams):
        outcome = segment_pack(model, names, list(lengths), folders, indexes, "png", tmp_path / name, streams=streams)
        return outcome, {video: [pd.read_parquet(member_path(tmp_path / name, video, PACKED[kind]))
                                 for kind in ("detections", "frames")]
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
        segment_chunk(model, names, "a", folders[0], indexes[0], "png", 0, 3, 1, tmp_path / f"{name}.d.parquet",
                      tmp_path / f"{name}.f.parquet", batch=batch, streams=streams)
        return [pd.read_parquet(tmp_path / f"{name}.{kind}.parquet") for kind in "df"]

    plain = chunk("plain", 1, 1)

    def small_memory(batch_images, windows):
        if len(batch_images) > 1:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return real(batch_images, windows)

    model.predict = small_memory
    with caplog.at_level(logging.WARNING, logger="vidseg.segment"):
        retried = chunk("retried", 2, 3)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "a chunk 0: out of memory on a batch of 2 frames; retrying at batch 1"]
    for got, want in zip(retried, plain):
        pd.testing.assert_frame_equal(got, want)
