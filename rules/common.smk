import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from vidseg.core.errors import VidsegError
from vidseg.inference.gpu import segment_on_gpu
from vidseg.inference.threads import segment_threads as threads_for_segment
from vidseg.workflow.inputs import ID_PATTERN
from vidseg.workflow.plan import DEMO_MODEL, LOGS, PATHS, WORKFLOW_DIR, build_plan, exports, plot_paths, trained_paths
from vidseg.workflow.units import read_plan


validate(config, schema="../config/schema.yaml")

# The run plan (vidseg/workflow/plan.py): videos, ground truths, model, thresholds, paths, code digests.
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
    unit=ID_PATTERN,


# The units of work (vidseg.workflow.units), written by the plan job once every video is probed: the one barrier of the
# DAG. Input functions that need them wait on it (checkpoints.plan.get); the file is read once per version.
_UNITS = {}


def units():
    """The run's UnitPlan (vidseg.workflow.units). The plan file stays on this machine (`local`) under remote storage
    too: only the Snakefile reads it (the segment jobs get their units as params)."""
    path = checkpoints.plan.get().output[0]
    key = (str(path), os.stat(path).st_mtime_ns)
    if key not in _UNITS:
        _UNITS.clear()
        _UNITS[key] = read_plan(path)
    return _UNITS[key]


def unit_of(wildcards):
    """The Unit of a segment job's wildcards."""
    found = units().units.get(wildcards.unit)
    if found is None:
        raise WorkflowError(f"no unit named {wildcards.unit!r} in this run (see {PATHS['units']}: a long video's "
                            f"units are <video>.0000, <video>.0001, ...; a pack is named after its first video)")
    return found


def unit_videos(path):
    """Input function of a segment job: `path` ({video}) for each video of its unit, in order."""
    return lambda wildcards: expand(path, video=unit_of(wildcards).videos)


def unit_members(wildcards):
    """Param of a segment job: its unit's members as (video, first frame, end frame or None)."""
    return [[m.video, m.start, m.end] for m in unit_of(wildcards).members]


def first_video(of):
    """A per-video param (`of(video)`) of a segment job, taken from its unit's first video (a pack's videos
    share their model settings: packs never mix detection thresholds)."""
    return lambda wildcards: of(unit_of(wildcards).videos[0])


def video_units(wildcards):
    """Input function of a per-video job: the segment folders of the video's units, in frame order."""
    found = units().units_of(wildcards.video)
    if not found:
        reason = units().failed.get(wildcards.video, "it is in no unit")
        raise WorkflowError(f"video {wildcards.video} failed at the probe: {reason}")
    return expand(PATHS["segment"], unit=found)


def good_videos():
    """The videos that passed the probe, in the run's order; the others are in results/status.tsv with the reason."""
    plan = units()
    return [video for video in VIDEOS if plan.units_of(video)]


def per_good_video(path):
    """Input function: `path` ({video}) of every video that passed the probe."""
    return lambda wildcards: expand(path, video=good_videos())


def evaluated(path):
    """Input function: `path` ({video}) of every video that passed the probe and has a ground truth."""
    return lambda wildcards: expand(path, video=[v for v in good_videos() if v in GROUND_TRUTH])


def all_outputs(wildcards):
    """Every video's results (those the config switches on), and the summary."""
    per_video = [PATHS["annotated"], PATHS["detections"], PATHS["tracks"], plot_paths(PATHS["plots"])["record"]]
    per_video += [EXPORT_PATHS[name] for name in exports(config)]
    return [*expand(per_video, video=good_videos()), *evaluated(PATHS["evaluation"])(wildcards),
            *evaluated(PATHS["truth_video"])(wildcards), PATHS["summary"]]


EXPORT_PATHS = {"coco": PATHS["coco_export"], "mots": PATHS["mots_export"]}


def ground_truth_path(wildcards):
    return source_file(GROUND_TRUTH[wildcards.video])


def ground_truth_if_any(wildcards):
    return ground_truth_path(wildcards) if wildcards.video in GROUND_TRUTH else []


def evaluation_if_any(wildcards):
    return PATHS["evaluation"].format(video=wildcards.video) if wildcards.video in GROUND_TRUTH else []


def detect_min_confidence(wildcards):
    return PLAN.detect_min_confidence(wildcards.video)


def video_path(wildcards):
    return source_file(VIDEOS[wildcards.video])


def source_file(path):
    """An input that no job makes (a video, weights, a ground truth): under remote storage (--default-storage-provider)
    a relative path is in the storage, under its prefix, like the results; an absolute one, and the demo model
    that ships with the workflow, are files of this machine (`local`)."""
    shipped = Path(path).resolve() in (DEMO_MODEL, DEMO_MODEL.with_suffix(".yaml"))
    return local(path) if os.path.isabs(path) or shipped else path


def frames_output(path):
    """A folder of frame images: deleted once the jobs that read it are done, unless frames.keep."""
    return directory(path) if config["frames"]["keep"] else temp(directory(path))


def run_cores():
    """--cores of this run; None where it has none (a cluster executor given only --jobs)."""
    try:
        return workflow.cores
    except WorkflowError:
        return None


def segment_threads(wildcards):
    """One GPU job's threads, or without a GPU the run's cores shared among its segment jobs
    (vidseg.inference.threads)."""
    plan = units()
    return threads_for_segment(run_cores(), len(plan.units), ON_GPU, plan.position(wildcards.unit) or 0)


def train_dataset():
    """The training set: the generated demo set, or a COCO annotations file."""
    return rules.demo_dataset.output[0] if TRAIN["dataset"] == "demo" else TRAIN["dataset"]


def train_init_weights():
    init = TRAIN.get("init_weights")
    return [] if init is None else rules.download_weights.output[0] if init == "coco" else init


def finish_run():
    """The end of every run: results/status.tsv (per video, the stage reached and any failure's reason), then the
    HTML report of everything the run left (results/report/index.html). A workflow that uses vidseg as a module
    (`module vidseg:`) calls `vidseg.finish_run()` from its own onsuccess and onerror.

    Under remote storage (--default-storage-provider) the status table is made from the stored files and stored
    beside them; the report, which reads every table and video, is not built (`python -m vidseg.report --root`
    builds it from a copy of the results)."""
    from snakemake.logging import logger
    from vidseg.workflow.status import StoredFiles

    if workflow.storage_settings.default_storage_provider is None:
        report_status(Path("."))
        build_report(Path("."))
        return
    stored = StoredFiles(workflow.storage_registry.default_storage_provider,
                         workflow.storage_settings.default_storage_prefix)
    report_status(Path("."), stored)
    stored.store(PATHS["status"])
    logger.info(f"{PATHS['status']} stored in {stored.prefix}; the HTML report is not built from remote storage: "
                f"copy results/ from there and run python -m vidseg.report --root <the copy's folder>")


def build_report(root):
    """results/report/ (vidseg.report) under `root`, from what the run left there; a failure is logged, never raised (the
    run's own outcome stands). Run as its own process, on `--cores` processes: matplotlib stays out of Snakemake's."""
    import subprocess
    import sys
    from snakemake.logging import logger
    from vidseg.workflow.status import failure_in

    jobs = run_cores() or 1
    log = root / LOGS["report"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(WORKFLOW_DIR), os.environ.get("PYTHONPATH")]))}
    args = [sys.executable, "-m", "vidseg.report", "--root", str(root), "--jobs", str(jobs), "--log", str(log)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode == 0:
        logger.info(proc.stdout.strip())
    else:
        reason = failure_in(log) if log.exists() else None
        logger.error(f"report not built: {reason or proc.stderr.strip()[-2000:]} (log: {log})")


def report_status(root, files=None):
    """Write results/status.tsv under `root` (from the run's files there, or in `files`:
    vidseg.workflow.status.StoredFiles) and say in one line per failure how the run went."""
    from snakemake.logging import logger
    from vidseg.workflow.status import describe, write_status

    notes = {video: PLAN.note(video) for video in VIDEOS}
    status = write_status(VIDEOS, GROUND_TRUTH, root=root, notes=notes, exported=exports(config),
                          units=PATHS["units"], files=files)  # the plan file is always this machine's (`local`)
    logger.info(describe(status))
