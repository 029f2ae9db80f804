"""segment.engine: the dense part under OpenVINO and ONNX Runtime gives the Keras model's detections up to float
rounding (vidseg.maskrcnn.engines)."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vidseg.core.errors import VidsegError
from vidseg.inference.segment import load_model
from vidseg.maskrcnn import engines, winograd
from vidseg.maskrcnn.engines import Engine
from vidseg.maskrcnn.export import match_detections
from vidseg.maskrcnn.preprocess import mold_batch
from vidseg.media.synthetic import scene_frames

MODELS = Path(__file__).resolve().parents[1] / "models"
ENGINES = ("openvino", "onnxruntime")


@pytest.fixture(scope="module")
def demo():
    model, _ = load_model({}, MODELS / "shapes.h5")
    return model


@pytest.fixture(scope="module")
def scenes(demo):
    return scene_frames(4)  # 640x480 scenes of shapes, what the demo model detects


@pytest.mark.parametrize("engine, every_3x3", [("openvino", False), ("openvino", True), ("onnxruntime", False)],
                         ids=["openvino", "openvino-every-3x3-by-winograd", "onnxruntime"])
def test_engine_finds_the_keras_detections(demo, scenes, engine, every_3x3, monkeypatch):
    """OpenVINO's float32 graphs run the wide 3x3 convolutions by Winograd's algorithm (vidseg.maskrcnn.winograd); the
    demo model's are narrow (64 channels), so `every_3x3` lowers the bar to run all of its own 3x3s that way."""
    demo.use_engine("keras")
    want = demo.detect(scenes, batch=2)
    calls = []
    if every_3x3:
        monkeypatch.setattr(winograd, "MIN_CHANNELS", 64)
        monkeypatch.setattr(winograd, "conv3x3", lambda *args, f=winograd.conv3x3: calls.append(1) or f(*args))
    demo.use_engine(engine)
    try:
        got = demo.detect(scenes, batch=2)
    finally:
        demo.use_engine("keras")
    assert len(calls) >= (13 if every_3x3 else 0)  # ResNet-50's 16 and the FPN's 4, in the dense part and mask head
    total = 0
    for a, b in zip(want, got):
        pairs = match_detections(a.boxes, a.class_ids, b.boxes, b.class_ids)
        assert len(pairs) == len(a) == len(b), engine
        for i, j in pairs:
            assert abs(a.scores[i] - b.scores[j]) <= 1e-3
            assert mask_utils.iou([a.rle()[i]], [b.rle()[j]], [0])[0, 0] >= 0.99
        total += len(a)
    assert total >= 8  # the frames hold enough shapes for the comparison to mean something


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_streams_called_at_once_give_what_one_call_gives(demo, scenes, engine):
    """A segment job's model streams call the engine from two threads at once (one infer request each)."""
    demo.use_engine(engine, streams=2)
    try:
        batches = [mold_batch(scenes[i:i + 2], demo.config)[:2] for i in (0, 2)]
        alone = [demo.predict(*batch) for batch in batches]
        with ThreadPoolExecutor(2) as pool:
            together = list(pool.map(lambda batch: demo.predict(*batch), batches * 2))
    finally:
        demo.use_engine("keras")
    for a, b in zip(alone * 2, together):
        for key in ("boxes", "class_ids", "scores", "count", "masks"):
            np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("count, calls", [((11, 3), [8, 8]), ((11, 2), [8, 8]), ((9, 3), [8, 4]), ((0, 2), [2]),
                                          ((1, 0), [1]), ((16, 0), [8, 8])])
def test_an_engines_mask_head_runs_on_the_real_detections_in_chunks(demo, monkeypatch, count, calls):
    """Frames of `count` detections in 16 slots: calls of MASK_CHUNK (8) and one for the rest, rounded up to a power
    of two; each detection with its class, its mask back in its slot, the slots past a frame's count zero."""
    from vidseg.maskrcnn.model import MASK_CHUNK

    rng = np.random.default_rng(0)
    pooled = rng.standard_normal((2, 16, 2, 2, 3)).astype(np.float32)
    class_ids = rng.integers(0, 5, (2, 16)).astype(np.int32)
    count = np.array(count)
    shapes = []

    def mask_head(x, own):  # per ROI a distinct constant mask: (the ROI's first value) * 10 + its class
        shapes.append((x.shape, own.shape))
        return {"masks": x[:, :, :1, :1, 0] * 10 + own[:, :, None, None] + np.zeros((1, 1, 4, 4))}

    monkeypatch.setattr(demo, "_parts", Engine("fake", None, None, mask_head))
    masks = demo._engine_masks(pooled, class_ids, count, lambda name, part, *args: part(*args))
    assert MASK_CHUNK == 8 and shapes == [((1, n, 2, 2, 3), (1, n)) for n in calls]
    assert masks.shape == (2, 16, 4, 4)
    for i in range(2):
        for j in range(16):
            want = pooled[i, j, 0, 0, 0] * 10 + class_ids[i, j] if j < count[i] else 0.0
            np.testing.assert_allclose(masks[i, j], want, rtol=1e-6)


def test_the_mask_head_for_each_rois_own_class_equals_every_class_picked_by_class():
    """The runtimes' mask head takes each ROI's class and computes only its mask: the same as every class's masks
    picked by class, up to float rounding."""
    from conftest import seeded_model

    head = seeded_model(0).network.mask_head
    rng = np.random.default_rng(3)
    pooled = rng.standard_normal((2, 5, 14, 14, head.convs[0].kernel.shape[2])).astype(np.float32)
    class_ids = rng.integers(0, head.mask.filters, (2, 5)).astype(np.int32)
    every = np.asarray(head(pooled))
    own = np.asarray(head(pooled, class_ids))
    assert every.shape[-1] == head.mask.filters and own.shape == every.shape[:-1]
    np.testing.assert_allclose(own, np.take_along_axis(every, class_ids[:, :, None, None, None], -1)[..., 0],
                               rtol=0, atol=1e-6)


def test_an_engine_compiles_the_weights_loaded_after_it():
    model, _ = load_model({}, MODELS / "shapes.h5")  # a model of its own: its weights change here
    for weight in model.network.weights:  # other weights than the file's
        weight.assign(weight * 1.25)
    images = mold_batch([np.full((96, 128, 3), 90, np.uint8)], model.config)[0]
    model.use_engine("openvino")
    before = model._parts.dense(images)["rpn_probs"]
    model.load_weights(MODELS / "shapes.h5", strict=True)
    after, keras = model._parts.dense(images)["rpn_probs"], np.asarray(model._features(images)[1])
    assert not np.allclose(before, keras, atol=1e-2)  # the loaded weights changed what the dense part computes
    np.testing.assert_allclose(after, keras, atol=1e-3)


def test_engine_errors_name_the_setting(demo):
    with pytest.raises(VidsegError, match="segment.engine must be one of keras, openvino, onnxruntime"):
        demo.use_engine("tensorrt")
    with pytest.raises(VidsegError, match="segment.precision float32"):
        load_model({}, MODELS / "shapes.h5", precision="mixed_bfloat16", engine="openvino")


def segment_video(model, names, video: Path, folder: Path, prepare=None):
    """The segment stage on one extracted video (frames, index.tsv, truth.json beside); COCOeval against its truth."""
    from vidseg.evaluation.evaluate import evaluate
    from vidseg.formats.tables import CHUNK_DETECTIONS_SCHEMA, read_parts
    from vidseg.inference.segment import segment_unit
    from vidseg.inference.unit import TABLES, member_path, whole

    segment_unit(model, names, whole("v"), {"v": video / "frames"}, {"v": video / "index.tsv"}, "jpg", folder,
                 prepare=prepare)
    table = read_parts([member_path(folder, "v", TABLES["detections"])], CHUNK_DETECTIONS_SCHEMA).to_pandas()
    return evaluate(table, video / "truth.json")


def test_int8_keeps_the_demo_models_mask_ap_within_0_01(tmp_path):
    """segment.precision int8: the dense part quantized on the job's own frames (`calibrate`), scored as the
    evaluate rule scores it, against float32 on a demo video at the demo's size."""
    from vidseg.inference.segment import calibrate
    from vidseg.media.frames import extract, write_index
    from vidseg.media.synthetic import write_video

    video = tmp_path / "video"
    write_video(video / "v.mp4", video / "truth.json", frames=60, seed=21, size=(192, 256), audio=False)
    write_index(extract(video / "v.mp4", video / "frames", "jpg", 2), video / "index.tsv")
    model, names = load_model({}, MODELS / "shapes.h5", min_confidence=0.0)
    want = segment_video(model, names, video, tmp_path / "float32")
    used = []

    def quantize(frames):
        used.append(calibrate(model, "openvino", frames, "jpg"))

    got = segment_video(model, names, video, tmp_path / "int8", prepare=quantize)
    assert used == [16] and model.engine == "openvino"
    assert want["segm"]["AP"] > 0.5  # a model that finds the shapes, so the comparison means something
    for kind in ("segm", "bbox"):
        for stat in ("AP", "AP50"):
            assert abs(got[kind][stat] - want[kind][stat]) <= 0.01, (kind, stat, got[kind], want[kind])


@pytest.mark.parametrize("int8_dot, quantized", [(True, ["dense", "classifier", "mask_head"]),
                                                   (False, ["dense", "mask_head"])], ids=["vnni", "avx2"])
def test_int8_keeps_the_classifier_head_float32_on_cpus_without_int8_dot_products(demo, monkeypatch, int8_dot,
                                                                                   quantized):
    """Without VNNI or AMX the classifier head's big matrix product runs slower in int8 than in float32."""
    seen = []

    def quantize(graph, samples, part):  # records what NNCF would quantize, on what
        seen.append((part, len(samples), sorted(samples[0])))
        return graph

    monkeypatch.setattr(engines, "has_int8_dot", lambda: int8_dot)
    monkeypatch.setattr(engines, "quantize", quantize)
    images = mold_batch(scene_frames(3), demo.config)[0]
    parts = engines.build_engine("openvino", demo, calibration=images)
    inputs = {"dense": ["images"], "classifier": ["pooled"], "mask_head": ["class_ids", "pooled"]}
    assert seen == [(part, 3, inputs[part]) for part in quantized]  # each on the 3 frames, by input name
    pooled = demo.network.pooled_proposals(*demo._features(images[:1]))[1]
    assert parts.classifier(np.asarray(pooled))["class_probs"].shape[:2] == (1, demo.config.POST_NMS_ROIS_INFERENCE)


def test_the_heads_calibrate_on_frames_spread_over_the_calibration_frames(demo, monkeypatch):
    """The dense part calibrates on every frame; the Keras model, whose outputs calibrate the heads, runs on
    HEAD_CALIBRATION of them, the first and the last among them, and on none for the dense part alone."""
    images = mold_batch(scene_frames(10), demo.config)[0]
    ran, features = [], demo._features

    def recording(image):
        ran.append(next(i for i in range(len(images)) if np.array_equal(np.asarray(image)[0], images[i])))
        return features(image)

    monkeypatch.setattr(demo, "_features", recording)
    monkeypatch.setattr(engines, "HEAD_CALIBRATION", 4)
    samples = engines.calibration_inputs(demo, images)
    assert ran == [0, 3, 6, 9]
    assert [len(samples[part]) for part in engines.PARTS] == [10, 4, 4]
    assert [len(x) for x in samples["dense"]] == [1] * 10 and np.array_equal(samples["dense"][9][0], images[9:10])
    pooled = demo.network.pooled_proposals(*features(images[9:10]))[1]
    np.testing.assert_array_equal(samples["classifier"][3][0], np.asarray(pooled))  # the last frame's
    assert samples["mask_head"][3][0].shape[:2] == (1, engines.MASK_CALIBRATION_ROIS)
    ran.clear()
    assert list(engines.calibration_inputs(demo, images, ("dense",))) == ["dense"] and ran == []


class Recorder:
    """Stands in for a MaskRCNN in `calibrate`: records what it is asked to quantize on."""

    def use_engine(self, engine, streams=1, gpu=False, calibration=None):
        self.engine, self.calibration = engine, calibration


def test_calibration_frames_spread_over_the_unit_and_skip_unreadable_ones(tmp_path):
    import cv2

    from vidseg.inference.batches import frames_of
    from vidseg.inference.segment import calibrate

    for i in range(40):
        cv2.imwrite(str(tmp_path / f"{i:06d}.png"), np.full((8, 8, 3), i, np.uint8))
    (tmp_path / "000013.png").write_bytes(b"not a png")
    model = Recorder()
    assert calibrate(model, "openvino", frames_of("v", tmp_path, 0, 40), "png", count=4) == 3  # 0, 13, 26, 39
    assert [int(f[0, 0, 0]) for f in model.calibration] == [0, 26, 39]
    assert calibrate(model, "openvino", frames_of("v", tmp_path, 10, 16), "png", count=16) == 5  # 13 unreadable
    assert [int(f[0, 0, 0]) for f in model.calibration] == [10, 11, 12, 14, 15]
    assert calibrate(model, "openvino", frames_of("v", tmp_path, 13, 14), "png") == 0
    assert model.calibration is None  # nothing to calibrate on: the dense part stays float32
