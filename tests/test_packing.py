"""Short videos packed into shared segment jobs (units of work, segment.pack): a broken video that costs only
itself, and a unit killed midway. (A packed run's tables against one job per video, and the reruns of the units a
changed and a new video are in: tests/test_storage.py, which runs them on S3.)"""

import subprocess

import pandas as pd

from conftest import seeded_model
from flow import MODEL, REPO, SNAKEMAKE, kill_tree, run_raw, snakemake, wait_for_log_line, write_config
from media import CLIPS, make_clips, make_video
from vidseg.workflow.plan import PATHS
from vidseg.workflow.units import plan_units

CHUNK = 32  # the 40-frame video splits into two chunks; the clips go in packs of up to 32 frames


def make_root(root, pack: bool, long: bool = True):
    make_clips(root / "videos", long)
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(root / "weights.h5")
    write_config(root, {"segment": {"chunk_size": CHUNK, "pack": pack}})
    return root


def tables(root, kind, keys):
    table = pd.read_parquet(root / "results" / kind)
    table["video_id"] = table.video_id.astype(str)
    return table.sort_values(keys).reset_index(drop=True)


def test_a_broken_video_in_a_pack_costs_only_itself(tmp_path):
    root = make_root(tmp_path, True, long=False)  # the clips alone: the packs are what is tested
    write_config(root, {"segment": {"chunk_size": CHUNK}, "frames": {"keep": True}})
    broken = "clip_b"
    frames = PATHS["frames"].format(video=broken)
    assert run_raw(root, frames, cores=2).returncode == 0  # its frames, kept
    (root / frames / "000003.jpg").write_bytes(b"not a picture")
    proc = run_raw(root, "--resources", "gpu=1", "--keep-going", cores=2)
    assert proc.returncode != 0  # the broken video's later jobs fail, as with any failed video
    unit = next(u for u in plan_units({name: round(s * 10) for name, s in CLIPS.items()}, CHUNK) if broken in u.videos)
    assert len(unit.videos) > 1
    status = pd.read_csv(root / "results/status.tsv", sep="\t", dtype=str, keep_default_na=False).set_index("video")
    assert status.loc[broken, "stage"] == "segment" and status.loc[broken, "status"] == "failed"
    assert "000003.jpg" in status.loc[broken, "reason"]
    assert f"logs/segment/{unit.name}.log" in status.loc[broken, "reason"]
    assert (status.drop(index=broken).stage == "done").all()
    detections = tables(root, "detections", ["video_id", "frame"])
    assert set(detections.video_id) == set(CLIPS) - {broken}
    assert (root / "results/videos/clip_a.mp4").is_file() and not (root / f"results/videos/{broken}.mp4").exists()
    assert "000003.jpg" in (root / f"logs/track/{broken}.log").read_text()  # its track job fails with the reason


def test_kill_9_inside_a_pack_job_then_rerun_finishes_the_pack(tmp_path):
    """Killed while the second video of a pack runs: the pack's folder is not there (a partial one would be
    taken for done: Snakemake checks for incomplete outputs before it knows the jobs after the probes), so the
    rerun runs the pack again, and the first video gets the tables the killed job had made for it."""
    for name in ("clip_a", "clip_b"):
        make_video(tmp_path / "videos" / f"{name}.mp4", seconds=3.0)  # 30 frames each
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(tmp_path / "weights.h5")
    write_config(tmp_path, {"segment": {"chunk_size": 1800}})
    assert [u.videos for u in plan_units({"clip_a": 30, "clip_b": 30}, 1800)] == [("clip_a", "clip_b")]
    args = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
            str(tmp_path / "config.yaml"), "--cores", "2", "--resources", "gpu=1"]
    run = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "logs/segment/clip_a.0000.log"
    # the first video's tables are written
    assert wait_for_log_line(run, tmp_path, log, "unit clip_a.0000: clip_a done"), "the run ended before the kill"
    kill_tree(run.pid)
    run.wait()
    assert "unit clip_a.0000: 60/60 frames" not in log.read_text()  # killed inside the pack
    pack = tmp_path / "results/units/clip_a.0000"
    assert not pack.exists()  # the folder appears whole or not at all: a partial one would pass for done
    partial, = (tmp_path / "results/units").glob(".clip_a.0000.*.partial")
    assert not (partial / "clip_b.detections.parquet").exists()
    before = pd.read_parquet(partial / "clip_a.detections.parquet")  # what the killed job had done
    assert run_raw(tmp_path, "--unlock").returncode == 0
    snakemake(tmp_path, "--rerun-incomplete")
    pd.testing.assert_frame_equal(pd.read_parquet(pack / "clip_a.detections.parquet"), before)
    assert not partial.exists()
    frames = tables(tmp_path, "frames", ["video_id", "frame"])
    assert frames.groupby("video_id").size().to_dict() == {"clip_a": 30, "clip_b": 30}
    status = pd.read_csv(tmp_path / "results/status.tsv", sep="\t")
    assert set(status.stage) == {"done"}
