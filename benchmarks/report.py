"""How long the HTML report takes to build, and how large it is, for a dataset of many short videos.

    python benchmarks/report.py [--source .] [--video demo_0] [--videos 100] [--jobs 2]

The dataset is one finished video of a real run (`make run` leaves demo_0: 100 frames at 256x192 with
tracks and an evaluation) copied under `--videos` ids, plus two videos failed at the probe; the report
is then built three times as `python -m vidseg.report` (as the end of a run does): from nothing,
again with nothing changed, and after one video's tables changed. Prints wall times, the size of
results/report (the annotated videos are linked, not in it) and one video page's weight (its HTML and
images, what a browser loads before the video streams).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vidseg.report.build import FILES  # noqa: E402
from vidseg.workflow.plan import PATHS  # noqa: E402
from vidseg.workflow.status import COLUMNS  # noqa: E402


def make_dataset(source: Path, video: str, count: int, root: Path) -> None:
    """`count` copies of `video`'s results from the run in `source` (ids clip_000, ...) and two failed videos."""
    ids = [f"clip_{i:03d}" for i in range(count)]
    for clip in ids:
        for kind in FILES:  # every file of the video the report reads or links
            src = source / PATHS[kind].format(video=video)
            if src.is_file():
                dst = root / PATHS[kind].format(video=clip)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
    summary = pd.read_csv(source / PATHS["summary"])
    one = summary[summary.video_id == video]
    pd.concat([one.assign(video_id=clip) for clip in ids]).to_csv(root / PATHS["summary"], index=False)
    rows = [[clip, "done", "ok", "", ""] for clip in ids]
    rows += [[f"broken_{i}", "probe", "failed", "ffprobe cannot read the file: Invalid data found", ""] for i in range(2)]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(root / PATHS["status"], sep="\t", index=False)


def build(root: Path, jobs: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vidseg.report", "--root", str(root), "--jobs", str(jobs)], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def folder_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO, help="a finished run's folder (default: the repo)")
    parser.add_argument("--video", default="demo_0")
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not (args.source / PATHS["detections"].format(video=args.video)).is_file():
        print(f"report benchmark: no tables of {args.video} in {args.source}; run the workflow first (make run)")
        return
    with tempfile.TemporaryDirectory(prefix="vidseg-report-bench-") as tmp:
        root = Path(tmp)
        make_dataset(args.source, args.video, args.videos, root)
        cold = build(root, args.jobs)
        warm = build(root, args.jobs)
        changed = root / PATHS["detections"].format(video="clip_000")
        os.utime(changed)
        one = build(root, args.jobs)
        report = root / Path(PATHS["report"]).parent
        sheets = sorted(report.rglob("contact_sheet.png"))
        print(f"{args.videos} videos (copies of {args.video}) + 2 failed, {args.jobs} processes, {os.cpu_count()} cores")
        print(f"report from nothing:       {cold:6.1f} s")
        print(f"rebuilt, nothing changed:  {warm:6.1f} s")
        print(f"rebuilt, one video changed:{one:6.1f} s")
        print(f"results/report size:       {folder_mib(report):6.1f} MiB "
              f"(contact sheets {sum(p.stat().st_size for p in sheets) / 2**20:.1f} MiB; annotated videos linked: "
              f"{folder_mib(root / Path(PATHS['annotated']).parent):.1f} MiB beside it)")
        page = root / PATHS["report_video"].format(video="clip_000")
        images = sorted((root / PATHS["report_assets"].format(video="clip_000")).glob("*.png"))
        kib = {"page": page.stat().st_size / 1024, "images": sum(p.stat().st_size for p in images) / 1024}
        video = (root / PATHS["annotated"].format(video="clip_000")).stat().st_size / 1024
        print(f"one video's page weight:   {kib['page'] + kib['images']:6.0f} KiB (the HTML {kib['page']:.0f} KiB, "
              f"{len(images)} images {kib['images']:.0f} KiB; its annotated video {video:.0f} KiB, streamed)")


if __name__ == "__main__":
    main()
