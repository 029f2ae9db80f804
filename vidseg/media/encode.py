"""Encode rendered frames straight into the annotated MP4: H.264, yuv420p, +faststart, audio kept.

Frames go to ffmpeg's stdin as raw I420 inside a Matroska stream (vidseg.media.matroska)
that gives each one its source presentation time and duration, so no image
folder sits between rendering and encoding, and constant-rate, variable-rate
and damaged sources keep their timing: the output lasts as long as the source's
video stream (the last frame is held until the stream's end, as a player shows
it). Odd sizes are padded by one black pixel (yuv420p needs even sizes). The
source's first audio stream is copied when MP4 can hold it, else converted to AAC.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import threading
from fractions import Fraction
from pathlib import Path
from queue import Queue
from typing import Iterable, Sequence

import cv2
import numpy as np

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import EncoderError, VidsegError
from vidseg.media import matroska
from vidseg.media.encoders import EncodeSettings, available
from vidseg.media.ffmpeg import error_lines, require
from vidseg.media.probe import video_stream

MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}


def frame_clock(times: Sequence[float], last_duration: float, timescale: int) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's time (from the first frame's) and duration in microseconds.

    A frame's duration runs to the next frame's time; the last one lasts
    `last_duration`. A frame whose time is not at least one output tick
    (1/timescale s) after the one before is moved to one tick after it, so the
    MP4's timestamps always increase.
    """
    tick = max(1, math.ceil(1e6 / timescale))
    start = np.rint((np.asarray(times, np.float64) - times[0]) * 1e6).astype(np.int64)
    steps = np.arange(len(start)) * tick
    start = np.maximum.accumulate(start - steps) + steps  # start[i] = max(start[i], start[i - 1] + tick)
    end = np.append(start[1:], start[-1] + max(tick, round(last_duration * 1e6)))
    return start, end - start


def last_frame_duration(times: Sequence[float], probe: dict) -> float:
    """How long the last frame is shown: until the video stream's end when the probe knows it and it is after
    the last frame, else one frame at the probed rate."""
    end = probe.get("video_end_s")
    if end is not None and end > times[-1] + 1e-6:
        return end - times[-1]
    return probe["fps_den"] / probe["fps_num"]


def timescale_of(probe: dict) -> int:
    """The output video track's timescale: the source's when it is fine enough to be kept, else 90 kHz."""
    video = video_stream(probe.get("ffprobe") or {}) or {}
    base = str(video.get("time_base", ""))
    try:
        rate = Fraction(base)
    except (ValueError, ZeroDivisionError):
        return 90000
    return rate.denominator if rate.numerator == 1 and 1000 <= rate.denominator <= 500000 else 90000


def encode(frames: Iterable[np.ndarray], times: Sequence[float], probe: dict, source: str | Path,
           out: str | Path, settings: EncodeSettings = EncodeSettings(), threads: int | None = None) -> int:
    """Encode BGR `frames` (one per entry of `times`, all of the probed size) into `out` (MP4), atomically.

    `probe` is the source's probe record (vidseg.media.probe: frame rate, video end,
    audio codec, size). Returns the number of frames encoded.
    """
    if len(times) == 0:
        raise VidsegError(f"{source}: no frames to encode")
    require("ffmpeg")
    if settings.encoder != "libx264" and not available(settings.encoder):
        raise EncoderError(f"config key 'encode.encoder': this machine's ffmpeg has no {settings.encoder} "
                           f"(see ffmpeg -encoders)")
    width, height = probe["width"], probe["height"]
    padded = (width + width % 2, height + height % 2)
    timescale = timescale_of(probe)
    starts, durations = frame_clock(times, last_frame_duration(times, probe), timescale)
    # ffmpeg 5.1 gives the last packet 1/r s (it drops the stream's last duration): -r names that duration;
    # with -fps_mode passthrough and the demuxer's time base it changes no other timestamp
    last_rate = Fraction(10**6, int(durations[-1])).limit_denominator(10**6)
    # one clock for both inputs, the source file's start (vidseg.media.frames): -copyts keeps ffmpeg from moving
    # each input to zero on its own; the frames' Matroska times count from the first frame
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-copyts",
            "-itsoffset", f"{times[0]:.6f}", "-f", "matroska", "-i", "pipe:0",
            "-itsoffset", f"{-probe.get('start_s', 0.0):.6f}", "-i", str(source), "-map", "0:v:0"]
    if probe.get("audio_codec"):
        args += ["-map", "1:a:0", "-c:a", "copy" if probe["audio_codec"] in MP4_AUDIO else "aac"]
    args += settings.args(threads) + [
        "-pix_fmt", "yuv420p", "-fps_mode", "passthrough", "-enc_time_base", "-1",
        "-r", f"{last_rate.numerator}/{last_rate.denominator}", "-video_track_timescale", str(timescale),
        "-movflags", "+faststart"]
    with atomic_path(out, suffix=".mp4") as tmp, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(args + ["-f", "mp4", tmp], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=stderr)
        count, failure = 0, None
        try:
            count = _feed(proc.stdin, frames, starts, durations, (width, height), padded)
        except BrokenPipeError:
            failure = "ffmpeg stopped reading frames"
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            returncode = proc.wait()
        if returncode != 0 or failure:
            stderr.seek(0)
            lines = error_lines(stderr.read().decode(errors="replace"))
            reason = " / ".join(lines[-3:]) if lines else failure or f"exit status {returncode}"
            raise EncoderError(f"{source}: ffmpeg cannot encode the annotated video with {settings.encoder}: {reason}")
    return count


def _feed(pipe, frames: Iterable[np.ndarray], starts: np.ndarray, durations: np.ndarray, size: tuple[int, int],
          padded: tuple[int, int]) -> int:
    """Write the Matroska stream of `frames` to `pipe`; a writer thread converts and writes while the caller's
    iterator renders the next frame."""
    width, height = size
    frame_bytes = padded[0] * padded[1] * 3 // 2
    pending: Queue = Queue(maxsize=2)
    failed: list[BaseException] = []

    def write() -> None:
        while (item := pending.get()) is not None:
            if failed:
                continue
            index, image = item
            try:
                if padded != size:
                    image = cv2.copyMakeBorder(image, 0, padded[1] - height, 0, padded[0] - width,
                                               cv2.BORDER_CONSTANT, value=(0, 0, 0))
                before, after = matroska.frame_wrapping(int(starts[index]), int(durations[index]), frame_bytes)
                pipe.writelines((before, cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).data, after))
            except BaseException as err:  # handed to the caller
                failed.append(err)

    writer = threading.Thread(target=write, name="encode-writer", daemon=True)
    pipe.write(matroska.header(padded[0], padded[1], b"I420"))
    writer.start()
    count = 0
    try:
        for image in frames:
            if failed:
                break
            if count >= len(starts):
                raise VidsegError(f"more frames than the {len(starts)} frame times")
            if image.shape[:2] != (height, width):
                raise VidsegError(f"frame {count} is {image.shape[1]}x{image.shape[0]}, the video {width}x{height}")
            pending.put((count, image))
            count += 1
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]
    if count != len(starts):
        raise VidsegError(f"{count} frames for {len(starts)} frame times")
    return count
