"""Writes HDF5 files the way Keras 2 saved matterport's models, independently of vidseg's writer.

The layer list and shapes come from the documented architecture (matterport's
`mrcnn/model.py` layer names), not from the vidseg model, so a test loading
such a file checks the model against the architecture.
"""

from __future__ import annotations

import h5py
import numpy as np


def _conv(name, k, cin, cout):
    return name, [(f"{name}/kernel:0", (k, k, cin, cout)), (f"{name}/bias:0", (cout,))]


def _bn(name, c):
    return name, [(f"{name}/{r}:0", (c,)) for r in ("gamma", "beta", "moving_mean", "moving_variance")]


def matterport_layers(backbone: str = "resnet101", num_classes: int = 81) -> list[tuple[str, list]]:
    """[(layer name, [(weight name, shape)])] of matterport's Mask R-CNN, in model order."""
    out = [_conv("conv1", 7, 3, 64), _bn("bn_conv1", 64)]
    cin = 64
    stage4 = {"resnet50": 5, "resnet101": 22}[backbone]
    for stage, (f1, f3, blocks) in zip(range(2, 6), [(64, 256, 3), (128, 512, 4), (256, 1024, 1 + stage4), (512, 2048, 3)]):
        for b in range(blocks):
            block = chr(ord("a") + b)
            base, bn = f"res{stage}{block}_branch", f"bn{stage}{block}_branch"
            out += [_conv(base + "2a", 1, cin, f1), _bn(bn + "2a", f1), _conv(base + "2b", 3, f1, f1),
                    _bn(bn + "2b", f1), _conv(base + "2c", 1, f1, f3), _bn(bn + "2c", f3)]
            if b == 0:
                out += [_conv(base + "1", 1, cin, f3), _bn(bn + "1", f3)]
            cin = f3
    for level, c in zip((5, 4, 3, 2), (2048, 1024, 512, 256)):
        out.append(_conv(f"fpn_c{level}p{level}", 1, c, 256))
    for level in (2, 3, 4, 5):
        out.append(_conv(f"fpn_p{level}", 3, 256, 256))
    rpn = []
    for name, k, cin_, cout in [("rpn_conv_shared", 3, 256, 512), ("rpn_class_raw", 1, 512, 6), ("rpn_bbox_pred", 1, 512, 12)]:
        rpn += _conv(name, k, cin_, cout)[1]
    out.append(("rpn_model", rpn))
    out += [_conv("mrcnn_class_conv1", 7, 256, 1024), _bn("mrcnn_class_bn1", 1024),
            _conv("mrcnn_class_conv2", 1, 1024, 1024), _bn("mrcnn_class_bn2", 1024),
            ("mrcnn_class_logits", [("mrcnn_class_logits/kernel:0", (1024, num_classes)), ("mrcnn_class_logits/bias:0", (num_classes,))]),
            ("mrcnn_bbox_fc", [("mrcnn_bbox_fc/kernel:0", (1024, 4 * num_classes)), ("mrcnn_bbox_fc/bias:0", (4 * num_classes,))])]
    for i in range(1, 5):
        out += [_conv(f"mrcnn_mask_conv{i}", 3, 256, 256), _bn(f"mrcnn_mask_bn{i}", 256)]
    out.append(("mrcnn_mask_deconv", [("mrcnn_mask_deconv/kernel:0", (2, 2, 256, 256)), ("mrcnn_mask_deconv/bias:0", (256,))]))
    out.append(_conv("mrcnn_mask", 1, 256, num_classes))
    return out


# Layers of matterport's graph that hold no weights; Keras 2 lists them too.
WEIGHTLESS = ["input_image", "input_image_meta", "zero_padding2d_1", "max_pooling2d_1", "res2a_out",
              "fpn_p5upsampled", "fpn_p4add", "fpn_p6", "rpn_class_logits", "ROI", "roi_align_classifier",
              "mrcnn_class", "mrcnn_bbox", "mrcnn_detection", "roi_align_mask"]


def write_keras2_h5(path, layers, seed: int = 0, model_weights_group: bool = False, chunk_names: bool = False) -> dict:
    """Write `layers` with seeded random values; returns {(layer, weight name): value}."""
    rng = np.random.default_rng(seed)
    values = {}
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if model_weights_group else f
        names = [n for n, _ in layers]
        names = names[:2] + WEIGHTLESS + names[2:]
        encoded = np.array([n.encode() for n in names])
        if chunk_names:  # Keras splits attributes over 64 KB into numbered chunks
            half = len(encoded) // 2
            root.attrs["layer_names0"], root.attrs["layer_names1"] = encoded[:half], encoded[half:]
        else:
            root.attrs["layer_names"] = encoded
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.0.8"
        weights = dict(layers)
        for name in names:
            g = root.create_group(name)
            entries = weights.get(name, [])
            g.attrs["weight_names"] = np.array([w.encode() for w, _ in entries])
            for w, shape in entries:
                value = rng.standard_normal(shape).astype(np.float32)
                if "moving_variance" in w:
                    value = np.abs(value) + 0.5
                g.create_dataset(w, data=value)
                values[(name, w)] = value
    return values
