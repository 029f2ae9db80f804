"""Decode a video into numbered frame images and an index of their presentation times.

One ffmpeg pass: `-fps_mode passthrough` (no frame duplicated or dropped) at
the source's time base,
autorotation on, frames `000000.jpg`, `000001.jpg`, ... and, from the
`showinfo` filter, every frame's presentation time in seconds.
"""

from __future__ import annotations

import re
import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from vidseg.core.errors import VidsegError
from vidseg.media.ffmpeg import run

IMAGE_FORMATS = ("jpg", "png")
FAILED_INDEX = "# failed: "
_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[0-9.eE+-]+)")


def frame_name(index: int, image_format: str) -> str:
    return f"{index:06d}.{image_format}"


def extract(video: str | Path, out_dir: str | Path, image_format: str = "jpg", jpeg_quality: int = 2,
            start_s: float = 0.0) -> list[float]:
    """Decode every frame of `video` into `out_dir`; returns each frame's time in seconds from `start_s`, the
    file's start (the probe's `start_s`: its earliest stream's start, so audio and video share the clock).

    `jpeg_quality` is ffmpeg's `-q:v` (2 = best, 31 = worst).
    """
    if image_format not in IMAGE_FORMATS:
        raise VidsegError(f"config key 'frames.format': must be one of {list(IMAGE_FORMATS)}, got {image_format!r}")
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # -copyts: the container's own times (ffmpeg would otherwise count from the first video frame of some
    # formats, from the first packet of any stream of others)
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "info", "-copyts", "-i", str(video),
            "-map", "0:v:0", "-fps_mode", "passthrough", "-vf", "showinfo", "-start_number", "0",
            # the source's time base: at ffmpeg's default of 1/frame rate, two variable-rate frames can round
            # to one time, and the image muxer stops on it
            "-enc_time_base", "-1"]
    if image_format == "jpg":
        args += ["-q:v", str(jpeg_quality)]
    args.append(str(out / f"%06d.{image_format}"))
    proc = run(args, what=f"{video}: ffmpeg cannot decode it")
    times = [float(m.group(3)) - start_s for m in _SHOWINFO.finditer(proc.stderr)]
    written = sorted(out.iterdir())
    if not written:
        raise VidsegError(f"{video}: no frame could be decoded")
    if len(written) != len(times):
        raise VidsegError(f"{video}: ffmpeg wrote {len(written)} frames but reported {len(times)} frame times")
    return times


def write_index(times: list[float], path: str | Path) -> None:
    """The frame index: TSV with `frame` (0-based) and `time_s`."""
    lines = ["frame\ttime_s"] + [f"{i}\t{t:.6f}" for i, t in enumerate(times)]
    Path(path).write_text("\n".join(lines) + "\n")


def write_failed_index(reason: str, path: str | Path) -> None:
    """The frame index of a video that could not be decoded: one line saying why, which `read_index` raises.

    The frames job ends well with it, so the unit the video shares with others
    runs them (a failed job would hold back its whole unit) and notes this one's
    failure; the status table names the frames stage (vidseg.workflow.status reads the line).
    """
    Path(path).write_text(FAILED_INDEX + " ".join(reason.split()) + "\n")


def index_failure(path: str | Path) -> str | None:
    """Why the video of the frame index at `path` could not be decoded, or None."""
    with open(path) as f:
        first = f.readline()
    return first[len(FAILED_INDEX):].strip() if first.startswith(FAILED_INDEX) else None


def read_index(path: str | Path) -> np.ndarray:
    """Frame times in seconds (float64), indexed by frame number; the index of a video that could not be
    decoded raises the reason."""
    failure = index_failure(path)
    if failure is not None:
        raise VidsegError(failure)
    data = np.loadtxt(path, delimiter="\t", skiprows=1, ndmin=2)
    if data.size and not np.array_equal(data[:, 0], np.arange(len(data))):
        raise VidsegError(f"frame index {path} is not numbered 0..n-1")
    return data[:, 1] if data.size else np.zeros(0)


def read_bgr(frames_dir: str | Path, index: int, image_format: str) -> np.ndarray:
    """Frame `index` as a BGR uint8 array (OpenCV's order)."""
    path = Path(frames_dir) / frame_name(index, image_format)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise VidsegError(f"cannot read frame image {path}")
    return image


def read_rgb(frames_dir: str | Path, index: int, image_format: str) -> np.ndarray:
    """Frame `index` as an RGB uint8 array (the model wants RGB)."""
    return cv2.cvtColor(read_bgr(frames_dir, index, image_format), cv2.COLOR_BGR2RGB)


def read_frames(frames_dir: str | Path, count: int, image_format: str, ahead: int = 4) -> Iterator[np.ndarray]:
    """Frames 0..count-1 as BGR arrays, in order, each read by a thread while the caller works on earlier
    ones (OpenCV's decoding releases the GIL); at most `ahead` + 1 frames are held."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="frames")
    pending: deque[Future] = deque()
    try:
        for index in range(count):
            pending.append(pool.submit(read_bgr, frames_dir, index, image_format))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
