"""Which videos share a segment job: short videos are packed so that one model load serves several of them.

A video of `chunk_size` frames or more splits into chunks of `chunk_size`, one
job each. Shorter videos are packed: in the order of their ids, within a group
of videos whose model run is the same (`group`), a pack closes at a video whose
id marks a boundary once it holds half of `chunk_size` frames, and always
before a video that would take it past `chunk_size`. The boundaries come from
the ids themselves (content-defined, as rsync and backup tools cut files), not
from positions, so adding a video changes the pack it joins and seldom one
more, not every pack after it; the same videos always give the same packs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping

BOUNDARY_EVERY = 4  # one id in this many marks a boundary (packs of half a chunk or more close there)


@dataclass(frozen=True)
class Pack:
    """One segment job's videos, run in this order; named after its first video."""

    name: str
    videos: tuple[str, ...]
    frames: int


def marks_boundary(video: str) -> bool:
    """Whether a pack may close after `video` (one id in BOUNDARY_EVERY, fixed by the id alone)."""
    return int.from_bytes(hashlib.sha256(video.encode()).digest()[:4], "big") % BOUNDARY_EVERY == 0


def plan_packs(frames: Mapping[str, int], chunk_size: int, group: Mapping[str, str] | None = None) -> list[Pack]:
    """Packs of the videos in `frames` (video -> frame count) shorter than `chunk_size`; longer videos are in
    no pack. `group` (video -> key) keeps videos whose model run differs apart (default: one group)."""
    groups: dict[str, list[str]] = {}
    for video in sorted(v for v, n in frames.items() if n < chunk_size):
        groups.setdefault((group or {}).get(video, ""), []).append(video)
    packs = []
    for key in sorted(groups):
        members: list[str] = []
        total = 0
        for video in groups[key]:
            n = max(1, int(frames[video]))
            if members and total + n > chunk_size:
                packs.append(Pack(members[0], tuple(members), total))
                members, total = [], 0
            members.append(video)
            total += n
            if total * 2 >= chunk_size and marks_boundary(video):
                packs.append(Pack(members[0], tuple(members), total))
                members, total = [], 0
        if members:
            packs.append(Pack(members[0], tuple(members), total))
    return packs
