"""A short sample video (test pattern, moving shapes, a tone) for trying the workflow without data."""

from __future__ import annotations

from pathlib import Path

from vidseg.media.ffmpeg import run


def make_sample_video(out: str | Path, seconds: float = 3.0, size: str = "320x240", fps: int = 10, audio: bool = True) -> None:
    """An H.264 MP4 of ffmpeg's `testsrc2` pattern, with a 440 Hz AAC tone when `audio`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)]
    run(args, what=f"cannot generate the sample video {out}")
