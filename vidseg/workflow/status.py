"""The run's status table: per video, how far it got and, where it failed, why.

`results/status.tsv` has the columns video, stage, status, reason, note. A video
that reached the end reads `done  ok`; one that failed names the stage and the
one-line reason from that job's log; one whose jobs did not run (an earlier
stage failed elsewhere, or the run stopped) reads `not run`. Written at the
end of every run, successful or not, from the files the stages leave (paths
and stages from the run plan, `vidseg.workflow.plan`). `note` warns about results that
are complete but likely wrong (the demo model on other videos).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping, Protocol, Sequence

import pandas as pd

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import FAILED_MARK
from vidseg.inference.unit import FAILURE_SUFFIX, TABLES, member_path
from vidseg.media.frames import FAILED_INDEX
from vidseg.workflow.plan import LOGS, PATHS, stages
from vidseg.workflow.units import UnitPlan, read_plan

COLUMNS = ["video", "stage", "status", "reason", "note"]


class RunFiles(Protocol):
    """The files of a run as the status table reads them, by their paths in the run (PATHS, LOGS)."""

    def exists(self, path: str) -> bool: ...

    def text(self, path: str) -> str | None:
        """The file's text, or None where there is no such file."""


class LocalFiles:
    """A run's files in the folder `root` (its working directory)."""

    def __init__(self, root: str | Path = "."):
        self.root = Path(root)

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()

    def text(self, path: str) -> str | None:
        file = self.root / path
        return file.read_text(errors="replace") if file.is_file() else None


class StoredFiles:
    """A run's files in remote storage: a Snakemake storage provider (`--default-storage-provider`) and the run's
    prefix there (`--default-storage-prefix`). A file read is fetched to a temporary folder, not to Snakemake's
    local copies (in Snakemake 9.27 a stale local copy of an output stops the next run that remakes it)."""

    def __init__(self, provider, prefix: str):
        self.provider = provider
        self.prefix = prefix.rstrip("/")

    def object(self, path: str):
        return self.provider.object(f"{self.prefix}/{path}")

    def exists(self, path: str) -> bool:
        return self.object(path).exists()

    def text(self, path: str) -> str | None:
        import tempfile

        stored = self.object(path)
        if not stored.exists():
            return None
        with tempfile.TemporaryDirectory() as tmp:
            stored.set_local_path(Path(tmp) / "file")
            stored.retrieve_object()
            return (Path(tmp) / "file").read_text(errors="replace")

    def store(self, path: str) -> None:
        """The file at `path` here stored at `path` under the prefix."""
        stored = self.object(path)
        stored.set_local_path(Path(path))
        stored.store_object()


def failed_line(text: str) -> str | None:
    """The reason on the last `FAILED: ` line of a log's text, if any."""
    failed = [line.split(FAILED_MARK, 1)[1] for line in text.splitlines() if FAILED_MARK in line]
    return failed[-1] if failed else None


def failure_in(log: Path) -> str | None:
    """The reason on the last `FAILED: ` line of a log, if any."""
    return failed_line(log.read_text(errors="replace"))


def video_status(files: RunFiles, video: str, evaluated: bool, note: str = "", exported: Sequence[str] = (),
                 plan: UnitPlan | None = None) -> dict[str, str]:
    """`video`'s row; `plan`: the run's units (the plan job's file), None before the plan job wrote them."""
    def row(stage: str, status: str, reason: str = "") -> dict[str, str]:
        return {"video": video, "stage": stage, "status": status, "reason": reason, "note": note}

    probe = files.text(PATHS["probe"].format(video=video))
    if probe is None:
        return row("probe", "not run")
    record = json.loads(probe)
    if not record.get("ok", True):
        return row("probe", "failed", record.get("reason", ""))
    for stage in stages(evaluated, exported):
        if stage.rule == "segment":
            if plan is None:  # the plan job did not run, or failed
                return row(stage.name, *(job_failure(files, None, LOGS["plan"]) or ("not run",)))
            for unit in plan.units_of(video):
                folder = stage.output.format(unit=unit)
                if files.exists(member_path(folder, video, TABLES["detections"])):
                    continue
                noted = files.text(member_path(folder, video, FAILURE_SUFFIX))  # the unit's job gave up on it
                failed = ("failed", f"{noted.strip()} (log: {LOGS['segment'].format(unit=unit)})") if noted else \
                    job_failure(files, None, LOGS["segment"].format(unit=unit))
                return row(stage.name, *failed)
            continue
        output, log = stage.output.format(video=video), LOGS[stage.rule].format(video=video)
        if stage.rule == "frames":  # the frame index of a video that could not be decoded says why
            index = files.text(output)
            if index is not None and index.startswith(FAILED_INDEX):
                return row(stage.name, "failed", f"{index[len(FAILED_INDEX):].strip()} (log: {log})")
        failed = job_failure(files, output, log)
        if failed is not None:
            return row(stage.name, *failed)
    return row("done", "ok")


def job_failure(files: RunFiles, output: str | None, log: str) -> tuple[str, ...] | None:
    """None where the job that writes `output` (logging to `log`) is done; else (status, reason): the last
    `FAILED: ` line of its log, or that it stopped without one (killed), or ("not run",)."""
    if output is not None and files.exists(output):
        return None
    text = files.text(log)
    if text is None:
        return ("not run",)
    reason = failed_line(text)
    if reason is not None:
        return "failed", f"{reason} (log: {log})"
    return "failed", f"the job stopped without an error message (killed?); log: {log}"


def write_status(videos: Iterable[str], evaluated: Iterable[str], path: str | Path = PATHS["status"],
                 root: str | Path = ".", notes: Mapping[str, str] | None = None, exported: Sequence[str] = (),
                 units: str | Path | None = None, files: RunFiles | None = None) -> pd.DataFrame:
    """Write the status table for `videos` to `path` under `root` (those in `evaluated` also need their evaluation;
    every video needs its exports in the formats `exported`, vidseg.workflow.plan.exports); returns it.

    `notes` are warnings per video for the `note` column (e.g. a model that does not fit the videos). The run's
    files are read under `root`, or from `files` (a run in remote storage). Which units each video's segment jobs
    ran comes from the plan job's file (`units`; default: under `root`).
    """
    root = Path(root)
    evaluated = set(evaluated)
    notes = notes or {}
    units = Path(units) if units is not None else root / PATHS["units"]
    plan = read_plan(units) if units.is_file() else None
    files = files or LocalFiles(root)
    table = pd.DataFrame([video_status(files, v, v in evaluated, notes.get(v, ""), exported, plan)
                          for v in videos], columns=COLUMNS)
    with atomic_path(root / path, suffix=".tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table


def describe(table: pd.DataFrame, path: str | Path = PATHS["status"]) -> str:
    """One line for the end of a run: how many videos are done, failed, not run; then each failure, and each
    distinct note once with the number of videos it concerns."""
    counts = table["status"].value_counts()
    failed = table[table["status"] == "failed"]
    line = (f"{counts.get('ok', 0)} of {len(table)} videos done, {counts.get('failed', 0)} failed, "
            f"{counts.get('not run', 0)} not run; see {path}")
    for row in failed.itertuples():
        line += f"\n  {row.video}: failed at {row.stage}: {row.reason}"
    notes = table["note"][table["note"] != ""] if "note" in table else pd.Series([], dtype=str)
    for note, count in notes.value_counts(sort=False).items():
        line += f"\n  note ({count} {'video' if count == 1 else 'videos'}): {note}"
    return line
