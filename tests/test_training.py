import numpy as np
import pytest

from conftest import make_frames, seeded_model
from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.dataset import CocoDataset
from vidseg.maskrcnn.training import LOSS_NAMES, Trainer
from vidseg.media.synthetic import CATEGORIES, write_coco_images

TINY = dict(num_classes=4, image_min_dim=64, image_max_dim=64, images_per_gpu=2, rpn_train_anchors_per_image=64,
            train_rois_per_image=32, post_nms_rois_training=200, pre_nms_limit=1000, fpn_classif_fc_layers_size=128,
            top_down_pyramid_size=64)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_coco_images(root, count=4, seed=11, size=(64, 64))
    return CocoDataset(root / "annotations.json")


def test_dataset_reads_coco_and_molds_like_inference(dataset):
    assert len(dataset) == 4 and dataset.class_names == ["BG", *CATEGORIES]
    model = seeded_model(0, **TINY)
    sample = dataset.sample(0, model.config)
    flipped = dataset.sample(0, model.config, flip=True)
    assert sample.image.shape == (64, 64, 3) and sample.masks.shape[1:] == (64, 64)
    assert len(sample.class_ids) == len(sample.boxes) == len(sample.masks) > 0
    assert (flipped.masks == sample.masks[:, :, ::-1]).all()
    for box, mask in zip(sample.boxes * 63 + [0, 0, 1, 1], sample.masks):
        rows, cols = np.nonzero(mask)
        np.testing.assert_allclose(box, [rows.min(), cols.min(), rows.max() + 1, cols.max() + 1], atol=1e-4)


def test_a_few_steps_lower_the_loss(dataset):
    model = seeded_model(0, **TINY)
    trainer = Trainer(model, layers="heads", learning_rate=0.003, seed=0)
    batch = [dataset.sample(i, model.config) for i in (0, 1)]
    before = {k: float(v) for k, v in trainer.losses(batch, np.random.default_rng(5)).items()}
    assert all(np.isfinite(before[name]) and before[name] >= 0 for name in LOSS_NAMES)
    head_kernel = model.network.mask_head.mask.kernel.numpy().copy()
    backbone_kernel = model.network.backbone.conv1.kernel.numpy().copy()
    for _ in range(4):
        trainer.step(batch)
    after = {k: float(v) for k, v in trainer.losses(batch, np.random.default_rng(5)).items()}
    assert after["loss"] < 0.6 * before["loss"]
    assert not np.array_equal(model.network.mask_head.mask.kernel.numpy(), head_kernel)
    assert np.array_equal(model.network.backbone.conv1.kernel.numpy(), backbone_kernel)  # "heads" only


def test_one_graph_step_samples_once_from_its_own_proposals(dataset):
    """A step samples its ROIs once, from the proposals of its own forward pass (one graph): the
    losses equal those of the same targets fed in from outside, and the proposals are those a
    separate proposals pass finds, up to float rounding."""
    model = seeded_model(0, **TINY)
    trainer = Trainer(model, layers="heads", seed=0)
    batch = [dataset.sample(i, model.config) for i in (0, 1)]
    seen = []
    sample = trainer.roi_targets

    def spy(samples, proposals, rng=None):
        seen.append(np.array(proposals))
        return sample(samples, proposals, rng)

    trainer.roi_targets = spy
    fused = trainer.losses(batch, np.random.default_rng(3))
    del trainer.roi_targets
    assert len(seen) == 1 and trainer._pending is None
    rng = np.random.default_rng(3)  # the same draws, in the same order: RPN targets, then the ROIs
    inputs = trainer.batch_inputs(batch, rng)
    targets = {**inputs, **trainer.roi_targets(batch, seen[0], rng)}
    assert targets["positive"].any()
    outside = {k: float(v) for k, v in trainer._loss_graph(targets).items()}
    for name in LOSS_NAMES:
        assert fused[name] == pytest.approx(outside[name], rel=1e-4, abs=1e-6), name
    net = model.network
    _, _, probs, deltas = net.first_stage(inputs["images"])
    separate = net.proposals(probs, deltas, model.config.POST_NMS_ROIS_TRAINING)
    for ours, theirs in zip(seen[0], np.asarray(separate)):
        close = np.abs(ours[:, None, :] - theirs[None, :, :]).max(axis=-1).min(axis=1) < 1e-5
        assert close.mean() > 0.95


def test_training_and_inference_run_the_same_heads(dataset, monkeypatch):
    """Backbone -> RPN -> ROIAlign -> heads is wired once, in the network: a training step runs its
    `first_stage`, `classifier_outputs` and `mask_outputs`, whose outputs on the step's ROIs give the
    step's head losses, and inference runs the same three methods."""
    from vidseg.maskrcnn import losses
    from vidseg.maskrcnn.model import MaskRCNNNetwork

    model = seeded_model(0, **TINY)
    trainer = Trainer(model, layers="heads", seed=0)
    batch = [dataset.sample(i, model.config) for i in (0, 1)]
    calls = []

    def recorded(name):
        method = getattr(MaskRCNNNetwork, name)

        def call(self, *args):
            calls.append(name)
            return method(self, *args)

        return call

    wiring = ["first_stage", "classifier_outputs", "mask_outputs"]
    for name in wiring:
        monkeypatch.setattr(MaskRCNNNetwork, name, recorded(name))
    seen = []
    sample = trainer.roi_targets

    def spy(samples, proposals, rng=None):
        seen.append(sample(samples, proposals, rng))
        return seen[-1]

    trainer.roi_targets = spy
    step = trainer.losses(batch, np.random.default_rng(3))
    assert calls == wiring  # traced once, into the step's graph

    net, targets, p = model.network, seen[0], trainer.mask_slots
    assert targets["positive"].any()
    feature_maps, _, _, _ = net.first_stage(trainer.batch_inputs(batch)["images"])
    class_logits, _, box_deltas = net.classifier_outputs(feature_maps, targets["rois"])
    mask_probs = net.mask_outputs(feature_maps, targets["rois"][:, :p])
    ids, positive = targets["class_ids"], targets["positive"]
    heads = {"mrcnn_class_loss": losses.class_loss(ids, class_logits),
             "mrcnn_bbox_loss": losses.bbox_loss(ids, targets["deltas"], box_deltas, positive),
             "mrcnn_mask_loss": losses.mask_loss(targets["masks"], mask_probs, ids[:, :p], positive[:, :p])}
    for name, value in heads.items():
        assert step[name] == pytest.approx(float(value), rel=1e-4, abs=1e-6), name

    calls.clear()
    assert len(model.detect(make_frames()[:2])[0]) > 0  # the mask head runs too
    assert calls == wiring


def test_fit_reports_epochs_and_checkpoints(dataset, tmp_path):
    model = seeded_model(0, **TINY)
    lines = []
    history = Trainer(model, layers="all", learning_rate=0.001).fit(dataset, epochs=2, steps_per_epoch=1,
                                                                    checkpoint=tmp_path / "m.h5", report=lines.append)
    assert len(history) == 2 and set(LOSS_NAMES) <= set(history[0]) and lines[0].startswith("epoch 1/2 (lr 0.001): ")
    again = seeded_model(1, **TINY)
    assert not again.load_weights(tmp_path / "m.h5", strict=True).missing
    with pytest.raises(VidsegError, match="layers '6\\+' selects no layer"):
        Trainer(model, layers="6+")
    with pytest.raises(VidsegError, match="layers must be one of .* or a regular expression"):
        Trainer(model, layers="(mrcnn_")
    by_regex = Trainer(model, layers=r"(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)")  # matterport's "heads", spelled out
    assert [v.path for v in by_regex.variables] == [v.path for v in Trainer(model, layers="heads").variables]


def test_moving_average_of_the_weights_is_what_fit_saves(dataset, tmp_path):
    model = seeded_model(0, **TINY)
    trainer = Trainer(model, layers="heads", learning_rate=0.003, ema=0.9)
    kernel = model.network.mask_head.mask.kernel
    index = next(i for i, v in enumerate(trainer.variables) if v is kernel)
    batch = [dataset.sample(i, model.config) for i in (0, 1)]
    expected = kernel.numpy().copy()
    for n in range(1, 5):  # the decay ramps up: min(0.9, (1 + n) / (10 + n)) after the n-th update
        trainer.step(batch)
        decay = min(0.9, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * kernel.numpy()
    np.testing.assert_allclose(trainer.averages[index].numpy(), expected, rtol=1e-5, atol=1e-7)
    trained = kernel.numpy().copy()
    assert not np.allclose(trained, expected)
    with trainer.averaged_weights():
        np.testing.assert_array_equal(kernel.numpy(), trainer.averages[index].numpy())
    np.testing.assert_array_equal(kernel.numpy(), trained)

    trainer.fit(dataset, epochs=1, steps_per_epoch=2, checkpoint=tmp_path / "m.h5", report=lambda line: None)
    np.testing.assert_array_equal(kernel.numpy(), trainer.averages[index].numpy())  # fit ends on the averages
    again = seeded_model(1, **TINY)
    again.load_weights(tmp_path / "m.h5", strict=True)
    np.testing.assert_array_equal(again.network.mask_head.mask.kernel.numpy(), kernel.numpy())
    with pytest.raises(VidsegError, match="ema must be a decay between 0 and 1"):
        Trainer(model, ema=1.5)


def test_fine_tuning_from_other_classes_skips_the_class_specific_heads(dataset, tmp_path):
    """train_model from an 81-class file onto the 3 shape classes (the matterport fine-tuning path)."""
    import yaml

    from vidseg.core.errors import ConfigError
    from vidseg.inference.train import train_model

    coco_like = seeded_model(0, **{**TINY, "num_classes": 81})
    coco_like.save_weights(tmp_path / "coco_like.h5")
    settings = {"name": "ft", "model": {**TINY, "backbone": "resnet50"}, "layers": "heads", "epochs": 1, "steps_per_epoch": 1,
                "learning_rate": 0.001}
    lines = []
    train_model(settings, dataset.path, None, tmp_path / "ft.h5", tmp_path / "ft.yaml",
                init_weights=tmp_path / "coco_like.h5", report=lines.append)
    assert any("4 excluded" in line for line in lines), lines  # logits, bbox fc, mask (+ weightless mrcnn_bbox)
    tuned = seeded_model(1, **TINY)
    tuned.load_weights(tmp_path / "ft.h5", strict=True)
    backbone = coco_like.network.backbone.conv1.kernel.numpy()
    assert np.array_equal(tuned.network.backbone.conv1.kernel.numpy(), backbone)  # loaded, then frozen
    assert yaml.safe_load((tmp_path / "ft.yaml").read_text())["class_names"] == ["BG", *CATEGORIES]
    with pytest.raises(ConfigError, match="num_classes' is 81, but .* has 3 categories"):
        train_model({**settings, "model": {**settings["model"], "num_classes": 81}}, dataset.path, None,
                    tmp_path / "x.h5", tmp_path / "x.yaml")


def _hand_made_sample(size=128, window=(32, 0, 96, 128)):
    from vidseg.maskrcnn.dataset import molded_sample

    image = np.arange(size * size * 3, dtype=np.float32).reshape(size, size, 3)
    masks = np.zeros((3, size, size), bool)
    masks[0, 40:60, 10:20] = True  # left
    masks[1, 50:70, 100:120] = True  # right
    masks[2, 60:90, 50:80] = True  # middle
    return molded_sample(image, window, np.array([1, 2, 3], np.int32), masks)


def test_crop_sample_lands_anywhere_padding_included_and_keeps_what_it_cuts():
    from vidseg.maskrcnn.dataset import crop_sample

    sample = _hand_made_sample()  # image rows 32..96 of 128, padding above and below
    seen = set()
    for seed in range(60):
        crop = crop_sample(sample, 64, np.random.default_rng(seed))
        (ys, xs) = np.nonzero((sample.image[..., 0] == crop.image[0, 0, 0]))
        y, x = int(ys[0]), int(xs[0])
        seen.add((y, x))
        assert 0 <= y <= 64 and 0 <= x <= 64
        np.testing.assert_array_equal(crop.image, sample.image[y:y + 64, x:x + 64])
        # the window is the image part of the crop (rows 32..96 shifted by the crop)
        expected_window = [max(32 - y, 0), 0, min(96 - y, 64), 64]
        np.testing.assert_array_equal(np.round(crop.window * 63 + [0, 0, 1, 1]), expected_window)
        expected = [i for i in range(3) if sample.masks[i, y:y + 64, x:x + 64].any()]
        assert crop.class_ids.tolist() == [i + 1 for i in expected]
        for mask, box, i in zip(crop.masks, crop.boxes * 63 + [0, 0, 1, 1], expected):
            np.testing.assert_array_equal(mask, sample.masks[i, y:y + 64, x:x + 64])
            rows, cols = np.nonzero(mask)
            np.testing.assert_allclose(box, [rows.min(), cols.min(), rows.max() + 1, cols.max() + 1], atol=1e-4)
    ys, xs = {y for y, _ in seen}, {x for _, x in seen}
    assert min(ys) < 16 and max(ys) > 48 and min(xs) < 16 and max(xs) > 48  # random over the whole range
    with pytest.raises(VidsegError, match="cannot crop 256x256 out of a 128x128"):
        crop_sample(sample, 256, np.random.default_rng(0))


def test_training_on_crops_writes_the_model_at_its_full_size(dataset, tmp_path):
    import yaml

    from vidseg.core.errors import ConfigError
    from vidseg.inference.train import train_model

    narrow = {**TINY, "backbone": "resnet50", "backbone_width": 0.125, "rpn_conv_size": 32, "mask_head_conv_size": 16}
    settings = {"name": "crops", "model": {**narrow, "image_min_dim": 64, "image_max_dim": 128}, "crop_size": 64,
                "layers": "all", "epochs": 1, "steps_per_epoch": 1, "learning_rate": 0.001}
    lines = []
    history = train_model(settings, dataset.path, None, tmp_path / "c.h5", tmp_path / "c.yaml", report=lines.append)
    assert np.isfinite(history[0]["loss"])
    assert any("random 64-px crops of images molded to 128 px" in line for line in lines), lines
    written = yaml.safe_load((tmp_path / "c.yaml").read_text())["config"]
    assert written["image_max_dim"] == 128 and written["image_min_dim"] == 64
    full = seeded_model(1, **{**narrow, "image_max_dim": 128})
    assert not full.load_weights(tmp_path / "c.h5", strict=True).missing
    with pytest.raises(ConfigError, match="'train.crop_size' \\(192\\) is larger than the model's image_max_dim \\(128\\)"):
        train_model({**settings, "crop_size": 192}, dataset.path, None, tmp_path / "x.h5", tmp_path / "x.yaml")


def test_loss_weights_scale_each_term_of_the_loss(dataset):
    model = seeded_model(0, **TINY)
    samples = [dataset.sample(i, model.config) for i in range(2)]
    weights = {name: 1.0 for name in LOSS_NAMES} | {"mrcnn_mask_loss": 0.0, "rpn_bbox_loss": 2.0}
    plain = Trainer(model, seed=3).losses(samples, np.random.default_rng(5))
    weighted = Trainer(model, seed=3, loss_weights=weights).losses(samples, np.random.default_rng(5))
    assert plain["mrcnn_mask_loss"] > 0 and weighted["mrcnn_mask_loss"] == pytest.approx(plain["mrcnn_mask_loss"])
    want = sum(weights[name] * plain[name] for name in LOSS_NAMES) + plain["weight_decay"]
    assert weighted["loss"] == pytest.approx(want, rel=1e-5)
    assert plain["loss"] == pytest.approx(sum(plain[name] for name in LOSS_NAMES) + plain["weight_decay"], rel=1e-5)
