"""3x3 convolutions by Winograd's minimal filtering, F(m x m, 3x3) for m = 4, 5, 6, in the graphs other runtimes run.

A 3x3 "same" convolution of stride 1 computes each m x m block of outputs from an
(m+2) x (m+2) tile of input in a transformed domain: U = G g G^T per kernel slice (a
constant once a converter folds it), V = B^T d B per input tile, then (m+2)^2 matrix
products M = V U (input channels to output channels, one per transformed position)
and Y = A^T M A. For m = 6 that is 64 multiply-adds per input-output channel pair for
36 outputs instead of 324, 0.20 of a direct convolution's (m = 4: 36 for 16, 0.25),
plus the two transforms, which cost more per output the larger the tile. The matrices
come from Toom-Cook's construction (`matrices`; Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016): points 0, +-1, +-2 and infinity for m = 4,
1/2 added for m = 5, +-1/2 for m = 6. Each layer takes the tile with the fewest
transformed elements once its output is padded to whole tiles (`tile_for`): 6 at the
pyramid's large levels, 4 where 4 and 6 tie (32x32, 16x16), 5 on the mask head's 14x14
(9 tiles of 49 against 16 of 36 for F(4x4)): the whole mask head then took 0.89x the
time (median of 12 interleaved rounds, 8 detections, one thread under the AVX2 mask),
its error 1.4e-5 of the largest output against F(4x4)'s 1.1e-5. Single convolutions
under the AVX2 mask, OpenVINO, one thread (docs/benchmarks.md, "F(6x6, 3x3)"): 256 channels at 256x256 ran in 420 ms
by F(6x6) against 545 by F(4x4) and 1011 directly, at 64x64 in 29 against 39; the
error grew from 1.6e-5 to 2.3e-5 of the largest output. In ResNet-101@1024's whole dense
part (one thread, interleaved) the per-layer choice took 0.93x the time of F(4x4)
everywhere in 14 rounds (median; 5.9 against 6.3 s), 0.99x in another 6, its outputs
6-9e-5 off the direct ones against 3-4e-5; at ResNet-50@512, where only P2 and P3 take
F(6x6), 0.98x, within this VM's noise. Transforms done one axis at a time (two
products with B^T instead of one with its Kronecker square, a quarter of the
arithmetic) ran within 2 % at 256x256 and are not used.

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
from functools import lru_cache

import numpy as np
from numpy.polynomial import polynomial

# F(m x m, 3x3)'s finite points, by m
POINTS = {4: (0, 1, -1, 2, -2), 5: (0, 1, -1, 2, -2, 1 / 2), 6: (0, 1, -1, 2, -2, 1 / 2, -1 / 2)}


def tile_for(h: int, w: int) -> int:
    """The output tile side m for an h x w output: the one with the fewest transformed elements (the products'
    size), the smaller tile where they tie (its transforms cost less per element)."""
    return min(POINTS, key=lambda m: (-(-h // m) * -(-w // m) * (m + 2) ** 2, m))


@lru_cache(maxsize=None)
def matrices(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F(m x m, 3x3)'s A^T [m, m+2], G [m+2, 3] and B^T [m+2, m+2], from POINTS[m] and infinity.

    For a finite point p among the points P: A^T's column is p's powers, G's row is p's powers over the product
    of (p - q) for the other points q, and B^T's row the coefficients of the product of (x - q) over them. The
    point at infinity adds the last column (row): the highest power alone; B^T's last row is the product over all
    of P. That is Toom-Cook's construction (for m = 4 it gives Lavin and Gray's matrices exactly)."""
    points = np.asarray(POINTS[m], np.float64)
    n = m + 2
    a_t, g, b_t = np.zeros((m, n)), np.zeros((n, 3)), np.zeros((n, n))
    for j, p in enumerate(points):
        others = np.delete(points, j)
        a_t[:, j] = p ** np.arange(m)
        g[j] = p ** np.arange(3) / np.prod(p - others)
        b_t[j, :n - 1] = polynomial.polyfromroots(others)
    a_t[m - 1, n - 1] = g[n - 1, 2] = 1
    b_t[n - 1] = polynomial.polyfromroots(points)
    return a_t, g, b_t


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


def conv3x3(x, kernel, tile: int | None = None):
    """The 3x3 "same" convolution of stride 1 of `x` [N, H, W, C] (float32, static H, W and C) with `kernel`
    [3, 3, C, K], no bias -> [N, H, W, K], by F(m x m, 3x3) with m = `tile` (default: `tile_for(H, W)`).

    The kernel's transform is part of the graph: converters fold it into a constant (a fraction of the size a
    precomputed one would be while they copy the graph around). Inside `tracing()` a graph transforms each kernel
    once per tile side, however often it is applied (the RPN's shared convolution runs on five pyramid levels)."""
    import tensorflow as tf

    _, h, w, c = x.shape
    k = kernel.shape[-1]
    m = tile or tile_for(h, w)
    n = m + 2  # the input window's side
    a_t, g, b_t = matrices(m)
    key = (tf.compat.v1.get_default_graph(), id(kernel), m)
    u = None if _active is None else _active.get(key)
    if u is None:
        u = tf.matmul(np.kron(g, g).astype(np.float32), tf.reshape(kernel, (9, -1)))
        u = tf.reshape(u, (n * n, c, k))  # u[a*n+b] = (G g G^T)[a, b]
        if _active is not None:
            _active[key] = u
    th, tw = -(-h // m), -(-w // m)  # tiles per side; the last ones padded
    hp, wp = th * m + 2, tw * m + 2  # a row (column) of zeros before, after it as many as the tiles reach
    padded = tf.reshape(tf.pad(x, [[0, 0], [1, hp - h - 1], [1, wp - w - 1], [0, 0]]), (-1, c))  # [N*hp*wp, C]
    # every tile's n x n window in one gather of C-long rows, in the order the products read them: [n*n, N*T, C]
    # (window position (r, s), then image, then tile), so each of the n*n products spans all N images' tiles
    rows = _window_rows(m, th, tw, wp)[:, None, :] + tf.reshape(tf.range(tf.shape(x)[0]) * (hp * wp), (1, -1, 1))
    tiles = tf.reshape(tf.gather(padded, rows), (n * n, -1))
    v = tf.matmul(np.kron(b_t, b_t).astype(np.float32), tiles)  # B^T d B
    products = tf.matmul(tf.reshape(v, (n * n, -1, c)), u)  # [n*n, N*T, K]
    y = tf.matmul(np.kron(a_t, a_t).astype(np.float32), tf.reshape(products, (n * n, -1)))
    y = tf.transpose(tf.reshape(y, (m, m, -1, th, tw, k)), (2, 3, 0, 4, 1, 5))
    y = tf.reshape(y, (-1, th * m, tw * m, k))
    return y if (th * m, tw * m) == (h, w) else y[:, :h, :w, :]


def _window_rows(m: int, th: int, tw: int, wp: int) -> np.ndarray:
    """Where each tile's window elements are in one padded image flattened to [rows * wp, C]: [(m+2)^2, th * tw],
    window position (r, s), then tile (i, j)."""
    r = np.arange(m + 2)
    rows = (m * np.arange(th))[None, None, :, None] + r[:, None, None, None]
    cols = (m * np.arange(tw))[None, None, None, :] + r[None, :, None, None]
    return (rows * wp + cols).reshape((m + 2) ** 2, th * tw).astype(np.int32)
