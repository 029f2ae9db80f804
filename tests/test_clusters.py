"""The cluster profiles: the workflow on a real (one-node) Slurm cluster against the same run done locally,
and the Kubernetes profile's dry run.

The Slurm test needs root and Debian's slurm-wlm and munge; without them it is skipped with the reason, except
where VIDSEG_REQUIRE_SLURM is set (.ci/run sets it), where it fails instead.
"""

import collections
import os
import re
import shutil

import pandas as pd
import pytest
import yaml

from flow import REPO, SNAKEMAKE, Watched, run_watched, snakemake_args
from slurm_cluster import Cluster, missing_requirements

LOCAL_RULES = {"all", "probe", "summary", "sample_video", "download_weights", "demo_video", "demo_dataset"}


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """A one-node Slurm cluster (session-scoped so that `slurm_run` can start before the shared local run)."""
    reason = missing_requirements()
    if reason:
        if os.environ.get("VIDSEG_REQUIRE_SLURM"):
            pytest.fail(f"VIDSEG_REQUIRE_SLURM is set but a Slurm cluster cannot be started: {reason}")
        pytest.skip(reason)
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def slurm_run(cluster, two_video_inputs, tmp_path_factory):
    """The street clip of the shared two-video inputs through the Slurm profile, started in the background: most of
    its minutes are Slurm's and the executor's waits, which the shared local run (`two_video_run`, requested after
    this fixture) fills. Yields the work folder, the running snakemake (flow.Watched) and the jobs Slurm knew before.
    """
    work = tmp_path_factory.mktemp("slurm_work")
    (work / "videos").mkdir()  # one of the two videos (with audio) keeps the run short
    shutil.copy(two_video_inputs / "videos/street clip.mp4", work / "videos")
    config = yaml.safe_load((two_video_inputs / "config.yaml").read_text())  # same seeded weights file
    # its 15 frames in one segment job (two locally): the same batches of 2 frames, so the same tables
    (work / "config.yaml").write_text(yaml.safe_dump({**config, "segment": {**config["segment"], "chunk_size": 16}}))
    args = snakemake_args(work, "--workflow-profile", str(REPO / "profiles/slurm"),
                          # test-only: this cluster keeps no accounting (squeue, no account) and answers at once
                          "--slurm-status-command", "squeue", "--slurm-no-account",
                          "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1",
                          "--retries", "0", "--latency-wait", "5", cores=None)
    before = set(cluster.jobs())
    run = Watched(args, env=cluster.env)
    try:
        yield work, run, before
    finally:
        run.close()


def test_workflow_runs_through_sbatch_with_gpu_requests(cluster, slurm_run, two_video_run):
    work, run, before = slurm_run
    proc = run.result(work)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]

    # every job that is not a local rule went through sbatch, and Slurm ran it to completion
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", out))
    planned = collections.Counter(re.findall(r"^rule (\w+):$", out, re.M))
    jobs = {job_id: fields for job_id, fields in cluster.jobs().items() if job_id not in before}
    assert set(jobs) == set(submitted.values()) and len(jobs) == sum(planned.values())
    by_rule = collections.Counter(re.match(r"rule_(\w+?)_wildcards", fields["Comment"]).group(1)
                                  for fields in jobs.values())
    assert by_rule == planned == {"frames": 1, "segment": 1, "track": 1, "annotate": 1, "export": 1, "plots": 1}
    assert not LOCAL_RULES & set(by_rule)
    assert {fields["JobState"] for fields in jobs.values()} == {"COMPLETED"}

    # the segment jobs, and only they, asked for a GPU, with the profile's CPUs and memory
    for fields in jobs.values():
        gpu_request = fields.get("TresPerJob", "")
        if fields["Comment"].startswith("rule_segment_"):
            assert gpu_request == "gres:gpu:1" and fields["CpusPerTres"] == "gres:gpu:4", fields
            assert fields["MinMemoryNode"] == "16000M" and fields["TimeLimit"] == "04:00:00"
        else:
            assert "gpu" not in gpu_request and fields["MinMemoryNode"] == "4000M", fields

    # same tables as the local run, annotated videos, every video done
    for table in ("detections", "frames"):
        part = f"results/{table}/video_id=street_clip/part-0.parquet"
        pd.testing.assert_frame_equal(pd.read_parquet(work / part), pd.read_parquet(two_video_run / part))
    assert (work / "results/summary.csv").is_file()
    assert (work / "results/videos/street_clip.mp4").stat().st_size > 0
    status = pd.read_csv(work / "results/status.tsv", sep="\t")
    assert list(zip(status.video, status.stage, status.status)) == [("street_clip", "done", "ok")]


def test_kubernetes_profile_plans_the_run(tmp_path):
    """Every key of the profile is one Snakemake and the Kubernetes plugin accept; no cluster needed for a dry run.

    The profile's S3 storage is swapped for the local `fs` provider: a dry run with S3 would ask S3 what exists.
    """
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"videos": "demo", "weights": str(REPO / "models/shapes.h5")}))
    args = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
            str(REPO / "config/config.yaml"), str(tmp_path / "config.yaml"), "--workflow-profile",
            str(REPO / "profiles/kubernetes"), "--default-storage-provider", "fs", "--default-storage-prefix",
            str(tmp_path / "storage"), "--dry-run"]
    proc = run_watched(args, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "profiles/kubernetes" in out and re.search(r"^probe\s+1$", out, re.M) and re.search(r"^demo_video\s+1$", out, re.M)
