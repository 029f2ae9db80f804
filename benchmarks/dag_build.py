"""Time Snakemake's dry run (DAG build) for many videos (not a test).

Creates N placeholder video files (never decoded in a dry run) and times
`snakemake --dry-run` twice: before any probe ran, and with every video probed
(placeholder probe results) and the plan job (the checkpoint that writes the
units of work, vidseg.workflow.units) run on them, when every job is known.

    python benchmarks/dag_build.py [--videos 1000] [--frames-per-video 900]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def dry_run(workdir: Path, *args: str) -> tuple[float, str]:
    """Seconds and output of `snakemake --dry-run` on `workdir` (fails loudly on a non-zero exit); `args`
    instead of `--dry-run --quiet rules` runs that instead."""
    args = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), "--cores", "2", *(args or ("--dry-run", "--quiet", "rules"))]
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-2000:] + proc.stderr[-2000:])
    return elapsed, proc.stdout


def placeholder_weights(path: Path, num_classes: int) -> None:
    """The smallest file the workflow's weights check accepts: a classifier layer with `num_classes` outputs."""
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"mrcnn_class_logits"]
        layer = f.create_group("mrcnn_class_logits")
        layer.attrs["weight_names"] = [b"mrcnn_class_logits/kernel:0"]
        layer.create_dataset("mrcnn_class_logits/kernel:0", data=np.zeros((1, num_classes), np.float32))


def placeholder_workflow(work: Path, videos: int) -> list[str]:
    """A work folder with `videos` empty video files (a dry run never decodes them), weights and config; their ids."""
    (work / "videos").mkdir(parents=True)
    placeholder_weights(work / "weights.h5", 81)
    ids = [f"video{i:05d}" for i in range(videos)]
    for video in ids:
        (work / "videos" / f"{video}.mp4").write_bytes(b"")
    config = {"videos": "videos", "model": {"num_classes": 81}, "weights": str(work / "weights.h5")}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return ids


def placeholder_probes(work: Path, ids: list[str], frames_per_video: int) -> None:
    """Probe records, as if every video had been probed with `frames_per_video` frames, then the plan job run on
    them (for real: it only reads the probe records)."""
    probes = work / "results" / "probe"
    probes.mkdir(parents=True, exist_ok=True)
    for video in ids:
        (probes / f"{video}.json").write_text(json.dumps({"ok": True, "n_frames": frames_per_video}))
    dry_run(work, "--until", "plan")


def dag_build_seconds(videos: int, frames_per_video: int) -> tuple[float, float]:
    """Seconds of the dry run before any probe ran, and with every video probed."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ids = placeholder_workflow(work, videos)
        fresh, _ = dry_run(work)
        placeholder_probes(work, ids, frames_per_video)
        probed, _ = dry_run(work)
    return fresh, probed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--frames-per-video", type=int, default=900)
    args = parser.parse_args()
    fresh, probed = dag_build_seconds(args.videos, args.frames_per_video)
    print("| videos | frames/video | dry run, nothing probed (s) | dry run, all probed (s) |")
    print("|---|---|---|---|")
    print(f"| {args.videos} | {args.frames_per_video} | {fresh:.1f} | {probed:.1f} |")


if __name__ == "__main__":
    main()
