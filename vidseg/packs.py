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
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence, TypeVar

from vidseg.atomic import atomic_folder, atomic_path
from vidseg.errors import VidsegError

T = TypeVar("T")


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


# A pack job's files of one video in the job's folder (vidseg.plan PATHS["<rule>_pack"]), by kind: <id><suffix>
PACKED = {"images": ".images", "index": ".frame_index.tsv",  # a folder of frame images, their times
          "detections": ".detections.parquet", "frames": ".frames.parquet", "tracks": ".tracks.parquet",
          "coco": ".coco.json", "mots": ".mots.txt", "annotated": ".mp4"}
FAILURE_SUFFIX = ".failed"  # a pack job's note of why one of its videos failed, beside that video's files


def member_path(folder: str | Path, video: str, suffix: str) -> str:
    """A pack job's file of `video` (`suffix`: which one) in the job's `folder`; `video` may be "{video}"."""
    return f"{folder}/{video}{suffix}"


def failure_path(table: str | Path) -> Path:
    """Where a pack job says why the video of `table` (one of its tables' paths) failed."""
    name = Path(table).name
    stem = next((name[: -len(s)] for s in PACKED.values() if name.endswith(s)), name)
    return Path(table).with_name(stem + FAILURE_SUFFIX)


def checked_tables(paths: Sequence[str | Path]) -> list[str]:
    """A video's tables (`paths`), each present; one missing is an error with the reason its pack job noted."""
    for path in paths:
        if not Path(path).is_file():
            failure = failure_path(path)
            reason = failure.read_text().strip() if failure.is_file() else "its job wrote no such table"
            raise VidsegError(f"{path}: {reason}")
    return [str(p) for p in paths]


def run_each(videos: Sequence[str], folder: str | Path, work: Callable[[str, Path], T], what: str,
             log: logging.Logger, publish: Mapping[str, Mapping[str, str | Path]] | None = None) -> dict[str, T | str]:
    """A pack job's loop: `work(video, into)` for each of `videos` in order, writing the video's files into the
    folder `into`, which becomes `folder` once every video has run (atomically: a job killed midway leaves no
    `folder`, so its rerun starts over).

    A video that fails with a VidsegError costs only itself: its reason goes to
    its failure note in the folder and to the log (`what` names the stage), and
    the next video runs. Before the folder appears, each video's files go to their
    own paths too (`publish`: video -> suffix of the file -> its path; see
    `publish_member`), so a packed video's results sit where any video's do.
    Returns per video what `work` returned, or its failure's reason.
    """
    outcome: dict[str, T | str] = {}
    with atomic_folder(folder) as into:
        for video in videos:
            try:
                outcome[video] = work(video, into)
            except VidsegError as err:
                outcome[video] = note_failure(into, video, str(err), what, log)
        for video, outputs in (publish or {}).items():
            publish_member(into, video, outputs, failed=isinstance(outcome.get(video), str))
    return outcome


def note_failure(folder: str | Path, video: str, reason: str, what: str, log: logging.Logger) -> str:
    """`video` failed in the pack job whose folder is `folder` (`what`: the stage): `reason` (on one line, which
    it returns) goes to the video's failure note there and to the log; the job goes on with its other videos."""
    reason = " ".join(reason.split())
    Path(member_path(folder, video, FAILURE_SUFFIX)).write_text(reason + "\n")
    log.error("%s: %s failed, the pack goes on: %s", video, what, reason)
    return reason


def publish_member(folder: str | Path, video: str, outputs: Mapping[str, str | Path], failed: bool) -> None:
    """`video`'s files in a pack job's `folder` put at their own paths (`outputs`: suffix -> path), each as a
    hard link (a copy where the file system has none) that replaces the path atomically. For a video the job
    `failed`, the files a run before left at those paths are removed: no stale result outlives its failure.

    Snakemake knows only the pack job's folder; no later job copies the files out,
    since a job per video and file was most of a packed run's jobs.
    """
    for suffix, out in outputs.items():
        if failed:
            Path(out).unlink(missing_ok=True)
            continue
        source = Path(member_path(folder, video, suffix))
        if not source.is_file():
            raise VidsegError(f"{source}: the pack job wrote no such file for {video}")
        with atomic_path(out, suffix=Path(out).suffix) as tmp:
            try:
                os.unlink(tmp)
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)


def failed_in(outcome: Mapping[str, object]) -> str:
    """"; failed: a, b" for the videos of a pack job's `outcome` (run_each) that failed, or ""."""
    failed = [video for video, found in outcome.items() if isinstance(found, str)]
    return f"; failed: {', '.join(failed)}" if failed else ""
