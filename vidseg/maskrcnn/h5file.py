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


def check_weights_file(path: str | Path, num_classes: int) -> None:
    """The file exists, is Keras HDF5 weights, and its classifier has `num_classes` outputs (if it has one)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"file {str(path)!r} does not exist")
    if not h5py.is_hdf5(path):
        raise WeightsError(f"file {str(path)!r} is not an HDF5 weights file")
    try:
        with h5py.File(path, "r") as f:
            root, layer_names = weights_root(f, path)
            if CLASS_LOGITS not in layer_names or CLASS_LOGITS not in root:
                return
            names = read_names(root[CLASS_LOGITS], "weight_names") or []
            kernel = next((n for n in names if "kernel" in n), None)
            if kernel is None:
                return
            classes = root[CLASS_LOGITS][kernel].shape[-1]
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise WeightsError(f"cannot read weights file {path}: {err}") from None
    if classes != num_classes:
        raise WeightsError(
            f"weights file {path} has {classes} classes (layer {CLASS_LOGITS}), but the model config has "
            f"num_classes {num_classes}; set 'model: num_classes' (and 'class_names') to match the weights"
        )
