"""Many short clips: the whole workflow on N short clips with packing (segment.pack, the default) and without,
against the same frames as one long video, side by side in one run (not a test).

    python benchmarks/short_clips.py [--clips 200] [--seconds 3] [--fps 10] [--cores 2] [--setups long,packed,single]
        [--keep DIR]

Clips: 160x120 test patterns (each its own hue, so no two are alike) with AAC audio; the long video is the
clips joined end to end (stream copy: the same frames, so the model sees the same images and finds the same
objects in both runs). The demo model, no GPU. Prints per setup: the whole run's wall time, the segment
jobs' count and their summed seconds (Snakemake's benchmark files), and the ratios to the long video.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def make_clip(path: Path, seconds: float, fps: int, hue: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=160x120:rate={fps}:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency={200 + hue}:duration={seconds}", "-vf", f"hue=h={hue}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                   check=True)


def join(clips: list[Path], out: Path) -> None:
    """`clips` end to end in one video, streams copied (ffmpeg's concat demuxer)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{clip}'\n" for clip in clips))
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(out)], check=True)


def run(work: Path, cores: int) -> float:
    args = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile",
            str(work / "config.yaml"), "--cores", str(cores), "--resources", "gpu=1"]
    began = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake failed in {work}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - began


def segment_jobs(work: Path) -> tuple[int, float]:
    """How many segment jobs ran and their summed wall seconds (results/benchmarks/segment*)."""
    files = list((work / "results" / "benchmarks").glob("segment*/**/*.tsv"))
    return len(files), sum(float(pd.read_csv(f, sep="\t")["s"].iloc[0]) for f in files)


def setup(root: Path, name: str, videos: list[Path], pack: bool) -> Path:
    work = root / name
    (work / "videos").mkdir(parents=True)
    for video in videos:
        (work / "videos" / video.name).symlink_to(video)
    config = {"videos": "videos", "weights": str(REPO / "models" / "shapes.h5"),
              "segment": {"device": "cpu", "pack": pack}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--setups", default="long,packed,single",
                        help="which runs, comma-separated (the long video always runs: the ratios are to it)")
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it (logs, per-job benchmarks)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vidseg-clips-bench-") as tmp:
        root = args.keep or Path(tmp)
        clips = [root / "clips" / f"clip_{i:04d}.mp4" for i in range(args.clips)]
        for i, clip in enumerate(clips):
            make_clip(clip, args.seconds, args.fps, i * 37 % 360)
        long = root / "long" / "long.mp4"
        join(clips, long)
        frames = round(args.seconds * args.fps) * args.clips
        print(f"{args.clips} clips of {args.seconds:g} s at {args.fps} fps (160x120, {frames} frames), demo model, "
              f"--cores {args.cores}, no GPU")
        results = {}
        wanted = {"long"} | set(args.setups.split(","))
        for key, name, videos, pack in (("long", "one long video", [long], True),
                                        ("packed", "clips, packed", clips, True),
                                        ("single", "clips, one job each", clips, False)):
            if key not in wanted:
                continue
            work = setup(root, name.replace(" ", "_").replace(",", ""), videos, pack)
            seconds = run(work, args.cores)
            jobs, segment_seconds = segment_jobs(work)
            results[name] = (seconds, segment_seconds)
            base = results["one long video"]
            print(f"  {name:20s} whole run {seconds:7.1f} s ({seconds / base[0]:.2f}x); {jobs:4d} segment jobs, "
                  f"{segment_seconds:7.1f} job-s ({segment_seconds / base[1]:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
