"""Tracking experiments and speed (a script that prints figures, not a test).

    python benchmarks/tracking.py isolate [--seeds 100-107] [--drops 0 0.1 0.2] [--jitters 0 2 4]
        The tracker alone: ground-truth masks of synthetic demo scenes as detections, with a share of
        them dropped and each shifted by Gaussian jitter (pixels), tracked with mask and with box
        association, scored with TrackEval (HOTA, AssA, IDF1, ID switches per 100 frames).
    python benchmarks/tracking.py runs RUN_DIR [RUN_DIR ...] [--set key=value ...]
        Real detections: the segment tables of finished workflow runs on demo videos (each video's in the
        folders of its units, results/units/<unit>/<video>.detections.parquet, as results/units.json lists
        them; resources/demo ground truths), tracked as the track stage does, under given `track:` settings.
    python benchmarks/tracking.py speed [--detections 20] [--frames 2000]
        Tracker frames/s on one core with that many detections per frame (make bench prints it too).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd


def one_core() -> None:
    """Pin this process to one core (and its BLAS to one thread): the speed figure is per core."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def scene_truth(seed: int, frames: int = 100, size: tuple[int, int] = (192, 256)) -> dict:
    """{frame: (object ids, RLEs, categories)} of a demo scene (what `demo_video` draws for that seed)."""
    from pycocotools import mask as mask_utils

    from vidseg.media.synthetic import Scene

    scene = Scene(np.random.default_rng(seed), size)
    truth = {}
    for frame in range(frames):
        _, instances = scene.render_tracked(frame)
        visible = [(i, c, m) for i, c, m in instances if m.any()]
        truth[frame] = ([i for i, _, _ in visible],
                        [mask_utils.encode(np.asfortranarray(m.astype(np.uint8))) for _, _, m in visible],
                        [c for _, c, _ in visible])
    return truth


def perturbed_detections(truth: dict, drop: float, jitter: float, rng: np.random.Generator) -> pd.DataFrame:
    """Ground-truth masks as detection rows (score 0.9-1.0), each dropped with chance `drop` and shifted by jitter."""
    from pycocotools import mask as mask_utils

    rows = []
    for frame, (ids, rles, categories) in truth.items():
        for object_id, rle, category in zip(ids, rles, categories):
            if rng.random() < drop:
                continue
            mask = mask_utils.decode(rle)
            dx, dy = np.round(rng.normal(0, jitter, 2)).astype(int) if jitter else (0, 0)
            mask = np.roll(mask, (int(dy), int(dx)), axis=(0, 1))
            ys, xs = np.nonzero(mask)
            if not len(ys):
                continue
            encoded = mask_utils.encode(np.asfortranarray(mask))
            rows.append({"frame": frame, "class_id": category, "score": rng.uniform(0.9, 1.0),
                         "x_min": xs.min(), "y_min": ys.min(), "x_max": xs.max() + 1, "y_max": ys.max() + 1,
                         "mask_rle": encoded["counts"].decode("ascii"), "height": mask.shape[0],
                         "width": mask.shape[1], "object": object_id})
    return pd.DataFrame(rows)


def track_rows(rows: pd.DataFrame, settings) -> np.ndarray:
    """Track ids for detection rows (in frame order) with `vidseg.tracking.tracker`."""
    from vidseg.tracking.tracker import Tracker

    tracker = Tracker(settings)
    for frame, group in rows.groupby("frame", sort=True):
        rles = [{"size": [int(h), int(w)], "counts": c.encode("ascii")}
                for h, w, c in zip(group.height, group.width, group.mask_rle)]
        tracker.update(int(frame), group[["x_min", "y_min", "x_max", "y_max"]].to_numpy(), group.score.to_numpy(),
                       group.class_id.to_numpy(), rles)
    return tracker.ids


FIGURES = ("HOTA", "DetA", "AssA", "IDF1", "MOTA", "id_switches_per_100_frames")


def _line(label: str, results: list[dict]) -> str:
    return label + "  " + "  ".join(f"{k} {np.mean([r[k] for r in results]):.3f}" for k in FIGURES)


def seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def isolate(args) -> None:
    from vidseg.evaluation.track_eval import sequence_data, tracking_figures
    from vidseg.tracking.tracker import TrackSettings

    truths = {seed: scene_truth(seed) for seed in seeds(args.seeds)}
    for drop in args.drops:
        for jitter in args.jitters:
            for association in ("mask", "box"):
                results = []
                for seed, truth in truths.items():
                    rows = perturbed_detections(truth, drop, jitter, np.random.default_rng(seed))
                    rows["track_id"] = track_rows(rows, TrackSettings(association=association))
                    scored = {f: (ids, rles) for f, (ids, rles, _) in truth.items()}
                    results.append(tracking_figures(sequence_data(rows, scored)))
                print(_line(f"drop {drop:.2f} jitter {jitter:g}px {association:4s}", results), flush=True)


def runs(args) -> None:
    from vidseg.evaluation.track_eval import evaluate_tracking
    from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, read_parts
    from vidseg.inference.unit import tables_of
    from vidseg.tracking.track import assign_track_ids
    from vidseg.tracking.tracker import TrackSettings
    from vidseg.workflow.plan import PATHS
    from vidseg.workflow.units import read_plan

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = value if key == "association" else (value == "true" if value in ("true", "false")
                                                             else float(value) if "." in value else int(value))
    settings = TrackSettings(**overrides)
    results = []
    for run in map(Path, args.run_dirs):
        plan = read_plan(run / PATHS["units"])
        for video in sorted(plan.videos):
            # the video's tables in frame order (a unit that failed it: an error with the reason noted)
            folders = [run / PATHS["segment"].format(unit=unit) for unit in plan.units_of(video)]
            parts = tables_of(folders, video, "detections")
            rows = read_parts(parts, CHUNK_DETECTIONS_SCHEMA).to_pandas()
            rows = rows[rows.score >= np.float32(args.min_confidence)].reset_index(drop=True)
            rows["track_id"] = assign_track_ids(parts, args.min_confidence, settings)
            report = evaluate_tracking(rows, run / "resources/demo" / f"{video}.json")
            results.append(report)
            if args.each:
                print(_line(f"{run.name}/{video}", [report]))
    print(_line(f"mean of {len(results)} ({settings})", results))


def tracker_seconds_per_frame(detections: int = 20, frames: int = 2000, association: str = "mask") -> float:
    """Seconds per frame of `vidseg.tracking.tracker` on one core: `detections` squares of 50 px per 640x480 frame,
    drifting (their RLEs made beforehand, as the track stage reads them from the table)."""
    from pycocotools import mask as mask_utils

    from vidseg.tracking.tracker import Tracker, TrackSettings

    one_core()
    rng = np.random.default_rng(0)
    h, w = 480, 640
    centres = rng.uniform([40, 40], [w - 40, h - 40], (detections, 2))
    velocity = rng.normal(0, 3, (detections, 2))
    prepared = []
    for _ in range(frames):
        centres = np.clip(centres + velocity, 40, [w - 40, h - 40])
        boxes = np.concatenate([centres - 25, centres + 25], axis=1).round()
        masks = np.zeros((h, w, len(boxes)), np.uint8, order="F")
        for i, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
            masks[y0:y1, x0:x1, i] = 1
        prepared.append((boxes, rng.uniform(0.5, 1.0, len(boxes)), np.ones(len(boxes), int), mask_utils.encode(masks)))
    tracker = Tracker(TrackSettings(association=association))
    start = time.perf_counter()
    for frame, (boxes, scores, classes, rles) in enumerate(prepared):
        tracker.update(frame, boxes, scores, classes, rles)
    return (time.perf_counter() - start) / frames


def speed(args) -> None:
    for association in ("mask", "box"):
        fps = 1 / tracker_seconds_per_frame(args.detections, args.frames, association)
        print(f"tracker ({association} association, {args.detections} detections/frame, one core): {fps:.0f} frames/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("isolate")
    p.add_argument("--seeds", default="100-107")
    p.add_argument("--drops", type=float, nargs="+", default=[0.0, 0.1, 0.2])
    p.add_argument("--jitters", type=float, nargs="+", default=[0.0, 2.0, 4.0])
    p = sub.add_parser("runs")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--set", nargs="*", default=[])
    p.add_argument("--min-confidence", type=float, default=0.7)
    p.add_argument("--each", action="store_true")
    p = sub.add_parser("speed")
    p.add_argument("--detections", type=int, default=20)
    p.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()
    {"isolate": isolate, "runs": runs, "speed": speed}[args.command](args)


if __name__ == "__main__":
    main()
