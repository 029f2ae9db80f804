"""A unit of work and its folder: what one segment job runs and writes, and what the later jobs read back.

A unit is a run of frames through one loaded model: a chunk of a video, or a pack
of shorter videos, each whole (`vidseg.workflow.units` plans them). A unit is named
after where its frames start, `<video>.<chunk>`. A segment job writes, per video of
its unit, that video's detections and frames tables into the unit's folder, or a
note of why the video failed there: one bad video in a pack costs only itself. The
later per-video jobs read a video's tables from the folders of its units
(`tables_of`). This is the segment stage's output format; planning the units is the
workflow's (`vidseg.workflow.units`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from vidseg.core.errors import VidsegError

# A unit's folder holds per video of the unit <id><suffix>: its tables by kind, or the note of why it failed
TABLES = {"detections": ".detections.parquet", "frames": ".frames.parquet"}
FAILURE_SUFFIX = ".failed"


@dataclass(frozen=True)
class Member:
    """The frames of one video a unit runs: `start` up to `end` (exclusive; None: to the video's last frame)."""

    video: str
    start: int
    end: int | None


@dataclass(frozen=True)
class Unit:
    name: str
    members: tuple[Member, ...]

    @property
    def videos(self) -> tuple[str, ...]:
        return tuple(member.video for member in self.members)


def unit_name(video: str, chunk: int) -> str:
    return f"{video}.{chunk:04d}"


def whole(video: str) -> Unit:
    """A unit of one whole video (what a benchmark or a test runs through `vidseg.inference.segment.segment_unit`)."""
    return Unit(unit_name(video, 0), (Member(video, 0, None),))


def member_path(folder: str | Path, video: str, suffix: str) -> str:
    """A unit job's file of `video` (`suffix`: which one) in the job's `folder`."""
    return f"{folder}/{video}{suffix}"


def tables_of(folders: Sequence[str | Path], video: str, kind: str) -> list[str]:
    """`video`'s tables of `kind` (TABLES) in the folders of its units, in frame order; a unit that failed the
    video: a VidsegError with the reason its job noted."""
    paths = [member_path(folder, video, TABLES[kind]) for folder in folders]
    for folder, path in zip(folders, paths):
        if not Path(path).is_file():
            note = Path(member_path(folder, video, FAILURE_SUFFIX))
            reason = note.read_text().strip() if note.is_file() else f"{path}: its segment job wrote no such table"
            raise VidsegError(reason)
    return paths


def failure_note(folder: str | Path, video: str) -> str | None:
    """Why the unit job whose folder is `folder` failed `video`, or None."""
    note = Path(member_path(folder, video, FAILURE_SUFFIX))
    return note.read_text().strip() if note.is_file() else None


def note_failure(folder: str | Path, video: str, reason: str, what: str, log: logging.Logger) -> str:
    """`video` failed in the unit job whose folder is `folder` (`what`: the stage): `reason` (on one line, which it
    returns) goes to the video's failure note there and to the log; the job goes on with its other videos."""
    reason = " ".join(reason.split())
    Path(member_path(folder, video, FAILURE_SUFFIX)).write_text(reason + "\n")
    log.error("%s: %s failed, the unit goes on: %s", video, what, reason)
    return reason


def failed_in(outcome: Mapping[str, object]) -> str:
    """"; failed: a, b" for the videos of a unit job's `outcome` (video -> count, or the reason it failed)."""
    failed = [video for video, found in outcome.items() if isinstance(found, str)]
    return f"; failed: {', '.join(failed)}" if failed else ""
