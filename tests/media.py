"""Tiny synthetic videos for tests, made with ffmpeg's test sources, or as frame folders of test images."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_video(path: Path, seconds: float = 1.0, size: str = "96x64", fps: str = "10", audio: bool = False,
               source: str = "testsrc2", pix_fmt: str = "yuv420p", crop: str | None = None) -> Path:
    """`crop` ("w:h") cuts the source down, e.g. to odd sizes that sources cannot produce."""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}{'' if source.endswith(':') else '='}size={size}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}", "-c:a", "aac"]
    if crop:
        args += ["-vf", f"format={pix_fmt},crop={crop}"]
    args += ["-c:v", "libx264", "-pix_fmt", pix_fmt, str(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(args, check=True)
    return path


CLIPS = {"clip_a": 1.0, "clip_b": 0.8, "clip_c": 1.2, "clip_d": 0.5}  # seconds at 10 fps: 10, 8, 12, 5 frames
LONG_S = 4.0  # the long video: 40 frames


def make_clips(folder: Path, long: bool = True) -> dict[str, int]:
    """The short clips of CLIPS (clip_a with audio) and, with `long`, a 40-frame video `long`, as mp4 files in
    `folder`; their frame counts."""
    for name, seconds in CLIPS.items():
        make_video(folder / f"{name}.mp4", seconds=seconds, audio=name == "clip_a")
    if long:
        make_video(folder / "long.mp4", seconds=LONG_S)
    return {**{name: round(s * 10) for name, s in CLIPS.items()}, **({"long": round(LONG_S * 10)} if long else {})}


def stream_info(path: Path) -> list[dict]:
    import json

    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["streams"]


def frame_times(path: Path) -> list[float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time",
                          "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True).stdout
    return [float(line.strip().strip(",")) for line in out.splitlines() if line.strip()]


def short_videos(lengths: dict[str, int], folder: Path) -> tuple[list[Path], list[Path]]:
    """Frame folders (PNG) and frame indexes of videos of `lengths` frames, cut from make_frames() * 3 in turn."""
    import cv2

    from conftest import make_frames
    from vidseg.media.frames import write_index

    images = make_frames() * 3
    folders, indexes, taken = [], [], 0
    for video, n in lengths.items():
        folders.append(folder / "frames" / video)
        folders[-1].mkdir(parents=True)
        for i, image in enumerate(images[taken:taken + n]):
            cv2.imwrite(str(folders[-1] / f"{i:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        taken += n
        indexes.append(folder / f"{video}.tsv")
        write_index([i / 10 for i in range(n)], indexes[-1])
    return folders, indexes
