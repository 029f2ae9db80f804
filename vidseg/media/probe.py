"""Probe a video with ffprobe and normalize what the workflow needs from it.

Frame rate as an exact rational (avg_frame_rate, else r_frame_rate), size after
rotation, rotation, duration, when the last frame stops showing, frame count,
audio presence, and a variable-frame-rate flag. A file without a usable video stream is an error
naming the file.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

from vidseg.core.errors import VidsegError
from vidseg.media.ffmpeg import error_lines, run

MIN_FPS, MAX_FPS = 0.1, 1000.0


def ffprobe(path: str | Path) -> dict[str, Any]:
    """ffprobe's JSON (`-show_streams -show_format`) for a file."""
    path = Path(path)
    if not path.is_file():
        raise VidsegError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VidsegError(f"{path}: empty file (0 bytes)")
    proc = run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        what=f"{path}: ffprobe cannot read it",
        timeout=120,
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise VidsegError(f"{path}: ffprobe printed no JSON") from None


def parse_rate(text: str | None) -> Fraction | None:
    """'30000/1001' -> Fraction; None for missing, 0/0, zero or out-of-range rates."""
    if not text:
        return None
    try:
        num, _, den = str(text).partition("/")
        rate = Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return None
    return rate if MIN_FPS <= rate <= MAX_FPS else None


def rotation_of(stream: dict) -> int:
    """Clockwise display rotation in degrees (0, 90, 180, 270)."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return int(round(-float(side["rotation"]))) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(tag) % 360 if tag not in (None, "") else 0


def normalize(raw: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The fields the workflow uses, from ffprobe's JSON."""
    streams = raw.get("streams", [])
    video = video_stream(raw)
    if video is None:
        raise VidsegError(f"{path}: no video stream (streams: {[s.get('codec_type') for s in streams] or 'none'})")
    avg, real = parse_rate(video.get("avg_frame_rate")), parse_rate(video.get("r_frame_rate"))
    fps = avg or real
    if fps is None:
        raise VidsegError(
            f"{path}: no usable frame rate (avg_frame_rate {video.get('avg_frame_rate')}, "
            f"r_frame_rate {video.get('r_frame_rate')})"
        )
    coded_w, coded_h = int(video.get("width") or 0), int(video.get("height") or 0)
    if coded_w <= 0 or coded_h <= 0:
        raise VidsegError(f"{path}: the video stream has no frame size")
    rotation = rotation_of(video)
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    fmt = raw.get("format", {})
    duration = _float(video.get("duration")) or _float(fmt.get("duration"))
    file_start = _time(fmt.get("start_time")) or 0.0
    video_start = _time(video.get("start_time"))
    # the video stream's end on the clock frame times are read on (ffmpeg counts from the file's start);
    # probe() reads it from the last packets where they say
    video_end = (video_start if video_start is not None else file_start) - file_start + duration if duration else None
    nb_frames = int(video.get("nb_frames") or 0)
    n_frames = nb_frames if nb_frames > 0 else (max(1, round(duration * float(fps))) if duration else 0)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    return {
        "path": str(path),
        "video_codec": video.get("codec_name"),
        "fps_num": fps.numerator,
        "fps_den": fps.denominator,
        "fps": float(fps),
        "width": width,
        "height": height,
        "coded_width": coded_w,
        "coded_height": coded_h,
        "rotation": rotation,
        "duration_s": duration,
        "start_s": file_start,  # the file's start (its earliest stream's): frame times count from it
        "video_end_s": video_end,
        "n_frames": n_frames,
        "n_frames_exact": nb_frames > 0,
        "variable_frame_rate": bool(avg and real and avg != real),
        "has_audio": audio is not None,
        "audio_codec": audio.get("codec_name") if audio else None,
    }


def video_stream(raw: dict[str, Any]) -> dict | None:
    """The first video stream that is not a cover picture."""
    return next((s for s in raw.get("streams", [])
                 if s.get("codec_type") == "video" and s.get("disposition", {}).get("attached_pic", 0) == 0), None)


def last_frame_end(path: str | Path, raw: dict[str, Any]) -> float | None:
    """When the video stream's last frame stops showing, in seconds from the file's start (the clock frame
    times are read on): the largest packet time plus duration among the packets of about the last 2 s (a seek
    and a read of packet headers, no decoding); None where the packets carry no duration."""
    video, fmt = video_stream(raw), raw.get("format", {})
    duration = _float(fmt.get("duration"))
    if video is None or duration is None:
        return None
    try:
        proc = run(["ffprobe", "-v", "error", "-select_streams", str(video.get("index", 0)), "-read_intervals",
                    f"{max(0.0, (_time(fmt.get('start_time')) or 0.0) + duration - 2):.3f}%", "-show_entries",
                    "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)],
                   what=f"{path}: ffprobe cannot read its last packets", timeout=120, check=False)
    except VidsegError:  # too slow to seek: the stream's duration will do
        return None
    ends = []
    for line in proc.stdout.split():
        pts, length = (line.split(",") + ["", ""])[:2]
        if _time(pts) is not None and _float(length) is not None:
            ends.append(float(pts) + float(length))
    return max(ends) - (_time(fmt.get("start_time")) or 0.0) if ends else None


def _float(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _time(text) -> float | None:
    """A start time (may be 0 or negative); None when absent or not a number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def first_frame_decodes(path: str | Path) -> None:
    """Decode the first video frame (cheap: one frame, checksummed, not written); an error if none decodes."""
    proc = run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-frames:v", "1",
                "-f", "framecrc", "-"], what=f"{path}: no decodable video frame", timeout=120, check=False)
    if proc.returncode != 0 or not any(line and not line.startswith("#") for line in proc.stdout.splitlines()):
        errors = error_lines(proc.stderr)
        raise VidsegError(f"{path}: no decodable video frame" + (f" ({errors[-1].strip()})" if errors else ""))


def probe(path: str | Path) -> dict[str, Any]:
    """Normalized fields plus ffprobe's own JSON under `ffprobe`; the first frame must decode."""
    raw = ffprobe(path)
    info = normalize(raw, path)
    first_frame_decodes(path)
    info["video_end_s"] = last_frame_end(path, raw) or info["video_end_s"]
    return {**info, "ffprobe": raw}


def probe_record(video_id: str, path: str | Path) -> dict[str, Any]:
    """What the probe stage writes: `ok` and the probe's fields, or `ok: false` and a one-line `reason`."""
    try:
        return {"video_id": video_id, "ok": True, **probe(path)}
    except VidsegError as err:
        return {"video_id": video_id, "ok": False, "path": str(path), "reason": " ".join(str(err).split())}
