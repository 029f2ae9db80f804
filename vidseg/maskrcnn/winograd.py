"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3), for the graphs other runtimes run.

A 3x3 "same" convolution of stride 1 computes each 4x4 block of outputs from a 6x6
tile of input in a transformed domain: U = G g G^T per kernel slice (a constant once
a converter folds it), V = B^T d B per input tile, then 36 matrix products M = V U
(input channels to output channels, one per transformed position) and Y = A^T M A.
That is 36 multiply-adds per input-output channel pair for 16 outputs instead of
144: a quarter of a direct convolution's, plus the two transforms. The matrices are
the standard F(4x4, 3x3) ones (points 0, +-1, +-2 and infinity; Lavin and Gray, "Fast
Algorithms for Convolutional Neural Networks", 2016).

Why: a runtime's direct float32 convolution already runs near the CPU's peak (the
RPN's shared 3x3 at P2: 55 GMAC/s on one Zen 4 core capped at AVX2), and the RPN's
and FPN's 3x3 convolutions at P2 and P3 are most of the dense part's arithmetic.
OpenVINO and ONNX Runtime run them directly on CPUs (OpenVINO's profile names its
brgconv kernels), so the graph spells Winograd out in plain ops they both run well
(a pad, a gather, reshapes, matrix products, a transpose): the dense part then ran 1.4-1.5x
faster under either (docs/benchmarks.md, "Winograd's 3x3 convolutions in the
runtimes' graphs"). The tiles' overlapping windows are one gather of C-long rows from the
padded input, already in the order the matrix products read them: cut out by slices and
concatenations instead (the first version), they ran on OpenVINO's reference kernels and,
with the transposes and layout changes around them, took about as long as the multiplies
(ResNet-101@1024 under the AVX2 cap: the dense part 0.86-0.91x the time with the gather).
The results differ from the direct convolution's by float rounding (about 2e-5 of the
largest output). OpenVINO's float32 graphs use it (`vidseg.maskrcnn.engines`); ONNX
Runtime's do not (tf2onnx ran out of memory on ResNet-101@1024's, and needed 16.4 GB for
ResNet-50@512's).

Written with TensorFlow ops: it is used when tracing the graphs the runtimes read
(`vidseg.maskrcnn.export`), never in the Keras model's own path.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

TILE = 4  # outputs per tile side
WINDOW = TILE + 2  # input tile side
B_T = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], np.float64)
G = np.array([[1 / 4, 0, 0],
              [-1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6],
              [0, 0, 1]], np.float64)
A_T = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], np.float64)


MIN_CHANNELS = 256  # narrower ones gain less than the transforms cost (64 channels at 128x128: 12 ms direct, 15+)

_active: dict | None = None  # inside `tracing()`: the kernel transforms made so far, by (graph, kernel)


@contextmanager
def tracing():
    """Trace graphs whose suitable 3x3 convolutions (`suits`) compute by `conv3x3` (what the runtimes read)."""
    global _active
    before, _active = _active, {}
    try:
        yield
    finally:
        _active = before


def suits(layer, inputs) -> bool:
    """Does `layer` (a Keras Conv2D) on `inputs` compute by `conv3x3` now: inside `tracing()`, a float32 3x3 "same"
    convolution of stride and dilation 1 over at least MIN_CHANNELS channels of static size?"""
    return (_active is not None and tuple(layer.kernel_size) == (3, 3) and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1) and layer.padding == "same" and layer.groups == 1
            and layer.data_format == "channels_last" and layer.compute_dtype == "float32"
            and None not in tuple(inputs.shape[1:]) and inputs.shape[-1] >= MIN_CHANNELS)


def conv3x3(x, kernel):
    """The 3x3 "same" convolution of stride 1 of `x` [N, H, W, C] (float32, static H, W and C) with `kernel`
    [3, 3, C, K], no bias -> [N, H, W, K].

    The kernel's transform is part of the graph: converters fold it into a constant (a quarter the size a
    precomputed one would be while they copy the graph around). Inside `tracing()` a graph transforms each kernel
    once, however often it is applied (the RPN's shared convolution runs on five pyramid levels)."""
    import tensorflow as tf

    _, h, w, c = x.shape
    k = kernel.shape[-1]
    key = (tf.compat.v1.get_default_graph(), id(kernel))
    u = None if _active is None else _active.get(key)
    if u is None:
        u = tf.matmul(np.kron(G, G).astype(np.float32), tf.reshape(kernel, (9, -1)))
        u = tf.reshape(u, (WINDOW * WINDOW, c, k))  # u[a*6+b] = (G g G^T)[a, b]
        if _active is not None:
            _active[key] = u
    th, tw = -(-h // TILE), -(-w // TILE)  # tiles per side; the last ones padded
    hp, wp = th * TILE + 2, tw * TILE + 2  # a row (column) of zeros before, after it as many as the tiles reach
    padded = tf.reshape(tf.pad(x, [[0, 0], [1, hp - h - 1], [1, wp - w - 1], [0, 0]]), (-1, c))  # [N*hp*wp, C]
    # every tile's 6x6 window in one gather of C-long rows, in the order the products read them: [36, N*T, C]
    # (window position (r, s), then image, then tile), so each of the 36 products spans all N images' tiles
    rows = _window_rows(th, tw, wp)[:, None, :] + tf.reshape(tf.range(tf.shape(x)[0]) * (hp * wp), (1, -1, 1))
    tiles = tf.reshape(tf.gather(padded, rows), (WINDOW * WINDOW, -1))
    v = tf.matmul(np.kron(B_T, B_T).astype(np.float32), tiles)  # B^T d B
    m = tf.matmul(tf.reshape(v, (WINDOW * WINDOW, -1, c)), u)  # [36, N*T, K]
    y = tf.matmul(np.kron(A_T, A_T).astype(np.float32), tf.reshape(m, (WINDOW * WINDOW, -1)))
    y = tf.transpose(tf.reshape(y, (TILE, TILE, -1, th, tw, k)), (2, 3, 0, 4, 1, 5))
    y = tf.reshape(y, (-1, th * TILE, tw * TILE, k))
    return y if (th * TILE, tw * TILE) == (h, w) else y[:, :h, :w, :]


def _window_rows(th: int, tw: int, wp: int) -> np.ndarray:
    """Where each tile's window elements are in one padded image flattened to [rows * wp, C]: [36, th * tw],
    window position (r, s), then tile (i, j)."""
    r = np.arange(WINDOW)
    rows = (TILE * np.arange(th))[None, None, :, None] + r[:, None, None, None]
    cols = (TILE * np.arange(tw))[None, None, None, :] + r[None, :, None, None]
    return (rows * wp + cols).reshape(WINDOW * WINDOW, th * tw).astype(np.int32)

