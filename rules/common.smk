import json
import math
import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from vidseg.errors import VidsegError
from vidseg.inputs import ID_PATTERN, resolve_videos
from vidseg.maskrcnn import Config
from vidseg.provenance import source_digest


validate(config, schema="../config/schema.yaml")

SAMPLE_VIDEO = "resources/sample/sample.mp4"
COCO_WEIGHTS = "resources/weights/mask_rcnn_coco.h5"

try:
    Config.from_dict(config["model"], source="config key 'model'")
    VIDEOS = {"sample": SAMPLE_VIDEO} if config["videos"] == "sample" else resolve_videos(config["videos"])
except VidsegError as err:
    raise WorkflowError(str(err))
if not VIDEOS:
    raise WorkflowError(f"config key 'videos': no video files found in {config['videos']!r}")
if config["weights"] != "coco" and not os.path.isfile(config["weights"]):
    raise WorkflowError(f"config key 'weights': file {config['weights']!r} does not exist")

# Code digests per stage: a change to the package code a stage runs reruns that stage.
CODE = {
    "probe": source_digest("vidseg.probe", "vidseg.ffmpeg"),
    "frames": source_digest("vidseg.frames", "vidseg.ffmpeg"),
    "segment": source_digest("vidseg.segment", "vidseg.maskrcnn", "vidseg.tables", "vidseg.frames"),
    "tables": source_digest("vidseg.tables"),
    "render": source_digest("vidseg.render", "vidseg.frames"),
    "encode": source_digest("vidseg.encode", "vidseg.ffmpeg"),
}


wildcard_constraints:
    video=ID_PATTERN,
    chunk=r"\d+",


def all_outputs():
    return [
        *expand("results/videos/{video}.mp4", video=VIDEOS),
        *expand("results/detections/video_id={video}/part-0.parquet", video=VIDEOS),
        "results/summary.csv",
    ]


def video_path(wildcards):
    return VIDEOS[wildcards.video]


def weights_path():
    return COCO_WEIGHTS if config["weights"] == "coco" else config["weights"]


def frames_output():
    path = "results/frames_tmp/{video}"
    return directory(path) if config["frames"]["keep"] else temp(directory(path))


def n_chunks(wildcards):
    """Chunks of a video, from its probed frame count (probe is a checkpoint)."""
    with open(checkpoints.probe.get(video=wildcards.video).output.json) as f:
        n_frames = json.load(f)["n_frames"]
    return max(1, math.ceil(n_frames / config["segment"]["chunk_size"]))


def chunk_files(kind):
    def files(wildcards):
        return expand(
            "results/chunks/{video}/{chunk:04d}.{kind}.parquet",
            video=wildcards.video,
            chunk=range(n_chunks(wildcards)),
            kind=kind,
        )

    return files
