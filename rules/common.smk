import json
import math
import os
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException, WorkflowError
from snakemake.utils import validate

from vidseg.errors import VidsegError
from vidseg.gpu import segment_on_gpu
from vidseg.inputs import ID_PATTERN
from vidseg.packs import PACKED, member_path, plan_packs
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
    pack=ID_PATTERN,


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
    exported = [(rules.export_coco.output[0], config["export"]["coco"]),
                (rules.export_mots.output[0], config["export"]["mots"])]
    return list(dict.fromkeys([
        *outputs_of(rules.annotate.output[0], "annotate_pack", good),
        *outputs_of(rules.track.output.detections, "track_pack", good),
        *outputs_of(rules.track.output.tracks, "track_pack", good),
        *expand(rules.evaluate.output[0], video=evaluated_videos()),
        *(path for output, on in exported if on for path in outputs_of(output, "export_pack", good)),
        rules.summary.output[0],
    ]))


def outputs_of(path, rule, videos):
    """`path` ({video}) of each of `videos` in no pack, and for those in a pack its `rule` job's folder: a pack
    job puts its videos' files at their own paths itself (vidseg.packs.run_each), Snakemake knows its folder."""
    return list(dict.fromkeys(pack_folder(rule, video) or path.format(video=video) for video in videos))


def pack_folder(rule, video):
    """The folder of the `rule` job (a pack job) of `video`'s pack, or None for a video in no pack."""
    pack = pack_of(video)
    return None if pack is None else getattr(rules, rule).output[0].format(pack=pack)


def good_tables(kind):
    """Summary input: the track outputs of `kind` of the good videos (for packed ones their pack's folder)."""
    return after_probes(lambda: outputs_of(getattr(rules.track.output, kind), "track_pack", good_videos()))


def good_table_files(kind):
    """Summary param: where each good video's table of `kind` is (a packed one's in its pack's folder)."""
    return lambda wildcards: [video_file("track_pack", kind, getattr(rules.track.output, kind), video)
                              for video in good_videos()]


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


def frames_output(path):
    """A folder of frame images: deleted once the jobs that read it are done, unless frames.keep."""
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


_ALL_PROBED = []  # [True] once every probe is known (it stays so for the run)


def all_probed():
    """Whether the DAG knows every video's probe (checked once per call until it does, then remembered)."""
    if not _ALL_PROBED and not unprobed(VIDEOS):
        _ALL_PROBED.append(True)
    return bool(_ALL_PROBED)


_PACKS = {}  # pack name -> its Pack, once every probe is known
_PACK_OF = {}  # video -> the name of its pack
_PACKED = []  # [True] once the packs are planned


def packs():
    """The run's packs of short videos (vidseg.packs; segment.pack), once every probe is known ({} before)."""
    if not _PACKED and all_probed():
        if config["segment"]["pack"]:
            good = good_videos()
            planned = plan_packs({video: probed(video)["n_frames"] for video in good},
                                 config["segment"]["chunk_size"],
                                 {video: str(PLAN.detect_min_confidence(video)) for video in good})
            _PACKS.update((pack.name, pack) for pack in planned)
            _PACK_OF.update((video, pack.name) for pack in planned for video in pack.videos)
        _PACKED.append(True)
    return _PACKS


def pack_of(video):
    """The name of the pack `video` is segmented in, or None (a video of chunk_size frames or more)."""
    packs()
    return _PACK_OF.get(video)


_SEGMENT_JOBS = {}  # (video, chunk) or ("pack", name) -> its place among the run's segment jobs, once probes are known


def segment_jobs():
    """The run's segment jobs in order: the chunks of the videos in no pack, then the packs ({} before the probes)."""
    if not _SEGMENT_JOBS and all_probed():
        chunks = [(video, chunk) for video in good_videos() if pack_of(video) is None
                  for chunk in range(chunk_count(video))]
        jobs = chunks + [("pack", name) for name in packs()]
        _SEGMENT_JOBS.update((job, index) for index, job in enumerate(jobs))
    return _SEGMENT_JOBS


def segment_threads(wildcards):
    """One GPU job's threads, or without a GPU the run's cores shared among its segment jobs (vidseg.threads)."""
    jobs = segment_jobs()
    job = ("pack", wildcards.pack) if "pack" in wildcards.keys() else (wildcards.video, int(wildcards.chunk))
    return threads_for_segment(run_cores(), len(jobs) or len(VIDEOS), ON_GPU, jobs.get(job, 0))


def segment_outputs(wildcards):
    """What a video's track job reads: its pack's folder, or its chunks' tables (after every probe: packing
    needs all frame counts)."""
    if not all_probed():
        return unprobed(VIDEOS)
    folder = pack_folder("segment_pack", wildcards.video)
    if folder is not None:
        return [folder]
    return segment_tables("detections")(wildcards) + segment_tables("frames")(wildcards)


def segment_tables(kind):
    """The video's segment tables of `kind` (detections, frames), inside its pack's folder or one per chunk."""

    def paths(wildcards):
        if not all_probed():
            return []
        folder = pack_folder("segment_pack", wildcards.video)
        if folder is not None:
            return [member_path(folder, wildcards.video, PACKED[kind])]
        chunks = [f"{chunk:04d}" for chunk in range(n_chunks(wildcards))]
        return expand(getattr(rules.segment.output, kind), video=wildcards.video, chunk=chunks)

    return paths


def made_by(rule, path):
    """Input function: the folder of the video's pack's `rule` job where the video is packed, else `path`
    ({video}): Snakemake knows a pack job's folder, not the files it puts at its videos' own paths."""

    def files(wildcards):
        if not all_probed():  # packing needs every frame count: wait for every probe (checkpoint targets)
            return unprobed(VIDEOS)
        return outputs_of(path, rule, [wildcards.video])

    return files


def file_of(rule, kind, path):
    """Param function: the video's file of `kind` as `video_file` finds it."""
    return lambda wildcards: video_file(rule, kind, path, wildcards.video)


def video_file(rule, kind, path, video):
    """`video`'s file of `kind` (vidseg.packs.PACKED) in the folder of its pack's `rule` job where it is packed
    (with the job's note beside it if the video failed there), else `path` ({video})."""
    folder = pack_folder(rule, video)
    return path.format(video=video) if folder is None else member_path(folder, video, PACKED[kind])


def published(**paths):
    """Param function of a pack job: per video of its pack, the suffix of each of its files (vidseg.packs.PACKED,
    by kind) -> the video's own path for that file (`paths`: kind -> path with {video})."""
    return lambda wildcards: {video: {PACKED[kind]: path.format(video=video) for kind, path in paths.items()}
                              for video in pack_videos(wildcards)}


def pack_videos(wildcards):
    """The videos of the pack `wildcards.pack`, in order. Before every probe is known (a pack job asked for by its
    path), Snakemake's checkpoint exception: it plans the job again once the probes ran."""
    if not all_probed():
        for video in VIDEOS:
            probed(video)
    planned = packs()
    if wildcards.pack not in planned:
        raise WorkflowError(f"no pack named {wildcards.pack!r} in this run (with segment.pack on, packs are named "
                            f"after their first video, as are their logs in {os.path.dirname(LOGS['segment_pack'])}/)")
    return list(planned[wildcards.pack].videos)


def pack_inputs(path):
    """Input function of a pack job: `path` ({video}, or a dict of video -> path) for each video of the pack,
    once every probe is known (before: the probes, as checkpoint targets: a pack job asked for by its path)."""

    def files(wildcards):
        if not all_probed():
            return unprobed(VIDEOS)
        return [path[video] if isinstance(path, dict) else path.format(video=video) for video in pack_videos(wildcards)]

    return files


def pack_settings(wildcards):
    """The pack's model settings: its videos share them (packs never mix detection thresholds)."""
    return PLAN.segment_settings(pack_videos(wildcards)[0])


def pack_provenance(wildcards):
    return PLAN.provenance(pack_videos(wildcards)[0])


def pack_note(wildcards):
    return PLAN.note(pack_videos(wildcards)[0])


def pack_ground_truth(wildcards):
    """The pack's ground truth files (a video without one has none)."""
    return [GROUND_TRUTH[video] for video in pack_videos(wildcards) if video in GROUND_TRUTH]


def pack_truths(wildcards):
    """Per video of the pack its ground truth file, or None."""
    return {video: GROUND_TRUTH.get(video) for video in pack_videos(wildcards)}


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
    # _PACK_OF: the packs as planned, if the probes got that far
    logger.info(describe(write_status(VIDEOS, GROUND_TRUTH, notes=notes, exported=exports(config), packs=_PACK_OF)))
