"""Segmentation frames/s of the workflow on a machine without a GPU, at 1 core and at every core.

    python benchmarks/cores.py [--videos 2] [--frames 300] [--cores 1 2] [--repeats 2]

Demo videos (the bundled demo model, 256x192) are generated and decoded once by a full run; then,
for each --cores value, only the segment jobs are run again (`--forcerun segment --until segment`,
segment.device cpu): the wall time covers Snakemake's start, every job's model load and the
frames. Prints frames/s per core count, the ratio to the first, and whether the detection tables
equal the first run's. vidseg.inference.threads decides the threads per job (--cores shared among the jobs).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def snakemake(work: Path, cores: int, *extra: str) -> float:
    """Seconds of one snakemake run on `work`; exits with its output if it fails."""
    args = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile",
            str(work / "config.yaml"), "--cores", str(cores), "--resources", "gpu=1", *extra]
    began = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - began


def detections(work: Path) -> pd.DataFrame:
    chunks = sorted((work / "results" / "chunks").rglob("*.detections.parquet"))
    return pd.concat([pd.read_parquet(chunk) for chunk in chunks], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=300, help="frames per video")
    parser.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vidseg-cores-bench-") as tmp:
        work = Path(tmp)
        config = {"videos": "demo", "weights": "demo", "demo": {"videos": args.videos, "frames": args.frames},
                  "frames": {"keep": True}, "segment": {"device": "cpu", "pack": False},
                  "encode": {"preset": "ultrafast"}}
        (work / "config.yaml").write_text(yaml.safe_dump(config))
        snakemake(work, max(args.cores))
        frames = args.videos * args.frames
        first = None
        print(f"{args.videos} demo videos x {args.frames} frames (256x192, demo model), segment jobs only, "
              f"no GPU, {args.repeats} runs each")
        for cores in args.cores:
            seconds = [snakemake(work, cores, "--forcerun", "segment", "--until", "segment")
                       for _ in range(args.repeats)]
            table = detections(work)
            rate = frames / min(seconds)
            if first is None:
                first = (rate, table)
            same = "same tables" if table.equals(first[1]) else "TABLES DIFFER"
            print(f"--cores {cores:2d}: {', '.join(f'{s:.1f}' for s in seconds)} s -> {rate:5.1f} frames/s, "
                  f"{rate / first[0]:.2f}x --cores {args.cores[0]}, {same} ({len(table)} detections)")
        shutil.rmtree(work / "results" / "frames_tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
