"""Running the workflow from tests: snakemake on a work folder with its own config.yaml, as a user would."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from vidseg.workflow.plan import PATHS

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# The workflow tests' model: COCO's 81 classes and ResNet-50 at 64 px, with narrower heads than matterport's (mask
# head 64 channels, classifier 256): a quarter of the time per frame of full-width heads, which at this image size
# are most of it. Full-width heads are in the model tests and test_workflow's 81-class COCO-config run.
MODEL = dict(name="tiny", num_classes=81, backbone="resnet50", image_min_dim=64, image_max_dim=64, images_per_gpu=2,
             detection_min_confidence=0.5, pre_nms_limit=1000, post_nms_rois_inference=200, detection_max_instances=20,
             mask_head_conv_size=64, fpn_classif_fc_layers_size=256)


def snakemake(workdir: Path, *extra: str) -> str:
    """Run the workflow as a user would (2 cores, 1 GPU slot); fail the test on a non-zero exit."""
    proc = run_raw(workdir, "--resources", "gpu=1", *extra, cores=2)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def planned_jobs(workdir: Path) -> dict[str, int]:
    """Job counts per rule of a dry run ({} when nothing is to be done)."""
    return job_counts(snakemake(workdir, "--dry-run"))


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Job counts per rule in the output of a dry run ({} when nothing is to be done)."""
    if "Nothing to be done" in dry_run_output:
        return {}
    stats = dry_run_output.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m.group(1) != "total"}


def write_config(workdir: Path, top: dict | None = None, **model_overrides) -> None:
    """The test workflow's config.yaml: `model:` keys over MODEL's, other top-level keys from `top`."""
    config = {"videos": "videos", "model": {**MODEL, **model_overrides}, "weights": str(workdir / "weights.h5"),
              "frames": {"keep": True}, "segment": {"chunk_size": 8}, "encode": {"preset": "ultrafast"}, **(top or {})}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def snakemake_args(workdir: Path, *extra: str, cores: int | None = 1) -> list[str]:
    """The command line of snakemake on `workdir` with its config.yaml (`cores` None: no --cores, as for a cluster
    executor)."""
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
            str(workdir / "config.yaml"), *(["--cores", str(cores)] if cores is not None else []), *extra]


def run_raw(workdir: Path, *extra: str, cores: int = 1) -> subprocess.CompletedProcess:
    """snakemake on `workdir` with its config.yaml."""
    return run_watched(snakemake_args(workdir, *extra, cores=cores), workdir)


class Watched:
    """`args` started in the background, its stdout and stderr kept; `result` waits for its end."""

    def __init__(self, args: list[str], env: dict | None = None):
        self.args = args
        self.out, self.err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.run = subprocess.Popen(args, env=env, stdout=self.out, stderr=self.err, text=True)

    def result(self, folder: Path) -> subprocess.CompletedProcess:
        """The run's end however long the machine takes, failing on a hang (`wait_for_progress` on `folder`);
        stdout and stderr in the result."""
        try:
            wait_for_progress(self.run, folder, lambda: False, poll_s=0.1)
            self.out.seek(0)
            self.err.seek(0)
            return subprocess.CompletedProcess(self.args, self.run.wait(), self.out.read(), self.err.read())
        finally:
            self.close()

    def close(self) -> None:
        """End the run (and whatever it started) if it still runs; drop its output."""
        if self.run.poll() is None:
            kill_tree(self.run.pid)
            self.run.wait()
        self.out.close()
        self.err.close()


def run_watched(args: list[str], folder: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `args` to its end however long the machine takes, failing on a hang (`wait_for_progress` on `folder`);
    stdout and stderr in the result."""
    return Watched(args, env).result(folder)


def output_times(workdir: Path) -> dict[str, int]:
    """Modification times of every result file (not the kept frame images, nor status.tsv and the report's index:
    every run rewrites them)."""
    results = workdir / "results"
    return {str(p.relative_to(workdir)): p.stat().st_mtime_ns for p in results.rglob("*")
            if p.is_file() and not {"frames_tmp"} & set(p.parts) and p.name != "status.tsv" and p != workdir / PATHS["report"]}


STALL_S = 900  # a run whose folder has not changed for this long hangs: no job on any machine is that slow


def _newest_change(folder: Path) -> float:
    """The latest modification time of anything under `folder` (its jobs' logs, Snakemake's, results)."""
    newest = 0.0
    try:
        for path in folder.rglob("*"):
            newest = max(newest, path.lstat().st_mtime)
    except OSError:  # a file or folder went away while we looked: that is a change
        return time.time()
    return newest


def wait_for_progress(run: subprocess.Popen, folder: Path, done, poll_s: float = 0.02) -> bool:
    """Poll until `done()` is true (True) or `run` has ended (False), however long the machine takes; fail when
    nothing under `folder` changed for STALL_S seconds (a hang) after ending the run."""
    newest, progressed, checked = _newest_change(folder), time.monotonic(), time.monotonic()
    while run.poll() is None:
        if done():
            return True
        time.sleep(poll_s)
        if time.monotonic() - checked > 5:  # the tree walk is not for every poll
            changed, checked = _newest_change(folder), time.monotonic()
            if changed != newest:
                newest, progressed = changed, checked
            elif checked - progressed > STALL_S:
                kill_tree(run.pid)
                raise AssertionError(f"nothing under {folder} changed for {STALL_S} s: the run hangs")
    return False


def wait_for_log_line(run: subprocess.Popen, folder: Path, log: Path, line: str) -> bool:
    """`wait_for_progress` until `log` holds `line`: True when it did while `run` still ran."""
    return wait_for_progress(run, folder, lambda: log.is_file() and line in log.read_text())


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (found through /proc), whatever their process group."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
