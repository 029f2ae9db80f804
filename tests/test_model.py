import numpy as np
import pandas as pd
import pytest

from conftest import copy_model, matched, seeded_model, small_config, twin
from vidseg.core.errors import VidsegError
from vidseg.maskrcnn import MaskRCNN


def test_detect_returns_one_result_per_frame_in_frame_pixels(small_model, frames):
    results = small_model.detect(frames)
    assert len(results) == 3  # IMAGES_PER_GPU = 2: the last partial batch is processed
    for frame, det in zip(frames, results):
        h, w = frame.shape[:2]
        assert det.image_shape == (h, w)
        assert 0 < len(det) <= 20
        assert det.boxes.dtype == np.int32 and det.class_ids.dtype == np.int32 and det.scores.dtype == np.float32
        assert (det.boxes[:, 0] >= 0).all() and (det.boxes[:, 2] <= h).all()
        assert (det.boxes[:, 1] >= 0).all() and (det.boxes[:, 3] <= w).all()
        assert (det.boxes[:, 2] > det.boxes[:, 0]).all() and (det.boxes[:, 3] > det.boxes[:, 1]).all()
        assert (np.diff(det.scores) <= 0).all()
        assert ((det.class_ids >= 1) & (det.class_ids < 81)).all()
        for box, mask in zip(det.boxes, det.masks):
            assert mask.dtype == bool and mask.shape == (box[2] - box[0], box[3] - box[1])
        assert det.full_masks().shape == (h, w, len(det))


def assert_same_up_to_a_near_tie(a, b):
    """Same detections up to float rounding, which may flip one near-tied decision per frame
    (NMS at its IoU threshold, the last proposal or detection slot): seen with the random
    weights on an AVX-512 CPU, where oneDNN's kernels depend on the batch size. Every other
    detection has a twin: same class, box within 1 px, score within 1e-3, nearly the same mask."""
    assert abs(len(a) - len(b)) <= 1
    twins = 0
    for i in range(len(a)):
        j = twin(a.boxes[i], a.class_ids[i], a.scores[i], b.boxes, b.class_ids, b.scores)
        if j is not None:
            twins += 1
            ma, mb = a.masks[i], b.masks[j]
            if ma.shape == mb.shape:
                assert (ma != mb).mean() < 0.02
    assert twins >= max(len(a), len(b)) - 1, (twins, len(a), len(b))


def test_a_frame_gets_the_same_result_alone_or_in_a_batch(small_model, frames):
    batched = small_model.detect(frames)
    for frame, in_batch in zip(frames, batched):
        assert_same_up_to_a_near_tie(small_model.detect([frame])[0], in_batch)
    # order inside the batch does not matter either
    swapped = small_model.detect([frames[1], frames[0]])
    assert_same_up_to_a_near_tie(swapped[0], batched[1])
    assert_same_up_to_a_near_tie(swapped[1], batched[0])


def test_save_then_load_gives_identical_outputs(small_model, frames, tmp_path):
    path = tmp_path / "model.h5"
    small_model.save_weights(path)
    other = seeded_model(seed=1)
    before = other.detect(frames[:1])[0]
    report = other.load_weights(path, strict=True)
    assert not report.missing and not report.unexpected
    for a, b in zip(small_model.detect(frames), other.detect(frames)):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.class_ids, b.class_ids)
        np.testing.assert_array_equal(a.scores, b.scores)
        for ma, mb in zip(a.masks, b.masks):
            np.testing.assert_array_equal(ma, mb)
    assert not np.array_equal(before.scores, other.detect(frames[:1])[0].scores)
    for layer_a, layer_b in zip(small_model.network.weight_layers(), other.network.weight_layers()):
        for wa, wb in zip(layer_a.weights, layer_b.weights):
            np.testing.assert_array_equal(wa.numpy(), wb.numpy())


def test_resnet101_with_81_classes_builds_and_runs(frames):
    model = seeded_model(seed=2, backbone="resnet101", images_per_gpu=1)
    names = [layer.name for layer in model.network.weight_layers()]
    assert "res4w_branch2c" in names and "res4x_branch2a" not in names
    results = model.detect(frames[:1])
    assert len(results) == 1 and len(results[0]) > 0


def test_empty_input_and_bad_frames():
    model = MaskRCNN(small_config(images_per_gpu=1))
    assert model.detect([]) == []
    with pytest.raises(VidsegError, match="frame 1: expected an HxWx3 uint8 RGB array"):
        model.detect([np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.uint8)])
    with pytest.raises(VidsegError, match="frame 0: expected .* float32"):
        model.detect([np.zeros((10, 10, 3), np.float32)])
    with pytest.raises(VidsegError, match="a list of frames"):
        model.detect(np.zeros((10, 10, 3), np.uint8))


def test_min_confidence_filters_detections_exactly_as_filtering_afterwards(small_model, frames, tmp_path):
    """What evaluation relies on: detect at 0 and keep scores >= t (the track stage) gives what detecting at t gives."""
    from vidseg.formats.tables import detection_table, frame_table, write_atomic
    from vidseg.tracking.track import track_video

    loose = small_model.detect(frames)
    scores = np.concatenate([r.scores for r in loose])
    threshold = float(np.median(scores))
    strict = seeded_model(seed=0, detection_min_confidence=threshold).detect(frames)
    assert 0 < sum(len(r) for r in strict) < len(scores)
    names = [f"c{i}" for i in range(81)]
    ids, times = [0, 1, 2], [0.0, 0.1, 0.2]
    write_atomic(detection_table("v", ids, times, loose, names), tmp_path / "chunk.detections.parquet")
    write_atomic(frame_table("v", ids, times, [len(r) for r in loose]), tmp_path / "chunk.frames.parquet")
    track_video("v", [tmp_path / "chunk.detections.parquet"], [tmp_path / "chunk.frames.parquet"], threshold, {},
                tmp_path / "d.parquet", tmp_path / "f.parquet", tmp_path / "t.parquet")
    high = detection_table("v", ids, times, strict, names).to_pandas()
    kept = pd.read_parquet(tmp_path / "d.parquet")
    assert len(kept) == len(high)
    assert (kept.frame.to_numpy() == high.frame.to_numpy()).all() and (kept.class_id == high.class_id).all()
    assert (kept.instance == high.instance).all()
    np.testing.assert_allclose(kept.score, high.score, atol=1e-5)
    assert pd.read_parquet(tmp_path / "f.parquet").n_detections.tolist() == [len(r) for r in strict]


def test_mask_slots_round_up_to_powers_of_two_within_the_cap():
    from vidseg.maskrcnn.model import mask_slots

    assert [mask_slots(n, 100) for n in (0, 1, 2, 3, 5, 8, 9, 33, 64, 65, 100)] == [0, 1, 2, 4, 8, 8, 16, 64, 64, 100, 100]
    assert mask_slots(20, 20) == 20 and mask_slots(17, 20) == 20


def test_masks_on_real_detections_only_match_matterports_all_slot_graph(small_model, frames):
    """The default path runs the mask head on the fullest frame's detections (rounded up), not on
    all D slots; every real detection's mask must equal the all-slot graph's."""
    from vidseg.maskrcnn.preprocess import mold_batch

    scores = np.concatenate([r.scores for r in small_model.detect(frames)])
    config = small_config(detection_min_confidence=float(np.quantile(scores, 0.8)))
    staged = copy_model(small_model, config)
    full = copy_model(small_model, config, all_mask_slots=True)
    images, windows, _ = mold_batch(frames[:2], staged.config)
    got, want = staged.predict(images, windows), full.predict(images, windows)
    counts = want["count"]
    assert 0 < counts.max() < staged.config.DETECTION_MAX_INSTANCES  # the test means something
    assert got["masks"].shape[1] < want["masks"].shape[1] == staged.config.DETECTION_MAX_INSTANCES
    np.testing.assert_array_equal(got["count"], counts)
    np.testing.assert_array_equal(got["class_ids"], want["class_ids"])
    np.testing.assert_allclose(got["boxes"], want["boxes"], atol=1e-5)
    for i, n in enumerate(counts):
        np.testing.assert_allclose(got["masks"][i, :n], want["masks"][i, :n], atol=1e-5)


def test_frames_without_detections_skip_the_mask_head(small_model, frames):
    from vidseg.maskrcnn.preprocess import mold_batch

    model = copy_model(small_model, small_config(detection_min_confidence=1.0))
    parts = []

    def run(name, part, *args):
        parts.append(name)
        return part(*args)

    out = model.predict(*mold_batch(frames[:2], model.config)[:2], run=run)
    assert parts == ["features", "detections"] and out["masks"].shape == (2, 0, 28, 28)
    results = model.detect(frames[:2])
    assert [len(r) for r in results] == [0, 0]
    assert all(r.full_masks().shape == (*f.shape[:2], 0) for r, f in zip(results, frames))


def test_xla_compiled_dense_part_gives_the_same_detections(small_model, frames):
    compiled = copy_model(small_model, xla=True)
    total = agree = 0
    for a, b in zip(small_model.detect(frames), compiled.detect(frames)):
        assert len(a) == len(b)
        total += len(a)
        agree += matched(a.boxes, a.class_ids, a.scores, b.boxes, b.class_ids, b.scores)
    # XLA fuses and rounds differently; with random weights one near-tied NMS decision may flip
    assert agree >= 0.9 * total, (agree, total)


def test_the_classifier_as_matrix_products_computes_what_its_layers_do(small_model):
    """The graphs the runtimes read (vidseg.maskrcnn.export) run the classifier head's two convolutions as matrix
    products: the same sums, up to float rounding."""
    net, rng = small_model.network, np.random.default_rng(0)
    pool = net.config.POOL_SIZE
    pooled = rng.standard_normal((2, 5, pool, pool, net.config.TOP_DOWN_PYRAMID_SIZE)).astype(np.float32)
    for layers, products in zip(net.classifier(pooled), net.classifier(pooled, as_matmuls=True)):
        assert products.shape == layers.shape
        np.testing.assert_allclose(products, layers, rtol=1e-4, atol=1e-5 * float(np.abs(layers).max()))


def test_the_model_builds_its_layers_without_tracing_them(small_model, monkeypatch):
    """The backbone, RPN and heads create their variables by an eager call on a small input
    (vidseg.maskrcnn.layers.Composite), not by Keras's symbolic trace of each call first: the same variables in the
    same order."""
    from keras.src import backend

    traced = []
    monkeypatch.setattr(backend, "compute_output_spec", lambda fn, *a, **kw: traced.append(fn) or ...)
    model = MaskRCNN(small_model.config)
    assert traced == []
    assert [v.path for v in model.network.weights] == [v.path for v in small_model.network.weights]
    assert [tuple(v.shape) for v in model.network.weights] == [tuple(v.shape) for v in small_model.network.weights]


def test_the_inference_graph_holds_no_sum_of_three_that_grappler_could_make_a_temporary_variable(small_model):
    """TensorFlow's graph optimizer folds a sum of three or more same-shape tensors into one AddN, and where a
    graph's estimated peak memory passes 0.8 of the free RAM it rewrites that AddN into a TemporaryVariable named
    by the node: two threads running the graph at once (model streams, a served SavedModel) then failed with
    AlreadyExistsError (matterport's whole graph at ResNet-101@1024, batch 2, on 2 streams). The box decoding
    held two such sums. The optimized whole inference graph (offline Grappler, as at run time) holds none."""
    import keras
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.grappler import tf_optimizer

    assert keras.backend.backend() == "tensorflow"
    config = small_model.config
    batch, size = config.BATCH_SIZE, config.IMAGE_MAX_DIM
    function = copy_model(small_model, all_mask_slots=True)._full.get_concrete_function(
        tf.TensorSpec((batch, size, size, 3), tf.float32), tf.TensorSpec((batch, 4), tf.float32))
    graph = tf.compat.v1.train.export_meta_graph(graph_def=function.graph.as_graph_def(add_shapes=True),
                                                 graph=function.graph)
    graph.collection_def["train_op"].node_list.value.extend(t.name for t in function.outputs)  # what Grappler keeps
    optimized = tf_optimizer.OptimizeGraph(config_pb2.ConfigProto(), graph)
    nodes = [*optimized.node, *(node for f in optimized.library.function for node in f.node_def)]
    assert sum(node.op == "Conv2D" or node.op.startswith("_FusedConv2D") for node in nodes) > 50  # the whole graph
    sums = {node.name: sum(not i.startswith("^") for i in node.input) for node in nodes if node.op == "AddN"}
    assert {name: n for name, n in sums.items() if n > 2} == {}
    assert [node.name for node in nodes if node.op == "TemporaryVariable"] == []
