"""Reading the layout of a Keras/matterport HDF5 weights file without building a model (no TensorFlow).

Used by the loader and by the workflow, which checks the weights file before any job runs.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from vidseg.errors import WeightsError

CLASS_LOGITS = "mrcnn_class_logits"


def read_names(group: h5py.Group, name: str) -> list[str] | None:
    """A string-list attribute, also when Keras split it into `name0`, `name1`, ... chunks."""
    if name in group.attrs:
        values = list(group.attrs[name])
    elif f"{name}0" in group.attrs:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values += list(group.attrs[f"{name}{chunk}"])
            chunk += 1
    else:
        return None
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def weights_root(f: h5py.File, path: Path) -> tuple[h5py.Group, list[str]]:
    """The group holding the layers (full-model files keep them under `model_weights`) and its layer names."""
    root = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
    layer_names = read_names(root, "layer_names")
    if layer_names is None:
        raise WeightsError(f"weights file {path} has no 'layer_names' attribute: not a Keras HDF5 weights file")
    return root, layer_names


def _kernel_shape(root: h5py.Group, layer_names: list[str], layer: str, weight: str | None = None) -> tuple | None:
    """The kernel shape of `layer` (of its sub-layer `weight` for nested models such as `rpn_model`), if stored."""
    if layer not in layer_names or layer not in root:
        return None
    names = read_names(root[layer], "weight_names") or []
    kernel = next((n for n in names if "kernel" in n and (weight is None or weight in n)), None)
    return None if kernel is None else tuple(root[layer][kernel].shape)


def weights_layout(path: str | Path) -> dict[str, object]:
    """The Config keys a weights file fixes, read from its layer names and kernel shapes (keys it lacks are left out).

    num_classes (classifier outputs), backbone (ResNet-101 has stage-4 blocks up to
    `res4w`), top_down_pyramid_size (FPN channels) and fpn_classif_fc_layers_size.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"file {str(path)!r} does not exist")
    if not h5py.is_hdf5(path):
        raise WeightsError(f"file {str(path)!r} is not an HDF5 weights file")
    layout: dict[str, object] = {}
    try:
        with h5py.File(path, "r") as f:
            root, layer_names = weights_root(f, path)
            logits = _kernel_shape(root, layer_names, CLASS_LOGITS)
            if logits is not None:
                layout["fpn_classif_fc_layers_size"], layout["num_classes"] = int(logits[0]), int(logits[-1])
            if "res4a_branch2a" in layer_names:
                layout["backbone"] = "resnet101" if "res4w_branch2a" in layer_names else "resnet50"
            fpn = _kernel_shape(root, layer_names, "fpn_c5p5")
            if fpn is not None:
                layout["top_down_pyramid_size"] = int(fpn[-1])
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise WeightsError(f"cannot read weights file {path}: {err}") from None
    return layout


def check_weights_file(path: str | Path, config) -> None:
    """The file exists, is Keras HDF5 weights, and fits `config` (a Config) wherever its layout says.

    A mismatch names the `model:` key to change.
    """
    for key, value in weights_layout(path).items():
        wanted = getattr(config, key.upper())
        if wanted != value:
            raise WeightsError(
                f"weights file {path} has {key} {value}"
                + (f" (layer {CLASS_LOGITS})" if key == "num_classes" else "")
                + f", but the model config has {key} {wanted}; set 'model: {key}' to {value!r} to match the weights"
                + (" (and 'class_names')" if key == "num_classes" else ""))
