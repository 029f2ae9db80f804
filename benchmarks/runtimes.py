"""The segment stage under each runtime and precision, side by side in one run (issue 36).

    python benchmarks/runtimes.py [--configs resnet50@512 resnet101@1024] [--frames 12] [--threads 2]
                                  [--workflow-frames 24] [--isa native|avx2] [--port DIR] [--variants NAME ...]
                                  [--weights mask_rcnn_coco.h5] [--images DIR]

Per config (COCO's 81 classes, seeded weights: they detect arbitrary things; or --weights, a
trained COCO model such as matterport's mask_rcnn_coco.h5), on real photographs (scikit-image's
bundled ones, or the images in --images DIR, cut to 640x480 and repeated):

- with --port DIR, "matterport port": a TF2 port of matterport's `mrcnn` (DIR holds its
  `mrcnn` package; not in this repository, see benchmarks/matterport_port.py) on the same
  weights and frames, one frame a call, in a process of its own: the issue's reference;
- "matterport graph": Keras, float32, the mask head on every detection slot as in
  matterport's graph (this repository's stand-in for a matterport port where none is given);
- keras float32 (the default), and keras mixed_bfloat16 where the CPU has AVX512-BF16 or AMX;
- openvino float32, onnxruntime float32 (`segment.engine`);
- openvino int8 (`segment.precision: int8`), quantized on the unit's own frames as a job does.

Each row is the segment stage as a job runs it (`segment_unit`: JPEG read, mold,
model, post-processing, RLE, Parquet), in a process of its own as a job's, with the job's
threads as model streams of one thread each, timed on a second pass over the frames: the steady state of a
long video, where every graph shape (the mask head's detection counts) is traced or
compiled once. Setup: the first pass's time beyond the second's (conversion,
quantization, tracing, compiling). Agreement: the share of keras float32's
detections found again (same class, box IoU >= 0.9) and their mean mask IoU, and the same
against the port's where it ran. Seeded weights score many near-ties, so agreement on them is
a lower bound; with trained --weights it is the runtimes' accuracy on those frames (int8's included).

Then the demo model (trained) on the demo video per runtime and precision:
COCOeval mask and box AP, the accuracy int8 must keep. Last, with
--workflow-frames, the whole workflow from a video to its detections table
(probe, plan, frames, segment, track) for keras float32 and openvino int8:
frames/s with every start-up cost in (`--parts workflow` runs only that).

`--isa avx2` runs it all as on an AVX2-only CPU, on a CPU that has more (benchmarks/isa.py):
CPUID masked where the machine allows it, so TensorFlow, oneDNN, OpenVINO and ONNX Runtime each
pick their AVX2 kernels themselves; else caps that reach TensorFlow and oneDNN but not MLAS (ONNX
Runtime's kernels, and OpenVINO's fully connected layers without a fused post-op, the classifier
head's first among them). The output names which. Same cores and caches either way: an emulation.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import CALIBRATION_SIZE, agreement, make_config, seeded_model, segment_seconds  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina")
MIN_CONFIDENCE = 0.7
ISAS = ("native", "avx2")


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def photos(count: int, size: tuple[int, int] = CALIBRATION_SIZE, folder: Path | None = None) -> list[np.ndarray]:
    """`count` RGB frames [H, W, 3] from scikit-image's bundled photographs, or from the images in `folder` (JPEG or
    PNG, by name), each scaled and centre-cut to `size` (repeating)."""
    import cv2

    if folder is None:
        from skimage import data

        images = (getattr(data, name)() for name in PHOTOS)
    else:
        files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SystemExit(f"--images {folder}: no {', '.join(IMAGE_SUFFIXES)} files there")
        images = (_read_rgb(path) for path in files[:count])
    out = []
    h, w = size
    for image in images:
        scale = max(h / image.shape[0], w / image.shape[1])
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
        top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
        out.append(np.ascontiguousarray(image[top:top + h, left:left + w, :3]))
    return [out[i % len(out)] for i in range(count)]


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"--images: {path} is not an image OpenCV can read")
    return image[..., ::-1]


def write_jpegs(frames: list[np.ndarray], work: Path) -> Path:
    """The frames as the frames job writes them (work/frames/000000.jpg, ...) and their index; returns the index."""
    import cv2

    from vidseg.media.frames import frame_name, write_index

    (work / "frames").mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(work / "frames" / frame_name(i, "jpg")), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    write_index([i / 30 for i in range(len(frames))], work / "index.tsv")
    return work / "index.tsv"


class Found:
    """One frame's detections as `agreement` reads them: boxes [N, 4] in pixels, class ids [N], `rle()` [N]."""

    def __init__(self, boxes, class_ids, rles: list[dict]):
        self.boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self.class_ids = np.asarray(class_ids, np.int64)
        self._rle = rles

    def __len__(self):
        return len(self.class_ids)

    def rle(self):
        return self._rle


def detections_of(work: Path, tag: str, count: int) -> list[Found]:
    """The benchmark table written for `tag`, back as one `Found` per frame."""
    import pandas as pd

    from common import segment_table
    from vidseg.formats.tables import row_rles

    table = pd.read_parquet(segment_table(work, tag, "detections"))
    return [Found(rows[["y_min", "x_min", "y_max", "x_max"]].to_numpy(), rows.class_id.to_numpy(), row_rles(rows))
            for rows in (table[table.frame == i] for i in range(count))]


VARIANTS = [  # (name, MaskRCNN options, engine, int8)
    ("matterport graph", {"all_mask_slots": True}, "keras", False),
    ("keras float32", {}, "keras", False),
    ("keras mixed_bfloat16", {"precision": "mixed_bfloat16"}, "keras", False),
    ("openvino float32", {}, "openvino", False),
    ("onnxruntime float32", {}, "onnxruntime", False),
    ("openvino int8", {}, "openvino", True),
]


def weights_file(spec: str, path: Path, weights: Path | None = None) -> Path:
    """`weights` where given, else `spec`'s seeded weights saved to `path`: what a process of its own loads."""
    if weights is None:
        seeded_model(spec, 1, MIN_CONFIDENCE).save_weights(path)
    return path if weights is None else weights


def weights_mismatch(weights: Path, specs: list[str]) -> str | None:
    """Why `weights` cannot run `specs`' COCO configurations (a class count or backbone of its own), or None."""
    from vidseg.core.errors import WeightsError
    from vidseg.maskrcnn.h5file import layout_mismatches, weights_layout

    try:
        layout = weights_layout(weights)
    except WeightsError as err:
        return f"--weights: {err}"
    for spec in specs:
        wrong = [f"{key} {value} (the config's {wanted})"
                 for key, value, wanted in layout_mismatches(layout, make_config(spec, 1, MIN_CONFIDENCE))]
        if wrong:
            return (f"--weights {weights} does not fit --configs {spec}: the file has {', '.join(wrong)}; the rows "
                    f"need matterport's COCO layout (mask_rcnn_coco.h5: 81 classes) and a config of its backbone")
    return None


def port_row(spec: str, port: Path, work: Path, count: int, threads: int, weights: Path | None = None) -> dict:
    """The matterport port's row for `spec`: the same weights (seeded, or `weights`) and frames, one frame a call."""
    import json

    weights = weights_file(spec, work / f"{spec}.h5", weights)
    config = work / f"{spec}.json"
    config.write_text(json.dumps(make_config(spec, 1, MIN_CONFIDENCE).to_dict()))
    out = work / f"{spec}-port.json"
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("matterport_port.py")), "--port", str(port),
                           "--weights", str(weights), "--config", str(config), "--frames-dir", str(work / "frames"),
                           "--count", str(count), "--threads", str(threads), "--out", str(out)],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
    result = json.loads(out.read_text())
    found = [Found([d["box"] for d in frame], [d["class_id"] for d in frame],
                   [{"size": d["rle"]["size"], "counts": d["rle"]["counts"].encode()} for d in frame])
             for frame in result["frames"]]
    return {"config": spec, "variant": "matterport port", "s_per_frame": result["s_per_frame"],
            "setup_s": result["setup_s"], "detections": sum(len(f) for f in found), "found": found}


def report(spec: str, name: str, row: dict | None = None, error: Exception | None = None) -> None:
    """A variant's line as it finishes: its time, setup and detections, or why it failed."""
    if error is not None:
        print(f"  {spec} {name}: failed: {' '.join(str(error).split())[:300]}", flush=True)
    else:
        print(f"  {spec} {name}: {row['s_per_frame']:.3f} s/frame, setup {row['setup_s']:.1f} s, "
              f"{row['detections']} detections", flush=True)


def run_config(spec: str, work: Path, count: int, streams: int, has_bf16: bool,
               port: Path | None = None, variants: Sequence[str] = (), weights: Path | None = None) -> list[dict]:
    rows = []
    if port is not None:
        try:
            rows.append(port_row(spec, port, work, count, streams, weights))
            report(spec, "matterport port", rows[-1])
        except Exception as err:  # noqa: BLE001 - as a variant's failure below
            report(spec, "matterport port", error=err)
    weights = weights_file(spec, work / f"{spec}.h5", weights)
    for name, *_ in VARIANTS:
        if ("bfloat16" in name and not has_bf16) or (variants and name not in variants):
            continue
        try:
            rows.append({"config": spec, "variant": name, **variant_process(spec, name, work, count, streams, weights)})
        except Exception as err:  # noqa: BLE001 - a variant that fails is a row that says so, not the end
            report(spec, name, error=err)
            continue
        found = detections_of(work, row_tag(spec, name), count)
        rows[-1].update(detections=sum(len(f) for f in found), found=found)
        report(spec, name, rows[-1])
    for reference, key in (("keras float32", "keras"), ("matterport port", "port")):
        want = next((r["found"] for r in rows if r["variant"] == reference), None)
        for row in rows:
            if want is not None and row["variant"] != reference:
                row.update({f"{key}_{name}": value for name, value in agreement(want, row["found"]).items()})
    return rows


def variant_process(spec: str, name: str, work: Path, count: int, threads: int, weights: Path) -> dict:
    """`variant_row` in a process of its own, as a segment job runs (one engine a process): a row run after
    another in one process ran slower (OpenVINO float32 after Keras float32 at ResNet-101@1024: 3.08 s a frame
    against 2.54 alone). Its tables land in `work` as in-process; returns its seconds."""
    import json

    done = subprocess.run([sys.executable, __file__, "--row", spec, name, "--work", str(work), "--frames", str(count),
                           "--threads", str(threads), "--weights", str(weights)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
    return json.loads(row_result(work, spec, name).read_text())


def row_tag(spec: str, name: str) -> str:
    """The folder name of variant `name`'s tables for `spec` (segment_seconds's tag)."""
    return f"{spec}-{name}".replace(" ", "_")


def row_result(work: Path, spec: str, name: str) -> Path:
    """Where a `--row` process leaves its seconds for `variant_process`."""
    return work / f"{row_tag(spec, name)}.json"


def variant_row(spec: str, name: str, work: Path, count: int, streams: int, weights: Path) -> dict:
    """Variant `name` of `spec` on the first `count` frames of work/frames: seconds a frame on the second pass, and
    the first pass's time beyond it (setup); its tables in work/<spec>-<name>."""
    from vidseg.inference.segment import calibrate

    options, engine, int8 = next(rest for variant, *rest in VARIANTS if variant == name)
    model = seeded_model(spec, streams, MIN_CONFIDENCE, weights, **options)
    tag = row_tag(spec, name)
    warm = count  # the same frames once first: every graph shape they meet compiled (a long video's steady state)
    start = time.perf_counter()
    if engine != "keras" and not int8:
        model.use_engine(engine, streams=streams)

    def quantize(frames):
        calibrate(model, engine, frames, "jpg", streams=streams)

    segment_seconds(model, work, work / "index.tsv", warm, tag + "-warm", streams=streams,
                    prepare=quantize if int8 else None)  # converts, quantizes, traces and compiles
    first = time.perf_counter() - start
    seconds = segment_seconds(model, work, work / "index.tsv", count, tag, streams=streams)
    return {"s_per_frame": seconds, "setup_s": max(0.0, first - warm * seconds)}


def demo_rows(work: Path, streams: int) -> list[dict]:
    """COCOeval of the demo model on the demo video (config/config.yaml's `demo:`) per runtime and precision, as
    the evaluate rule scores it (down to score 0)."""
    import yaml

    from vidseg.evaluation.evaluate import evaluate
    from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, read_parts
    from vidseg.inference.segment import calibrate, load_model, segment_unit
    from vidseg.inference.unit import TABLES, member_path, whole
    from vidseg.media.frames import extract, write_index
    from vidseg.media.synthetic import write_video

    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["demo"]
    video = work / "demo"
    write_video(video / "demo.mp4", video / "truth.json", frames=demo["frames"], seed=demo["seed"],
                size=(demo["height"], demo["width"]), fps=demo["fps"])
    write_index(extract(video / "demo.mp4", video / "frames", "jpg", 2), video / "index.tsv")
    rows = []
    for engine, precision in (("keras", "float32"), ("openvino", "float32"), ("onnxruntime", "float32"),
                              ("openvino", "int8")):
        model, names = load_model({}, REPO / "models" / "shapes.h5", min_confidence=0.0, precision=precision,
                                  engine=engine, streams=streams)

        def quantize(frames, model=model, engine=engine):
            calibrate(model, engine, frames, "jpg", streams=streams)

        folder = work / f"demo-{engine}-{precision}"
        segment_unit(model, names, whole("demo"), {"demo": video / "frames"}, {"demo": video / "index.tsv"}, "jpg",
                     folder, streams=streams, prepare=quantize if precision == "int8" else None)
        table = read_parts([member_path(folder, "demo", TABLES["detections"])], CHUNK_DETECTIONS_SCHEMA).to_pandas()
        report = evaluate(table, video / "truth.json")
        rows.append({"variant": f"{engine} {precision}", **{f"{kind}_{stat}": report[kind][stat]
                                                            for kind in ("segm", "bbox") for stat in ("AP", "AP50")}})
        print(f"  demo {engine} {precision}: {rows[-1]}", flush=True)
    return rows


def workflow_fps(work: Path, frames: list[np.ndarray], spec: str, threads: int, segment: dict,
                 weights: Path | None = None) -> float:
    """Frames/s of the workflow from one video of `frames` to its detections table (probe, plan, frames,
    segment, track), on `weights` (default the seeded ones)."""
    import cv2
    import yaml

    folder = work / f"workflow-{segment.get('engine', 'keras')}-{segment.get('precision', 'float32')}"
    (folder / "videos").mkdir(parents=True)
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(folder / "clip.avi"), "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", str(folder / "videos" / "clip.mp4")], check=True)
    weights = weights_file(spec, folder / "weights.h5", weights)
    config = make_config(spec, 1, MIN_CONFIDENCE)
    settings = {"backbone": config.BACKBONE, "image_min_dim": config.IMAGE_MIN_DIM,
                "image_max_dim": config.IMAGE_MAX_DIM, "detection_min_confidence": MIN_CONFIDENCE}
    (folder / "config.yaml").write_text(yaml.safe_dump({
        "videos": "videos", "weights": str(Path(weights).resolve()), "model": settings,
        "segment": {"device": "cpu", **segment}}))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(folder),
                    "--configfile", str(folder / "config.yaml"), "--cores", str(threads), "--quiet", "--",
                    "results/detections/video_id=clip/part-0.parquet"], check=True, capture_output=True)
    return len(frames) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["resnet50@512", "resnet101@1024"])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workflow-frames", type=int, default=24)
    parser.add_argument("--parts", nargs="+", choices=["models", "demo", "workflow"],
                        default=["models", "demo", "workflow"])
    parser.add_argument("--isa", choices=ISAS, default="native")
    parser.add_argument("--variants", nargs="+", choices=[name for name, *_ in VARIANTS],
                        help="only these of vidseg's rows (default: all)")
    parser.add_argument("--port", type=Path, help="a folder holding a TF2 port's mrcnn package (matterport_port.py)")
    parser.add_argument("--weights", type=Path, help="a matterport-layout .h5 of COCO's 81 classes (mask_rcnn_coco.h5) "
                                                     "in place of the seeded weights, for every row")
    parser.add_argument("--images", type=Path, help="a folder of JPEG or PNG images to use as the frames (by name, "
                                                    "scaled and centre-cut to 640x480), in place of scikit-image's")
    parser.add_argument("--row", nargs=2, metavar=("CONFIG", "VARIANT"), help=argparse.SUPPRESS)  # variant_process's
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:  # one variant's row in a process of its own, for variant_process: as a segment job runs
        import json

        from vidseg.core.allocator import keep_freed_memory
        from vidseg.inference.threads import use_threads

        keep_freed_memory()

        spec, name = args.row
        row = variant_row(spec, name, args.work, args.frames, use_threads(args.threads), args.weights)
        row_result(args.work, spec, name).write_text(json.dumps(row))
        return
    for given in (args.weights, args.images):
        if given is not None and not given.exists():
            parser.error(f"{given} does not exist")
    if args.isa != "native" and os.environ.get("VIDSEG_BENCH_ISA") != args.isa:  # they hold from a process's start
        from isa import avx2_environment

        env, how = avx2_environment()
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, **env, "VIDSEG_BENCH_ISA": args.isa, "VIDSEG_BENCH_ISA_HOW": how})

    from bench import cpu_name, nominal_peak_gflops
    from vidseg.core.cpu import has_bf16
    from vidseg.inference.threads import use_threads

    if args.weights is not None:
        mismatch = weights_mismatch(args.weights, args.configs)
        if mismatch:
            parser.error(mismatch)
    streams = use_threads(args.threads)
    isa = nominal_peak_gflops(args.threads)[1] if args.isa == "native" else \
        f"emulating an AVX2-only CPU, {os.environ['VIDSEG_BENCH_ISA_HOW']}"
    print(f"CPU: {cpu_name()} ({isa}), {args.threads} threads as {streams} model streams", flush=True)
    per_round = streams * streams  # each stream runs batches of `streams` frames (seeded_model's IMAGES_PER_GPU)
    if args.frames % per_round:  # else one stream runs a batch more than the other while it idles: not a job's pace
        args.frames += per_round - args.frames % per_round
        print(f"  --frames rounded up to {args.frames}, a multiple of {per_round} (batches of {streams} frames over "
              f"{streams} streams)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_jpegs(photos(args.frames, folder=args.images), work)
        rows = []
        for spec in args.configs if "models" in args.parts else []:
            rows += run_config(spec, work, args.frames, streams, has_bf16() and args.isa == "native", args.port,
                               args.variants or (), args.weights)
        print(f"\nOn {cpu_name()} ({isa}):")  # with the table, for whoever copies it alone
        print("| config | variant | s/frame | frames/s | x matterport port | x matterport graph | x keras float32 | "
              "setup s | detections | keras float32's found | mask IoU | port's found | mask IoU |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            same = [r for r in rows if r["config"] == row["config"]]
            port, graph, keras = (next((r["s_per_frame"] for r in same if r["variant"] == name), float("nan"))
                                  for name in ("matterport port", "matterport graph", "keras float32"))
            agree = []
            for key in ("keras", "port"):
                found = row.get(f"{key}_detections_found")
                agree += ["-" if found is None else f"{found:.3f}", f"{row.get(f'{key}_mask_iou_mean', float('nan')):.3f}"]
            print(f"| {row['config']} | {row['variant']} | {row['s_per_frame']:.3f} | {1 / row['s_per_frame']:.2f} | "
                  f"{port / row['s_per_frame']:.2f} | {graph / row['s_per_frame']:.2f} | "
                  f"{keras / row['s_per_frame']:.2f} | {row['setup_s']:.1f} | {row['detections']} | {' | '.join(agree)} |")
        print("\nThe demo model on the demo video (scored down to score 0, as the evaluate rule scores):")
        demo = demo_rows(work, streams) if "demo" in args.parts else []
        print("\n| demo model | mask AP | mask AP50 | box AP | box AP50 |\n|---|---|---|---|---|")
        for row in demo:
            print(f"| {row['variant']} | {row['segm_AP']:.3f} | {row['segm_AP50']:.3f} | {row['bbox_AP']:.3f} | "
                  f"{row['bbox_AP50']:.3f} |")
        if args.workflow_frames and "workflow" in args.parts:
            frames = photos(args.workflow_frames, folder=args.images)
            spec = args.configs[0]
            print(f"\nWhole workflow, video to tables ({args.workflow_frames} frames of 640x480, {spec}, "
                  f"--cores {args.threads}, every start-up included):")
            for segment in ({}, {"engine": "openvino", "precision": "int8"}):
                fps = workflow_fps(work, frames, spec, args.threads, segment, args.weights)
                print(f"  {segment or 'keras float32'}: {fps:.2f} frames/s", flush=True)


if __name__ == "__main__":
    main()
