"""Shared fixtures: small seeded Mask R-CNN models that build in seconds on a CPU, and one local workflow run; how
the suite is shared out between pytest-xdist's two workers."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Keras and the model are imported where used: pytest-xdist's controller loads this file too and runs no test,
# and without TensorFlow it starts the workers sooner.
if TYPE_CHECKING:
    from vidseg.maskrcnn import Config, MaskRCNN


def small_config(**overrides) -> Config:
    """81 classes like COCO, tiny input, all detections kept so random weights produce some."""
    from vidseg.maskrcnn import Config

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
    import keras

    from vidseg.maskrcnn import MaskRCNN
    from vidseg.maskrcnn.seeded_weights import seed_weights

    keras.utils.set_random_seed(seed)
    model = MaskRCNN(small_config(**overrides))
    seed_weights(model, seed=seed, frames=make_frames())
    return model


def copy_model(model: MaskRCNN, config: Config | None = None, **options) -> MaskRCNN:
    """A new MaskRCNN (own traced graphs; `options` as MaskRCNN's) holding `model`'s weights."""
    from vidseg.maskrcnn import MaskRCNN

    copy = MaskRCNN(config or model.config, **options)
    for a, b in zip(model.network.weights, copy.network.weights):
        b.assign(a)
    return copy


def twin(box, cls, score, b_boxes, b_classes, b_scores) -> int | None:
    """Index of a detection in b that is the same as (box, cls, score): same class, box within 1 px,
    score within 1e-3; None when b has none."""
    same = np.nonzero((b_classes == cls) & (np.abs(b_boxes - box).max(axis=1) <= 1) & (np.abs(b_scores - score) <= 1e-3))[0]
    return int(same[0]) if len(same) else None


def matched(a_boxes, a_classes, a_scores, b_boxes, b_classes, b_scores) -> int:
    """How many of a's detections b has too (`twin`)."""
    return sum(twin(box, cls, score, b_boxes, b_classes, b_scores) is not None
               for box, cls, score in zip(a_boxes, a_classes, a_scores))


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


@pytest.fixture(scope="session")
def two_video_inputs(tmp_path_factory):
    """Two tiny videos, seeded weights and a config, not yet run (`two_video_run` runs them)."""
    from flow import MODEL, write_config
    from media import make_video

    root = tmp_path_factory.mktemp("workflow")
    make_video(root / "videos" / "street clip.mp4", seconds=1.5, fps="10", audio=True)  # 15 frames: 2 chunks
    make_video(root / "videos" / "plain.mp4", seconds=1.0, size="80x60", fps="12")  # 12 frames: 2 chunks, no audio
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(root / "weights.h5")
    write_config(root)
    return root


@pytest.fixture(scope="session")
def two_video_run(two_video_inputs):
    """The workflow run locally (2 cores, 1 GPU slot) on `two_video_inputs` with a seeded model.

    Shared by the workflow tests (which go on to change and rerun it: its street clip stays as it is), the Slurm
    test and test_robustness's second full run (which copy the street clip and the config and compare tables),
    so the suite pays for one run.
    """
    from flow import snakemake

    snakemake(two_video_inputs)
    return two_video_inputs


SHARED_RUN = "the two-video run"


@functools.cache
def _group(test_file: Path) -> tuple[int, str]:
    """Where a test file runs under pytest-xdist, and how early: (rank, group). The files that name the session's
    two-video run (`two_video_inputs`, `two_video_run`) are one group, so it runs once; every other file is a
    group of its own, so its module fixtures (most are a workflow run) are made once. Rank 0: the shared run's
    group; 1: files that run the workflow (they import `flow`), the longest; 2: the rest."""
    source = test_file.read_text()
    if "two_video_" in source:
        return 0, SHARED_RUN
    return (1 if "from flow import" in source else 2), test_file.name


def pytest_collection_modifyitems(config, items):
    """The longest groups first (`_group`), each file's tests in their order: two workers then end together."""
    items.sort(key=lambda item: _group(item.path)[0])  # stable: each file stays in one piece


def pytest_xdist_make_scheduler(config, log):
    """`make test` runs the suite in two pytest-xdist workers, a group of files (`_group`) to a worker, the groups
    in the order collected. (xdist's own `--dist loadgroup` groups nothing under pytest 9.2: it renames node ids
    through an attribute pytest no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep pytest_collection_modifyitems's order

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(config.rootpath / nodeid.split("::", 1)[0])[1]

    return ByGroup(config, log)
