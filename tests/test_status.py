"""results/status.tsv from the files the stages leave, and the one-line FAILED reason in job logs."""

import json
import subprocess
import sys

from vidseg.inference.unit import Member, Unit
from vidseg.workflow.plan import PATHS
from vidseg.workflow.status import describe, write_status
from vidseg.workflow.units import UnitPlan


def touch(root, path, text=""):
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def plan(root, units, failed=None):
    """results/units.json of `units` (name -> videos, each whole), as the plan job writes it."""
    members = {name: tuple(Member(video, 0, None) for video in videos) for name, videos in units.items()}
    write = UnitPlan({name: Unit(name, m) for name, m in members.items()}, failed or {})
    touch(root, "results/units.json", json.dumps(write.to_json()))


def test_status_rows_of_videos_in_units(tmp_path):
    """A unit (vidseg.inference.unit) that has a video's tables takes the video on to its next stage; one whose job gave
    up on a video has its reason; one whose job died gets the job's log; one not run yet is not run. A long
    video needs every one of its units; a video its frames job could not decode fails at frames."""
    videos = ("a", "b", "c", "d", "e", "f", "g", "h")
    for vid in videos:
        touch(tmp_path, f"results/probe/{vid}.json", json.dumps({"ok": True}))
        touch(tmp_path, f"results/frame_index/{vid}.tsv", "frame\ttime_s\n0\t0.0\n")
    plan(tmp_path, {"a.0000": ["a", "b"], "c.0000": ["c"], "d.0000": ["d"], "e.0000": ["e", "f"], "g.0000": ["g"],
                    "h.0000": ["h"], "h.0001": ["h"]})
    touch(tmp_path, "results/units/a.0000/a.detections.parquet")
    touch(tmp_path, "results/units/a.0000/b.failed", "cannot read frame image results/frames_tmp/b/000003.jpg\n")
    touch(tmp_path, "logs/segment/a.0000.log", "INFO unit a.0000: 2 videos\n")
    touch(tmp_path, "logs/segment/c.0000.log", "INFO unit c.0000: 4/10 frames\n")  # killed: no folder, no reason
    for vid in ("e", "f"):
        touch(tmp_path, f"results/units/e.0000/{vid}.detections.parquet")
    touch(tmp_path, "logs/track/e.log", "INFO tracking\nERROR FAILED: tracker ran out of ids\n")
    for path in ("results/tracks/video_id=f/part-0.parquet", "results/videos/f.mp4", "logs/export/f.log"):
        touch(tmp_path, path)  # f: tracked and annotated; its export job died
    touch(tmp_path, "results/frame_index/g.tsv", "# failed: videos/g.mp4: ffmpeg cannot decode it\n")
    touch(tmp_path, "logs/frames/g.log", "ERROR g: FAILED at frames: videos/g.mp4: ffmpeg cannot decode it\n")
    touch(tmp_path, "results/units/h.0000/h.detections.parquet")
    touch(tmp_path, "logs/segment/h.0001.log", "ERROR FAILED: out of memory\n")
    rows = {row.video: (row.stage, row.status, row.reason)
            for row in write_status(videos, [], root=tmp_path, exported=["mots"]).itertuples()}
    assert rows["a"] == ("track", "not run", "")
    assert rows["b"] == ("segment", "failed", "cannot read frame image results/frames_tmp/b/000003.jpg "
                                             "(log: logs/segment/a.0000.log)")
    assert rows["c"][:2] == ("segment", "failed") and "killed?); log: logs/segment/c.0000.log" in rows["c"][2]
    assert rows["d"] == ("segment", "not run", "")
    assert rows["e"] == ("track", "failed", "tracker ran out of ids (log: logs/track/e.log)")
    assert rows["f"][:2] == ("export", "failed") and "killed?); log: logs/export/f.log" in rows["f"][2]
    assert rows["g"] == ("frames", "failed", "videos/g.mp4: ffmpeg cannot decode it (log: logs/frames/g.log)")
    assert rows["h"] == ("segment", "failed", "out of memory (log: logs/segment/h.0001.log)")


def test_status_before_the_plan(tmp_path):
    """Without results/units.json every probed video waits for the plan job, or fails with its reason."""
    touch(tmp_path, "results/probe/a.json", json.dumps({"ok": True}))
    touch(tmp_path, "results/frame_index/a.tsv", "frame\ttime_s\n")
    assert write_status(["a"], [], root=tmp_path).stage.tolist() == ["segment"]
    assert write_status(["a"], [], root=tmp_path).status.tolist() == ["not run"]
    touch(tmp_path, "logs/plan.log", "ERROR FAILED: results/probe/a.json: not JSON\n")
    row, = write_status(["a"], [], root=tmp_path).itertuples()
    assert (row.stage, row.status, row.reason) == ("segment", "failed", "results/probe/a.json: not JSON (log: logs/plan.log)")


def test_status_rows_for_each_way_a_video_ends(tmp_path):
    ok = {"ok": True}
    touch(tmp_path, "results/probe/bad.json", json.dumps({"ok": False, "reason": "videos/bad.mp4: empty file (0 bytes)"}))
    for vid in ("done", "segfail", "killed", "pending"):
        touch(tmp_path, f"results/probe/{vid}.json", json.dumps(ok))
        touch(tmp_path, f"results/frame_index/{vid}.tsv")
    plan(tmp_path, {f"{vid}.0000": [vid] for vid in ("done", "segfail", "killed", "pending")},
         {"bad": "videos/bad.mp4: empty file (0 bytes)"})
    touch(tmp_path, "results/units/done.0000/done.detections.parquet")
    touch(tmp_path, "results/detections/video_id=done/part-0.parquet")
    touch(tmp_path, "results/tracks/video_id=done/part-0.parquet")
    touch(tmp_path, "results/videos/done.mp4")
    touch(tmp_path, "logs/segment/segfail.0000.log", "INFO started\nERROR FAILED: unit segfail.0000: out of memory on a single frame (3)\n")
    touch(tmp_path, "logs/segment/killed.0000.log", "INFO unit killed.0000: 8/60 frames\n")  # no output, no FAILED line
    table = write_status(["bad", "done", "segfail", "killed", "pending", "unprobed"], [], root=tmp_path)
    rows = {row.video: (row.stage, row.status, row.reason) for row in table.itertuples()}
    assert rows["bad"] == ("probe", "failed", "videos/bad.mp4: empty file (0 bytes)")
    assert rows["done"] == ("done", "ok", "")
    assert rows["segfail"] == ("segment", "failed", "unit segfail.0000: out of memory on a single frame (3) (log: logs/segment/segfail.0000.log)")
    assert rows["killed"][:2] == ("segment", "failed") and "stopped without an error message" in rows["killed"][2]
    assert rows["pending"] == ("segment", "not run", "")
    assert rows["unprobed"] == ("probe", "not run", "")
    assert (tmp_path / "results/status.tsv").read_text().splitlines()[0] == "video\tstage\tstatus\treason\tnote"
    line = describe(table)
    assert line.startswith("1 of 6 videos done, 3 failed, 2 not run; see results/status.tsv")
    assert "  bad: failed at probe: videos/bad.mp4: empty file (0 bytes)" in line
    # a note (a warning about a video whose run went through) lands in its row
    noted = write_status(["done", "pending"], [], root=tmp_path, notes={"done": "demo model on other videos"})
    assert noted.note.tolist() == ["demo model on other videos", ""]
    assert describe(noted).endswith("\n  note (1 video): demo model on other videos")
    # an evaluated video is done only with its evaluation, then its video with the ground truth's outlines
    assert write_status(["done"], ["done"], root=tmp_path).stage.tolist() == ["evaluate"]
    (tmp_path / PATHS["evaluation"].format(video="done")).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / PATHS["evaluation"].format(video="done")).write_text("{}")
    pending = write_status(["done"], ["done"], root=tmp_path)
    assert (pending.stage.tolist(), pending.status.tolist()) == (["truth video"], ["not run"])
    (tmp_path / PATHS["truth_video"].format(video="done")).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / PATHS["truth_video"].format(video="done")).write_bytes(b"mp4")
    assert write_status(["done"], ["done"], root=tmp_path).status.tolist() == ["ok"]


def _job(tmp_path, body):
    log = tmp_path / "job.log"
    code = f"from vidseg.core.logs import log_to\nlog = log_to({str(log)!r})\nlog.info('working')\n{body}\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return proc.returncode, log.read_text()


def test_a_job_stopped_by_bad_input_ends_its_log_with_one_failed_line(tmp_path):
    code, text = _job(tmp_path,
                      "from vidseg.core.errors import VidsegError\nraise VidsegError('videos/a.mp4: no video stream')")
    assert code == 1
    lines = text.splitlines()
    assert len(lines) == 2 and lines[-1].endswith("ERROR FAILED: videos/a.mp4: no video stream")
    assert "Traceback" not in text


def test_a_bug_logs_failed_and_its_traceback(tmp_path):
    code, text = _job(tmp_path, "{}['missing']")
    assert code == 1
    assert "FAILED: KeyError: 'missing' (an internal error; traceback below)" in text and "Traceback" in text
