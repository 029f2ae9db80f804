"""Units of work: what each segment job runs, planned once after the probes (vidseg.workflow.units)."""

import json
import logging
import math
import random

import pytest

from vidseg.core.errors import VidsegError
from vidseg.inference.segment import member_range
from vidseg.inference.unit import (FAILURE_SUFFIX, TABLES, Member, Unit, failed_in, failure_note, member_path,
                                   note_failure, tables_of, unit_name, whole)
from vidseg.workflow.packs import plan_packs
from vidseg.workflow.units import UnitPlan, chunks, plan_units, read_plan, write_plan

CHUNK = 1800


def clips(n, seed=0, low=20, high=200):
    rng = random.Random(seed)
    return {f"clip_{i:04d}_{rng.randrange(10**6):06d}": rng.randint(low, high) for i in range(n)}


def run_order():
    """Long videos (given out of id order) among short clips, as a run lists them."""
    return {"zeta": 5000, **clips(60), "alpha": CHUNK, "mid": 3601, "tiny": 1}


def test_a_long_videos_chunks_cover_its_frames_once_the_last_open_ended():
    frames = run_order()
    units = plan_units(frames, CHUNK)
    for video in ("zeta", "alpha", "mid"):
        mine = [u for u in units if video in u.videos]
        assert all(len(u.members) == 1 for u in mine)  # a long video's chunks are units of their own
        assert [u.name for u in mine] == [unit_name(video, c) for c in range(math.ceil(frames[video] / CHUNK))]
        members = [u.members[0] for u in mine]
        assert members[0].start == 0 and members[-1].end is None
        assert all(m.end == m.start + CHUNK for m in members[:-1])
        assert all(a.end == b.start for a, b in zip(members, members[1:]))
        # whatever the video really decoded, its chunks' frames are each of its frames once
        for decoded in (frames[video] - 7, frames[video], frames[video] + 500):
            covered = [i for m in members for i in range(*member_range(m, decoded))]
            assert covered == list(range(decoded))
    assert [u.members for u in chunks("v", 0, CHUNK)] == [(Member("v", 0, None),)]  # at least one chunk
    assert whole("v") == Unit("v.0000", (Member("v", 0, None),))


def test_without_packing_each_short_video_is_a_unit_of_its_own():
    frames = run_order()
    units = plan_units(frames, CHUNK, pack=False)
    short = [v for v, n in frames.items() if n < CHUNK]
    assert [u for u in units if u.videos[0] in short] == [whole(v) for v in short]
    assert [u.videos[0] for u in units] == [v for v, n in frames.items() for _ in range(max(1, math.ceil(n / CHUNK)))]
    assert all(len(u.members) == 1 for u in units)


def test_packs_are_named_after_their_first_videos_chunk_0_and_come_after_the_chunks():
    frames = run_order()
    units = plan_units(frames, CHUNK)
    packs = plan_packs(frames, CHUNK)
    packed = [u for u in units if u.videos[0] in {v for p in packs for v in p.videos}]
    assert packed == units[len(units) - len(packs):]  # the chunks of unpacked videos first, then the packs
    assert [(u.name, u.videos) for u in packed] == [(unit_name(p.name, 0), p.videos) for p in packs]
    assert all(u.name == f"{u.videos[0]}.0000" for u in packed)
    assert all(m == Member(m.video, 0, None) for u in packed for m in u.members)  # packed videos run whole
    # the unpacked videos' chunks in the order given (not the ids' order)
    chunked = units[:len(units) - len(packs)]
    assert list(dict.fromkeys(u.videos[0] for u in chunked)) == ["zeta", "alpha", "mid"]
    # every video in the units, a short one in exactly one
    assert sorted({v for u in units for v in u.videos}) == sorted(frames)
    assert sum(len(u.members) for u in packed) == sum(1 for n in frames.values() if n < CHUNK)
    assert len({u.name for u in units}) == len(units)


def test_groups_never_share_a_unit():
    frames = run_order()
    group = {v: "evaluated" if i % 3 == 0 else "" for i, v in enumerate(sorted(frames))}
    units = plan_units(frames, CHUNK, group=group)
    assert all(len({group[v] for v in u.videos}) == 1 for u in units)
    assert sum(len(u.members) > 1 for u in units) >= 2  # there are packs of several videos
    assert [u for u in units if len(u.members) > 1] != [u for u in plan_units(frames, CHUNK) if len(u.members) > 1]


def test_the_plan_goes_through_its_json_file_whole_failed_probes_included(tmp_path):
    frames = run_order()
    probes = {video: {"ok": True, "n_frames": n, "fps": 10.0} for video, n in frames.items()}
    probes["broken"] = {"ok": False, "reason": "moov atom not found"}  # no frame count: it failed at the probe
    group = {v: "x" if v.endswith(("1", "3")) else "" for v in frames}
    plan = write_plan(probes, CHUNK, True, group, tmp_path / "results/units.json")
    assert list(plan.units.values()) == plan_units(frames, CHUNK, True, group)
    assert plan.failed == {"broken": "moov atom not found"}
    read = read_plan(tmp_path / "results/units.json")
    assert read.units == plan.units and read.failed == plan.failed and list(read.units) == list(plan.units)
    assert UnitPlan.from_json(json.loads(json.dumps(plan.to_json()))).units == plan.units
    data = json.loads((tmp_path / "results/units.json").read_text())
    assert data["failed_at_probe"] == {"broken": "moov atom not found"}
    assert data["units"]["zeta.0002"] == [["zeta", 3600, None]]  # open-ended: null
    assert not list((tmp_path / "results").glob(".*"))  # written atomically: no temporary file left

    # each video's units, in frame order; a failed probe's: none
    assert read.units_of("zeta") == ["zeta.0000", "zeta.0001", "zeta.0002"]
    assert read.units_of("tiny") == [next(u.name for u in read.units.values() if "tiny" in u.videos)]
    assert read.units_of("broken") == [] and read.units_of("no such video") == []
    assert sorted(read.videos) == sorted(frames) and read.videos[:3] == ["zeta", "alpha", "mid"]
    # each unit's place in the run's order (a segment job's share of the cores depends on it)
    assert [read.position(name) for name in read.units] == list(range(len(read.units)))
    assert read.position("no such unit") is None

    # without packing
    write_plan(probes, CHUNK, False, group, tmp_path / "alone.json")
    alone = read_plan(tmp_path / "alone.json")
    assert alone.units_of("tiny") == ["tiny.0000"] and alone.failed == plan.failed


def test_a_videos_tables_come_from_its_units_folders_or_say_why_not(tmp_path):
    folders = [tmp_path / "units" / unit_name("v", c) for c in range(3)]
    for folder in folders:
        folder.mkdir(parents=True)
        for kind in TABLES:
            (folder / f"v{TABLES[kind]}").write_text(kind)
    assert tables_of(folders, "v", "detections") == [f"{folder}/v.detections.parquet" for folder in folders]
    assert tables_of(folders, "v", "frames") == [member_path(folder, "v", ".frames.parquet") for folder in folders]
    with pytest.raises(KeyError):
        tables_of(folders, "v", "tracks")

    # a unit that failed the video: the reason its job noted
    log = logging.getLogger("test_units")
    for kind in TABLES:
        (folders[1] / f"v{TABLES[kind]}").unlink()
    note_failure(folders[1], "v", "unit v.0001: cannot read frame image\nframes/v/001900.jpg", "segmentation", log)
    for kind in TABLES:
        with pytest.raises(VidsegError) as err:
            tables_of(folders, "v", kind)
        assert str(err.value) == "unit v.0001: cannot read frame image frames/v/001900.jpg"

    # a folder without the table, and no note: which table is missing, and that its job wrote none
    (folders[1] / f"v{FAILURE_SUFFIX}").unlink()
    (folders[1] / "v.frames.parquet").write_text("frames")
    assert tables_of(folders, "v", "frames")[1] == f"{folders[1]}/v.frames.parquet"
    with pytest.raises(VidsegError) as err:
        tables_of(folders, "v", "detections")
    assert str(err.value) == f"{folders[1]}/v.detections.parquet: its segment job wrote no such table"
    # a packed video's one folder
    assert tables_of([folders[0]], "v", "detections") == [f"{folders[0]}/v.detections.parquet"]


def test_a_failure_note_is_one_line_in_the_units_folder_and_the_log(tmp_path, caplog):
    log = logging.getLogger("test_units")
    with caplog.at_level(logging.ERROR, logger="test_units"):
        reason = note_failure(tmp_path, "b", "  frame 3 of b\n  cannot be read\n", "segmentation", log)
    assert reason == "frame 3 of b cannot be read"
    assert (tmp_path / f"b{FAILURE_SUFFIX}").read_text() == reason + "\n"
    assert failure_note(tmp_path, "b") == reason and failure_note(tmp_path, "a") is None
    assert [r.getMessage() for r in caplog.records] == [
        "b: segmentation failed, the unit goes on: frame 3 of b cannot be read"]
    assert failed_in({"a": 1, "b": reason, "c": 0, "d": "out of memory"}) == "; failed: b, d"
    assert failed_in({"a": 1}) == ""
