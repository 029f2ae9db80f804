"""`mrcnn.config` and `mrcnn.model`: matterport's calls, on vidseg's model, give vidseg's results."""

import logging
import os
import random
import re
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from pycocotools import mask as mask_utils

from conftest import small_config
from mrcnn import model as modellib
from mrcnn import utils
from mrcnn.config import Config
from mrcnn.demo import DEMO_WEIGHTS
from vidseg.core.errors import ConfigError, VidsegError, WeightsError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from train_shapes import ShapesConfig, ShapesDataset  # noqa: E402  (matterport's shapes notebook, as users write it)

SMALL = {k.upper(): v for k, v in small_config().to_dict().items()}  # the seeded test model's settings


class SmallConfig(Config):
    """The conftest model's settings written the matterport way: class attributes."""


for _key, _value in SMALL.items():
    setattr(SmallConfig, _key, _value)


@pytest.fixture(scope="module")
def weights(small_model, tmp_path_factory):
    """conftest's seeded model (81 classes, 128 px) as an .h5 file."""
    path = tmp_path_factory.mktemp("mrcnn") / "seeded.h5"
    small_model.save_weights(path)
    return path


@pytest.fixture(scope="module")
def inference(weights, tmp_path_factory):
    model = modellib.MaskRCNN(mode="inference", config=SmallConfig(), model_dir=tmp_path_factory.mktemp("logs"))
    model.load_weights(weights, by_name=True)
    return model


def test_config_subclass_as_matterport_writes_it(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every name above is a known field: no warning
        config = ShapesConfig()
    assert config.BATCH_SIZE == 8 and list(config.IMAGE_SHAPE) == [128, 128, 3] and config.IMAGE_META_SIZE == 16
    assert config.STEPS_PER_EPOCH == 100 and config.VALIDATION_STEPS == 5 and config.USE_RPN_ROIS is True
    assert config.LOSS_WEIGHTS == dict.fromkeys(
        ["rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss", "mrcnn_mask_loss"], 1.0)
    assert config.display() is None
    printed = capsys.readouterr().out
    assert printed.startswith("\nConfigurations:\n")
    assert re.search(r"^STEPS_PER_EPOCH +100$", printed, re.M) and re.search(r"^BATCH_SIZE +8$", printed, re.M)
    assert config.MINI_MASK_SHAPE + (3,) == (56, 56, 3)  # matterport's tuples stay tuples
    assert isinstance(config.RPN_ANCHOR_SCALES, tuple)
    with pytest.raises(ConfigError, match="loss_weights"):
        config.LOSS_WEIGHTS = {"rpn_class_loss": 1.0}
    with pytest.raises(ConfigError, match="use_rpn_rois"):
        config.USE_RPN_ROIS = False
    config.IMAGES_PER_GPU = 2
    assert config.BATCH_SIZE == 2


def test_a_built_model_leaves_the_callers_config_editable(inference):
    config = inference.config
    config.DETECTION_MIN_CONFIDENCE = 0.9  # matterport users edit configs freely; the model has its own copy
    assert inference.model.config.DETECTION_MIN_CONFIDENCE == SMALL["DETECTION_MIN_CONFIDENCE"]
    config.DETECTION_MIN_CONFIDENCE = SMALL["DETECTION_MIN_CONFIDENCE"]


def test_detect_gives_matterports_dicts_and_vidsegs_detections(inference, small_model, frames, capsys):
    results = inference.detect(frames, verbose=1)  # 3 images of 3 sizes, BATCH_SIZE 2: matterport asserted 2
    printed = capsys.readouterr().out
    assert "Processing 3 images" in printed and re.search(r"^anchors +shape: \(\d+, 4\)", printed, re.M)
    reference = small_model.detect(frames)
    assert len(results) == 3 and sum(len(r["class_ids"]) for r in results) > 10
    for frame, r, ref in zip(frames, results, reference):
        assert set(r) == {"rois", "class_ids", "scores", "masks"}
        n = len(ref)
        assert r["rois"].dtype == np.int32 and r["rois"].shape == (n, 4)
        assert r["class_ids"].dtype == np.int32 and r["scores"].dtype == np.float32
        assert r["masks"].dtype == bool and r["masks"].shape == (*frame.shape[:2], n)
        np.testing.assert_array_equal(r["rois"], ref.boxes)
        np.testing.assert_array_equal(r["class_ids"], ref.class_ids)
        np.testing.assert_array_equal(r["scores"], ref.scores)
        np.testing.assert_array_equal(r["masks"], ref.full_masks())
        # masks sit in their boxes, as matterport's do
        np.testing.assert_array_equal(utils.extract_bboxes(r["masks"])[r["masks"].any(axis=(0, 1))],
                                      _mask_boxes(r["masks"])[r["masks"].any(axis=(0, 1))])


def test_detect_names_an_image_that_is_not_uint8_rgb(inference, frames):
    with pytest.raises(VidsegError, match="frame 1: expected an HxWx3 uint8 RGB array, got a float32 array"):
        inference.detect([frames[0], frames[0].astype(np.float32) / 255])
    with pytest.raises(VidsegError, match=r"frame 0: .* of shape \(96, 128, 4\)"):
        inference.detect([np.dstack([frames[0], frames[0][:, :, :1]])])


def _mask_boxes(masks):
    out = np.zeros((masks.shape[-1], 4), np.int32)
    for i in range(masks.shape[-1]):
        ys, xs = np.nonzero(masks[:, :, i])
        if len(ys):
            out[i] = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
    return out


def test_mold_inputs_detect_molded_and_unmold_detections_agree_with_detect(inference, frames):
    molded, metas, windows = inference.mold_inputs(frames[:2])
    assert molded.shape == (2, 128, 128, 3) and molded.dtype == np.float32 and metas.shape == (2, 12 + 81)
    meta = modellib.parse_image_meta(metas)
    np.testing.assert_array_equal(meta["original_image_shape"], [f.shape for f in frames[:2]])
    np.testing.assert_array_equal(meta["window"], windows)
    direct = inference.detect(frames[:2])
    # detect_molded answers in the molded image's pixels, as matterport's does. frames[0] (96x128) is molded at
    # scale 1 into rows 16..112: the same detections, 16 rows lower (up to a pixel of rounding).
    assert list(windows[0]) == [16, 0, 112, 128] and meta["scale"][0] == 1
    got, want = inference.detect_molded(molded, metas)[0], direct[0]
    np.testing.assert_array_equal(got["class_ids"], want["class_ids"])
    np.testing.assert_array_equal(got["scores"], want["scores"])
    assert got["masks"].shape == (128, 128, len(want["class_ids"]))
    assert np.abs(got["rois"] - (want["rois"] + [16, 0, 16, 0])).max() <= 1
    assert not got["masks"][:16].any() and not got["masks"][112:].any()  # clipped to the window, as matterport's
    overlap = (got["masks"][16:112] & want["masks"]).sum() / max(1, (got["masks"][16:112] | want["masks"]).sum())
    assert overlap > 0.95
    # the network's raw output in matterport's layout: detections [D, 6] and per-class masks [D, m, m, K]
    out = inference.model.predict(molded, utils.norm_boxes(windows, (128, 128)))
    for i, want in enumerate(direct):
        n = int(out["count"][i])
        detections = np.zeros((20, 6), np.float32)
        detections[:n, :4], detections[:n, 4], detections[:n, 5] = \
            out["boxes"][i, :n], out["class_ids"][i, :n], out["scores"][i, :n]
        per_class = np.zeros((20, 28, 28, 81), np.float32)
        per_class[np.arange(n), :, :, out["class_ids"][i, :n]] = out["masks"][i, :n]
        rois, class_ids, scores, masks = inference.unmold_detections(detections, per_class, frames[i].shape,
                                                                     molded[i].shape, windows[i])
        np.testing.assert_array_equal(rois, want["rois"])
        np.testing.assert_array_equal(class_ids, want["class_ids"])
        np.testing.assert_array_equal(masks, want["masks"])


def test_get_anchors_are_generate_pyramid_anchors_normalized(inference):
    anchors = inference.get_anchors((128, 128, 3))
    config = inference.config
    shapes = [(int(np.ceil(128 / s)),) * 2 for s in config.BACKBONE_STRIDES]
    pixels = utils.generate_pyramid_anchors(config.RPN_ANCHOR_SCALES, config.RPN_ANCHOR_RATIOS, shapes,
                                            config.BACKBONE_STRIDES, config.RPN_ANCHOR_STRIDE)
    np.testing.assert_allclose(anchors, utils.norm_boxes(pixels, (128, 128)), atol=1e-6)
    np.testing.assert_array_equal(inference.anchors, pixels)  # matterport keeps the pixel anchors here
    np.testing.assert_array_equal(modellib.compute_backbone_shapes(config, (128, 128, 3)), shapes)


def test_load_weights_reports_skips_and_refuses_mismatches(weights, small_model, tmp_path, caplog):
    class FourClasses(SmallConfig):
        NUM_CLASSES = 4

    model = modellib.MaskRCNN(mode="training", config=FourClasses(), model_dir=tmp_path)
    heads = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"]
    with pytest.raises(WeightsError, match=r"layer mrcnn_class_logits.*shape \(\d+, 81\) in the file, \(\d+, 4\)"):
        model.load_weights(weights, by_name=True)  # matterport skipped these silently
    report = model.load_weights(weights, by_name=True, exclude=heads)  # the notebooks' call for a new class set
    assert "conv1" in report.loaded and not report.missing and report.excluded == heads
    weightless = ["fpn_p6", "res2a_out", "fpn_p5upsampled", "fpn_p4add", "anchors", "mrcnn_detection"]
    assert model.load_weights(weights, exclude=heads + weightless).loaded == report.loaded  # matterport's names
    with pytest.raises(WeightsError, match="exclude names layers the model does not have: mrcnn_maks"):
        model.load_weights(weights, exclude=["mrcnn_maks"])  # a typo is not a weightless layer
    backbone = keras.ops.convert_to_numpy(model.keras_model.backbone.weights[0])
    np.testing.assert_array_equal(backbone, keras.ops.convert_to_numpy(small_model.network.backbone.weights[0]))

    partial = tmp_path / "partial.h5"
    _drop_layers(weights, partial, {"fpn_p2", "mrcnn_mask_conv1"})
    with caplog.at_level(logging.WARNING):
        report = model.load_weights(partial, by_name=True, exclude=heads)
    assert report.missing == ["fpn_p2", "mrcnn_mask_conv1"]
    assert "fpn_p2, mrcnn_mask_conv1" in caplog.text  # said, not skipped in silence
    assert model.load_weights(partial, by_name=False, exclude=heads).missing  # exclude implies by_name
    no_heads = tmp_path / "no_heads.h5"
    _drop_layers(weights, no_heads, {"fpn_p2", *heads})
    small = modellib.MaskRCNN(mode="inference", config=SmallConfig(), model_dir=tmp_path)
    with pytest.raises(WeightsError, match="does not fit the model exactly.*missing: fpn_p2"):
        small.load_weights(no_heads)  # a whole-model load (by_name=False) needs every layer


def _drop_layers(source, target, drop):
    import h5py

    with h5py.File(source) as f, h5py.File(target, "w") as g:
        names = [n for n in f.attrs["layer_names"] if n.decode() not in drop]
        for key, value in f.attrs.items():
            g.attrs[key] = value
        g.attrs["layer_names"] = names
        for name in names:
            f.copy(name.decode(), g)


def test_log_dir_checkpoint_names_and_find_last(tmp_path):
    model = modellib.MaskRCNN(mode="training", config=SmallConfig(), model_dir=tmp_path)
    assert model.epoch == 0 and re.fullmatch(r"test\d{8}T\d{4}", Path(model.log_dir).name)
    assert model.checkpoint_path == os.path.join(model.log_dir, "mask_rcnn_test_{epoch:04d}.h5")
    with pytest.raises(FileNotFoundError, match="Could not find model directory"):
        model.find_last()
    run = tmp_path / "test20261205T1830"
    run.mkdir()
    with pytest.raises(FileNotFoundError, match="Could not find weight files"):
        model.find_last()
    for epoch in (1, 2, 10):
        (run / f"mask_rcnn_test_{epoch:04d}.h5").touch()
    (tmp_path / "other20991231T2359").mkdir()  # another config's run is not this one's
    assert model.find_last() == str(run / "mask_rcnn_test_0010.h5")
    model.set_log_dir(model.find_last())
    assert model.epoch == 10 and model.log_dir == str(run)


class TinyShapesConfig(ShapesConfig):
    """The example's config (the notebook's, on the demo model's narrow network) made small enough for a test."""

    IMAGES_PER_GPU = 2
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    RPN_TRAIN_ANCHORS_PER_IMAGE = 64
    POST_NMS_ROIS_TRAINING = 200
    PRE_NMS_LIMIT = 1000
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1


@pytest.fixture(scope="module")
def shapes():
    """The shapes dataset of examples/train_shapes.py (matterport's notebook's), drawn at 80x96."""
    random.seed(1)
    train, val = ShapesDataset(), ShapesDataset()
    train.load_shapes(6, 80, 96)
    val.load_shapes(2, 80, 96)
    train.prepare()
    val.prepare()
    return train, val


def test_load_image_gt_and_data_generator_give_matterports_layout(shapes):
    config = TinyShapesConfig()
    train, _ = shapes
    image, meta, class_ids, bbox, mask = modellib.load_image_gt(train, config, 0, use_mini_mask=False)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8 and mask.shape[:2] == (64, 64)
    assert mask.dtype == bool and len(class_ids) == mask.shape[-1] == len(bbox) > 0
    np.testing.assert_array_equal(bbox, utils.extract_bboxes(mask))
    parsed = modellib.parse_image_meta(meta[None])
    assert list(parsed["original_image_shape"][0]) == [80, 96, 3] and list(parsed["active_class_ids"][0]) == [1] * 4
    window = parsed["window"][0]
    assert image[: window[0]].max() == 0 and image[window[0]:window[2]].max() > 0  # padding above the image
    inputs, outputs = next(modellib.data_generator(train, config, shuffle=False, batch_size=2))
    images, metas, rpn_match, rpn_bbox, gt_class_ids, gt_boxes, gt_masks = inputs
    assert outputs == [] and images.shape == (2, 64, 64, 3) and metas.shape == (2, config.IMAGE_META_SIZE)
    np.testing.assert_allclose(images[0], modellib.mold_image(image, config))
    assert rpn_match.shape[2] == 1 and set(np.unique(rpn_match)) <= {-1, 0, 1} and (rpn_match == 1).any()
    assert rpn_bbox.shape == (2, config.RPN_TRAIN_ANCHORS_PER_IMAGE, 4)
    assert gt_class_ids.shape == (2, 100) and gt_boxes.shape == (2, 100, 4) and gt_masks.shape == (2, 56, 56, 100)
    assert (gt_class_ids[0, : len(class_ids)] == class_ids).all() and (gt_class_ids[0, len(class_ids):] == 0).all()


def test_train_writes_matterports_checkpoints_and_resumes_from_find_last(shapes, tmp_path):
    train, val = shapes
    np.random.seed(0)
    model = modellib.MaskRCNN(mode="training", config=TinyShapesConfig(), model_dir=tmp_path)
    # the example's start: the demo model without its class-specific heads (as the notebook excludes COCO's)
    report = model.load_weights(DEMO_WEIGHTS, by_name=True,
                                exclude=["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"])
    assert not report.missing and "res5c_branch2c" in report.loaded
    assert model.epoch == 0 and Path(model.log_dir).parent == tmp_path  # not a checkpoint: a new run
    backbone_before = keras.ops.convert_to_numpy(model.keras_model.backbone.weights[0])
    heads_before = [keras.ops.convert_to_numpy(w) for w in model.keras_model.mask_head.weights]
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, dict(logs)))

    history = model.train(train, val, learning_rate=0.01, epochs=2, layers="heads", custom_callbacks=[Record()])
    run = Path(model.log_dir)
    assert sorted(p.name for p in run.iterdir()) == ["mask_rcnn_shapes_0001.h5", "mask_rcnn_shapes_0002.h5"]
    assert [e for e, _ in seen] == [0, 1] and len(history) == 2 and model.epoch == 2
    assert {"loss", "mrcnn_mask_loss", "val_loss", "val_mrcnn_mask_loss"} <= set(seen[1][1])
    assert all(np.isfinite(v) for v in seen[1][1].values())
    # "heads" trained the heads and left the backbone as it was
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.keras_model.backbone.weights[0]), backbone_before)
    assert any(not np.array_equal(keras.ops.convert_to_numpy(w), b)
               for w, b in zip(model.keras_model.mask_head.weights, heads_before))

    again = modellib.MaskRCNN(mode="training", config=TinyShapesConfig(), model_dir=tmp_path)
    last = again.find_last()
    assert last == str(run / "mask_rcnn_shapes_0002.h5")
    again.load_weights(last, by_name=True)
    assert again.epoch == 2 and again.log_dir == str(run)
    again.train(train, val, learning_rate=0.001, epochs=3, layers=r"(mrcnn\_mask.*)")
    assert (run / "mask_rcnn_shapes_0003.h5").is_file() and again.epoch == 3

    inference = modellib.MaskRCNN(mode="inference", config=TinyShapesConfig(), model_dir=tmp_path)
    with pytest.raises(VidsegError, match='mode="training"'):
        inference.train(train, val, learning_rate=0.001, epochs=1, layers="heads")
    inference.load_weights(inference.find_last(), by_name=True)
    assert inference.detect([train.load_image(0)])[0]["masks"].shape[:2] == (80, 96)


def test_get_imagenet_weights_offline_names_the_url_and_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(modellib, "IMAGENET_WEIGHTS_URL", "http://127.0.0.1:9/resnet50_notop.h5")
    model = modellib.MaskRCNN(mode="training", config=SmallConfig(), model_dir=tmp_path)
    target = tmp_path / "keras" / "models" / "resnet50_notop.h5"
    with pytest.raises(VidsegError, match=re.escape("http://127.0.0.1:9/resnet50_notop.h5") + ".*" +
                       re.escape(f"place it at {target}")):
        model.get_imagenet_weights()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"placed by hand")
    assert model.get_imagenet_weights() == str(target)


WORKFLOW_DETECT = """
import sys
sys.path.insert(0, {tests!r})
import vidseg.inference.threads
vidseg.inference.threads.use_threads(1)  # as a segment job sizes TensorFlow: one thread per op
import numpy as np
from flow import MODEL
from mrcnn import model as modellib
from mrcnn.config import Config
from mrcnn.demo import DEMO_WEIGHTS
from vidseg.media.frames import read_rgb


class TinyConfig(Config):  # the workflow's model settings as a matterport user writes a config
    pass


for key, value in MODEL.items():
    setattr(TinyConfig, key.upper(), value)
model = modellib.MaskRCNN(mode="inference", config=TinyConfig(), model_dir={logs!r})
model.load_weights({weights!r}, by_name=True)
frames = [read_rgb({frames!r}, i, {image_format!r}) for i in range({count})]
results = []
for start in range(0, len(frames), {chunk}):  # the job's units; in each, batches of IMAGES_PER_GPU
    results += model.detect(frames[start:start + {chunk}])
np.savez({out!r}, **{{f"{{key}}{{i}}": r[key] for i, r in enumerate(results) for key in r}})
"""


def test_detect_gives_the_workflows_detections(two_video_run, tmp_path):
    """Frames through `model.detect` against the segment job's table: the same weights, frames, batches and
    threads give the same detections, bit for bit. (Other batches change the float rounding, which
    can reorder near-tied detections, as with vidseg's own `detect`.)"""
    frames_dir = two_video_run / "results/frames_tmp/street_clip"
    image_format = next(frames_dir.glob("*.*")).suffix.lstrip(".")
    count = len(list(frames_dir.glob(f"*.{image_format}")))
    chunk = yaml.safe_load((two_video_run / "config.yaml").read_text())["segment"]["chunk_size"]
    script = WORKFLOW_DETECT.format(tests=str(Path(__file__).parent), logs=str(tmp_path),
                                    weights=str(two_video_run / "weights.h5"), frames=str(frames_dir),
                                    image_format=image_format, count=count, chunk=chunk, out=str(tmp_path / "r.npz"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = np.load(tmp_path / "r.npz")
    table = pd.read_parquet(two_video_run / "results/detections")
    rows = table[table.video_id.astype(str) == "street_clip"]
    assert count > chunk and len(rows) > 0 and sum(len(got[f"class_ids{i}"]) for i in range(count)) == len(rows)
    for frame in range(count):
        want = rows[rows.frame == frame].sort_values("instance")
        np.testing.assert_array_equal(got[f"class_ids{frame}"], want.class_id)
        np.testing.assert_array_equal(got[f"rois{frame}"], want[["y_min", "x_min", "y_max", "x_max"]].to_numpy())
        np.testing.assert_array_equal(got[f"scores{frame}"], want.score)
        masks = got[f"masks{frame}"]
        for i, rle in enumerate(want.mask_rle):
            decoded = mask_utils.decode({"size": list(masks.shape[:2]), "counts": rle.encode()}).astype(bool)
            np.testing.assert_array_equal(masks[:, :, i], decoded)
