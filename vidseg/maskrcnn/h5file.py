"""Reading the layout of a Keras/matterport HDF5 weights file without building a model (no TensorFlow).

Used by the loader and by the workflow, which checks the weights file before any job runs.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from vidseg.core.errors import WeightsError

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


# (config key, layer, sub-layer weight, kernel axis) of the sizes a weights file fixes.
LAYOUT_KERNELS = (
    ("backbone_width", "conv1", None, -1),  # output channels; divided by matterport's 64 below
    ("top_down_pyramid_size", "fpn_c5p5", None, -1),
    ("rpn_conv_size", "rpn_model", "rpn_conv_shared", -1),
    ("pool_size", "mrcnn_class_conv1", None, 0),
    ("mask_head_conv_size", "mrcnn_mask_conv1", None, -1),
)


def weights_layout(path: str | Path) -> dict[str, object]:
    """The Config keys a weights file fixes, read from its layer names and kernel shapes (keys it lacks are left out).

    num_classes (classifier outputs), backbone (ResNet-101 has stage-4 blocks up to
    `res4w`), backbone_width (conv1's 64 channels scaled), top_down_pyramid_size (FPN
    channels), rpn_conv_size, pool_size, fpn_classif_fc_layers_size, mask_head_conv_size.
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
            for key, layer, weight, axis in LAYOUT_KERNELS:
                shape = _kernel_shape(root, layer_names, layer, weight)
                if shape is not None:
                    layout[key] = int(shape[axis])
            if "backbone_width" in layout:
                layout["backbone_width"] = layout["backbone_width"] / 64
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise WeightsError(f"cannot read weights file {path}: {err}") from None
    return layout


def layout_mismatches(layout: dict[str, object], config) -> list[tuple[str, object, object]]:
    """(key, the file's value, `config`'s) for each value `layout` (from `weights_layout`) fixes that `config` (a
    Config) does not have, in `layout`'s order."""
    wrong = []
    for key, value in layout.items():
        wanted = getattr(config, key.upper())
        if key == "backbone_width":  # the network rounds the scaled channel counts
            same = max(1, round(64 * wanted)) == round(64 * value)
        else:
            same = wanted == value
        if not same:
            wrong.append((key, value, wanted))
    return wrong


def check_layout(layout: dict[str, object], config, source: str) -> None:
    """`config` (a Config) has each value `layout` (from `weights_layout`) fixes; the error names the key to set."""
    wrong = layout_mismatches(layout, config)
    if wrong:
        key, value, wanted = wrong[0]
        raise WeightsError(
            f"{source} has {key} {value}"
            + (f" (layer {CLASS_LOGITS})" if key == "num_classes" else "")
            + f", but the model config has {key} {wanted}; set 'model: {key}' to {value!r} to match the weights"
            + (" (and 'class_names')" if key == "num_classes" else ""))
