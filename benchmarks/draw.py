"""Drawing one annotated frame: in the masks' boxes (vidseg.media.render.draw) against the full-frame drawing it
replaced (benchmarks/draw_before.py), side by side in one run.

    python benchmarks/draw.py [--size 1280x720] [--detections 20] [--repeats 20]

Random elliptical masks of 40-200 px on a noise frame. Prints ms per frame for each, the speed-up, and the
PSNR of the new picture against the old one where labels cannot collide (a grid of objects; identical
pictures give "identical"); with random overlapping objects the labels move apart, so the pictures differ there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from draw_before import draw_before  # noqa: E402
from vidseg.media.render import draw  # noqa: E402


def row(i: int, mask: np.ndarray, box: tuple[int, int, int, int], score: float) -> dict:
    x0, y0, x1, y1 = box
    return dict(class_id=i % 5 + 1, class_name="thing", score=score, x_min=x0, y_min=y0, x_max=x1, y_max=y1,
                track_id=i + 1, mask_rle=mask_utils.encode(np.asfortranarray(mask))["counts"].decode())


def random_objects(n: int, h: int, w: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:h, :w]
    rows = []
    for i in range(n):
        bw, bh = int(rng.integers(40, 200)), int(rng.integers(40, 200))
        x0, y0 = int(rng.integers(0, w - bw)), int(rng.integers(30, h - bh))
        mask = (((xx - x0 - bw / 2) / (bw / 2)) ** 2 + ((yy - y0 - bh / 2) / (bh / 2)) ** 2 <= 1).astype(np.uint8)
        rows.append(row(i, mask, (x0, y0, x0 + bw, y0 + bh), float(rng.random())))
    return pd.DataFrame(rows)


def grid_objects(n: int, h: int, w: int) -> pd.DataFrame:
    """`n` objects in a grid, far enough apart that no label reaches another."""
    cols = 5
    cell_w, cell_h = w // cols, h // -(-n // cols)
    rows = []
    for i in range(n):
        x0, y0 = (i % cols) * cell_w + 10, (i // cols) * cell_h + 30
        mask = np.zeros((h, w), np.uint8)
        mask[y0 + 4:y0 + cell_h - 40, x0 + 3:x0 + cell_w - 30] = 1
        rows.append(row(i, mask, (x0, y0, x0 + cell_w - 20, y0 + cell_h - 35), 0.5 + i / 100))
    return pd.DataFrame(rows)


def ms_per_frame(fn, image, rows, repeats: int) -> float:
    fn(image, rows)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(image, rows)
    return (time.perf_counter() - start) / repeats * 1000


def psnr(a: np.ndarray, b: np.ndarray) -> str:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return "identical" if mse == 0 else f"{10 * np.log10(255 ** 2 / mse):.1f} dB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--detections", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    image = np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8)
    rows = random_objects(args.detections, h, w)
    before, after = (ms_per_frame(fn, image, rows, args.repeats) for fn in (draw_before, draw))
    grid = grid_objects(args.detections, h, w)
    print(f"draw one {w}x{h} frame with {args.detections} detections: before {before:.1f} ms, in the boxes "
          f"{after:.1f} ms ({before / after:.1f}x); picture vs before, labels apart: "
          f"{psnr(draw(image, grid), draw_before(image, grid))}; random overlapping objects: "
          f"{psnr(draw(image, rows), draw_before(image, rows))} (labels moved apart)")


if __name__ == "__main__":
    main()
