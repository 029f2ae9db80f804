"""The benchmark behind `make bench` (a script that prints figures, not a test).

On a fixed synthetic video (seeded shapes scene, 480x640) and seeded COCO-class
weights it prints one table: frames/s of frame extraction, of the pure model
forward pass at batch 1, 2 and 4 (and of the variants each speed-up replaced),
of the segment stage end to end (frames read, molded, model, post-processing,
RLE, Parquet), of annotate (draw and encode) and of the tracker (20 detections per frame, one
core); the segment stage's overhead ratio
(end to end / pure forward at the same batch, measured in this run); each
stage's peak memory (every stage runs in its own process); achieved GFLOP/s
against the CPU's peak (nominal from its flags and clock, and a measured
large matmul); and the dry-run DAG build time for 1,000 videos.

    python benchmarks/bench.py [--configs resnet50@512 resnet101@1024] [--frames 8] [--videos 1000]

Seeded weights detect arbitrary things; `--min-confidence` sets the detection
threshold (detections per frame are printed: the mask head's cost grows with them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import read_frames, seeded_model, segment_seconds, segment_table

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
SIZE = (480, 640)


# ---------------------------------------------------------------- stages (each in its own process)

def _peak_kib() -> int:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))


def _graph_flops(fn, *args) -> float:
    """Floating-point operations TensorFlow's profiler counts in `fn`'s graph for these inputs."""
    import tensorflow as tf

    graph = fn.get_concrete_function(*args).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return float(tf.compat.v1.profiler.profile(graph, options=opts).total_float_ops)


def _forward_flops(model, images, windows) -> float:
    """FLOPs of one forward pass of `images` as `predict` runs it (mask head on the detections' slots)."""
    total = 0.0

    def counted(name, part, *args):
        nonlocal total
        total += _graph_flops(part, *args)
        return part(*args)

    model.predict(images, windows, run=counted)
    return total


# Each variant: MaskRCNN options and what it is, for the table.
VARIANTS = {
    "default": ({}, "float32, mask head on the detections' slots only"),
    "all": ({"all_mask_slots": True}, "mask head on all 100 slots (matterport's graph)"),
    "xla": ({"xla": True}, "dense part compiled with XLA"),
    "bf16": ({"precision": "mixed_bfloat16"}, "bfloat16 convolutions and dense layers (segment.precision)"),
    "bf16+xla": ({"precision": "mixed_bfloat16", "xla": True}, "bfloat16 and XLA"),
}
# matterport's TF2 port on this project's 2-core CPU (issue 6): predict 1.04-1.15 s/frame
# + mask un-molding 0.11-0.12 s/frame, ResNet-50 at 512 px, 81 classes.
MATTERPORT_S_PER_FRAME = (1.15, 1.27)


def stage_forward(work: Path, spec: str, frames: int, min_confidence: float, variant: str) -> dict:
    """Pure model time (molded input in, numpy out), per batch size; `variant` picks the code path."""
    import numpy as np

    from vidseg.maskrcnn.preprocess import mold_batch

    options = VARIANTS[variant][0]
    batches = [1, 2, 4] if variant in ("default", "bf16") else [4]
    model = seeded_model(spec, max(batches), min_confidence, **options)
    images = read_frames(work / "frames", frames)
    rows = []
    for batch in batches:
        molded = [mold_batch(images[i:i + batch], model.config)[:2] for i in range(0, frames, batch)]
        for x in molded:  # warm-up pass: traces every shape the timed pass meets (mask slots vary per batch)
            model.predict(*x)
        start = time.perf_counter()
        counts = [c for x in molded for c in model.predict(*x)["count"]]
        seconds = (time.perf_counter() - start) / frames
        flops = sum(_forward_flops(model, *x) for x in molded) / frames if not options.get("xla") else float("nan")
        rows.append({"batch": batch, "s_per_frame": seconds, "detections": float(np.mean(counts)),
                     "gflop_per_frame": flops / 1e9})
    return {"rows": rows}


def stage_segment(work: Path, spec: str, frames: int, min_confidence: float, variant: str) -> dict:
    """The segment stage as a job runs it (segment_unit), at batch 4, model load excluded."""
    from vidseg.media.frames import write_index

    model = seeded_model(spec, 4, min_confidence, **VARIANTS[variant][0])
    suffix = "" if variant == "default" else f".{variant}"
    model.detect(read_frames(work / "frames", frames))  # warm-up pass, as in the forward stage
    write_index([i / 10 for i in range(frames)], work / f"index{frames}.tsv")
    return {"s_per_frame": segment_seconds(model, work, work / f"index{frames}.tsv", frames, f"{spec}{suffix}")}


def stage_extract(work: Path) -> dict:
    from vidseg.media.frames import extract, write_index

    start = time.perf_counter()
    times = extract(work / "video.mp4", work / "frames", "jpg", 2)
    seconds = time.perf_counter() - start
    write_index(times, work / "index.tsv")
    return {"s_per_frame": seconds / len(times)}


def stage_annotate(work: Path, spec: str, n: int) -> dict:
    """The annotate stage on the first `n` frames (the ones the segment stage ran on) with their detections:
    read, draw, encode with the workflow's default settings at the video's 10 fps, audio copied."""
    from vidseg.formats.tables import frame_groups
    from vidseg.media.annotate import annotate_video
    from vidseg.media.probe import probe

    record = probe(work / "video.mp4")
    start = time.perf_counter()
    annotate_video(work / "frames", [i / 10 for i in range(n)], frame_groups(segment_table(work, spec, "detections")),
                   "jpg", record, work / "video.mp4", work / "out.mp4", threads=2)
    return {"s_per_frame": (time.perf_counter() - start) / n}


def stage_track(work: Path, detections: int) -> dict:
    """The tracker alone on one core (benchmarks/tracking.py): `detections` per frame, mask association."""
    from tracking import tracker_seconds_per_frame

    return {"s_per_frame": tracker_seconds_per_frame(detections, 2000, "mask")}


def stage_matmul(work: Path) -> dict:
    """Best fp32 GFLOP/s of a 4096^2 matmul: what TensorFlow can reach on this CPU."""
    import tensorflow as tf

    n = 4096
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.linalg.matmul(a, b).numpy()
    best = min(_timed(lambda: tf.linalg.matmul(a, b).numpy()) for _ in range(3))
    return {"gflops": 2 * n**3 / best / 1e9}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


STAGES = {"forward": stage_forward, "segment": stage_segment, "extract": stage_extract, "annotate": stage_annotate,
          "track": stage_track, "matmul": stage_matmul}


def run_stage(name: str, work: Path, *args) -> dict:
    """Run a stage in a fresh process; its result plus `peak_mib` (that process's and its children's peak RSS)."""
    cmd = [sys.executable, __file__, "--stage", name, "--work", str(work), "--args", json.dumps(args)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the CPU

def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nominal_peak_gflops(cores: int) -> tuple[float, str]:
    """fp32 peak from the CPU's flags and clock: two FMA units of 8 (AVX2) or 16 (AVX-512) floats per core.

    The clock is the one the kernel shows (a virtual machine may hide the boost
    clock, so the real peak can be higher). bfloat16 dot products (AVX512-BF16)
    do twice the multiply-adds of float32 per instruction.
    """
    from vidseg.core.cpu import cpu_flags, has_bf16

    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return float("nan"), "unknown"
    flags = cpu_flags(info)
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    isa = "AVX-512" if lanes == 16 else "AVX2+FMA" if lanes == 8 else "SSE"
    family = re.search(r"^cpu family\s*:\s*(\d+)", info, re.M)
    if lanes == 16 and "AuthenticAMD" in info and family and int(family.group(1)) <= 25:
        lanes, isa = 8, "AVX-512 on 256-bit FMA units (AMD Zen 4)"  # 512-bit FMAs issue as two halves
    mhz = max(float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M))
    try:  # the boost clock when the kernel shows it
        mhz = max(mhz, int(open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read()) / 1000)
    except (OSError, ValueError):
        pass
    peak = cores * mhz / 1000 * 2 * 2 * lanes
    return peak, f"{isa}, {mhz / 1000:.2f} GHz, {'has' if has_bf16(flags) else 'no'} AVX512-BF16/AMX"


# ---------------------------------------------------------------- the table

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["resnet50@512", "resnet101@1024"])
    parser.add_argument("--frames", type=int, default=8, help="frames through each model measurement (multiple of 4)")
    parser.add_argument("--min-confidence", type=float, default=0.7)
    parser.add_argument("--videos", type=int, default=1000, help="videos in the dry-run DAG build (0: skip)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--args", default="[]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = STAGES[args.stage](Path(args.work), *json.loads(args.args))
        import resource

        result["peak_mib"] = max(_peak_kib(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        print(json.dumps(result))
        return

    import tensorflow as tf

    from vidseg.core.cpu import has_bf16
    from vidseg.inference.threads import usable_cores
    from vidseg.media.synthetic import write_video

    cores = usable_cores()
    peak, cpu_detail = nominal_peak_gflops(cores)
    bf16 = has_bf16()
    print(f"# {cpu_name()}, {cores} cores ({cpu_detail}); TensorFlow {tf.__version__}; {platform.platform()}")
    if not bf16:
        print("# no AVX512-BF16/AMX: the bfloat16 rows are left out (it would be emulated, slower than float32)")

    def row(stage, config, batch, s_per_frame, peak_mib, note=""):
        fps = 1 / s_per_frame if s_per_frame > 0 else float("inf")
        print(f"| {stage} | {config} | {batch} | {s_per_frame:.3f} | {fps:.2f} | {peak_mib:.0f} | {note} |", flush=True)

    print("| stage | config | batch | s/frame | frames/s | peak MiB | notes |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="vidseg-bench-") as tmp:
        work = Path(tmp)
        n_video = max(args.frames, 40)
        write_video(work / "video.mp4", work / "truth.json", frames=n_video, seed=3, size=SIZE)
        r = run_stage("extract", work)
        row("frame extraction", f"{SIZE[1]}x{SIZE[0]} H.264 -> jpg", "-", r["s_per_frame"], r["peak_mib"])
        m = run_stage("matmul", work)
        print(f"# fp32 peak: nominal {peak:.0f} GFLOP/s, TensorFlow 4096^2 matmul {m['gflops']:.0f} GFLOP/s"
              + (" (above nominal: the CPU runs faster than the clock the kernel shows)" if m["gflops"] > peak else ""),
              flush=True)
        for spec in args.configs:
            forward = run_stage("forward", work, spec, args.frames, args.min_confidence, "default")
            for f in forward["rows"]:
                achieved = f["gflop_per_frame"] / f["s_per_frame"]
                row("model forward", spec, f["batch"], f["s_per_frame"], forward["peak_mib"],
                    f"{f['detections']:.1f} detections/frame; {f['gflop_per_frame']:.0f} GFLOP/frame, "
                    f"{achieved:.0f} GFLOP/s = {achieved / peak:.0%} of nominal, {achieved / m['gflops']:.0%} of matmul")
            base = forward["rows"][-1]["s_per_frame"]
            variants = ["all", "xla"] + (["bf16", "bf16+xla"] if bf16 else [])
            bases = {"default": base}
            for variant in variants:
                out = run_stage("forward", work, spec, args.frames, args.min_confidence, variant)
                for v in out["rows"]:
                    row(f"model forward: {variant}", spec, v["batch"], v["s_per_frame"], out["peak_mib"],
                        f"{VARIANTS[variant][1]}; {v['detections']:.1f} detections/frame; "
                        f"{base / v['s_per_frame']:.2f}x the default's speed at batch 4")
                bases[variant] = out["rows"][-1]["s_per_frame"]
            for variant in ["default"] + (["bf16"] if bf16 else []):
                seg = run_stage("segment", work, spec, args.frames, args.min_confidence, variant)
                s = seg["s_per_frame"]
                note = f"overhead ratio {s / bases[variant]:.3f} (end to end / pure forward, batch 4)"
                if spec == "resnet50@512":
                    note += (f"; {MATTERPORT_S_PER_FRAME[0] / s:.2f}-{MATTERPORT_S_PER_FRAME[1] / s:.2f}x matterport's "
                             f"{MATTERPORT_S_PER_FRAME[0]}-{MATTERPORT_S_PER_FRAME[1]} s/frame")
                row(f"segment end to end{'' if variant == 'default' else ': ' + variant}", spec, 4, s,
                    seg["peak_mib"], note + f"; {bases['all'] / s:.2f}x matterport's graph (all slots, fp32) here")
        first = args.configs[0]
        r = run_stage("annotate", work, first, args.frames)
        row("annotate (read, draw, encode)", f"{first} detections; default encode settings, audio copied", "-",
            r["s_per_frame"], r["peak_mib"], "benchmarks/annotate.py: 1280x720, 20 detections/frame")
        r = run_stage("track", work, 20)
        row("track (tracker only)", "20 detections/frame, mask IoU, one core", "-", r["s_per_frame"], r["peak_mib"],
            "target: >= 1,000 frames/s")
    if args.videos:
        from dag_build import dag_build_seconds

        fresh, probed = dag_build_seconds(args.videos, 900)
        print(f"| DAG build (dry run) | {args.videos} videos, 900 frames each | - | - | - | - | "
              f"{fresh:.1f} s before any probe, {probed:.1f} s with all probed |")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
