"""Packing short videos into segment jobs (vidseg.packs)."""

import logging
import random

import pytest

from vidseg.errors import VidsegError
from vidseg.packs import failed_in, plan_packs, run_each


def clips(n, seed=0, low=20, high=200):
    rng = random.Random(seed)
    return {f"clip_{i:04d}_{rng.randrange(10**6):06d}": rng.randint(low, high) for i in range(n)}


def test_every_short_video_in_exactly_one_pack_of_at_most_a_chunk():
    frames = {**clips(300), "long_a": 5000, "edge": 1800}
    packs = plan_packs(frames, 1800)
    packed = [v for p in packs for v in p.videos]
    assert sorted(packed) == sorted(v for v, n in frames.items() if n < 1800)
    assert all(p.frames == sum(frames[v] for v in p.videos) <= 1800 for p in packs)
    assert all(p.name == p.videos[0] for p in packs) and len({p.name for p in packs}) == len(packs)
    total = sum(n for n in frames.values() if n < 1800)
    assert len(packs) <= 2 * total / 1800  # about a chunk of frames per stretch of the sequence
    assert plan_packs(dict(reversed(list(frames.items()))), 1800) == packs  # the order given does not matter


def test_adding_a_video_changes_the_pack_it_joins_and_seldom_another():
    """New videos whose ids fall all over the sequence: each changes the pack it joins, and only where its
    stretch of the sequence is longer than a chunk the packs after it in that stretch."""
    frames = clips(400, seed=1)
    before = {p.videos for p in plan_packs(frames, 1800)}
    changed = []
    for extra in range(40):
        new = f"clip_{(extra * 7919) % 400:04d}_new"  # between existing ids
        after = {p.videos for p in plan_packs({**frames, new: 60}, 1800)}
        assert sum(new in videos for videos in after) == 1
        changed.append(len(after - before))
    assert max(changed) <= 4 and sum(changed) / len(changed) <= 1.5, changed
    assert len(before) >= 15


def test_groups_never_share_a_pack():
    frames = clips(40)
    group = {v: "evaluated" if i % 3 == 0 else "" for i, v in enumerate(sorted(frames))}
    for pack in plan_packs(frames, 1800, group):
        assert len({group[v] for v in pack.videos}) == 1


def test_a_pack_job_notes_a_failed_video_goes_on_and_puts_the_others_files_at_their_own_paths(tmp_path):
    folder, out = tmp_path / "pack", tmp_path / "out"
    out.mkdir()
    (out / "b.parquet").write_text("b of a run before")  # b fails now: its old file must not stay

    def work(video, into):
        assert not folder.exists() and not (out / "a.parquet").exists()  # the folder and the files, at the end
        if video == "b":
            raise VidsegError("frame 3 of b cannot be read")
        (into / f"{video}.tracks.parquet").write_text(video)
        return 1

    publish = {video: {".tracks.parquet": out / f"{video}.parquet"} for video in "abc"}
    outcome = run_each(["a", "b", "c"], folder, work, "tracking", logging.getLogger("test"), publish)
    assert outcome == {"a": 1, "b": "frame 3 of b cannot be read", "c": 1}
    assert sorted(p.name for p in folder.iterdir()) == ["a.tracks.parquet", "b.failed", "c.tracks.parquet"]
    assert failed_in(outcome) == "; failed: b" and failed_in({"a": 1}) == ""
    assert sorted(p.name for p in out.iterdir()) == ["a.parquet", "c.parquet"]  # nothing half-written, b gone
    assert (out / "c.parquet").read_text() == "c" and (out / "c.parquet").samefile(folder / "c.tracks.parquet")
    with pytest.raises(VidsegError, match="a.mots.txt: the pack job wrote no such file for a"):
        run_each(["a"], folder, lambda video, into: (into / "a.tracks.parquet").write_text("a"), "tracking",
                 logging.getLogger("test"), {"a": {".mots.txt": out / "a.txt"}})


def test_a_pack_job_stopped_midway_leaves_its_old_folder_or_none(tmp_path):
    """A bug (or a kill) midway: no partial folder, so Snakemake's rerun does the whole pack again."""
    folder = tmp_path / "pack"

    def work(video, into):
        (into / f"{video}.tracks.parquet").write_text(video)
        return 1 / (video != "b")  # a bug at the second video: it is not a video's failure, it stops the job

    with pytest.raises(ZeroDivisionError):
        run_each(["a", "b"], folder, work, "tracking", logging.getLogger("test"))
    assert list(tmp_path.iterdir()) == []
    run_each(["a"], folder, lambda video, into: (into / "a.x").write_text("1"), "tracking", logging.getLogger("t"))
    with pytest.raises(ZeroDivisionError):
        run_each(["a", "b"], folder, work, "tracking", logging.getLogger("test"))
    assert [p.name for p in tmp_path.iterdir()] == ["pack"] and [p.name for p in folder.iterdir()] == ["a.x"]
