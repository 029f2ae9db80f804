"""The annotate stage as it ran before issue 22, kept as the reference that benchmarks/annotate.py measures
the streaming stage (vidseg.media.annotate) against in the same run: every frame drawn over the full frame
(draw_before), written as a JPEG (quality 95) into a folder, read back by ffmpeg at the nominal frame rate and
encoded with libx264 `medium`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import pandas as pd
from draw_before import draw_before

from vidseg.media.encode import MP4_AUDIO
from vidseg.media.ffmpeg import run
from vidseg.media.frames import frame_name


def annotate_before(frames_dir: Path, times: Sequence[float], detections: Iterable[tuple[int, pd.DataFrame]],
                    probe: dict, source: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory(dir=Path(out).parent) as annotated:
        groups = dict(detections)
        for index in range(len(times)):
            image = cv2.imread(str(frames_dir / frame_name(index, "jpg")))
            if index in groups:
                image = draw_before(image, groups[index])
            cv2.imwrite(str(Path(annotated) / frame_name(index, "jpg")), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                "-framerate", f"{probe['fps_num']}/{probe['fps_den']}", "-start_number", "0",
                "-i", str(Path(annotated) / "%06d.jpg"), "-i", str(source), "-map", "0:v:0"]
        if probe["audio_codec"]:
            args += ["-map", "1:a:0", "-c:a", "copy" if probe["audio_codec"] in MP4_AUDIO else "aac"]
        args += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "medium", "-crf", "20",
                 "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", str(out)]
        run(args, what="encode (before)")
