"""The model on an accelerator under Keras's JAX backend (a script that prints figures, not a test).

Machines with a GPU here have JAX but no TensorFlow, so this is `bench.py`'s
model and segment rows without TensorFlow: seeded COCO-class weights (made on
the machine, saved and reloaded through the matterport `.h5` loader), a fixed
synthetic scene written as JPEG frames, and for each variant (precision, batch)
in priority order:

- pure forward frames/s (molded input in, numpy out; `MaskRCNN.predict`), after a
  warm-up pass that compiles every shape the timed pass meets, and the split of
  that time between the dense part, the detection part and the mask head;
- the segment stage end to end (`segment_unit`: JPEG read, mold, model,
  unmold, RLE, Parquet) and its overhead ratio (end to end / pure forward);
- for variants other than the first, how their detections agree with the first's.

With `--demo DIR` it also scores the bundled demo model (models/shapes.h5) on
the demo videos' frames in DIR (`--prepare-demo DIR` makes them, on a machine
with ffmpeg: the workflow's demo videos, seeds 7, 8, ..., decoded as the frames
rule does) with COCOeval, once per precision: the accuracy change of a precision
on a trained model, and, against the same command under TensorFlow on a CPU,
a check of the whole JAX path.

The detection threshold is set so that no frame has more than `--max-detections`
detections (the issue's figures are for frames with <= 20): one pass at threshold
0 finds the score of each frame's (max+1)-th detection.

    KERAS_BACKEND=jax python benchmarks/accelerator.py [--config resnet101@1024] [--plan float32:4 ...]

`--budget` seconds: variants not started by then are listed as skipped.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from common import agreement, make_config, read_frames, seeded_model, segment_seconds, write_frames  # noqa: E402

STARTED = time.perf_counter()


def elapsed() -> float:
    return time.perf_counter() - STARTED


def say(*parts) -> None:
    print(f"[{elapsed():6.1f}s]", *parts, flush=True)


def block(tree):
    """Wait for the device (JAX dispatch is asynchronous)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        jax.block_until_ready(tree)
    return tree


def threshold_for(model, images: list, batch: int, most: int) -> float:
    """The lowest score threshold that leaves no frame with more than `most` detections (model at threshold 0)."""
    from vidseg.maskrcnn.preprocess import mold_batch

    cut = 0.0
    for i in range(0, len(images), batch):
        out = model.predict(*mold_batch(images[i:i + batch], model.config)[:2])
        for scores, count in zip(out["scores"], out["count"]):
            ranked = np.sort(scores[:count])[::-1]
            if len(ranked) > most:
                cut = max(cut, float(ranked[most]))
    return float(np.nextafter(np.float32(cut), np.float32(1)))


def time_forward(model, images: list, batch: int) -> dict:
    """Pure forward s/frame (molded input prepared beforehand), compile time, and the split between parts."""
    from vidseg.maskrcnn.preprocess import mold_batch

    molded = [mold_batch(images[i:i + batch], model.config)[:2] for i in range(0, len(images), batch)]
    start = time.perf_counter()
    for x in molded:  # warm-up: compiles each shape the timed pass meets
        model.predict(*x)
    compile_s = time.perf_counter() - start
    best, counts = float("inf"), []
    for _ in range(2):
        start = time.perf_counter()
        outs = [model.predict(*x) for x in molded]
        best = min(best, time.perf_counter() - start)
    counts = [int(c) for o in outs for c in o["count"]]
    parts = {"dense": 0.0, "detections": 0.0, "masks": 0.0}

    def timed(name, part, *args):  # each part until the device is done with it
        start = time.perf_counter()
        out = block(part(*args))
        parts["dense" if name == "features" else name] += time.perf_counter() - start
        return out

    for x in molded:
        model.predict(*x, run=timed)
    frames = len(images)
    return {"s_per_frame": best / frames, "compile_s": compile_s, "detections_mean": float(np.mean(counts)),
            "detections_max": int(max(counts)), "split_ms": {k: 1e3 * v / frames for k, v in parts.items()}}


def prepare_demo(out_dir: Path, videos: int) -> None:
    """The first `videos` demo videos of config/config.yaml as the workflow makes them: frames, index, ground truth."""
    import yaml

    from vidseg.media.frames import extract, write_index
    from vidseg.media.synthetic import write_video

    demo = yaml.safe_load((Path(__file__).resolve().parent.parent / "config" / "config.yaml").read_text())["demo"]
    for i in range(videos):
        here = out_dir / f"demo_{i}"
        write_video(here / "video.mp4", here / "truth.json", frames=demo["frames"], seed=demo["seed"] + i,
                    size=(demo["height"], demo["width"]), fps=demo["fps"])
        write_index(extract(here / "video.mp4", here / "frames", "jpg", 2), here / "index.tsv")
        (here / "video.mp4").unlink()
        say(f"{here}: {len(list((here / 'frames').iterdir()))} frames")


def score_demo(demo_dir: Path, precisions: list[str], work: Path) -> list[dict]:
    """COCOeval of the demo model per precision over the demo videos in `demo_dir` (as the evaluate rule scores)."""
    from vidseg.core.errors import VidsegError
    from vidseg.evaluation.evaluate import evaluate
    from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, read_parts
    from vidseg.inference.segment import load_model, segment_unit
    from vidseg.inference.unit import TABLES, member_path, whole
    from vidseg.media.frames import read_index

    weights = Path(__file__).resolve().parent.parent / "models" / "shapes.h5"
    videos = sorted(p for p in demo_dir.iterdir() if (p / "truth.json").is_file())
    rows = []
    for precision in precisions:
        model, names = load_model({}, weights, min_confidence=0.0, precision=precision)
        for video in videos:
            n = len(read_index(video / "index.tsv"))
            folder = work / f"demo-{precision}-{video.name}"
            start = time.perf_counter()
            outcome = segment_unit(model, names, whole(video.name), {video.name: video / "frames"},
                                   {video.name: video / "index.tsv"}, "jpg", folder)
            seconds = time.perf_counter() - start
            if isinstance(outcome[video.name], str):
                raise VidsegError(f"{video}: the segment stage failed it: {outcome[video.name]}")
            out = member_path(folder, video.name, TABLES["detections"])
            report = evaluate(read_parts([out], CHUNK_DETECTIONS_SCHEMA).to_pandas(), video / "truth.json")
            rows.append({"precision": precision, "video": video.name, "fps": n / seconds,
                         **{f"{kind}_{name}": report[kind][name] for kind in ("bbox", "segm")
                            for name in ("AP", "AP50")}})
            say(f"demo {precision} {video.name}: {rows[-1]}")
        del model
    return rows


def describe_machine() -> str:
    import keras

    line = f"Keras {keras.__version__} ({keras.backend.backend()}), Python {platform.python_version()}, " \
           f"{os.cpu_count()} CPUs"
    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()
        line += f"; JAX {jax.__version__}: {len(devices)} x {devices[0].device_kind} ({devices[0].platform})"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="resnet101@1024")
    parser.add_argument("--frames", type=int, default=64, help="frames per measurement (a multiple of every batch)")
    parser.add_argument("--size", default="720x1280", help="frame size HxW")
    parser.add_argument("--plan", nargs="*", default=["float32:4", "mixed_bfloat16:4", "mixed_bfloat16:8",
                                                      "float32:1", "float32:8"],
                        help="precision:batch variants in priority order (none: only --demo)")
    parser.add_argument("--max-detections", type=int, default=20)
    parser.add_argument("--post-workers", type=int, nargs="+", default=[1, 4],
                        help="post-processing threads of the segment stage; one end-to-end run each")
    parser.add_argument("--budget", type=float, default=1e9, help="seconds after which no new variant starts")
    parser.add_argument("--out", help="write the results as JSON here too")
    parser.add_argument("--demo", type=Path, help="score the demo model on the demo frames in this folder")
    parser.add_argument("--demo-precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--prepare-demo", type=Path, help="write the demo frames to this folder and stop")
    parser.add_argument("--demo-videos", type=int, default=4)
    args = parser.parse_args()
    if args.prepare_demo:
        prepare_demo(args.prepare_demo, args.demo_videos)
        return

    import keras

    from vidseg.maskrcnn import MaskRCNN

    size = tuple(int(v) for v in args.size.split("x"))
    results = {"machine": describe_machine(), "config": args.config, "frame_size": args.size, "variants": [],
               "demo": []}
    say(results["machine"])

    def save() -> None:  # after each step, so a run cut short keeps what it measured
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))

    with tempfile.TemporaryDirectory(prefix="vidseg-accel-") as tmp:
        work = Path(tmp)
        if args.demo:
            results["demo"] = score_demo(args.demo, args.demo_precisions, work)
            save()
        if args.plan:
            images = read_frames(write_frames(work, args.frames, size), args.frames)
            say(f"{args.frames} frames {size[1]}x{size[0]} written")

            first_batch = int(args.plan[0].split(":")[1])
            model = seeded_model(args.config, first_batch, 0.0)
            model.save_weights(work / "seeded.h5")
            say("model built, weights seeded and saved")
            threshold = threshold_for(model, images, first_batch, args.max_detections)
            model.set_min_confidence(threshold)
            results["min_confidence"] = threshold
            say(f"detection threshold {threshold:.4f} (<= {args.max_detections} detections a frame)")
            models = {"float32": model}
            reference = None
            for item in args.plan:
                precision, batch = item.split(":")
                batch = int(batch)
                if elapsed() > args.budget:
                    say(f"skipped {item}: budget of {args.budget:.0f} s spent")
                    results["variants"].append({"variant": item, "skipped": True})
                    continue
                if precision not in models:
                    for old in list(models):
                        del models[old]
                    gc.collect()
                    m = MaskRCNN(make_config(args.config, batch, threshold), precision=precision)
                    m.load_weights(work / "seeded.h5", strict=True)
                    models[precision] = m
                    say(f"{precision} model built and loaded")
                m = models[precision]
                row = {"variant": item, **time_forward(m, images, batch)}
                say(f"{item} forward {row['s_per_frame'] * 1e3:.1f} ms/frame ({1 / row['s_per_frame']:.1f} fps), "
                    f"compile {row['compile_s']:.0f} s, split ms/frame {row['split_ms']}")
                row["segment"] = {}
                for workers in args.post_workers:
                    seconds = segment_seconds(m, work, work / "index.tsv", args.frames, item.replace(":", "_"), workers,
                                              batch=batch)
                    row["segment"][workers] = {"s_per_frame": seconds, "overhead_ratio": seconds / row["s_per_frame"]}
                    say(f"{item} segment end to end, {workers} post-processing threads: {1 / seconds:.1f} fps, "
                        f"overhead ratio {seconds / row['s_per_frame']:.2f}")
                found = m.detect(images[:16], batch=batch)
                if reference is None:
                    reference = found
                else:
                    row["agreement_with_first"] = agreement(reference, found)
                    say(f"{item} vs {args.plan[0]}: {row['agreement_with_first']}")
                results["variants"].append(row)
                save()
    print()
    print(f"# {results['machine']}; {args.config}, {args.size} frames, threshold {results.get('min_confidence')}")
    print("| variant | forward ms/frame | forward fps | segment e2e fps (post threads) | overhead ratio "
          "| detections/frame (max) | dense / detections / masks ms/frame | agreement with first |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["variants"]:
        if r.get("skipped"):
            print(f"| {r['variant']} | skipped (budget) | | | | | | |")
            continue
        s = r["split_ms"]
        a = r.get("agreement_with_first")
        agree = f"{a['detections_found']:.1%} found, mask IoU {a['mask_iou_mean']:.3f}" if a else "-"
        e2e = ", ".join(f"{1 / v['s_per_frame']:.1f} ({w})" for w, v in r["segment"].items())
        ratio = ", ".join(f"{v['overhead_ratio']:.2f}" for v in r["segment"].values())
        print(f"| {r['variant']} | {r['s_per_frame'] * 1e3:.1f} | {1 / r['s_per_frame']:.1f} | {e2e} | {ratio} | "
              f"{r['detections_mean']:.1f} ({r['detections_max']}) | {s['dense']:.1f} / {s['detections']:.1f} / "
              f"{s['masks']:.1f} | {agree} |")
    if results["demo"]:
        print()
        print("| demo model precision | video | segment fps | mask AP50 | mask AP | box AP50 | box AP |")
        print("|---|---|---|---|---|---|---|")
        for r in results["demo"]:
            print(f"| {r['precision']} | {r['video']} | {r['fps']:.1f} | {r['segm_AP50']:.3f} | {r['segm_AP']:.3f} | "
                  f"{r['bbox_AP50']:.3f} | {r['bbox_AP']:.3f} |")
    save()
    keras.backend.clear_session()


if __name__ == "__main__":
    main()
