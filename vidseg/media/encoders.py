"""The `encode:` config: which H.264 encoder of ffmpeg makes the annotated video, its preset and quality.

Kept apart from vidseg.media.encode so the run plan checks these settings at parse time
without importing the encoding pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from vidseg.core.errors import ConfigError, settings_from_config
from vidseg.media.ffmpeg import run


@dataclass(frozen=True)
class Encoder:
    """One H.264 encoder of ffmpeg: its presets, its default one, and how `crf` is asked of it."""

    presets: tuple[str, ...]
    default_preset: str
    quality_args: tuple[str, ...]  # formatted with crf=


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
ENCODERS = {
    # veryfast at crf 18: medium's SSIM at crf 20, about twice as fast (docs/benchmarks.md, "Annotating a video")
    "libx264": Encoder(X264_PRESETS, "veryfast", ("-crf", "{crf}")),
    # NVIDIA's hardware encoder; constant quality `cq` takes the crf value
    "h264_nvenc": Encoder(tuple(f"p{i}" for i in range(1, 8)), "p4", ("-rc", "vbr", "-cq", "{crf}", "-b:v", "0")),
}


@dataclass(frozen=True)
class EncodeSettings:
    """The `encode:` config: which encoder, its preset (None: the encoder's default) and quality."""

    encoder: str = "libx264"
    preset: str | None = None
    crf: int = 18

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ConfigError(f"config key 'encode.encoder': {self.encoder!r} is not one of {sorted(ENCODERS)}")
        if self.preset is not None and self.preset not in ENCODERS[self.encoder].presets:
            raise ConfigError(f"config key 'encode.preset': {self.preset!r} is not a preset of {self.encoder} "
                              f"({', '.join(ENCODERS[self.encoder].presets)})")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"config key 'encode.crf': {self.crf} is not in 0..51")

    @classmethod
    def from_config(cls, settings: Mapping[str, Any] | None) -> "EncodeSettings":
        return settings_from_config(cls, settings, "encode")

    def args(self, threads: int | None = None) -> list[str]:
        """ffmpeg's output options for the video stream."""
        encoder = ENCODERS[self.encoder]
        args = ["-c:v", self.encoder, "-preset", self.preset or encoder.default_preset]
        args += [a.format(crf=self.crf) for a in encoder.quality_args]
        return args + (["-threads", str(threads)] if threads and self.encoder == "libx264" else [])


def available(encoder: str) -> bool:
    """Whether this machine's ffmpeg was built with `encoder`."""
    listing = run(["ffmpeg", "-hide_banner", "-encoders"], what="ffmpeg -encoders").stdout
    return any(line.split()[1:2] == [encoder] for line in listing.splitlines() if line.startswith(" "))


