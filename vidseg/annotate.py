"""The annotate stage: detections drawn on every frame, encoded into the annotated video.

One job does both halves: the annotated frames go to a scratch folder that only
this job uses and that is removed when it ends (also on failure), so no folder
of annotated images waits on shared storage between two jobs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from vidseg.encode import encode
from vidseg.render import render_video


def annotate_video(frames_dir: str | Path, times: Sequence[float], detections: Iterable[tuple[int, pd.DataFrame]],
                   image_format: str, probe: dict, source: str | Path, out: str | Path, scratch: str | Path,
                   crf: int = 20, preset: str = "medium") -> None:
    """Render `detections` onto the frames of `frames_dir` and encode them into `out` (MP4, atomically).

    `probe` is the video's probe record (frame rate, variable frame rate, audio
    codec); `scratch` is the folder the annotated frames are written under.
    """
    Path(scratch).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{Path(out).stem}.", dir=scratch) as annotated:
        render_video(frames_dir, len(times), detections, annotated, image_format)
        encode(annotated, list(times), image_format, (probe["fps_num"], probe["fps_den"]),
               probe["variable_frame_rate"], source, probe["audio_codec"], out, crf=crf, preset=preset)
