"""The bundled demo model (models/shapes.h5 + models/shapes.yaml) loads and finds shapes it never saw."""

from pathlib import Path

import numpy as np

from vidseg.inference.segment import load_model
from vidseg.media.synthetic import CATEGORIES, Scene

MODELS = Path(__file__).resolve().parents[1] / "models"


def test_demo_model_is_small_and_described_by_its_model_file():
    assert (MODELS / "shapes.h5").stat().st_size < 20 * 2**20
    model, names = load_model({}, MODELS / "shapes.h5")
    assert names == ["BG", *CATEGORIES] and model.config.NUM_CLASSES == 4


def test_demo_model_detects_shapes_in_an_unseen_frame():
    model, names = load_model({}, MODELS / "shapes.h5")
    matched = total = spurious = found_total = 0
    for seed in (101, 202, 303):  # scenes from seeds the training set (seed 1) did not use
        image, instances = Scene(np.random.default_rng(seed), (192, 256)).render(5)
        found = model.detect([image])[0]
        masks = found.full_masks()
        # every confident detection lies on some shape (none in the padding or the background)
        for i in range(len(found)):
            found_total += 1
            overlaps = [(masks[..., i] & truth).sum() / max(masks[..., i].sum(), 1) for _, truth in instances]
            spurious += max(overlaps, default=0) < 0.5
        for category, truth in instances:
            total += 1
            ious = [(masks[..., i] & truth).sum() / (masks[..., i] | truth).sum() for i in range(len(found))]
            best = int(np.argmax(ious)) if ious else -1
            if best >= 0 and ious[best] > 0.7 and names[found.class_ids[best]] == CATEGORIES[category - 1]:
                matched += 1
    assert total >= 6 and matched >= 0.8 * total, (matched, total)
    assert spurious <= 0.1 * found_total, (spurious, found_total)


def test_16_bit_precision_finds_the_same_shapes_as_float32():
    """Mixed precision on a trained model: same detections, boxes within a few pixels, masks close."""
    from vidseg.maskrcnn import MaskRCNN

    model, _ = load_model({}, MODELS / "shapes.h5")
    images = [Scene(np.random.default_rng(101), (192, 256)).render(5)[0]]
    want = model.detect(images)
    assert len(want[0]) >= 3
    for precision in ("mixed_float16", "mixed_bfloat16"):
        half = MaskRCNN(model.config, precision=precision)
        half.load_weights(MODELS / "shapes.h5", strict=True)
        assert half.network.backbone.weights[0].dtype == "float32"  # weights stay float32
        for a, b in zip(want, half.detect(images)):
            assert len(a) == len(b), precision
            ma, mb = a.full_masks(), b.full_masks()
            for i in range(len(a)):  # each detection has its twin (the order of close scores may differ)
                (j,) = np.nonzero((b.class_ids == a.class_ids[i]) & (np.abs(b.boxes - a.boxes[i]).max(axis=1) <= 3))[0]
                assert abs(a.scores[i] - b.scores[j]) < 0.05, precision
                assert (ma[..., i] & mb[..., j]).sum() / (ma[..., i] | mb[..., j]).sum() > 0.9, precision


def test_unknown_precision_is_a_clear_error():
    import pytest

    from vidseg.core.errors import VidsegError
    from vidseg.maskrcnn import Config, MaskRCNN

    with pytest.raises(VidsegError, match="precision must be one of float32, mixed_float16, mixed_bfloat16"):
        MaskRCNN(Config(num_classes=4), precision="float8")


def test_segment_log_names_the_precision_and_warns_where_it_is_emulated(caplog):
    """No GPU here, and no CPU has fast float16: the job's log says so next to the model line."""
    import logging

    with caplog.at_level(logging.INFO, logger="vidseg.inference.segment"):
        load_model({}, MODELS / "shapes.h5", precision="mixed_float16")
    assert "model shapes: resnet50, 4 classes, mixed_float16" in caplog.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("segment.precision mixed_float16" in w and "slower than float32" in w for w in warnings)
