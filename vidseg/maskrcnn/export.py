"""Export the inference model for other runtimes, each export checked against the Keras model.

`export_model(model, path, format)` writes one file (or folder) and, beside it,
`<path>.check.json`: the exported file run by its own stock runtime on a few
frames against `MaskRCNN.predict`, detection by detection. Formats:

- "savedmodel": a TensorFlow SavedModel folder (TF Serving, `tf.saved_model.load`),
  written by Keras's `ExportArchive`; it keeps every TensorFlow op as is.
- "onnx": an ONNX file (opset `ONNX_OPSET`) by tf2onnx (Apache-2.0), the maintained
  TensorFlow-to-ONNX converter and the one Keras's own ONNX export uses under
  TensorFlow; run it with onnxruntime, TensorRT, ...
- "openvino": OpenVINO IR (`.xml` + `.bin`) by `openvino.convert_model` (Apache-2.0),
  which reads the TensorFlow function directly.

Parts (`PARTS`): "whole" is matterport's inference graph, NMS, ROIAlign and the
mask head included: molded images float32 [B, S, S, 3] (`vidseg.maskrcnn.preprocess.mold_batch`:
resized, padded, mean pixel subtracted) and normalized windows [B, 4] in; boxes
[B, D, 4] (normalized to the molded image), class_ids [B, D], scores [B, D],
count [B] and masks [B, D, m, m] (each slot's own class; slots past `count` are
padding) out, D = DETECTION_MAX_INSTANCES. "dense" is the backbone, FPN and RPN
head (what `vidseg.inference.engines` runs under other runtimes): images in;
P2..P5, rpn_probs and rpn_deltas out. ONNX and OpenVINO graphs are traced under
`kernels.portable()` (per-class NMS as one NMS over class-shifted boxes).

Why the check: converted Mask R-CNN graphs are known to lose detections
silently; an export is only worth its check. Whole graphs pass when every
detection of either side has a partner of the same class with box IoU >=
`MATCH_IOU`, scores within `SCORE_TOLERANCE` and mask IoU >= `MASK_IOU`; dense
graphs when every output is within `DENSE_TOLERANCE` of the largest value.
"""

from __future__ import annotations

import contextlib
import json
import platform
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vidseg.core.errors import VidsegError

FORMATS = ("savedmodel", "onnx", "openvino")
PARTS = ("whole", "dense")
SUFFIX = {"savedmodel": "", "onnx": ".onnx", "openvino": ".xml"}
ONNX_OPSET = 17
WHOLE_OUTPUTS = ("boxes", "class_ids", "scores", "count", "masks")
DENSE_OUTPUTS = ("p2", "p3", "p4", "p5", "rpn_probs", "rpn_deltas")
# The parts `vidseg.maskrcnn.engines` runs besides "dense" (the heads; not exported on their own)
OUTPUTS = {"whole": WHOLE_OUTPUTS, "dense": DENSE_OUTPUTS, "classifier": ("class_probs", "box_deltas"),
           "mask_head": ("masks",)}
MATCH_IOU = 0.9
SCORE_TOLERANCE = 1e-3
MASK_IOU = 0.99
DENSE_TOLERANCE = 1e-3


def input_specs(model, part: str) -> list:
    """The `tf.TensorSpec`s of `part`'s inputs, any batch size. The heads take pooled ROIs: all the proposals
    (classifier), any number of detections with their class ids (mask_head)."""
    import tensorflow as tf

    config = model.config
    size, depth = int(config.IMAGE_SHAPE[0]), int(config.TOP_DOWN_PYRAMID_SIZE)
    if part == "classifier":
        pool = int(config.POOL_SIZE)
        return [tf.TensorSpec([None, int(config.POST_NMS_ROIS_INFERENCE), pool, pool, depth], tf.float32,
                              name="pooled")]
    if part == "mask_head":
        pool = int(config.MASK_POOL_SIZE)
        return [tf.TensorSpec([None, None, pool, pool, depth], tf.float32, name="pooled"),
                tf.TensorSpec([None, None], tf.int32, name="class_ids")]
    specs = [tf.TensorSpec([None, size, size, 3], tf.float32, name="images")]
    if part == "whole":
        specs.append(tf.TensorSpec([None, 4], tf.float32, name="windows"))
    return specs


def graph_function(model, part: str):
    """`part` of `model`'s network as a plain function of tensors returning a dict of `OUTPUTS[part]` (the names
    the exported graphs' outputs take)."""
    net = model.network
    if part == "whole":
        def whole(images, windows):
            out = net(images, windows, training=False)
            return {name: out[name] for name in WHOLE_OUTPUTS}
        return whole
    if part == "dense":
        def dense(images):
            feature_maps, rpn_probs, rpn_deltas = net.features(images)
            return {**dict(zip(DENSE_OUTPUTS, feature_maps)), "rpn_probs": rpn_probs, "rpn_deltas": rpn_deltas}
        return dense
    if part == "classifier":
        def classifier(pooled):
            _, class_probs, box_deltas = net.classifier(pooled, as_matmuls=True)
            return {"class_probs": class_probs, "box_deltas": box_deltas}
        return classifier
    if part == "mask_head":
        return lambda pooled, class_ids: {"masks": net.mask_head(pooled, class_ids)}  # each ROI's own class
    raise VidsegError(f"part must be one of {', '.join(PARTS)}, not {part!r}")


def concrete_function(model, part: str, fast_3x3: bool = False):
    """`graph_function` traced for `input_specs` under `kernels.portable()` (what converters read); with `fast_3x3`,
    its wide 3x3 convolutions by Winograd's algorithm (`vidseg.maskrcnn.winograd`: faster where the runtime's
    own convolution is direct; equal up to float rounding)."""
    import tensorflow as tf

    from vidseg.maskrcnn import kernels, winograd

    fn = tf.function(graph_function(model, part), autograph=False)
    with kernels.portable(), winograd.tracing() if fast_3x3 else contextlib.nullcontext():
        return fn.get_concrete_function(*input_specs(model, part))


def export_path(path: str | Path, fmt: str) -> Path:
    """`path` with the format's suffix (".onnx", ".xml"; a SavedModel is a folder)."""
    path = Path(path)
    return path if not SUFFIX[fmt] or path.suffix == SUFFIX[fmt] else path.with_name(path.name + SUFFIX[fmt])


def check_path(path: str | Path) -> Path:
    """Where the check of the export at `path` is written."""
    path = Path(path)
    return path.with_name(path.name + ".check.json")


def export_model(model, path: str | Path, fmt: str, frames: Sequence[np.ndarray], part: str = "whole") -> dict[str, Any]:
    """Write `part` of `model` (a `MaskRCNN` with its weights loaded, float32) to `path` in format `fmt`; check it
    on `frames` (RGB uint8, a few like the ones it will run on) and write the check beside it.

    Returns the check (as written). Raises a VidsegError naming the file when the check fails.
    """
    if fmt not in FORMATS:
        raise VidsegError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if part not in PARTS:
        raise VidsegError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    if model.precision != "float32":
        raise VidsegError(f"export a float32 model, not {model.precision} (runtimes pick their own precision)")
    path = export_path(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "savedmodel":
            _write_savedmodel(model, part, path)
        elif fmt == "onnx":
            _write_onnx(model, part, path)
        else:
            import openvino as ov

            # save_model stores weights in float16 unless told otherwise: 4e-3 relative error in every output
            ov.save_model(ov.convert_model(concrete_function(model, part)), str(path), compress_to_fp16=False)
        check = check_export(model, path, fmt, part, frames)
    except ImportError as err:
        raise VidsegError(f"export format {fmt} needs the {err.name} package: pip install 'vidseg[runtimes]'") from None
    check_path(path).write_text(json.dumps(check, indent=2) + "\n")
    if not check["passed"]:
        raise VidsegError(f"{path}: the exported model does not match the Keras model ({check['summary']}); "
                          f"see {check_path(path)}")
    return check


def _write_savedmodel(model, part: str, path: Path) -> None:
    import tensorflow as tf
    from keras.export import ExportArchive

    archive = ExportArchive()
    archive.track(model.network)
    archive.add_endpoint("serve", tf.function(graph_function(model, part), autograph=False),
                         input_signature=input_specs(model, part))
    archive.write_out(str(path), verbose=False)


def _write_onnx(model, part: str, path: Path) -> None:
    import onnx

    onnx.save(onnx_proto(model, part), str(path))


def onnx_proto(model, part: str):
    """`part` of `model` as a checked ONNX `ModelProto` (opset `ONNX_OPSET`), outputs named as `graph_function`'s.

    Always with direct convolutions: tf2onnx on ResNet-101@1024's dense part with Winograd's (`concrete_function`'s
    `fast_3x3`) ran out of 24 GB while copying the graph."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    from vidseg.maskrcnn import kernels

    names = OUTPUTS[part]
    fn = tf.function(graph_function(model, part), autograph=False)
    with kernels.portable():
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=input_specs(model, part),
                                                 opset=ONNX_OPSET)
    # tf2onnx names outputs after graph tensors ("Identity:0", ...), in the order TensorFlow flattens the
    # dict: by key. Give them the dict's names.
    renamed = dict(zip((o.name for o in proto.graph.output), sorted(names)))
    for node in proto.graph.node:
        node.output[:] = [renamed.get(name, name) for name in node.output]
    for output in proto.graph.output:
        output.name = renamed[output.name]
    onnx.checker.check_model(proto)
    return proto


def run_exported(path: str | Path, fmt: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run an exported file under its stock runtime (nothing of vidseg): `inputs` by name -> outputs by name."""
    path = str(path)
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)  # keep it: its variables go with it
        args = [tf.constant(inputs[k]) for k in ("images", "windows") if k in inputs]
        return {k: np.asarray(v) for k, v in loaded.serve(*args).items()}
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs)))
    import openvino as ov

    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(inputs)
    return {output.get_any_name(): np.asarray(result[output]) for output in compiled.outputs}


def check_export(model, path: Path, fmt: str, part: str, frames: Sequence[np.ndarray]) -> dict[str, Any]:
    """The exported file at `path` against `model` on `frames`: the check `export_model` writes."""
    from vidseg.maskrcnn.preprocess import mold_batch

    images, windows, _ = mold_batch(list(frames), model.config)
    inputs = {"images": images, "windows": windows} if part == "whole" else {"images": images}
    got = run_exported(path, fmt, inputs)
    if part == "whole":
        want = _keras_whole(model, images, windows)
        check = compare_whole(want, got)
    else:
        feature_maps, rpn_probs, rpn_deltas = model._features(images)
        want = {**dict(zip(DENSE_OUTPUTS, (np.asarray(f) for f in feature_maps))),
                "rpn_probs": np.asarray(rpn_probs), "rpn_deltas": np.asarray(rpn_deltas)}
        check = compare_dense(want, got)
    return {"file": Path(path).name, "format": fmt, "part": part, "frames": len(frames),
            "runtime": _runtime_version(fmt), "machine": platform.machine(), **check}


def _keras_whole(model, images, windows) -> dict[str, np.ndarray]:
    """The Keras model's outputs with the mask head on every slot (the exported graph's layout)."""
    out = {k: np.asarray(v) for k, v in model._full(images, windows).items()}
    return {name: out[name] for name in WHOLE_OUTPUTS}


def compare_whole(want: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, Any]:
    """Detections of the Keras outputs `want` against an export's `got`, frame by frame (see the module docstring)."""
    missing = [name for name in WHOLE_OUTPUTS if name not in got]
    if missing:
        return {"passed": False, "summary": f"outputs missing: {', '.join(missing)}"}
    matched = unmatched = extra = 0
    score_diff, box_diff, mask_iou = 0.0, 0.0, 1.0
    for i in range(len(want["count"])):
        a, b = int(want["count"][i]), int(got["count"][i])
        pairs = match_detections(want["boxes"][i, :a], want["class_ids"][i, :a],
                                 got["boxes"][i, :b], np.asarray(got["class_ids"][i, :b]))
        matched += len(pairs)
        unmatched += a - len(pairs)
        extra += b - len(pairs)
        for j, k in pairs:
            score_diff = max(score_diff, abs(float(want["scores"][i, j]) - float(got["scores"][i, k])))
            box_diff = max(box_diff, float(np.abs(want["boxes"][i, j] - got["boxes"][i, k]).max()))
            mask_iou = min(mask_iou, _iou(want["masks"][i, j] >= 0.5, got["masks"][i, k] >= 0.5))
    passed = unmatched == 0 and extra == 0 and score_diff <= SCORE_TOLERANCE and mask_iou >= MASK_IOU
    summary = (f"{matched} detections matched, {unmatched} missing from the export, {extra} only in the export; "
               f"largest score difference {score_diff:.2g}, smallest mask IoU {mask_iou:.4f}")
    return {"passed": passed, "summary": summary, "matched": matched, "missing": unmatched, "extra": extra,
            "max_score_diff": score_diff, "max_box_diff": box_diff, "min_mask_iou": mask_iou,
            "tolerances": {"match_iou": MATCH_IOU, "score": SCORE_TOLERANCE, "mask_iou": MASK_IOU}}


def compare_dense(want: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each dense output's largest difference, relative to its largest value."""
    errors = {}
    for name, value in want.items():
        if name not in got or got[name].shape != value.shape:
            return {"passed": False, "summary": f"output {name} missing or of another shape"}
        errors[name] = float(np.abs(got[name] - value).max() / max(float(np.abs(value).max()), 1e-12))
    worst = max(errors.values())
    return {"passed": worst <= DENSE_TOLERANCE, "summary": f"largest relative difference {worst:.2g}",
            "relative_errors": errors, "tolerances": {"relative": DENSE_TOLERANCE}}


def match_detections(boxes_a, classes_a, boxes_b, classes_b, min_iou: float = MATCH_IOU) -> list[tuple[int, int]]:
    """Pairs `(i, j)` of detections of the same class with box IoU >= `min_iou`, best overlaps first, each once."""
    from vidseg.maskrcnn.boxes import np_iou_matrix

    if len(boxes_a) == 0 or len(boxes_b) == 0:
        return []
    iou = np_iou_matrix(np.asarray(boxes_a, np.float64), np.asarray(boxes_b, np.float64))
    iou[np.asarray(classes_a)[:, None] != np.asarray(classes_b)[None, :]] = 0.0
    pairs, used_a, used_b = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < min_iou:
            break
        if i not in used_a and j not in used_b:
            pairs.append((int(i), int(j)))
            used_a.add(i)
            used_b.add(j)
    return pairs


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _runtime_version(fmt: str) -> str:
    if fmt == "savedmodel":
        import tensorflow as tf

        return f"tensorflow {tf.__version__}"
    if fmt == "onnx":
        import onnxruntime as ort

        return f"onnxruntime {ort.__version__}"
    import openvino as ov

    return f"openvino {ov.get_version()}"
