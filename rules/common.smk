import json
import math
import os
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException, WorkflowError
from snakemake.utils import validate

from vidseg.errors import VidsegError
from vidseg.gpu import segment_on_gpu
from vidseg.inputs import ID_PATTERN
from vidseg.plan import LOGS, PATHS, WORKFLOW_DIR, build_plan, exports, trained_paths
from vidseg.threads import segment_threads as threads_for_segment


validate(config, schema="../config/schema.yaml")

# The run plan (vidseg/plan.py): videos, ground truths, model, thresholds, paths, code digests.
try:
    PLAN = build_plan(config)
except VidsegError as err:
    raise WorkflowError(str(err))

VIDEOS = PLAN.videos
GROUND_TRUTH = PLAN.ground_truth
CODE = PLAN.code
DEMO = config["demo"]
TRAIN = config["train"] or {}
TRAINED = trained_paths(config)
ON_GPU = segment_on_gpu(config["segment"]["device"])  # segment.device; auto: does this machine have a GPU


wildcard_constraints:
    video=ID_PATTERN,
    chunk=r"\d+",


_PROBED = {}  # probe JSON path -> (mtime, record): the DAG asks for each record many times


def probed(video):
    """A video's probe record (probe is a checkpoint: the DAG waits for it)."""
    path = checkpoints.probe.get(video=video).output.json
    mtime = os.stat(path).st_mtime_ns
    cached = _PROBED.get(path)
    if cached is None or cached[0] != mtime:
        with open(path) as f:
            cached = _PROBED[path] = (mtime, json.load(f))
    return cached[1]


def unprobed(videos):
    """The probe outputs of `videos` the DAG does not know yet, flagged as checkpoint targets.

    An input function over every video returns all of these at once instead of
    letting the first missing probe raise: Snakemake then waits on every probe in
    one checkpoint round, where one exception per round meant a round (and a pass
    over the whole DAG) per video: minutes of DAG build for a thousand videos,
    and probes discovered one at a time.
    """
    missing = []
    for video in videos:
        try:
            checkpoints.probe.get(video=video)
        except IncompleteCheckpointException as waiting:
            missing.append(waiting.targetfile)
    return missing


def after_probes(outputs):
    """An input function over every video: the unfinished probes, then `outputs()` once all are known."""

    def files(wildcards):
        return unprobed(VIDEOS) or outputs()

    return files


def good_videos():
    """The videos that passed the probe; the others are in results/status.tsv with the reason."""
    return [video for video in VIDEOS if probed(video)["ok"]]


def evaluated_videos():
    return [video for video in good_videos() if video in GROUND_TRUTH]


@after_probes
def all_outputs():
    good = good_videos()
    return [
        *expand(rules.annotate.output[0], video=good),
        *expand(rules.track.output.detections, video=good),
        *expand(rules.track.output.tracks, video=good),
        *expand(rules.evaluate.output[0], video=evaluated_videos()),
        *(expand(rules.export_coco.output[0], video=good) if config["export"]["coco"] else []),
        *(expand(rules.export_mots.output[0], video=good) if config["export"]["mots"] else []),
        rules.summary.output[0],
    ]


def good_tables(kind):
    return after_probes(lambda: expand(getattr(rules.track.output, kind), video=good_videos()))


@after_probes
def evaluations():
    return expand(rules.evaluate.output[0], video=evaluated_videos())


def ground_truth_path(wildcards):
    return GROUND_TRUTH[wildcards.video]


def ground_truth_if_any(wildcards):
    return GROUND_TRUTH.get(wildcards.video, [])


def detect_min_confidence(wildcards):
    return PLAN.detect_min_confidence(wildcards.video)


def segment_settings(wildcards):
    return PLAN.segment_settings(wildcards.video)


def provenance(wildcards):
    return PLAN.provenance(wildcards.video)


def status_note(wildcards):
    return PLAN.note(wildcards.video)


def video_path(wildcards):
    return VIDEOS[wildcards.video]


def frames_output():
    path = PATHS["frames"]
    return directory(path) if config["frames"]["keep"] else temp(directory(path))


def n_chunks(wildcards):
    return chunk_count(wildcards.video)


def chunk_count(video):
    """Chunks of a video, from its probed frame count (probe is a checkpoint)."""
    record = probed(video)
    if not record["ok"]:
        raise WorkflowError(f"video {video} failed at the probe: {record['reason']}")
    return max(1, math.ceil(record["n_frames"] / config["segment"]["chunk_size"]))


def run_cores():
    """--cores of this run; None where it has none (a cluster executor given only --jobs)."""
    try:
        return workflow.cores
    except WorkflowError:
        return None


_SEGMENT_JOBS = {}  # (video, chunk) -> its place among the run's segment jobs, once every probe is known


def segment_jobs():
    """The run's segment jobs in order: each chunk of each video that passed its probe ({} before the probes)."""
    if not _SEGMENT_JOBS and not unprobed(VIDEOS):
        chunks = [(video, chunk) for video in good_videos() for chunk in range(chunk_count(video))]
        _SEGMENT_JOBS.update((job, index) for index, job in enumerate(chunks))
    return _SEGMENT_JOBS


def segment_threads(wildcards):
    """One GPU job's threads, or without a GPU the run's cores shared among its segment jobs (vidseg.threads)."""
    jobs = segment_jobs()
    index = jobs.get((wildcards.video, int(wildcards.chunk)), 0)
    return threads_for_segment(run_cores(), len(jobs) or len(VIDEOS), ON_GPU, index)


def chunk_files(kind):
    def files(wildcards):
        chunks = [f"{chunk:04d}" for chunk in range(n_chunks(wildcards))]
        return expand(getattr(rules.segment.output, kind), video=wildcards.video, chunk=chunks)

    return files


def train_dataset():
    """The training set: the generated demo set, or a COCO annotations file."""
    return rules.demo_dataset.output[0] if TRAIN["dataset"] == "demo" else TRAIN["dataset"]


def train_init_weights():
    init = TRAIN.get("init_weights")
    return [] if init is None else rules.download_weights.output[0] if init == "coco" else init


def finish_run():
    """The end of every run: results/status.tsv (per video, the stage reached and any failure's reason), then the
    HTML report of everything the run left (results/report/index.html). A workflow that uses vidseg as a module
    (`module vidseg:`) calls `vidseg.finish_run()` from its own onsuccess and onerror."""
    report_status()
    build_report()


def build_report():
    """results/report/ (vidseg.report), from what the run left; a failure is logged, never raised (the run's own
    outcome stands). Run as its own process, on `--cores` processes: matplotlib stays out of Snakemake's."""
    import subprocess
    import sys
    from snakemake.logging import logger
    from vidseg.status import failure_in

    jobs = run_cores() or 1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(WORKFLOW_DIR), os.environ.get("PYTHONPATH")]))}
    args = [sys.executable, "-m", "vidseg.report", "--jobs", str(jobs), "--log", LOGS["report"]]
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode == 0:
        logger.info(proc.stdout.strip())
    else:
        reason = failure_in(Path(LOGS["report"])) if os.path.exists(LOGS["report"]) else None
        logger.error(f"report not built: {reason or proc.stderr.strip()[-2000:]} (log: {LOGS['report']})")


def report_status():
    """Write results/status.tsv and say in one line per failure how the run went."""
    from snakemake.logging import logger
    from vidseg.status import describe, write_status

    notes = {video: PLAN.note(video) for video in VIDEOS}
    logger.info(describe(write_status(VIDEOS, GROUND_TRUTH, notes=notes, exported=exports(config))))
