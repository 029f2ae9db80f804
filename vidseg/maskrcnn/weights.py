"""Read and write Keras-2 HDF5 weight files in matterport's layout.

Layout: the root (or a `model_weights` group) has attribute `layer_names`; each
layer is a group with attribute `weight_names` (e.g. `conv1/kernel:0`) naming
datasets inside it. Loading goes by layer name; within a layer each weight is
matched by its role (kernel, bias, gamma, beta, moving_mean, moving_variance)
and its shape is checked. Nothing is assigned unless the whole file fits.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import h5py
import keras
import numpy as np

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import WeightsError
from vidseg.maskrcnn.h5file import read_names, weights_root

log = logging.getLogger(__name__)


# matterport layers that hold no weights; users' exclude lists often name them (e.g. "mrcnn_bbox").
WEIGHTLESS_LAYERS = {
    "mrcnn_bbox", "mrcnn_class", "mrcnn_detection", "roi_align_classifier", "roi_align_mask",
    "ROI", "rpn_class", "rpn_bbox", "rpn_class_logits", "pool_squeeze", "input_image", "input_image_meta",
    "fpn_p6", "anchors", "proposal_targets", "output_rois", "mrcnn_mask_bbox",
}
# ... and the weightless layers named by pattern: the ResNet blocks' activations and sums, the FPN's
# upsampling and sums, the inputs, the losses.
WEIGHTLESS_PATTERN = re.compile(r"res\d[a-z]+_(out|add)|fpn_p\d(upsampled|add)|input_\w+|\w+_loss|lambda_\d+")


@dataclass
class LoadReport:
    """What a weights load did, by layer name."""

    path: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model
    excluded: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.path}: loaded {len(self.loaded)} layers, {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected, {len(self.excluded)} excluded"
        )
        if self.missing:
            text += f"; missing: {', '.join(self.missing)}"
        if self.unexpected:
            text += f"; unexpected: {', '.join(self.unexpected)}"
        return text


def weight_map(layers: Iterable[keras.layers.Layer]) -> dict[str, list[tuple[str, keras.Variable]]]:
    """matterport layer name -> [(weight key, variable)] for the layers that hold weights.

    The key is the role (`kernel`) for a plain layer, and `inner/role`
    (`rpn_conv_shared/kernel`) for a container such as `rpn_model`.
    """
    out: dict[str, list[tuple[str, keras.Variable]]] = {}
    for layer in layers:
        inner = layer.inner_layers() if hasattr(layer, "inner_layers") else None
        if inner is None:
            entries = [(_role(v), v) for v in layer.weights]
        else:
            entries = [(f"{sub.name}/{_role(v)}", v) for sub in inner for v in sub.weights]
        if not entries:
            raise WeightsError(f"layer {layer.name} has no weights; build the model before loading or saving")
        if layer.name in out:
            raise WeightsError(f"two layers are named {layer.name}")
        out[layer.name] = entries
    return out


def _role(variable: keras.Variable) -> str:
    return variable.name.rsplit("/", 1)[-1].split(":", 1)[0]


def _key_matches(file_name: str, key: str) -> bool:
    """Does a file weight name (`conv1/kernel:0`, `rpn_conv_shared/kernel:0`) fill model key `key`?

    Keras 2 suffixes a scope built twice (`rpn_conv_shared_1`); the suffix is ignored.
    """
    parts = [re.sub(r"_\d+$", "", p) for p in file_name.split(":", 1)[0].split("/")]
    want = key.split("/")
    return parts[-len(want) :] == want


def load_weights(
    layers: Iterable[keras.layers.Layer],
    path: str | os.PathLike,
    exclude: Iterable[str] = (),
    strict: bool = False,
) -> LoadReport:
    """Load a matterport-layout HDF5 file into `layers` (by layer name) and report what happened.

    `exclude` names layers to leave as they are (e.g. class-specific heads).
    Layers of the model absent from the file are reported as missing (an error
    when `strict`); layers of the file absent from the model are reported as
    unexpected (also an error when `strict`). A weight whose shape differs, or a
    layer whose weights do not match by role, is always an error, raised before
    any variable is changed.
    """
    path = Path(path)
    model = weight_map(layers)
    exclude = list(exclude)
    unknown = [name for name in exclude if name not in model and name not in WEIGHTLESS_LAYERS
               and not WEIGHTLESS_PATTERN.fullmatch(name)]
    if unknown:
        raise WeightsError(f"exclude names layers the model does not have: {', '.join(unknown)}")
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    if not h5py.is_hdf5(path):
        raise WeightsError(f"weights file {path} is not an HDF5 file")
    report = LoadReport(str(path), excluded=exclude)
    assignments: list[tuple[keras.Variable, np.ndarray]] = []
    try:
        with h5py.File(path, "r") as f:
            root, layer_names = weights_root(f, path)
            in_file: dict[str, tuple[h5py.Group, list[str]]] = {}
            for name in layer_names:
                if name not in root:
                    raise WeightsError(f"weights file {path} lists layer {name} but has no group for it")
                weight_names = read_names(root[name], "weight_names") or []
                if weight_names:
                    in_file[name] = (root[name], weight_names)
            for name, entries in model.items():
                if name in exclude:
                    continue
                if name not in in_file:
                    report.missing.append(name)
                    continue
                group, weight_names = in_file[name]
                assignments += _match_layer(path, name, entries, group, weight_names)
                report.loaded.append(name)
            report.unexpected = [name for name in in_file if name not in model]
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise WeightsError(f"cannot read weights file {path}: {err}") from None
    if strict and (report.missing or report.unexpected):
        raise WeightsError(f"weights file {path} does not fit the model exactly: {report}")
    for variable, value in assignments:
        variable.assign(value)
    log.info("%s", report)
    if report.missing:
        log.warning("%s: %d model layers were not in the file and keep their initial weights: %s",
                    path, len(report.missing), ", ".join(report.missing))
    return report


def _match_layer(path: Path, name: str, entries, group: h5py.Group, weight_names: list[str]):
    used: set[str] = set()
    out = []
    for key, variable in entries:
        matches = [w for w in weight_names if _key_matches(w, key)]
        if len(matches) != 1:
            raise WeightsError(
                f"weights file {path}, layer {name}: expected one weight for {key!r}, found "
                f"{len(matches)} among {weight_names}"
            )
        value = np.asarray(group[matches[0]])
        if tuple(value.shape) != tuple(variable.shape):
            raise WeightsError(
                f"weights file {path}, layer {name}, weight {key}: shape {tuple(value.shape)} in the file, "
                f"{tuple(variable.shape)} in the model"
            )
        used.add(matches[0])
        out.append((variable, value))
    extra = [w for w in weight_names if w not in used]
    if extra:
        raise WeightsError(f"weights file {path}, layer {name}: weights {extra} have no place in the model layer")
    return out


def save_weights(layers: Iterable[keras.layers.Layer], path: str | os.PathLike) -> None:
    """Write `layers` in matterport's HDF5 layout, atomically (temporary file + rename)."""
    path = Path(path)
    model = weight_map(layers)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = np.array([n.encode("utf8") for n in model])
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = keras.__version__.encode("utf8")
            for name, entries in model.items():
                group = f.create_group(name)
                names = [f"{key if '/' in key else name + '/' + key}:0" for key, _ in entries]
                group.attrs["weight_names"] = np.array([n.encode("utf8") for n in names])
                for weight_name, (_, variable) in zip(names, entries):
                    group.create_dataset(weight_name, data=variable.numpy())
