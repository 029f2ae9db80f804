"""Planning the units of work: which unit each segment job runs, planned once after every probe.

A unit (`vidseg.inference.unit`, which also holds the format of its folder) is a
run of frames through one loaded model: a chunk of a video of `chunk_size` frames
or more (the last chunk runs to the video's last decoded frame), or a pack of
shorter videos, each whole (`vidseg.workflow.packs` decides which videos share a
pack; with `segment.pack: false` each short video is a unit of its own). A unit is
named after where its frames start, `<video>.<chunk>`: a long video's units are
`<video>.0000`, `<video>.0001`, ...; a pack is named after its first video's chunk 0.

The plan job (a checkpoint, the one barrier after the probes) writes the plan
(`vidseg.workflow.plan.PATHS['units']`); the rules read it to know each segment job's videos and
each video's units.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from vidseg.core.atomic import atomic_path
from vidseg.inference.unit import Member, Unit, unit_name
from vidseg.workflow.packs import plan_packs


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
        self._position = {name: i for i, name in enumerate(self.units)}
        for unit in self.units.values():
            for video in unit.videos:
                self._of.setdefault(video, []).append(unit.name)

    def position(self, unit: str) -> int | None:
        """Where `unit` comes in the run's order of units (None for a name not in the plan)."""
        return self._position.get(unit)

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
