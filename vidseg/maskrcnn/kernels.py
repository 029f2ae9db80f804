"""The model's backend-dependent operations: NMS, crop-and-resize, per-image map, tracing.

Each has a TensorFlow fast path (`tf.image.*`, `tf.map_fn`, `tf.function`) and a
generic path written with `keras.ops` only, which is what runs under the JAX or
PyTorch Keras backends (TensorFlow is then never imported). The two paths agree
(tests/test_kernels.py runs both under TensorFlow). Every function returns
fixed-size tensors (padded, with a validity mask) so callers never see
data-dependent shapes.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import keras
from keras import ops

from vidseg.maskrcnn import boxes as box_ops


def fast_path() -> bool:
    """Use TensorFlow's kernels? True under the TensorFlow backend unless `VIDSEG_GENERIC_OPS=1`."""
    return keras.backend.backend() == "tensorflow" and os.environ.get("VIDSEG_GENERIC_OPS", "") != "1"


_portable = False


@contextmanager
def portable():
    """Trace graphs that other runtimes can read (vidseg.maskrcnn.export): TensorFlow ops that ONNX and
    OpenVINO convert. Only per-class NMS differs (`class_nms_padded`); graphs traced outside keep the exact op."""
    global _portable
    before, _portable = _portable, True
    try:
        yield
    finally:
        _portable = before


def argmax(x, axis: int = -1):
    """`ops.argmax` for finite inputs (Keras's TensorFlow version adds a Bitcast for -0.0, which converters lack)."""
    if fast_path():
        import tensorflow as tf

        return tf.argmax(x, axis=axis, output_type=tf.int32)
    return ops.cast(ops.argmax(x, axis=axis), "int32")


def crop_and_resize(feature_map, boxes, box_indices, size: tuple[int, int]):
    """Bilinear crops of `boxes` (normalized, [K, 4]) from `feature_map[box_indices]` -> [K, h, w, C].

    Box coordinate `y` samples feature row `y * (H - 1)`; outside samples are 0
    (`tf.image.crop_and_resize` semantics).
    """
    if fast_path():
        import tensorflow as tf

        return tf.image.crop_and_resize(feature_map, boxes, box_indices, size, method="bilinear")
    return _crop_and_resize(feature_map, boxes, box_indices, size)


def crop_by_level(feature_maps, boxes, box_indices, levels, size: tuple[int, int]):
    """Crop box `k` ([K, 4], normalized) from `feature_maps[levels[k] - 2]` (levels 2..5) -> [K, h, w, C].

    TensorFlow crops each level's boxes only (matterport's way, data-dependent
    sizes); the generic path crops every box at every level and keeps its own
    level's crop (fixed shapes, four times the sampling work).
    """
    if fast_path():
        import tensorflow as tf

        crops, order = [], []
        for level, fmap in zip(range(2, 6), feature_maps):
            here = tf.where(tf.equal(levels, level))[:, 0]
            crops.append(tf.image.crop_and_resize(fmap, tf.gather(boxes, here), tf.gather(box_indices, here), size,
                                                  method="bilinear"))
            order.append(here)
        return tf.gather(tf.concat(crops, 0), tf.argsort(tf.concat(order, 0)))
    pooled = None
    for level, fmap in zip(range(2, 6), feature_maps):
        crops = _crop_and_resize(fmap, boxes, box_indices, size)
        here = ops.reshape(levels == level, (-1, 1, 1, 1))
        pooled = ops.where(here, crops, 0.0 if pooled is None else pooled)
    return pooled


def _sample_points(start, end, extent, count: int):
    """Sample coordinates [K, count] along one axis for normalized box edges `start`, `end` [K]."""
    limit = ops.cast(extent - 1, "float32")
    if count > 1:
        steps = ops.arange(count, dtype="float32") / float(count - 1)
        return ops.expand_dims(start * limit, 1) + ops.expand_dims((end - start) * limit, 1) * steps
    return ops.expand_dims(0.5 * (start + end) * limit, 1)


def _crop_and_resize(feature_map, boxes, box_indices, size):
    shape = ops.shape(feature_map)
    height, width, channels = shape[1], shape[2], shape[3]
    ys = _sample_points(boxes[:, 0], boxes[:, 2], height, size[0])  # [K, h]
    xs = _sample_points(boxes[:, 1], boxes[:, 3], width, size[1])  # [K, w]
    inside = ops.logical_and(
        ops.expand_dims(ops.logical_and(ys >= 0, ys <= ops.cast(height - 1, "float32")), 2),
        ops.expand_dims(ops.logical_and(xs >= 0, xs <= ops.cast(width - 1, "float32")), 1),
    )  # [K, h, w]
    y0, x0 = ops.floor(ys), ops.floor(xs)
    dy = ops.reshape(ys - y0, (-1, size[0], 1, 1))
    dx = ops.reshape(xs - x0, (-1, 1, size[1], 1))

    def index(v, extent):
        return ops.cast(ops.clip(v, 0, ops.cast(extent - 1, "float32")), "int32")

    top, bottom = index(y0, height), index(ops.ceil(ys), height)
    left, right = index(x0, width), index(ops.ceil(xs), width)
    flat = ops.reshape(feature_map, (-1, channels))
    base = ops.reshape(ops.cast(box_indices, "int32") * height * width, (-1, 1, 1))

    def gather(rows, cols):  # rows [K, h], cols [K, w] -> [K, h, w, C]
        at = base + ops.expand_dims(rows, 2) * width + ops.expand_dims(cols, 1)
        return ops.reshape(ops.take(flat, ops.reshape(at, (-1,)), axis=0), (-1, size[0], size[1], channels))

    top_left, bottom_left = gather(top, left), gather(bottom, left)
    upper = top_left + (gather(top, right) - top_left) * dx
    lower = bottom_left + (gather(bottom, right) - bottom_left) * dx
    return ops.where(ops.expand_dims(inside, -1), upper + (lower - upper) * dy, 0.0)


def nms_padded(boxes, scores, max_output: int, iou_threshold: float, score_threshold: float = float("-inf")):
    """Greedy NMS of one image's `boxes` [N, 4] -> (indices [max_output] int32, valid [max_output] bool).

    Indices are ordered by descending score; padding slots hold index 0 and valid=False.
    """
    if fast_path():
        import tensorflow as tf

        keep = tf.image.non_max_suppression(
            boxes, scores, max_output, iou_threshold=iou_threshold, score_threshold=score_threshold
        )
        return _pad_indices(keep, max_output)
    return _greedy_nms(box_ops.iou_matrix(boxes, boxes), scores, max_output, iou_threshold, score_threshold)


def nms_overlaps_padded(overlaps, scores, max_output: int, threshold: float, score_threshold: float):
    """Greedy NMS over a precomputed overlap matrix [N, N] -> (indices, valid) as `nms_padded`.

    Only candidates with score > `score_threshold` are considered; a candidate is
    dropped when its overlap with a kept one exceeds `threshold`.
    """
    if fast_path():
        import tensorflow as tf

        keep = tf.image.non_max_suppression_overlaps(
            overlaps, scores, max_output, overlap_threshold=threshold, score_threshold=score_threshold
        )
        return _pad_indices(keep, max_output)
    return _greedy_nms(overlaps, scores, max_output, threshold, score_threshold)


def class_nms_padded(boxes, classes, scores, max_output: int, threshold: float, score_threshold: float):
    """Greedy NMS within each class of one image's `boxes` [N, 4] (normalized, inside [0, 1]) with `classes` [N]
    -> (indices, valid) as `nms_padded`. Boxes of different classes never suppress each other.

    Traced under `portable()`, each class's boxes move by their class id (one unit a class, so classes
    cannot overlap) and plain NMS runs: the op every converter has, and what torchvision's batched NMS does.
    Coordinates near 80 carry 1e-5 less precision, so an overlap within ~1e-4 of `threshold` may decide the
    other way. Otherwise overlaps are computed once and masked by class (exact).
    """
    if fast_path() and _portable:
        import tensorflow as tf

        shifted = boxes + tf.expand_dims(tf.cast(classes, boxes.dtype), -1)
        keep = tf.image.non_max_suppression(shifted, scores, max_output, iou_threshold=threshold,
                                            score_threshold=score_threshold)
        return _pad_indices(keep, max_output)
    overlaps = box_ops.iou_matrix(boxes, boxes)
    same_class = ops.expand_dims(classes, 1) == ops.expand_dims(classes, 0)
    return nms_overlaps_padded(ops.where(same_class, overlaps, 0.0), scores, max_output, threshold, score_threshold)


def _greedy_nms(overlaps, scores, max_output: int, threshold: float, score_threshold: float):
    """Generic greedy NMS, exact, in a few data-parallel passes instead of one step per candidate.

    In score order, candidate `i` survives when no earlier survivor overlaps it
    beyond `threshold`. Each pass recomputes every candidate's survival from the
    previous pass's survivors; after pass `k` the first `k` candidates are final,
    and a pass that changes nothing has reached the greedy result (the rule fixes
    survival candidate by candidate, so it has one fixed point). Real detections
    settle in a few passes; a chain where each candidate only overlaps the next
    needs one per link, at most `n`. A step-per-candidate loop needs `n` small
    sequential steps always (6,000 for the RPN), which is what an accelerator does worst.
    """
    n = int(scores.shape[0])
    order = ops.argsort(-scores)
    overlaps = ops.take(ops.take(overlaps, order, axis=0), order, axis=1)
    candidate = ops.take(scores, order) > score_threshold
    position = ops.arange(n)
    # suppresses[j, i]: candidate j comes before i and overlaps it beyond the threshold
    suppresses = ops.logical_and(overlaps > threshold, ops.expand_dims(position, 1) < ops.expand_dims(position, 0))

    def survivors(alive):
        suppressed = ops.any(ops.logical_and(suppresses, ops.expand_dims(alive, 1)), axis=0)
        return ops.logical_and(candidate, ops.logical_not(suppressed))

    def settle(alive, changed):
        after = survivors(alive)
        return after, ops.any(ops.not_equal(after, alive))

    alive, _ = ops.while_loop(lambda alive, changed: changed, settle, (candidate, ops.convert_to_tensor(True)),
                              maximum_iterations=n + 1)
    # the first max_output survivors in score order: top_k of (n - position) among survivors
    rank = ops.where(alive, n - position, -1)
    k = min(max_output, n)
    top, at = ops.top_k(rank, k)
    indices = ops.where(top > 0, ops.take(order, at), 0)
    valid = top > 0
    if k < max_output:
        indices = ops.pad(indices, [[0, max_output - k]])
        valid = ops.pad(valid, [[0, max_output - k]])
    return ops.cast(indices, "int32"), valid


def _pad_indices(keep, size: int):
    import tensorflow as tf

    keep = tf.cast(keep, tf.int32)
    count = tf.shape(keep)[0]
    indices = tf.pad(keep, [[0, size - count]])
    valid = tf.range(size) < count
    return tf.ensure_shape(indices, [size]), tf.ensure_shape(valid, [size])


def map_images(fn, elems, output_signature):
    """Run a per-image function over the (static) batch dimension of `elems` (tuple of tensors).

    `output_signature` is a tuple of `(shape, dtype)` per output (`spec`).
    """
    if fast_path():
        import tensorflow as tf

        return tf.map_fn(fn, elems, fn_output_signature=tuple(tf.TensorSpec(s, d) for s, d in output_signature))
    if keras.backend.backend() == "jax":
        # one batched computation: the images' NMS loops run side by side, not one after another
        return tuple(ops.vectorized_map(fn, tuple(elems)))
    outs = [fn(tuple(e[i] for e in elems)) for i in range(int(elems[0].shape[0]))]
    return tuple(ops.stack([o[j] for o in outs]) for j in range(len(output_signature)))


def traced(fn, jit: bool = False, relax: bool = False, variables=None):
    """`fn` as a graph function that traces once per input shape (static shapes throughout).

    TensorFlow: `tf.function` (`jit` adds XLA; only for functions free of NMS and
    crop-and-resize; `relax` lets a retrace generalize the shapes that changed, so a
    function called with many sizes stops retracing). JAX: `jax.jit` (always XLA);
    `variables` (the weights `fn` reads) become arguments of the compiled function,
    read at each call, so weights loaded later are used and the program does not
    carry them as constants; without it they are baked in when first traced.
    PyTorch runs `fn` eagerly.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, autograph=False, jit_compile=jit, reduce_retracing=relax)
    if backend == "jax":
        import jax

        if variables is None:
            return jax.jit(fn)
        variables = list(variables)

        def stateless(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*args)

        compiled = jax.jit(stateless)
        return lambda *args: compiled([v.value for v in variables], *args)
    return fn


def spec(shape, dtype):
    """The shape and dtype of one output of a `map_images` function."""
    return tuple(shape), dtype
