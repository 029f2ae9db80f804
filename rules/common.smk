import json
import math
import os

from snakemake.exceptions import IncompleteCheckpointException, WorkflowError
from snakemake.utils import validate

from vidseg.errors import VidsegError
from vidseg.maskrcnn.h5file import check_weights_file
from vidseg.inputs import ID_PATTERN, ground_truths, resolve_videos
from vidseg.modelfile import model_file_for, resolve_model
from vidseg.provenance import source_digest


validate(config, schema="../config/schema.yaml")

SAMPLE_VIDEO = "resources/sample/sample.mp4"
COCO_WEIGHTS = "resources/weights/mask_rcnn_coco.h5"
DEMO = config["demo"]
DEMO_VIDEO = "resources/demo/demo_{i}.mp4"
DEMO_TRUTH = "resources/demo/demo_{i}.json"


def demo_videos():
    """The synthetic demo videos: id -> (video path, ground-truth path)."""
    return {f"demo_{i}": (DEMO_VIDEO.format(i=i), DEMO_TRUTH.format(i=i)) for i in range(DEMO["videos"])}


def weights_path():
    return COCO_WEIGHTS if config["weights"] == "coco" else config["weights"]


# Weights (and their model file) that this run trains (with a `train` section in the config; rules/train.smk).
TRAIN = config["train"] or {}
TRAINED = f"models/{TRAIN['name']}.h5" if TRAIN else None
TRAINED_MODEL_FILE = f"models/{TRAIN['name']}.yaml" if TRAIN else None

# A model file next to the weights (models/<name>.yaml) supplies the model settings
# and class names; it is an input of the segment jobs, so editing it reruns them.
if config["weights"] == "coco":
    MODEL_FILE = []
elif config["weights"] == TRAINED:
    MODEL_FILE = [TRAINED_MODEL_FILE]
else:
    MODEL_FILE = [str(p) for p in [model_file_for(config["weights"])] if p]

try:
    if config["weights"] == TRAINED:  # its model file is written by the train job
        MODEL_CONFIG, _ = resolve_model({**config["train"]["model"], **config["model"]}, config["class_names"],
                                        source="config keys 'train.model' and 'model'")
    else:
        MODEL_CONFIG, _ = resolve_model(config["model"], config["class_names"], *MODEL_FILE)
    if config["videos"] == "demo":
        VIDEOS = {vid: video for vid, (video, _) in demo_videos().items()}
        GROUND_TRUTH = {vid: truth for vid, (_, truth) in demo_videos().items()}
    else:
        VIDEOS = {"sample": SAMPLE_VIDEO} if config["videos"] == "sample" else resolve_videos(config["videos"])
        GROUND_TRUTH = ground_truths(config["ground_truth"], VIDEOS) if config["ground_truth"] else {}
except VidsegError as err:
    raise WorkflowError(str(err))
if not VIDEOS:
    raise WorkflowError(f"config key 'videos': no video files found in {config['videos']!r}")
if config["weights"] not in ("coco", TRAINED):
    try:
        check_weights_file(config["weights"], MODEL_CONFIG.NUM_CLASSES)
    except VidsegError as err:
        raise WorkflowError(f"config key 'weights': {err}")

# Code digests per stage: a change to the package code a stage runs reruns that stage.
CODE = {
    "probe": source_digest("vidseg.probe", "vidseg.ffmpeg"),
    "frames": source_digest("vidseg.frames", "vidseg.ffmpeg"),
    "segment": source_digest("vidseg.segment", "vidseg.threads", "vidseg.maskrcnn", "vidseg.tables", "vidseg.frames"),
    "tables": source_digest("vidseg.tables"),
    "annotate": source_digest("vidseg.annotate", "vidseg.render", "vidseg.encode", "vidseg.frames", "vidseg.ffmpeg"),
    "evaluate": source_digest("vidseg.evaluate", "vidseg.tables"),
    "synthetic": source_digest("vidseg.synthetic", "vidseg.ffmpeg"),
    "train": source_digest("vidseg.train", "vidseg.maskrcnn", "vidseg.modelfile"),
}


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
        *expand("results/videos/{video}.mp4", video=good),
        *expand("results/detections/video_id={video}/part-0.parquet", video=good),
        *expand("results/eval/{video}.json", video=evaluated_videos()),
        "results/summary.csv",
    ]


def good_tables(kind):
    return after_probes(lambda: expand("results/{kind}/video_id={video}/part-0.parquet", kind=kind, video=good_videos()))


@after_probes
def evaluations():
    return expand("results/eval/{video}.json", video=evaluated_videos())


def ground_truth_path(wildcards):
    return GROUND_TRUTH[wildcards.video]


def segment_min_confidence(wildcards):
    """Evaluated videos are detected down to evaluate.min_confidence (the tables keep the model's threshold)."""
    model = MODEL_CONFIG.DETECTION_MIN_CONFIDENCE
    return min(model, config["evaluate"]["min_confidence"]) if wildcards.video in GROUND_TRUTH else model


def video_path(wildcards):
    return VIDEOS[wildcards.video]


def frames_output():
    path = "results/frames_tmp/{video}"
    return directory(path) if config["frames"]["keep"] else temp(directory(path))


def n_chunks(wildcards):
    """Chunks of a video, from its probed frame count (probe is a checkpoint)."""
    record = probed(wildcards.video)
    if not record["ok"]:
        raise WorkflowError(f"video {wildcards.video} failed at the probe: {record['reason']}")
    return max(1, math.ceil(record["n_frames"] / config["segment"]["chunk_size"]))


def chunk_files(kind):
    def files(wildcards):
        return expand(
            "results/chunks/{video}/{chunk:04d}.{kind}.parquet",
            video=wildcards.video,
            chunk=range(n_chunks(wildcards)),
            kind=kind,
        )

    return files


def train_dataset():
    """The training set: the generated demo set, or a COCO annotations file."""
    return "resources/demo/train" if TRAIN["dataset"] == "demo" else TRAIN["dataset"]


def train_init_weights():
    init = TRAIN.get("init_weights")
    return [] if init is None else COCO_WEIGHTS if init == "coco" else init


def report_status(videos, ground_truth):
    """Write results/status.tsv and say in one line per failure how the run went."""
    from snakemake.logging import logger
    from vidseg.status import describe, write_status

    logger.info(describe(write_status(videos, ground_truth)))
