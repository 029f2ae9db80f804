"""The run's status table: per video, how far it got and, where it failed, why.

`results/status.tsv` has the columns video, stage, status, reason. A video
that reached the end reads `done  ok`; one that failed names the stage and the
one-line reason from that job's log; one whose jobs did not run (an earlier
stage failed elsewhere, or the run stopped) reads `not run`. Written at the
end of every run, successful or not, from the files the stages leave.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from vidseg.atomic import atomic_path
from vidseg.errors import FAILED_MARK

COLUMNS = ["video", "stage", "status", "reason"]


def stages(video: str, evaluated: bool) -> list[tuple[str, list[str], str, str]]:
    """(stage, files that prove it done, log glob, output of each log with `{stem}`) in workflow order.

    Later outputs prove earlier stages too (the frames are temporary).
    """
    table = f"results/detections/video_id={video}/part-0.parquet"
    annotated = f"results/videos/{video}.mp4"
    out = [
        ("frames", [f"results/frame_index/{video}.tsv"], f"logs/frames/{video}.log", f"results/frame_index/{video}.tsv"),
        ("segment", [table], f"logs/segment/{video}/*.log", f"results/chunks/{video}/{{stem}}.detections.parquet"),
        ("tables", [table], f"logs/video_tables/{video}.log", table),
        ("annotate", [annotated], f"logs/annotate/{video}.log", annotated),
    ]
    if evaluated:
        out.append(("evaluate", [f"results/eval/{video}.json"], f"logs/evaluate/{video}.log", f"results/eval/{video}.json"))
    return out


def failure_in(log: Path) -> str | None:
    """The reason on the last `FAILED: ` line of a log, if any."""
    failed = [line.split(FAILED_MARK, 1)[1] for line in log.read_text(errors="replace").splitlines() if FAILED_MARK in line]
    return failed[-1] if failed else None


def video_status(root: Path, video: str, evaluated: bool) -> dict[str, str]:
    def row(stage: str, status: str, reason: str = "") -> dict[str, str]:
        return {"video": video, "stage": stage, "status": status, "reason": reason}

    probe_json = root / "results" / "probe" / f"{video}.json"
    if not probe_json.is_file():
        return row("probe", "not run")
    record = json.loads(probe_json.read_text())
    if not record.get("ok", True):
        return row("probe", "failed", record.get("reason", ""))
    for stage, proofs, log_glob, output in stages(video, evaluated):
        if any((root / proof).exists() for proof in proofs):
            continue
        logs = sorted(root.glob(log_glob))
        for log in logs:
            reason = failure_in(log)
            if reason is not None:
                return row(stage, "failed", f"{reason} (log: {log.relative_to(root)})")
        for log in logs:
            if not (root / output.format(stem=log.stem)).exists():
                return row(stage, "failed", f"the job stopped without an error message (killed?); log: {log.relative_to(root)}")
        if not logs:
            return row(stage, "not run")
    return row("done", "ok")


def write_status(videos: Iterable[str], evaluated: Iterable[str], path: str | Path = "results/status.tsv",
                 root: str | Path = ".") -> pd.DataFrame:
    """Write the status table for `videos` (those in `evaluated` also need their evaluation); returns it."""
    root = Path(root)
    evaluated = set(evaluated)
    table = pd.DataFrame([video_status(root, v, v in evaluated) for v in videos], columns=COLUMNS)
    with atomic_path(root / path, suffix=".tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table


def describe(table: pd.DataFrame, path: str | Path = "results/status.tsv") -> str:
    """One line for the end of a run: how many videos are done, failed, not run."""
    counts = table["status"].value_counts()
    failed = table[table["status"] == "failed"]
    line = (f"{counts.get('ok', 0)} of {len(table)} videos done, {counts.get('failed', 0)} failed, "
            f"{counts.get('not run', 0)} not run; see {path}")
    for row in failed.itertuples():
        line += f"\n  {row.video}: failed at {row.stage}: {row.reason}"
    return line
