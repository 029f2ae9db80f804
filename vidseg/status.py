"""The run's status table: per video, how far it got and, where it failed, why.

`results/status.tsv` has the columns video, stage, status, reason, note. A video
that reached the end reads `done  ok`; one that failed names the stage and the
one-line reason from that job's log; one whose jobs did not run (an earlier
stage failed elsewhere, or the run stopped) reads `not run`. Written at the
end of every run, successful or not, from the files the stages leave (paths
and stages from the run plan, `vidseg.plan`). `note` warns about results that
are complete but likely wrong (the demo model on other videos).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from vidseg.atomic import atomic_path
from vidseg.errors import FAILED_MARK
from vidseg.packs import FAILURE_SUFFIX, PACKED, member_path
from vidseg.plan import LOGS, PATHS, stages

COLUMNS = ["video", "stage", "status", "reason", "note"]


def failure_in(log: Path) -> str | None:
    """The reason on the last `FAILED: ` line of a log, if any."""
    failed = [line.split(FAILED_MARK, 1)[1] for line in log.read_text(errors="replace").splitlines() if FAILED_MARK in line]
    return failed[-1] if failed else None


def video_status(root: Path, video: str, evaluated: bool, note: str = "", exported: Sequence[str] = (),
                 pack: str | None = None) -> dict[str, str]:
    """`video`'s row; `pack`: the pack it is segmented in (vidseg.packs), if any."""
    def row(stage: str, status: str, reason: str = "") -> dict[str, str]:
        return {"video": video, "stage": stage, "status": status, "reason": reason, "note": note}

    probe_json = root / PATHS["probe"].format(video=video)
    if not probe_json.is_file():
        return row("probe", "not run")
    record = json.loads(probe_json.read_text())
    if not record.get("ok", True):
        return row("probe", "failed", record.get("reason", ""))
    for stage in stages(evaluated, exported):
        if (root / stage.proof.format(video=video)).exists():
            continue
        if stage.pack is not None and pack is not None:
            failed = packed_failure(root, video, pack, *stage.pack)
            if failed is not None:
                return row(stage.name, *failed)
            if stage.rule == "segment":  # its tables stay in the pack's folder; later pack jobs put theirs at the
                continue  # videos' own paths (the proofs)
        logs = sorted(root.glob(LOGS[stage.rule].format(video=video, chunk="*")))
        for log in logs:
            reason = failure_in(log)
            if reason is not None:
                return row(stage.name, "failed", f"{reason} (log: {log.relative_to(root)})")
        for log in logs:
            if not (root / stage.output.format(video=video, chunk=log.stem)).exists():
                return row(stage.name, "failed", f"the job stopped without an error message (killed?); log: {log.relative_to(root)}")
        if not logs:
            return row(stage.name, "not run")
    return row("done", "ok")


def packed_failure(root: Path, video: str, pack: str, rule: str, kind: str) -> tuple[str, str] | None:
    """(status, reason) of a video whose pack job (`rule`, vidseg.packs) has not written its file of `kind`;
    None where it has."""
    log = LOGS[rule].format(pack=pack)
    folder = PATHS[rule].format(pack=pack)
    failure = root / member_path(folder, video, FAILURE_SUFFIX)
    if failure.is_file():
        return "failed", f"{failure.read_text().strip()} (log: {log})"
    if (root / member_path(folder, video, PACKED[kind])).is_file():
        return None
    if not (root / log).is_file():
        return "not run", ""
    reason = failure_in(root / log)
    if reason is not None:
        return "failed", f"{reason} (log: {log})"
    return "failed", f"the job stopped without an error message (killed?); log: {log}"


def write_status(videos: Iterable[str], evaluated: Iterable[str], path: str | Path = PATHS["status"],
                 root: str | Path = ".", notes: Mapping[str, str] | None = None, exported: Sequence[str] = (),
                 packs: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Write the status table for `videos` (those in `evaluated` also need their evaluation; every video needs its
    exports in the formats `exported`, vidseg.plan.exports); returns it.

    `notes` are warnings per video for the `note` column (e.g. a model that does not fit the videos); `packs`
    names the pack each packed video is segmented in.
    """
    root = Path(root)
    evaluated = set(evaluated)
    notes = notes or {}
    packs = packs or {}
    table = pd.DataFrame([video_status(root, v, v in evaluated, notes.get(v, ""), exported, packs.get(v))
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
