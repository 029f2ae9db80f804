"""The annotate stage: detections drawn on every frame and streamed into the annotated video.

Three things overlap: a thread reads the next frame images (vidseg.media.frames.read_frames),
the job's own thread draws (vidseg.media.render), and a writer thread hands each drawn
frame to ffmpeg, which encodes in its own process (vidseg.media.encode). Nothing is
written between them, and memory holds a few frames, whatever the video's length.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd

from vidseg.core.errors import EncoderError
from vidseg.media.encode import encode
from vidseg.media.encoders import EncodeSettings
from vidseg.media.frames import read_frames
from vidseg.media.render import render_frames


def annotate_video(frames_dir: str | Path, times: Sequence[float],
                   detections: Iterable[tuple[int, pd.DataFrame]] | Callable[[], Iterable[tuple[int, pd.DataFrame]]],
                   image_format: str, probe: dict, source: str | Path, out: str | Path,
                   settings: EncodeSettings = EncodeSettings(), threads: int | None = None,
                   overlay: Callable[[int], Sequence[tuple[dict, str]]] | None = None) -> int:
    """Draw `detections` on the frames of `frames_dir` and encode them into `out` (MP4, atomically), each frame
    at its time in `times`; `probe` is the video's probe record. Returns the number of frames.

    `detections` is read once per encoding: where a hardware encoder cannot run
    (no driver, no free encoder session) the video is made again with libx264, and
    the log says why, so pass a re-iterable (a list, or a callable returning the groups).
    `overlay(frame)`: outlines drawn over the detections (vidseg.media.render.draw_outlines), e.g. a ground truth's.
    """
    def attempt(with_settings: EncodeSettings) -> int:
        groups = detections() if callable(detections) else detections
        images = read_frames(frames_dir, len(times), image_format)
        return encode(render_frames(images, groups, overlay), times, probe, source, out, with_settings, threads)

    try:
        return attempt(settings)
    except EncoderError as err:
        if settings.encoder == "libx264":
            raise
        logging.getLogger("vidseg").warning("%s; encoding with libx264 instead", err)
        return attempt(EncodeSettings(crf=settings.crf))
