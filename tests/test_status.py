"""results/status.tsv from the files the stages leave, and the one-line FAILED reason in job logs."""

import json
import subprocess
import sys

from vidseg.status import describe, write_status


def touch(root, path, text=""):
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_status_rows_of_videos_segmented_in_packs(tmp_path):
    """In a pack (vidseg.packs): a video with its tables goes on to the next stage, one the pack job gave up on
    has its reason, one of a pack whose job died (or failed as a whole) gets the job's log, and one of a pack
    not run yet is not run. The same holds for the pack's track and export jobs, whose files each video's own
    job then copies."""
    videos = ("a", "b", "c", "d", "e", "f", "g")
    for vid in videos:
        touch(tmp_path, f"results/probe/{vid}.json", json.dumps({"ok": True}))
        touch(tmp_path, f"results/frame_index/{vid}.tsv")
    touch(tmp_path, "results/packs/a/a.detections.parquet")
    touch(tmp_path, "results/packs/a/b.failed", "cannot read frame image results/frames_tmp/b/000003.jpg\n")
    touch(tmp_path, "logs/segment_pack/a.log", "INFO pack a: 2 videos\n")
    touch(tmp_path, "logs/segment_pack/c.log", "INFO c chunk 0: 4/10 frames\n")  # killed: no tables, no reason
    for vid in ("e", "f", "g"):  # segmented in pack e
        touch(tmp_path, f"results/packs/e/{vid}.detections.parquet")
    touch(tmp_path, "logs/track_pack/e.log", "INFO pack e: 3 videos tracked; failed: e\n")
    touch(tmp_path, "results/track_packs/e/e.failed", "tracker ran out of ids\n")
    for vid in ("f", "g"):
        touch(tmp_path, f"results/track_packs/e/{vid}.tracks.parquet")
    for path in ("results/tracks/video_id=g/part-0.parquet", "results/videos/g.mp4", "logs/export_pack/e.log"):
        touch(tmp_path, path)  # g: copied and annotated; its pack's export job died before g
    packs = {"a": "a", "b": "a", "c": "c", "d": "d", "e": "e", "f": "e", "g": "e"}
    rows = {row.video: (row.stage, row.status, row.reason)
            for row in write_status(videos, [], root=tmp_path, packs=packs, exported=["mots"]).itertuples()}
    assert rows["a"] == ("track", "not run", "")
    assert rows["b"] == ("segment", "failed", "cannot read frame image results/frames_tmp/b/000003.jpg "
                                             "(log: logs/segment_pack/a.log)")
    assert rows["c"][:2] == ("segment", "failed") and "killed?); log: logs/segment_pack/c.log" in rows["c"][2]
    assert rows["d"] == ("segment", "not run", "")
    assert rows["e"] == ("track", "failed", "tracker ran out of ids (log: logs/track_pack/e.log)")
    assert rows["f"] == ("track", "not run", "")  # the pack tracked it; its own job has not copied the tables
    assert rows["g"][:2] == ("export", "failed") and "killed?); log: logs/export_pack/e.log" in rows["g"][2]


def test_status_rows_for_each_way_a_video_ends(tmp_path):
    ok = {"ok": True}
    touch(tmp_path, "results/probe/bad.json", json.dumps({"ok": False, "reason": "videos/bad.mp4: empty file (0 bytes)"}))
    for vid in ("done", "segfail", "killed", "pending"):
        touch(tmp_path, f"results/probe/{vid}.json", json.dumps(ok))
        touch(tmp_path, f"results/frame_index/{vid}.tsv")
    touch(tmp_path, "results/detections/video_id=done/part-0.parquet")
    touch(tmp_path, "results/tracks/video_id=done/part-0.parquet")
    touch(tmp_path, "results/videos/done.mp4")
    touch(tmp_path, "logs/segment/segfail/0000.log", "INFO started\nERROR FAILED: clip chunk 0: out of memory on a single frame (3)\n")
    touch(tmp_path, "logs/segment/killed/0000.log", "INFO clip chunk 0: 8/60 frames\n")  # no output, no FAILED line
    table = write_status(["bad", "done", "segfail", "killed", "pending", "unprobed"], [], root=tmp_path)
    rows = {row.video: (row.stage, row.status, row.reason) for row in table.itertuples()}
    assert rows["bad"] == ("probe", "failed", "videos/bad.mp4: empty file (0 bytes)")
    assert rows["done"] == ("done", "ok", "")
    assert rows["segfail"] == ("segment", "failed", "clip chunk 0: out of memory on a single frame (3) (log: logs/segment/segfail/0000.log)")
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
    # an evaluated video is done only with its evaluation
    assert write_status(["done"], ["done"], root=tmp_path).stage.tolist() == ["evaluate"]


def _job(tmp_path, body):
    log = tmp_path / "job.log"
    code = f"from vidseg.logs import log_to\nlog = log_to({str(log)!r})\nlog.info('working')\n{body}\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return proc.returncode, log.read_text()


def test_a_job_stopped_by_bad_input_ends_its_log_with_one_failed_line(tmp_path):
    code, text = _job(tmp_path, "from vidseg.errors import VidsegError\nraise VidsegError('videos/a.mp4: no video stream')")
    assert code == 1
    lines = text.splitlines()
    assert len(lines) == 2 and lines[-1].endswith("ERROR FAILED: videos/a.mp4: no video stream")
    assert "Traceback" not in text


def test_a_bug_logs_failed_and_its_traceback(tmp_path):
    code, text = _job(tmp_path, "{}['missing']")
    assert code == 1
    assert "FAILED: KeyError: 'missing' (an internal error; traceback below)" in text and "Traceback" in text
