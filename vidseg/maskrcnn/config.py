"""Mask R-CNN configuration with matterport's field names and defaults.

Subclass `Config` the way `mrcnn` users do, or build one from a dict/YAML with
lower-case keys; unknown keys and bad values raise `ConfigError` naming the key.
Matterport keys that vidseg accepts but does not read give a `ConfigWarning` when
set to a value other than the default (`IGNORED`). A model freezes its Config.
"""

from __future__ import annotations

import math
import sys
import warnings
from copy import deepcopy
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from vidseg.core.errors import ConfigError, ConfigWarning

RESIZE_MODES = ("square",)
BACKBONES = ("resnet50", "resnet101")


def _int(min_value: int | None = None) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"config key {key.lower()!r}: expected an integer, got {value!r}")
        if min_value is not None and value < min_value:
            raise ConfigError(f"config key {key.lower()!r}: must be >= {min_value}, got {value}")
        return int(value)

    return check


def _float(lo: float | None = None, hi: float | None = None) -> Callable[[str, Any], float]:
    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ConfigError(f"config key {key.lower()!r}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"config key {key.lower()!r}: must lie in [{lo}, {hi}], got {value}")
        return value

    return check


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in options:
            raise ConfigError(f"config key {key.lower()!r}: must be one of {list(options)}, got {value!r}")
        return value

    return check


def _name(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"config key {key.lower()!r}: expected a string, got {value!r}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"config key {key.lower()!r}: expected true or false, got {value!r}")
    return bool(value)


def _train_bn(key: str, value: Any) -> bool:
    """Only false: vidseg's batch norm always uses the weights' stored statistics (`layers.FrozenBatchNorm`)."""
    if value is not None:
        value = _bool(key, value)
    if value is not False:
        shown = "null" if value is None else "true"
        raise ConfigError(
            f"config key {key.lower()!r}: {shown} is not supported; vidseg's batch-norm layers always use the "
            "weights' stored statistics and are never trained (matterport's false), while matterport with true "
            "normalizes with each batch's own statistics, in inference too (and with null trains them), so its "
            "results would differ; set it to false or leave it out"
        )
    return False


def _channel_count(key: str, value: Any) -> int:
    """Only 3: frames are RGB and the first convolution takes 3 channels."""
    value = _int(1)(key, value)
    if value != 3:
        raise ConfigError(
            f"config key {key.lower()!r}: vidseg reads 3-channel RGB frames and its first convolution takes 3 "
            f"channels; matterport with {value} builds a different network; set it to 3 or leave it out"
        )
    return value


def _seq(length: int | None, item: Callable[[str, Any], Any], as_array: bool = False):
    def check(key: str, value: Any):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise ConfigError(f"config key {key.lower()!r}: expected a list, got {value!r}")
        if length is not None and len(value) != length:
            raise ConfigError(f"config key {key.lower()!r}: expected {length} values, got {len(value)}")
        if len(value) == 0:
            raise ConfigError(f"config key {key.lower()!r}: must not be empty")
        items = [item(key, v) for v in value]
        if as_array:
            return np.array(items, dtype=np.float64)
        return tuple(items) if isinstance(value, tuple) else items  # a tuple stays one, as matterport's code expects

    return check


# Field name -> (default, validator). Defaults are matterport's `mrcnn.config.Config`.
FIELDS: dict[str, tuple[Any, Callable[[str, Any], Any]]] = {
    "NAME": (None, _name),
    "GPU_COUNT": (1, _int(1)),
    "IMAGES_PER_GPU": (2, _int(1)),
    "BACKBONE": ("resnet101", _choice(BACKBONES)),
    "BACKBONE_STRIDES": ([4, 8, 16, 32, 64], _seq(5, _int(1))),
    # vidseg extension: ResNet channel widths are scaled by this (1.0 = matterport's network).
    "BACKBONE_WIDTH": (1.0, _float(0.03125, 1.0)),
    "FPN_CLASSIF_FC_LAYERS_SIZE": (1024, _int(1)),
    "TOP_DOWN_PYRAMID_SIZE": (256, _int(1)),
    "NUM_CLASSES": (1, _int(1)),
    "RPN_ANCHOR_SCALES": ((32, 64, 128, 256, 512), _seq(5, _float(1e-6))),
    "RPN_ANCHOR_RATIOS": ([0.5, 1, 2], _seq(None, _float(1e-6))),
    "RPN_ANCHOR_STRIDE": (1, _int(1)),
    # vidseg extensions: channels of the RPN's shared conv and the mask head's convs (matterport: 512, 256).
    "RPN_CONV_SIZE": (512, _int(1)),
    "MASK_HEAD_CONV_SIZE": (256, _int(1)),
    "RPN_NMS_THRESHOLD": (0.7, _float(0.0, 1.0)),
    "RPN_TRAIN_ANCHORS_PER_IMAGE": (256, _int(1)),
    "PRE_NMS_LIMIT": (6000, _int(1)),
    "POST_NMS_ROIS_TRAINING": (2000, _int(1)),
    "POST_NMS_ROIS_INFERENCE": (1000, _int(1)),
    "USE_MINI_MASK": (True, _bool),
    "MINI_MASK_SHAPE": ((56, 56), _seq(2, _int(1))),
    "IMAGE_RESIZE_MODE": ("square", _choice(RESIZE_MODES)),
    "IMAGE_MIN_DIM": (800, _int(0)),
    "IMAGE_MAX_DIM": (1024, _int(64)),
    "IMAGE_MIN_SCALE": (0, _float(0.0)),
    "IMAGE_CHANNEL_COUNT": (3, _channel_count),
    "MEAN_PIXEL": ([123.7, 116.8, 103.9], _seq(3, _float(), as_array=True)),
    "TRAIN_ROIS_PER_IMAGE": (200, _int(1)),
    "ROI_POSITIVE_RATIO": (0.33, _float(0.0, 1.0)),
    "POOL_SIZE": (7, _int(1)),
    "MASK_POOL_SIZE": (14, _int(1)),
    "MASK_SHAPE": ([28, 28], _seq(2, _int(1))),
    "MAX_GT_INSTANCES": (100, _int(1)),
    "RPN_BBOX_STD_DEV": ([0.1, 0.1, 0.2, 0.2], _seq(4, _float(1e-9), as_array=True)),
    "BBOX_STD_DEV": ([0.1, 0.1, 0.2, 0.2], _seq(4, _float(1e-9), as_array=True)),
    "DETECTION_MAX_INSTANCES": (100, _int(1)),
    "DETECTION_MIN_CONFIDENCE": (0.7, _float(0.0, 1.0)),
    "DETECTION_NMS_THRESHOLD": (0.3, _float(0.0, 1.0)),
    "LEARNING_RATE": (0.001, _float(0.0)),
    "LEARNING_MOMENTUM": (0.9, _float(0.0, 1.0)),
    "WEIGHT_DECAY": (0.0001, _float(0.0)),
    "TRAIN_BN": (False, _train_bn),
    "GRADIENT_CLIP_NORM": (5.0, _float(0.0)),
}


# The terms of the training loss, each with its weight (matterport's LOSS_WEIGHTS and its defaults).
LOSS_WEIGHTS = {"rpn_class_loss": 1.0, "rpn_bbox_loss": 1.0, "mrcnn_class_loss": 1.0, "mrcnn_bbox_loss": 1.0,
                "mrcnn_mask_loss": 1.0}


def _loss_weights(key: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping) or set(value) != set(LOSS_WEIGHTS):
        raise ConfigError(f"config key {key.lower()!r}: expected a weight for each of {', '.join(LOSS_WEIGHTS)}, "
                          f"got {value!r}")
    return {name: _float(0.0)(f"{key}[{name!r}]", value[name]) for name in LOSS_WEIGHTS}


def _only(expected: Any, why: str) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if value != expected:
            raise ConfigError(f"config key {key.lower()!r}: only {expected!r} is supported, got {value!r}: {why}")
        return value

    return check


# matterport's fields of the training loop, read only by `mrcnn.model.MaskRCNN.train` (vidseg's own training
# takes its epochs and steps from the workflow config): `mrcnn.config.Config` knows them as fields too.
LOOP_FIELDS: dict[str, tuple[Any, Callable[[str, Any], Any]]] = {
    "STEPS_PER_EPOCH": (1000, _int(1)),
    "VALIDATION_STEPS": (50, _int(1)),
    "LOSS_WEIGHTS": (LOSS_WEIGHTS, _loss_weights),
    "USE_RPN_ROIS": (True, _only(True, "the heads train on the RPN's proposals (matterport's false trained "
                                       "them on random boxes, a debugging aid)")),
    "COMPUTE_BACKBONE_SHAPE": (None, _only(None, "the backbone is vidseg's ResNet-FPN; its feature-map sizes "
                                                 "follow from backbone_strides")),
}


# Matterport fields that nothing in vidseg reads, and why another value changes nothing that
# matterport would compute differently; they are accepted so that matterport configs load, and a
# value other than the default gives a ConfigWarning. (Fields where another value would change
# matterport's results are errors in their validators: TRAIN_BN, IMAGE_CHANNEL_COUNT, IMAGE_RESIZE_MODE.)
IGNORED: dict[str, str] = {
    "GPU_COUNT": "a job runs on one device, in batches of images_per_gpu images, and a frame's detections "
                 "do not depend on the device count; to train on N images a step, as matterport does with "
                 "gpu_count x images_per_gpu = N, set images_per_gpu: N",
    "USE_MINI_MASK": "matterport's training uses it to store ground-truth masks shrunk to mini_mask_shape; "
                     "vidseg's training always cuts mask targets from the full-size masks (what false does), "
                     "and inference never uses it",
    "MINI_MASK_SHAPE": "matterport's training uses it to store ground-truth masks shrunk to this size; "
                       "vidseg's training always cuts mask targets from the full-size masks, "
                       "and inference never uses it",
    "MAX_GT_INSTANCES": "matterport's training pads each image's ground truth to this many instances "
                        "(dropping a random choice of any more); vidseg's training uses every instance "
                        "of an image, and inference never uses it",
}

# Values computed from the others; they cannot be set. Nothing in vidseg reads BATCH_SIZE
# (batches are IMAGES_PER_GPU images) or IMAGE_META_SIZE; they are kept as matterport has them.
DERIVED = ("BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE")


def _warn(message: str) -> None:
    """A ConfigWarning reported at the first caller outside this module (the line that made or changed the Config)."""
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, ConfigWarning, stacklevel=level)


def _plain(value: Any) -> Any:
    """A value as YAML writes it (a tuple as a list), for comparing a setting with a default."""
    return list(value) if isinstance(value, tuple) else value


def field_name(key: str, fields: Mapping[str, Any] = FIELDS) -> str:
    """The field a user's key (any case) names among `fields`; derived and unknown keys are errors."""
    field = key.upper()
    if field in DERIVED:
        raise ConfigError(f"config key {key!r} is derived from other keys and cannot be set")
    if field not in fields:
        raise ConfigError(f"unknown config key {key!r}; known keys: {', '.join(k.lower() for k in fields)}")
    return field


class Config:
    """Mask R-CNN settings. Class attributes give defaults; subclasses override them.

    `Config(num_classes=81, images_per_gpu=4)` overrides fields by keyword, in
    lower or upper case. Derived values (`BATCH_SIZE`, `IMAGE_SHAPE`) follow.
    Setting a field later (`config.IMAGE_MAX_DIM = 512`) checks the value and
    updates the derived ones, until `freeze()`; `copy()` gives an editable copy.
    """

    # The fields this class knows: name -> (default, validator). `mrcnn.config.Config` adds matterport's
    # training-loop fields (LOOP_FIELDS), which only `mrcnn.model.MaskRCNN.train` reads.
    field_table: Mapping[str, tuple[Any, Callable[[str, Any], Any]]] = FIELDS

    def __init__(self, **overrides: Any) -> None:
        self._warn_unknown_class_attributes()
        values = {field: getattr(type(self), field, default) for field, (default, _) in self.field_table.items()}
        for key, value in overrides.items():
            values[field_name(key, self.field_table)] = value
        for field, value in values.items():
            setattr(self, field, value)
        self._check_consistency()
        self._derive()

    def _warn_unknown_class_attributes(self) -> None:
        """Upper-case attributes of a subclass that are not fields (matterport's STEPS_PER_EPOCH, typos) do nothing."""
        for klass in type(self).__mro__:
            if klass is Config:
                break
            for name in vars(klass):
                if name.isupper() and name not in self.field_table and name not in DERIVED:
                    _warn(f"config key {name.lower()!r} ({klass.__name__}.{name}) is not a vidseg Config field "
                          "and is ignored")

    def _derive(self) -> None:
        object.__setattr__(self, "BATCH_SIZE", self.IMAGES_PER_GPU * self.GPU_COUNT)
        object.__setattr__(self, "IMAGE_SHAPE",
                           np.array([self.IMAGE_MAX_DIM, self.IMAGE_MAX_DIM, self.IMAGE_CHANNEL_COUNT]))
        object.__setattr__(self, "IMAGE_META_SIZE", 1 + 3 + 3 + 4 + 1 + self.NUM_CLASSES)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.frozen:
            raise ConfigError(
                f"config key {name.lower()!r}: this Config is frozen: a model was built from it; make a new "
                "Config (config.copy(key=value) gives an editable copy) and build a new model from that"
            )
        if name in DERIVED:
            raise ConfigError(f"config key {name.lower()!r} is derived from other keys and cannot be set")
        if name in self.field_table:
            value = self.field_table[name][1](name, value)
            if name in IGNORED and _plain(value) != _plain(FIELDS[name][0]):
                _warn(f"config key {name.lower()!r} (set to {value!r}) is accepted for compatibility with "
                      f"matterport configs and ignored: {IGNORED[name]}")
        elif name.isupper():
            _warn(f"config key {name.lower()!r} is not a vidseg Config field and is ignored")
        object.__setattr__(self, name, value)
        if name in self.field_table and "IMAGE_META_SIZE" in self.__dict__:
            self._derive()

    def __delattr__(self, name: str) -> None:
        if self.frozen:
            raise ConfigError(f"config key {name.lower()!r}: this Config is frozen: a model was built from it")
        object.__delattr__(self, name)

    @property
    def frozen(self) -> bool:
        """Whether `freeze()` has made this Config read-only."""
        return self.__dict__.get("_frozen", False)

    def freeze(self) -> "Config":
        """Make this Config read-only (arrays included) and return it; a model freezes the Config it is built from.

        Setting a key afterwards raises `ConfigError`: a model's settings cannot change under it.
        """
        if not self.frozen:
            self._check_consistency()
            for value in vars(self).values():
                if isinstance(value, np.ndarray):
                    value.flags.writeable = False
            object.__setattr__(self, "_frozen", True)
        return self

    def copy(self, **overrides: Any) -> "Config":
        """An editable (unfrozen) copy, with `overrides` (keys as for the constructor) applied and checked."""
        new = deepcopy(self)
        object.__setattr__(new, "_frozen", False)
        for key, value in overrides.items():
            setattr(new, field_name(key, self.field_table), value)
        new._check_consistency()
        return new

    def _check_consistency(self) -> None:
        if self.IMAGE_MAX_DIM % 64:
            raise ConfigError(
                f"config key 'image_max_dim': must be divisible by 64 (the backbone halves it 6 times), "
                f"got {self.IMAGE_MAX_DIM}"
            )
        if list(self.MASK_SHAPE) != [2 * self.MASK_POOL_SIZE] * 2:
            raise ConfigError(
                f"config key 'mask_shape' must be twice 'mask_pool_size' (the mask head upsamples once), "
                f"got {self.MASK_SHAPE} for pool size {self.MASK_POOL_SIZE}"
            )
        if list(self.BACKBONE_STRIDES) != [4, 8, 16, 32, 64]:
            raise ConfigError(
                "config key 'backbone_strides' must be [4, 8, 16, 32, 64] for the ResNet-FPN backbone, "
                f"got {self.BACKBONE_STRIDES}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> "Config":
        """Build from a mapping with lower-case (or upper-case) keys."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping of config keys, got {type(data).__name__}")
        config, error = None, None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                config = cls(**{str(k): v for k, v in data.items()})
            except ConfigError as err:
                error = err
        for caught_warning in caught:  # issued again under the caller's filters, naming the source
            if issubclass(caught_warning.category, ConfigWarning):
                _warn(f"{source}: {caught_warning.message}")
            else:
                warnings.warn_explicit(caught_warning.message, caught_warning.category,
                                       caught_warning.filename, caught_warning.lineno)
        if error is not None:
            raise ConfigError(f"{source}: {error}") from None
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Config":
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as err:
            raise ConfigError(f"cannot read model config {path}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"model config {path} is not UTF-8 text") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"model config {path} is not valid YAML: {err}") from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Settable fields with lower-case keys, plain Python values (YAML/JSON-safe)."""
        out: dict[str, Any] = {}
        for field in self.field_table:
            value = getattr(self, field)
            out[field.lower()] = value.tolist() if isinstance(value, np.ndarray) else _plain(value)
        return out

    def to_yaml(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def display(self) -> str:
        """Every field and derived value, one per line, as matterport prints them."""
        lines = [f"{name:30} {getattr(self, name)}" for name in sorted([*self.field_table, *DERIVED])]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.NAME!r}, num_classes={self.NUM_CLASSES}, backbone={self.BACKBONE!r})"


class CocoConfig(Config):
    """The configuration of matterport's public COCO model (`mask_rcnn_coco.h5`), for inference."""

    NAME = "coco"
    NUM_CLASSES = 81
    IMAGES_PER_GPU = 1
