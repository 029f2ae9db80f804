"""Which videos share a segment job: short videos are packed so that one model load serves several of them.

A video of `chunk_size` frames or more splits into chunks of `chunk_size`, one
job each. Shorter videos are packed. In the order of their ids, within a group
of videos whose model run is the same (`group`), the sequence is cut into
stretches after each video that marks a boundary: a video of n frames does with
probability n / chunk_size, decided by a hash of its id, so a stretch holds about
a chunk of frames. A stretch of up to `chunk_size` frames is one pack; a longer
one is filled into packs of up to `chunk_size` frames in order. The cuts come
from the videos themselves (content-defined, as rsync and backup tools cut
files), not from positions: adding a video changes only its own stretch, the
pack it joins (and, in a stretch longer than a chunk, the packs after it there),
never the rest; the same videos always give the same packs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Pack:
    """One segment job's videos, run in this order; named after its first video."""

    name: str
    videos: tuple[str, ...]
    frames: int


def marks_boundary(video: str, frames: int, chunk_size: int) -> bool:
    """Whether a stretch of the sequence ends after `video` (probability frames / chunk_size, fixed by its id)."""
    draw = int.from_bytes(hashlib.sha256(video.encode()).digest()[:8], "big") / 2**64
    return draw < frames / chunk_size


def plan_packs(frames: Mapping[str, int], chunk_size: int, group: Mapping[str, str] | None = None) -> list[Pack]:
    """Packs of the videos in `frames` (video -> frame count) shorter than `chunk_size`; longer videos are in
    no pack. `group` (video -> key) keeps videos whose model run differs apart (default: one group)."""
    groups: dict[str, list[str]] = {}
    for video in sorted(v for v, n in frames.items() if n < chunk_size):
        groups.setdefault((group or {}).get(video, ""), []).append(video)
    packs: list[Pack] = []
    for key in sorted(groups):
        stretch: list[str] = []
        for video in groups[key]:
            stretch.append(video)
            if marks_boundary(video, max(1, int(frames[video])), chunk_size):
                packs += _fill(stretch, frames, chunk_size)
                stretch = []
        packs += _fill(stretch, frames, chunk_size)
    return packs


def _fill(videos: list[str], frames: Mapping[str, int], chunk_size: int) -> list[Pack]:
    """`videos` in order, in packs of up to `chunk_size` frames."""
    packs, members, total = [], [], 0
    for video in videos:
        n = max(1, int(frames[video]))
        if members and total + n > chunk_size:
            packs.append(Pack(members[0], tuple(members), total))
            members, total = [], 0
        members.append(video)
        total += n
    return packs + ([Pack(members[0], tuple(members), total)] if members else [])
