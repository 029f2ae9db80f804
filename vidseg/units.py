"""Units of work: what one segment job runs, planned once after every probe.

A unit is a run of frames through one loaded model: a chunk of a video of
`chunk_size` frames or more (the last chunk runs to the video's last decoded
frame), or a pack of shorter videos, each whole (`vidseg.packs` decides which
videos share a pack; with `segment.pack: false` each short video is a unit of
its own). A unit is named after where its frames start, `<video>.<chunk>`: a
long video's units are `<video>.0000`, `<video>.0001`, ...; a pack is named
after its first video's chunk 0.

The plan job (a checkpoint, the one barrier after the probes) writes the plan
(`vidseg.plan.PATHS['units']`); the rules read it to know each segment job's videos and
each video's units. A segment job writes, per video of its unit, that video's
detections and frames tables into the unit's folder, or a note of why the video
failed there: one bad video in a pack costs only itself. The later per-video
jobs read a video's tables from the folders of its units (`tables_of`).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from vidseg.atomic import atomic_path
from vidseg.errors import VidsegError
from vidseg.packs import plan_packs

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
    """A unit of one whole video (what a benchmark or a test runs through `vidseg.segment.segment_unit`)."""
    return Unit(unit_name(video, 0), (Member(video, 0, None),))


def chunks(video: str, frames: int, chunk_size: int) -> list[Unit]:
    """The units of a video on its own: ceil(frames / chunk_size) chunks (at least one), the last open-ended
    (a damaged video may decode more or fewer frames than its container lists)."""
    count = max(1, math.ceil(int(frames) / chunk_size))
    return [Unit(unit_name(video, c), (Member(video, c * chunk_size, None if c == count - 1 else (c + 1) * chunk_size),))
            for c in range(count)]


def plan_units(frames: Mapping[str, int], chunk_size: int, pack: bool = True,
               group: Mapping[str, str] | None = None) -> list[Unit]:
    """The units of the videos in `frames` (video -> probed frame count), in order: the chunks of the videos in
    no pack (in `frames`' order), then the packs (`group`: video -> key of its model run; packs never mix keys)."""
    packs = plan_packs(frames, chunk_size, group) if pack else []
    packed = {video for p in packs for video in p.videos}
    units = [unit for video, n in frames.items() if video not in packed for unit in chunks(video, n, chunk_size)]
    return units + [Unit(unit_name(p.name, 0), tuple(Member(video, 0, None) for video in p.videos)) for p in packs]


@dataclass
class UnitPlan:
    """A run's units, and the videos that failed at the probe (with the reason), as the plan job's file holds them."""

    units: dict[str, Unit]
    failed: dict[str, str]

    def __post_init__(self) -> None:
        self._of: dict[str, list[str]] = {}
        for unit in self.units.values():
            for video in unit.videos:
                self._of.setdefault(video, []).append(unit.name)

    def units_of(self, video: str) -> list[str]:
        """The names of `video`'s units, in frame order ([] for a video that failed at the probe)."""
        return self._of.get(video, [])

    @property
    def videos(self) -> list[str]:
        """The videos that passed the probe, in the order of their first units."""
        return list(self._of)

    def to_json(self) -> dict[str, Any]:
        return {"units": {name: [[m.video, m.start, m.end] for m in unit.members] for name, unit in self.units.items()},
                "failed_at_probe": self.failed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "UnitPlan":
        units = {name: Unit(name, tuple(Member(str(v), int(s), None if e is None else int(e)) for v, s, e in members))
                 for name, members in data["units"].items()}
        return cls(units, dict(data["failed_at_probe"]))


def write_plan(probes: Mapping[str, Mapping[str, Any]], chunk_size: int, pack: bool, group: Mapping[str, str],
               path: str | Path) -> UnitPlan:
    """The plan of the videos whose probe records are `probes` (video -> record, in the run's order) into `path`."""
    good = {video: int(record["n_frames"]) for video, record in probes.items() if record["ok"]}
    failed = {video: str(record.get("reason", "")) for video, record in probes.items() if not record["ok"]}
    plan = UnitPlan({unit.name: unit for unit in plan_units(good, chunk_size, pack, group)}, failed)
    with atomic_path(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(plan.to_json(), indent=1) + "\n")
    return plan


def read_plan(path: str | Path) -> UnitPlan:
    with open(path) as f:
        return UnitPlan.from_json(json.load(f))


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
