"""Shared fixtures: small seeded Mask R-CNN models that build in seconds on a CPU."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vidseg.maskrcnn import Config, MaskRCNN  # noqa: E402
from vidseg.maskrcnn.seeded_weights import seed_weights  # noqa: E402


def small_config(**overrides) -> Config:
    """81 classes like COCO, tiny input, all detections kept so random weights produce some."""
    settings = dict(
        name="test",
        num_classes=81,
        backbone="resnet50",
        image_min_dim=128,
        image_max_dim=128,
        images_per_gpu=2,
        detection_min_confidence=0.0,
        pre_nms_limit=1000,
        post_nms_rois_inference=200,
        detection_max_instances=20,
    )
    settings.update(overrides)
    return Config(**settings)


def seeded_model(seed: int = 0, **overrides) -> MaskRCNN:
    """A model with seeded weights whose batch-norm statistics are calibrated (spread-out scores)."""
    keras.utils.set_random_seed(seed)
    model = MaskRCNN(small_config(**overrides))
    seed_weights(model, seed=seed, frames=make_frames())
    return model


@pytest.fixture(scope="session")
def small_model() -> MaskRCNN:
    return seeded_model(0)


def make_frames() -> list[np.ndarray]:
    """Three RGB frames of different sizes with blocky structure (not pure noise)."""
    rng = np.random.default_rng(7)
    out = []
    for h, w in [(96, 128), (120, 90), (64, 64)]:
        small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        out.append(np.kron(small, np.ones((8, 8, 1), dtype=np.uint8)))
    return out


@pytest.fixture(scope="session")
def frames() -> list[np.ndarray]:
    return make_frames()
