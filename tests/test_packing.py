"""Short videos packed into shared frames, segment, track, export and annotate jobs (segment.pack): the same
tables, exports and annotated videos as one job per video, no job per packed video after its probe, reruns of
only the pack a new video joins, and a broken video that costs only itself."""

import re
import shutil
import subprocess

import pandas as pd
import pytest

from conftest import seeded_model
from flow import (MODEL, REPO, SNAKEMAKE, kill_tree, planned_jobs, run_raw, snakemake, wait_for_log_line,
                  write_config)
from media import make_video
from vidseg.packs import plan_packs
from vidseg.plan import PATHS

CLIPS = {"clip_a": 1.0, "clip_b": 0.8, "clip_c": 1.2, "clip_d": 0.5}  # seconds at 10 fps: 10, 8, 12, 5 frames
CHUNK = 32  # the 40-frame video splits into two chunks; the clips go in packs of up to 32 frames


def make_root(root, pack: bool, long: bool = True):
    for name, seconds in CLIPS.items():
        make_video(root / "videos" / f"{name}.mp4", seconds=seconds, audio=name == "clip_a")
    if long:
        make_video(root / "videos" / "long.mp4", seconds=4.0)
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(root / "weights.h5")
    write_config(root, {"segment": {"chunk_size": CHUNK, "pack": pack}})
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same videos run with packing (the default) and with one segment job per video."""
    packed = make_root(tmp_path_factory.mktemp("packed"), True)
    single = make_root(tmp_path_factory.mktemp("single"), False)
    snakemake(packed)
    snakemake(single)
    return packed, single


def tables(root, kind, keys):
    table = pd.read_parquet(root / "results" / kind)
    table["video_id"] = table.video_id.astype(str)
    return table.sort_values(keys).reset_index(drop=True)


def test_packed_runs_give_the_tables_of_one_job_per_video(runs):
    packed, single = runs
    logs = sorted(p.stem for p in (packed / "logs/segment_pack").glob("*.log"))
    members = {p.name: sorted(q.name.split(".")[0] for q in p.glob("*.detections.parquet"))
               for p in (packed / "results/packs").iterdir()}
    assert any(len(videos) >= 3 for videos in members.values()), members  # one model load for 3+ videos
    assert sorted(v for videos in members.values() for v in videos) == sorted(CLIPS)
    assert logs == sorted(members) and not (single / "results/packs").exists()
    assert len(list((packed / "results/chunks/long").glob("*.detections.parquet"))) == 2  # long videos: chunks
    for kind, keys in (("detections", ["video_id", "frame", "instance"]), ("frames", ["video_id", "frame"]),
                       ("tracks", ["video_id", "track_id"])):
        pd.testing.assert_frame_equal(tables(packed, kind, keys), tables(single, kind, keys))
    assert len(tables(packed, "detections", ["video_id"])) > 0
    for kind in ("coco", "mots"):  # the exports, which the packs' export jobs put at the videos' paths
        names = sorted(p.name for p in (single / "results/exports" / kind).iterdir())
        assert names == sorted(p.name for p in (packed / "results/exports" / kind).iterdir()) and len(names) == 5
        for name in names:
            assert (packed / "results/exports" / kind / name).read_bytes() == \
                (single / "results/exports" / kind / name).read_bytes(), name
    for stage in ("frames", "track", "export", "annotate"):  # one job per pack, not per clip
        assert sorted(p.stem for p in (packed / f"logs/{stage}_pack").glob("*.log")) == sorted(members)
        assert not (single / f"logs/{stage}_pack").exists()
    for rule in ("frames", "track", "export_coco", "export_mots", "annotate"):  # after the probe, no job per packed video
        assert [p.stem for p in (packed / "logs" / rule).glob("*.log")] == ["long"], rule
    for name in CLIPS:  # annotated by its pack's job, at its own path; the same video as from a job of its own
        video = packed / "results/videos" / f"{name}.mp4"
        assert video.samefile(packed / "results/annotate_packs" / next(p for p in members if name in members[p])
                              / f"{name}.mp4")
        assert video.read_bytes() == (single / "results/videos" / f"{name}.mp4").read_bytes(), name
    status = pd.read_csv(packed / "results/status.tsv", sep="\t")
    assert set(status.stage) == {"done"} and len(status) == 5


def test_a_new_video_reruns_only_the_pack_it_joins(runs, tmp_path):
    root = tmp_path / "grown"
    shutil.copytree(runs[0], root, symlinks=True)  # its config keeps the first run's weights: nothing to redo
    assert planned_jobs(root) == {}
    make_video(root / "videos" / "clip_bb.mp4", seconds=0.6)
    snakemake(root, "--until", "probe")  # the dry run then knows every frame count
    out = snakemake(root, "--dry-run")
    frames = {**{name: round(s * 10) for name, s in CLIPS.items()}, "clip_bb": 6, "long": 40}
    joined = next(p for p in plan_packs(frames, CHUNK) if "clip_bb" in p.videos)
    planned = re.findall(r"rule (\w+):\n(?:    .*\n)*?    wildcards: (\w+)=([\w.-]+)", out)
    pack_jobs = {(rule, value) for rule, _, value in planned if rule.startswith("segment") or rule.endswith("_pack")}
    assert pack_jobs == {(rule, joined.name) for rule in ("frames_pack", "segment_pack", "track_pack", "export_pack",
                                                              "annotate_pack")}
    assert not [rule for rule, _, _ in planned if rule in ("frames", "track", "annotate", "export_coco", "export_mots")]


def test_a_broken_video_in_a_pack_costs_only_itself(tmp_path):
    root = make_root(tmp_path, True, long=False)  # the clips alone: the packs are what is tested
    write_config(root, {"segment": {"chunk_size": CHUNK}, "frames": {"keep": True}})
    broken = "clip_b"
    assert run_raw(root, "--until", "probe", cores=2).returncode == 0  # the packs are known once the probes ran
    pack = next(p for p in plan_packs({name: round(s * 10) for name, s in CLIPS.items()}, CHUNK) if broken in p.videos)
    frames = PATHS["frames_pack"].format(pack=pack.name)
    assert run_raw(root, frames, cores=2).returncode == 0  # its pack's frames, kept
    (root / frames / f"{broken}.images" / "000003.jpg").write_bytes(b"not a picture")
    proc = run_raw(root, "--resources", "gpu=1", "--keep-going", cores=2)
    assert proc.returncode != 0  # the broken video's later jobs fail, as with any failed video
    status = pd.read_csv(root / "results/status.tsv", sep="\t", dtype=str, keep_default_na=False).set_index("video")
    assert status.loc[broken, "stage"] == "segment" and status.loc[broken, "status"] == "failed"
    assert "000003.jpg" in status.loc[broken, "reason"] and "logs/segment_pack/" in status.loc[broken, "reason"]
    assert (status.drop(index=broken).stage == "done").all()
    detections = tables(root, "detections", ["video_id", "frame"])
    assert set(detections.video_id) <= set(CLIPS) - {broken}
    assert (root / "results/videos/clip_a.mp4").is_file() and not (root / f"results/videos/{broken}.mp4").exists()
    assert "000003.jpg" in (root / "logs/summary.log").read_text()  # the summary fails, as for any failed video


def test_kill_9_inside_a_pack_job_then_rerun_finishes_the_pack(tmp_path):
    """Killed while the second video of a pack runs: the pack's folder is not there (a partial one would be
    taken for done: Snakemake checks for incomplete outputs before it knows the jobs after the probes), so the
    rerun runs the pack again, and the first video gets the tables the killed job had made for it."""
    for name in ("clip_a", "clip_b"):
        make_video(tmp_path / "videos" / f"{name}.mp4", seconds=3.0)  # 30 frames each
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(tmp_path / "weights.h5")
    write_config(tmp_path, {"segment": {"chunk_size": 1800}})
    assert [p.videos for p in plan_packs({"clip_a": 30, "clip_b": 30}, 1800)] == [("clip_a", "clip_b")]
    args = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
            str(tmp_path / "config.yaml"), "--cores", "2", "--resources", "gpu=1"]
    run = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "logs/segment_pack/clip_a.log"
    # the first video's tables are written
    assert wait_for_log_line(run, tmp_path, log, "pack clip_a: clip_a done"), "the run ended before the kill"
    kill_tree(run.pid)
    run.wait()
    assert "pack clip_a: 60/60 frames" not in log.read_text()  # killed inside the pack
    pack = tmp_path / "results/packs/clip_a"
    assert not pack.exists()  # the folder appears whole or not at all: a partial one would pass for done
    partial, = (tmp_path / "results/packs").glob(".clip_a.*.partial")
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
