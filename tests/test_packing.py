"""Short videos packed into shared segment jobs (units of work, segment.pack): a pack with a broken video, killed
midway and rerun. (A packed run's tables against one job per video, and the reruns of the units a changed and a
new video are in: tests/test_storage.py, which runs them on S3.)"""

import subprocess

import pandas as pd
import pyarrow.parquet as pq

from conftest import seeded_model
from flow import MODEL, kill_tree, run_raw, snakemake_args, wait_for_log_line, write_config
from media import make_video
from vidseg.workflow.plan import PATHS
from vidseg.workflow.units import plan_units

CLIP_FRAMES = {"clip_a": 20, "clip_b": 20, "clip_c": 40}  # at 10 fps: one pack (clip_c: time to kill the job in)
BROKEN = "clip_b"


def tables(root, kind, keys):
    table = pd.read_parquet(root / "results" / kind)
    table["video_id"] = table.video_id.astype(str)
    return table.sort_values(keys).reset_index(drop=True)


def test_a_pack_with_a_broken_video_killed_midway_then_rerun(tmp_path):
    """One pack of three clips; the second has a frame that does not decode. The run is killed (kill -9 on the
    whole process tree, as a power cut would) once the pack's job has finished the first clip: the pack's folder
    is not there (a partial one would be taken for done: Snakemake checks for incomplete outputs before it knows
    the jobs after the probes), and whatever table exists is whole. The rerun that Snakemake directs (--unlock,
    then --rerun-incomplete) runs the pack again: the first clip gets the tables the killed job had made for it,
    the third completes, and the broken clip costs only itself: its later jobs fail, and results/status.tsv
    names the segment stage, the frame and the pack's log."""
    root = tmp_path
    for name, frames in CLIP_FRAMES.items():
        make_video(root / "videos" / f"{name}.mp4", seconds=frames / 10, audio=name == "clip_a")
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(root / "weights.h5")
    write_config(root, {"segment": {"chunk_size": 1800}, "frames": {"keep": True}})
    (unit,) = plan_units(CLIP_FRAMES, 1800)
    assert unit.videos == tuple(CLIP_FRAMES) and unit.name == "clip_a.0000"
    frames = PATHS["frames"].format(video=BROKEN)
    assert run_raw(root, frames, cores=2).returncode == 0  # its frames, kept
    (root / frames / "000003.jpg").write_bytes(b"not a picture")

    run = subprocess.Popen(snakemake_args(root, "--resources", "gpu=1", cores=2), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    log = root / f"logs/segment/{unit.name}.log"
    assert wait_for_log_line(run, root, log, f"unit {unit.name}: clip_a done"), "the run ended before the kill"
    kill_tree(run.pid)
    run.wait()
    assert f"unit {unit.name}: clip_c done" not in log.read_text()  # killed inside the pack
    pack = root / "results/units" / unit.name
    assert not pack.exists()  # the folder appears whole or not at all: a partial one would pass for done
    partial, = (root / "results/units").glob(f".{unit.name}.*.partial")
    assert not (partial / "clip_c.detections.parquet").exists()
    for path in (root / "results").rglob("*.parquet"):
        pq.read_table(path)  # whatever exists is complete
    before = pd.read_parquet(partial / "clip_a.detections.parquet")  # what the killed job had done

    assert run_raw(root, "--unlock").returncode == 0
    proc = run_raw(root, "--resources", "gpu=1", "--rerun-incomplete", "--keep-going", cores=2)
    assert proc.returncode != 0  # the broken video's later jobs fail, as with any failed video
    pd.testing.assert_frame_equal(pd.read_parquet(pack / "clip_a.detections.parquet"), before)
    assert not partial.exists() and not list((root / "results").rglob(".*.tmp"))  # nothing left behind
    status = pd.read_csv(root / "results/status.tsv", sep="\t", dtype=str, keep_default_na=False).set_index("video")
    assert status.loc[BROKEN, "stage"] == "segment" and status.loc[BROKEN, "status"] == "failed"
    assert "000003.jpg" in status.loc[BROKEN, "reason"]
    assert f"logs/segment/{unit.name}.log" in status.loc[BROKEN, "reason"]
    assert (status.drop(index=BROKEN).stage == "done").all()
    assert "000003.jpg" in (root / f"logs/track/{BROKEN}.log").read_text()  # its track job fails with the reason
    frames = tables(root, "frames", ["video_id", "frame"])
    assert frames.groupby("video_id").size().to_dict() == {"clip_a": 20, "clip_c": 40}
    assert set(tables(root, "detections", ["video_id", "frame"]).video_id) == {"clip_a", "clip_c"}
    assert (root / "results/videos/clip_a.mp4").is_file() and not (root / f"results/videos/{BROKEN}.mp4").exists()
