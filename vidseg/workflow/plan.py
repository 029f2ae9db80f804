"""The run plan: what the rules, the jobs and the status table agree on, resolved once from the validated config.

The videos and their ground truths; the model config, class names, weights and
model file; the detection thresholds per video; every output and log path
template; each stage's code digest. `rules/common.smk` builds one `Plan` and
hands its parts to the rules; `vidseg.workflow.status` reads the same templates. No
TensorFlow here: the plan is built at DAG time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from vidseg import __version__
from vidseg.core.errors import ConfigError, VidsegError
from vidseg.core.provenance import code_digest
from vidseg.inference.modelfile import class_names_for, model_file_for, resolve_model
from vidseg.maskrcnn.config import CocoConfig, Config, field_name
from vidseg.maskrcnn.h5file import check_layout, weights_layout
from vidseg.media.encoders import EncodeSettings
from vidseg.tracking.tracker import TrackSettings
from vidseg.workflow.inputs import ground_truths, resolve_videos

WORKFLOW_DIR = Path(__file__).resolve().parents[2]  # the repository (this module is vidseg/workflow/plan.py)
SCRIPTS_DIR = WORKFLOW_DIR / "scripts"
JOB_SCRIPTS = sorted(p for p in SCRIPTS_DIR.glob("*.py") if not p.name.startswith("_"))  # one per rule; _*: helpers
DEMO_MODEL = WORKFLOW_DIR / "models" / "shapes.h5"

# Output paths, each spelled here once. A rule names its own in `output:`; a rule
# that reads another's output refers to it as `rules.<rule>.output.<name>`.
PATHS = {
    "probe": "results/probe/{video}.json",
    "frames": "results/frames_tmp/{video}",
    "frame_index": "results/frame_index/{video}.tsv",
    "units": "results/units.json",  # the plan job's units of work (vidseg.workflow.units)
    # A unit's segment folder: per video of the unit its tables <id><suffix> (vidseg.inference.unit.TABLES), or
    # <id>.failed
    "segment": "results/units/{unit}",
    "detections": "results/detections/video_id={video}/part-0.parquet",
    "frames_table": "results/frames/video_id={video}/part-0.parquet",
    "tracks": "results/tracks/video_id={video}/part-0.parquet",
    "annotated": "results/videos/{video}.mp4",
    "truth_video": "results/truth_videos/{video}.mp4",  # evaluated videos: the ground truth's outlines drawn too
    "evaluation": "results/eval/{video}.json",
    "errors": "results/errors/video_id={video}/part-0.parquet",  # vidseg.evaluation.errors
    "coco_export": "results/exports/coco/{video}.json",
    "mots_export": "results/exports/mots/{video}.txt",
    "summary": "results/summary.csv",
    "evaluation_summary": "results/evaluation.csv",  # per evaluated video
    "status": "results/status.tsv",
    "plots": "results/plots/{video}",  # a video's figures (PLOT_FILES), drawn by the plots rule
    "report": "results/report/index.html",
    "report_video": "results/report/videos/{video}.html",
    "report_assets": "results/report/videos/{video}",
    "segment_benchmark": "results/benchmarks/segment/{unit}.tsv",
    "train_benchmark": "results/benchmarks/train/{name}.tsv",
    "sample_video": "resources/sample/sample.mp4",
    "coco_weights": "resources/weights/mask_rcnn_coco.h5",
    "demo_video": "resources/demo/demo_{i}.mp4",
    "demo_truth": "resources/demo/demo_{i}.json",
    "demo_train_set": "resources/demo/train",
    "trained_weights": "models/{name}.h5",
    "trained_model_file": "models/{name}.yaml",
}

# The files of a video's figures in its plots folder, by kind (what vidseg.report.figures draws).
PLOT_FILES = {"detections": "detections.png", "tracks": "tracks.png", "scores": "scores.png",
              "contact_sheet": "contact_sheet.png", "poster": "poster.png", "record": "figures.json"}


def plot_paths(folder: str) -> dict[str, str]:
    """The figures' paths in `folder` (PATHS["plots"], or the report's own folder), by kind."""
    return {kind: f"{folder}/{name}" for kind, name in PLOT_FILES.items()}


# Each rule's log (the job script's first line sends its logging there).
LOGS = {
    "probe": "logs/probe/{video}.log",
    "frames": "logs/frames/{video}.log",
    "plan": "logs/plan.log",
    "segment": "logs/segment/{unit}.log",
    "track": "logs/track/{video}.log",
    "annotate": "logs/annotate/{video}.log",
    "annotate_truth": "logs/annotate_truth/{video}.log",
    "plots": "logs/plots/{video}.log",
    "evaluate": "logs/evaluate/{video}.log",
    "export": "logs/export/{video}.log",
    "summary": "logs/summary.log",
    "report": "logs/report.log",
    "sample_video": "logs/sample_video.log",
    "download_weights": "logs/download_weights.log",
    "demo_video": "logs/demo_video/demo_{i}.log",
    "demo_dataset": "logs/demo_dataset.log",
    "train": "logs/train/{name}.log",
}


@dataclass(frozen=True)
class Stage:
    """A stage as the status table sees it: its rule, and what one of its jobs writes ({video}, or {unit} for the
    segment stage, whose jobs run units of work: vidseg.workflow.units)."""

    name: str  # as results/status.tsv names it
    rule: str
    output: str


VIDEO_STAGES = (
    Stage("frames", "frames", PATHS["frame_index"]),
    Stage("segment", "segment", PATHS["segment"]),
    Stage("track", "track", PATHS["tracks"]),
    Stage("annotate", "annotate", PATHS["annotated"]),
)
EXPORT_STAGES = {  # config `export.<format>` -> its stage
    "coco": Stage("export", "export", PATHS["coco_export"]),
    "mots": Stage("export", "export", PATHS["mots_export"]),
}
EVALUATE_STAGES = (Stage("evaluate", "evaluate", PATHS["evaluation"]),
                   Stage("truth video", "annotate_truth", PATHS["truth_video"]))


def exports(config: Mapping[str, Any]) -> list[str]:
    """The export formats the config switches on (`export.coco`, `export.mots`)."""
    return [name for name in EXPORT_STAGES if config["export"][name]]


def stages(evaluated: bool, exported: Sequence[str] = ()) -> tuple[Stage, ...]:
    """The stages a video goes through after the probe, in workflow order (`exported`: the formats of `exports`)."""
    return (VIDEO_STAGES + tuple(EXPORT_STAGES[name] for name in exported)
            + (EVALUATE_STAGES if evaluated else ()))


def code_digests() -> dict[str, str]:
    """Per job script (= rule name): a digest of every vidseg module it can import (`vidseg.core.provenance`)."""
    return {script.stem: code_digest(script) for script in JOB_SCRIPTS}


def config_digest(config: Mapping[str, Any]) -> str:
    """A short hash of the validated config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# What matterport's COCO weights fix (as `weights_layout` reads them), and the rest of its COCO config.
COCO_LAYOUT = {"num_classes": CocoConfig.NUM_CLASSES, "backbone": "resnet101", "backbone_width": 1.0,
               "top_down_pyramid_size": 256, "rpn_conv_size": 512, "pool_size": 7, "mask_head_conv_size": 256,
               "fpn_classif_fc_layers_size": 1024}
COCO_SETTINGS = {"name": CocoConfig.NAME, "images_per_gpu": CocoConfig.IMAGES_PER_GPU, **COCO_LAYOUT}


@dataclass
class Plan:
    """One run's resolved facts (see the module docstring). Build it with `build_plan(config)`."""

    videos: dict[str, str]
    ground_truth: dict[str, str]
    weights: str
    model_file: str | None  # the model file next to the weights (written by the train job for trained weights)
    model_settings: dict[str, Any]  # what the segment job applies over its model file
    model: Config  # the resolved model config (the tables keep its DETECTION_MIN_CONFIDENCE)
    class_names: list[str] | None  # None: the model file's, known once the train job wrote it
    precision: str
    engine: str  # what runs the dense part (segment.engine)
    evaluate_min_confidence: float
    demo_model_elsewhere: bool  # the bundled shapes model on videos that are not the demo videos
    config_digest: str
    track: dict[str, Any]  # the track stage's settings (`track:`, checked, defaults filled in)
    encode: dict[str, Any]  # the annotate stage's encoder settings (`encode:`, checked)
    code: dict[str, str] = field(default_factory=code_digests)

    @property
    def table_min_confidence(self) -> float:
        """What the detection tables keep: the model's own threshold."""
        return float(self.model.DETECTION_MIN_CONFIDENCE)

    def detect_min_confidence(self, video: str) -> float:
        """What segment detects at: evaluated videos go down to evaluate.min_confidence (evaluation scores those)."""
        if video in self.ground_truth:
            return min(self.table_min_confidence, self.evaluate_min_confidence)
        return self.table_min_confidence

    @property
    def pack_groups(self) -> dict[str, str]:
        """Per video the key of its model run, which packs never mix: "evaluated" where evaluation lowers its
        detection threshold, else "". A key, not the threshold itself: changing a threshold then changes no pack
        (and leaves the plan job alone) unless it changes which videos may share one."""
        return {video: "evaluated" if self.detect_min_confidence(video) != self.table_min_confidence else ""
                for video in self.videos}

    def segment_settings(self, video: str) -> dict[str, Any]:
        """The `model:` keys of `video`'s segment jobs (over the model file), threshold included."""
        return {**self.model_settings, "detection_min_confidence": self.detect_min_confidence(video)}

    def provenance(self, video: str) -> dict[str, Any]:
        """What every table of `video` records about how its detections were made (the segment job adds the
        weights' SHA-256; the track job adds `config_digest`, which the chunk files leave out so that a
        config change that does not touch segmentation does not redo it)."""
        return {
            "vidseg_version": __version__,
            "model_name": self.model.NAME,
            "backbone": self.model.BACKBONE,
            "class_names": self.class_names,
            "weights": self.weights,
            "detection_min_confidence": self.table_min_confidence,
            "detected_down_to": self.detect_min_confidence(video),
            "precision": self.precision,
            "engine": self.engine,
        }

    def note(self, video: str) -> str:
        """A warning for results/status.tsv ("" if none)."""
        if self.demo_model_elsewhere:
            return ("the bundled demo model (synthetic shapes) runs on a video that is not a demo video: its "
                    "detections mean nothing there; set 'weights' to a model trained for these videos")
        return ""


def demo_videos(count: int) -> dict[str, tuple[str, str]]:
    """The synthetic demo videos: id -> (video path, ground-truth path)."""
    return {f"demo_{i}": (PATHS["demo_video"].format(i=i), PATHS["demo_truth"].format(i=i)) for i in range(count)}


def trained_paths(config: Mapping[str, Any]) -> tuple[str, str] | None:
    """(weights, model file) this run trains, when the config has a `train:` section."""
    train = config.get("train")
    if not train:
        return None
    return PATHS["trained_weights"].format(name=train["name"]), PATHS["trained_model_file"].format(name=train["name"])


def weights_path(config: Mapping[str, Any]) -> str:
    """The weights file: `coco` downloads into the run's folder; `demo` is the bundled model in the workflow's
    folder (a relative path when the run is in that folder, as when run from the repository)."""
    if config["weights"] == "coco":
        return PATHS["coco_weights"]
    if config["weights"] == "demo":
        here = Path.cwd().resolve()
        return str(DEMO_MODEL.relative_to(here)) if DEMO_MODEL.is_relative_to(here) else str(DEMO_MODEL)
    return config["weights"]


def _videos(config: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    if config["videos"] == "demo":
        demo = demo_videos(config["demo"]["videos"])
        return {v: video for v, (video, _) in demo.items()}, {v: truth for v, (_, truth) in demo.items()}
    videos = {"sample": PATHS["sample_video"]} if config["videos"] == "sample" else resolve_videos(config["videos"])
    if not videos:
        raise ConfigError(f"config key 'videos': no video files found in {config['videos']!r}")
    truth = ground_truths(config["ground_truth"], videos) if config["ground_truth"] else {}
    return videos, truth


def _model(config: Mapping[str, Any], weights: str) -> tuple[str | None, dict[str, Any], Config, list[str] | None]:
    """(model file, settings the job applies over it, resolved Config, class names) for the config's weights.

    Without a model file, what the weights file fixes (class count, backbone, widths, pool size)
    fills the keys the user left out, and 81 classes mean matterport's COCO model
    (its config and class names). Every disagreement between weights and config is
    an error naming the key.
    """
    if not isinstance(config["model"], Mapping):
        raise ConfigError("config key 'model': expected a mapping of Mask R-CNN config keys")
    settings = dict(config["model"])
    for key in settings:  # a misspelt key is named before the weights file is read
        try:
            field_name(str(key))
        except ConfigError as err:
            raise ConfigError(f"config key 'model': {err}") from None
    trained = trained_paths(config)
    if trained and weights == trained[0]:  # written by this run's train job, with its model file
        model, names = resolve_model({**config["train"]["model"], **settings}, config["class_names"],
                                     source="config keys 'train.model' and 'model'")
        return trained[1], settings, model, names
    model_file = None if config["weights"] == "coco" else model_file_for(weights)
    try:  # matterport's COCO file is known before it is downloaded
        layout = COCO_LAYOUT if config["weights"] == "coco" else weights_layout(weights)
    except VidsegError as err:
        raise ConfigError(f"config key 'weights': {err}") from None
    if model_file is None:
        base = {**COCO_SETTINGS, **layout} if layout.get("num_classes") == COCO_LAYOUT["num_classes"] else layout
        settings = {**base, **settings}
    model, names = resolve_model(settings, config["class_names"], model_file)
    try:
        check_layout(layout, model, "matterport's COCO weights" if config["weights"] == "coco" else f"weights file {weights}")
    except VidsegError as err:
        raise ConfigError(f"config key 'weights': {err}") from None
    names = class_names_for(model, names)  # COCO's for an 81-class model without names
    return (None if model_file is None else str(model_file)), settings, model, names


def _engine(segment: Mapping[str, Any]) -> str:
    """`segment.engine`, checked against `segment.precision`: other engines than keras run float32 graphs, and
    int8 (the dense part quantized) runs on openvino."""
    engine, precision = segment["engine"], segment["precision"]
    if precision == "int8" and engine != "openvino":
        raise ConfigError(f"config key 'segment.precision': int8 runs on segment.engine openvino, not {engine}")
    if engine != "keras" and precision not in ("float32", "int8"):
        raise ConfigError(f"config key 'segment.engine': {engine} runs float32 graphs; set 'segment.precision' to "
                          f"float32 (not {precision}) or 'segment.engine' to keras")
    return engine


def build_plan(config: Mapping[str, Any]) -> Plan:
    """The plan of a run from its validated config; `ConfigError` names the key at fault."""
    weights = weights_path(config)
    videos, truth = _videos(config)
    model_file, settings, model, names = _model(config, weights)
    demo_elsewhere = config["videos"] != "demo" and Path(weights).resolve() == DEMO_MODEL
    track = asdict(TrackSettings.from_config(config.get("track")))
    encode = asdict(EncodeSettings.from_config(config.get("encode")))
    return Plan(videos=videos, ground_truth=truth, weights=weights, model_file=model_file, model_settings=settings,
                model=model, class_names=names, precision=config["segment"]["precision"],
                engine=_engine(config["segment"]),
                evaluate_min_confidence=float(config["evaluate"]["min_confidence"]),
                demo_model_elsewhere=demo_elsewhere, config_digest=config_digest(config), track=track,
                encode=encode)
