"""The run plan: the model config the weights imply, parse-time errors naming the key, thresholds, one place per path."""

import copy

import pytest
import yaml
from snakemake.utils import validate

from matterport_layout import matterport_layers, write_keras2_h5
from vidseg.core.errors import ConfigError
from vidseg.maskrcnn import COCO_CLASS_NAMES
from vidseg.workflow.plan import LOGS, PATHS, WORKFLOW_DIR, build_plan

DEFAULT = yaml.safe_load((WORKFLOW_DIR / "config" / "config.yaml").read_text())


def config_with(**keys):
    config = copy.deepcopy(DEFAULT)
    config.update(keys)
    validate(config, str(WORKFLOW_DIR / "config" / "schema.yaml"))
    return config


@pytest.fixture(scope="module")
def coco_layout_weights(tmp_path_factory):
    """An 81-class matterport-layout file (ResNet-50), without a model file next to it."""
    path = tmp_path_factory.mktemp("weights") / "coco81.h5"
    write_keras2_h5(path, matterport_layers("resnet50", 81))
    return path


@pytest.fixture()
def videos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "videos").mkdir()
    for name in ("a", "b"):
        (tmp_path / "videos" / f"{name}.mp4").write_bytes(b"")
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "a.json").write_text("{}")
    return tmp_path


def test_default_plan_is_the_demo_model_on_the_demo_videos():
    plan = build_plan(config_with())
    assert plan.videos == {"demo_0": "resources/demo/demo_0.mp4"} and plan.ground_truth == {"demo_0": "resources/demo/demo_0.json"}
    assert plan.model.NAME == "shapes" and plan.class_names == ["BG", "circle", "square", "triangle"]
    assert plan.model_file == str(WORKFLOW_DIR / "models" / "shapes.yaml") or plan.model_file == "models/shapes.yaml"
    assert not plan.demo_model_elsewhere and plan.note("demo_0") == ""
    assert set(plan.code) >= {"probe", "frames", "segment", "track", "annotate", "evaluate", "summary", "train"}


def test_81_class_weights_imply_the_coco_config_and_names(coco_layout_weights, videos):
    plan = build_plan(config_with(videos="videos", weights=str(coco_layout_weights), model={}))
    assert plan.model.NAME == "coco" and plan.model.NUM_CLASSES == 81 and plan.model.IMAGES_PER_GPU == 1
    assert plan.model.BACKBONE == "resnet50"  # read from the file's layers, not COCO's default resnet101
    assert plan.class_names == list(COCO_CLASS_NAMES) and plan.model_file is None
    # keys the user sets still win where the file does not fix them
    plan = build_plan(config_with(videos="videos", weights=str(coco_layout_weights),
                                  model={"image_max_dim": 512, "detection_min_confidence": 0.5}))
    assert plan.model.IMAGE_MAX_DIM == 512 and plan.model.NAME == "coco" and plan.table_min_confidence == 0.5


@pytest.mark.parametrize("model, names, message", [
    ({"num_classes": 4}, ["BG", "a", "b", "c"],
     "config key 'weights': weights file .*coco81.h5 has num_classes 81 .*set 'model: num_classes'"),
    ({"backbone": "resnet101"}, None,
     "has backbone resnet50, but the model config has backbone resnet101; set 'model: backbone'"),
    ({"top_down_pyramid_size": 128}, None, "set 'model: top_down_pyramid_size' to 256"),
    ({}, ["BG", "a"], "config key 'model': 2 class names for 81 classes"),
])
def test_weights_that_disagree_with_the_config_are_named(coco_layout_weights, videos, model, names, message):
    with pytest.raises(ConfigError, match=message):
        build_plan(config_with(videos="videos", weights=str(coco_layout_weights), model=model, class_names=names))


def test_coco_weights_imply_the_coco_model_before_the_download(videos):
    plan = build_plan(config_with(videos="videos", weights="coco", model={}))
    assert plan.weights == PATHS["coco_weights"] and plan.model.BACKBONE == "resnet101" and plan.model.NUM_CLASSES == 81
    assert plan.class_names == list(COCO_CLASS_NAMES)
    # a mismatch with matterport's COCO file is found before the 250 MB download
    with pytest.raises(ConfigError, match="matterport's COCO weights has num_classes 81 .* set 'model: num_classes'"):
        build_plan(config_with(videos="videos", weights="coco", model={"num_classes": 5}))
    with pytest.raises(ConfigError, match="has backbone resnet101, but the model config has backbone resnet50"):
        build_plan(config_with(videos="videos", weights="coco", model={"backbone": "resnet50"}))


def test_other_class_counts_need_class_names(tmp_path, videos):
    from conftest import seeded_model

    seeded_model(0, num_classes=3, backbone="resnet50", image_min_dim=64, image_max_dim=64).save_weights(tmp_path / "w3.h5")
    with pytest.raises(ConfigError, match="config key 'class_names' is needed: the model has 3 classes"):
        build_plan(config_with(videos="videos", weights=str(tmp_path / "w3.h5")))
    plan = build_plan(config_with(videos="videos", weights=str(tmp_path / "w3.h5"), class_names=["BG", "a", "b"]))
    assert plan.model.NUM_CLASSES == 3 and plan.model.BACKBONE == "resnet50" and plan.class_names == ["BG", "a", "b"]


def test_thresholds_and_provenance_per_video(coco_layout_weights, videos):
    config = config_with(videos="videos", ground_truth="truth", weights=str(coco_layout_weights),
                         model={"detection_min_confidence": 0.6}, evaluate={"min_confidence": 0.05})
    plan = build_plan(config)
    assert plan.ground_truth == {"a": "truth/a.json"}
    assert plan.detect_min_confidence("a") == 0.05 and plan.detect_min_confidence("b") == 0.6
    assert plan.segment_settings("a")["detection_min_confidence"] == 0.05 and plan.table_min_confidence == 0.6
    record = plan.provenance("a")
    assert record["detected_down_to"] == 0.05 and record["detection_min_confidence"] == 0.6
    assert record["model_name"] == "coco" and record["class_names"] == list(COCO_CLASS_NAMES)
    assert "config_digest" not in record  # the track job adds it: a config change need not redo segmentation
    assert plan.config_digest == build_plan(copy.deepcopy(config)).config_digest
    assert build_plan({**config, "segment": {**config["segment"], "xla": True}}).config_digest != plan.config_digest


def test_the_demo_model_on_other_videos_is_noted(videos):
    plan = build_plan(config_with(videos="videos", weights=str(WORKFLOW_DIR / "models" / "shapes.h5")))
    assert plan.demo_model_elsewhere and "bundled demo model" in plan.note("a")


def test_each_path_template_is_written_once():
    """Rules, scripts and the package spell no output or log path: they come from vidseg/workflow/plan.py."""
    sources = [p for p in [*WORKFLOW_DIR.glob("rules/*.smk"), WORKFLOW_DIR / "Snakefile", *WORKFLOW_DIR.glob("scripts/*.py"),
                           *WORKFLOW_DIR.glob("vidseg/**/*.py")] if p.name != "plan.py"]
    texts = {p: p.read_text() for p in sources}
    templates = [t for t in [*PATHS.values(), *LOGS.values()] if "{" in t or t.endswith((".csv", ".h5"))]
    for template in templates:
        assert [str(p) for p, text in texts.items() if template in text] == [], template
    for fragment in ("results/units", "results/detections/video_id", "logs/segment", "results/eval/"):
        assert [str(p) for p, text in texts.items() if fragment in text] == [], fragment
    status = (WORKFLOW_DIR / "vidseg" / "workflow" / "status.py").read_text()
    assert "from vidseg.workflow.plan import" in status


def test_a_model_file_key_overridden_against_the_weights_is_named():
    """The demo model's file agrees with its weights; a `model:` key that changes a layer's size does not."""
    with pytest.raises(ConfigError, match="has mask_head_conv_size 64, .* set 'model: mask_head_conv_size' to 64"):
        build_plan(config_with(model={"mask_head_conv_size": 32}))
    with pytest.raises(ConfigError, match="has backbone_width 0.25, .* set 'model: backbone_width' to 0.25"):
        build_plan(config_with(model={"backbone_width": 0.5}))
    assert build_plan(config_with(model={"detection_min_confidence": 0.9})).table_min_confidence == 0.9


@pytest.mark.parametrize("segment, message", [
    ({"precision": "int8"}, "config key 'segment.precision': int8 runs on segment.engine openvino, not keras"),
    ({"precision": "int8", "engine": "onnxruntime"}, "int8 runs on segment.engine openvino, not onnxruntime"),
    ({"precision": "mixed_bfloat16", "engine": "openvino"},
     "config key 'segment.engine': openvino runs float32 graphs; set 'segment.precision' to float32"),
])
def test_engine_and_precision_are_checked_together(segment, message):
    with pytest.raises(ConfigError, match=message):
        build_plan(config_with(segment=segment))


def test_the_engine_and_int8_are_recorded_in_the_tables():
    plan = build_plan(config_with(segment={"precision": "int8", "engine": "openvino"}))
    assert plan.engine == "openvino" and plan.provenance("demo_0")["precision"] == "int8"
    assert plan.provenance("demo_0")["engine"] == "openvino"
    assert build_plan(config_with()).provenance("demo_0")["engine"] == "keras"
