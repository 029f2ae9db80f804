"""Rebuild a video from frame images with ffmpeg: H.264, yuv420p, +faststart, audio kept.

Constant-frame-rate videos are encoded at the probed rate (an exact rational);
variable-frame-rate ones keep each frame's original timestamp through a concat
list with per-frame durations. Odd sizes are padded by one pixel (yuv420p needs
even sizes). The source's first audio stream is copied when MP4 can hold it,
else re-encoded to AAC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from vidseg.atomic import atomic_path
from vidseg.ffmpeg import run
from vidseg.frames import frame_name

MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}


def encode(
    frames_dir: str | Path,
    times: Sequence[float],
    image_format: str,
    fps: tuple[int, int],
    variable_frame_rate: bool,
    source: str | Path,
    audio_codec: str | None,
    out: str | Path,
    crf: int = 20,
    preset: str = "medium",
) -> None:
    """Encode frames `000000..` of `frames_dir` into `out` (MP4), atomically."""
    frames_dir = Path(frames_dir)
    num, den = fps
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if variable_frame_rate:
        listing = frames_dir / "frames.ffconcat"
        listing.write_text(_concat_list(times, image_format, den / num))
        args += ["-f", "concat", "-safe", "0", "-i", str(listing)]
    else:
        args += ["-framerate", f"{num}/{den}", "-start_number", "0", "-i", str(frames_dir / f"%06d.{image_format}")]
    args += ["-i", str(source), "-map", "0:v:0"]
    if audio_codec:
        args += ["-map", "1:a:0", "-c:a", "copy" if audio_codec in MP4_AUDIO else "aac"]
    args += [
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart",
    ]
    if variable_frame_rate:
        args += ["-fps_mode", "vfr", "-video_track_timescale", "90000"]
    with atomic_path(out, suffix=".mp4") as tmp:
        run(args + ["-f", "mp4", tmp], what=f"{source}: ffmpeg cannot encode the annotated video")


def _concat_list(times: Sequence[float], image_format: str, default_duration: float) -> str:
    lines = ["ffconcat version 1.0"]
    for i, t in enumerate(times):
        duration = times[i + 1] - t if i + 1 < len(times) else default_duration
        # each image read at a 1/90000 s time base, so durations are not rounded to 1/25 s
        lines += [f"file '{frame_name(i, image_format)}'", "option framerate 90000", f"duration {max(duration, 1e-6):.6f}"]
    return "\n".join(lines) + "\n"
