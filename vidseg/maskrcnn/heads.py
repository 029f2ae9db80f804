"""The second-stage heads: classifier + box regression, and the mask head.

Both take pooled ROI features [B, N, pool, pool, C]. Layer names are matterport's
(`mrcnn_class_conv1`, `mrcnn_bbox_fc`, `mrcnn_mask_conv1`, ..., `mrcnn_mask`).
"""

from __future__ import annotations

import keras
from keras import ops

from vidseg.maskrcnn.layers import Composite, Conv2DTranspose, Dense, FrozenBatchNorm, conv


def _merge_rois(x):
    """[B, N, h, w, C] -> [B*N, h, w, C] (what matterport's TimeDistributed does)."""
    shape = ops.shape(x)
    return ops.reshape(x, (-1, shape[2], shape[3], shape[4])), shape[0], shape[1]


def _matmul(layer, x):
    """A "valid" convolution `layer` whose kernel covers its whole input `x` [M, h, w, C], as one matrix product
    of the flattened input and kernel -> [M, 1, 1, filters], as the convolution returns."""
    kernel = layer.kernel
    depth = kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
    flat = ops.matmul(ops.reshape(x, (-1, depth)), ops.reshape(kernel, (depth, layer.filters))) + layer.bias
    return ops.reshape(flat, (-1, 1, 1, layer.filters))


class ClassifierHead(Composite):
    """Pooled ROIs -> (class logits [B, N, K], class probs [B, N, K], box deltas [B, N, K, 4])."""

    def __init__(self, num_classes: int, pool_size: int, fc_size: int = 1024, **kw):
        super().__init__(name="mrcnn_classifier", **kw)
        self.num_classes = num_classes
        self.conv1 = conv(fc_size, pool_size, "mrcnn_class_conv1")
        self.bn1 = FrozenBatchNorm(name="mrcnn_class_bn1")
        self.conv2 = conv(fc_size, 1, "mrcnn_class_conv2")
        self.bn2 = FrozenBatchNorm(name="mrcnn_class_bn2")
        self.logits = Dense(num_classes, name="mrcnn_class_logits")
        self.bbox = Dense(4 * num_classes, name="mrcnn_bbox_fc")

    def weight_layers(self) -> list[keras.layers.Layer]:
        return [self.conv1, self.bn1, self.conv2, self.bn2, self.logits, self.bbox]

    def call(self, pooled, as_matmuls: bool = False):
        """`as_matmuls`: conv1 (a pool x pool "valid" convolution on a pool x pool input) and conv2 (1x1 on the
        1x1 result) as matrix products of the ROIs' flattened features with the flattened kernels. The same
        sums; for OpenVINO, which ran those convolutions over 1,000 ROIs 7x (conv1) and 4.6x (conv2: 199 ms
        against 43, one thread capped at AVX2) slower than the products (vidseg.maskrcnn.engines).
        TensorFlow's graph keeps the convolutions, whose results do not depend on how many ROIs share a
        call (oneDNN's matrix product blocks its sums by the row count)."""
        x, batch, n = _merge_rois(pooled)
        if as_matmuls:
            x = ops.relu(self.bn1(_matmul(self.conv1, x)))
            x = ops.relu(self.bn2(_matmul(self.conv2, x)))
        else:
            x = ops.relu(self.bn1(self.conv1(x)))
            x = ops.relu(self.bn2(self.conv2(x)))
        shared = ops.reshape(x, (batch, n, -1))
        logits = self.logits(shared)
        deltas = ops.reshape(self.bbox(shared), (batch, n, self.num_classes, 4))
        return logits, ops.softmax(logits, axis=-1), deltas


class MaskHead(Composite):
    """Pooled ROIs [B, N, 14, 14, C] -> per-class mask probabilities [B, N, 28, 28, K] (or each ROI's own class's)."""

    def __init__(self, num_classes: int, conv_size: int = 256, **kw):
        super().__init__(name="mrcnn_mask_head", **kw)
        self.convs = [conv(conv_size, 3, f"mrcnn_mask_conv{i}", padding="same") for i in range(1, 5)]
        self.bns = [FrozenBatchNorm(name=f"mrcnn_mask_bn{i}") for i in range(1, 5)]
        self.deconv = Conv2DTranspose(conv_size, 2, strides=2, name="mrcnn_mask_deconv")
        self.mask = conv(num_classes, 1, "mrcnn_mask")

    def weight_layers(self) -> list[keras.layers.Layer]:
        out: list[keras.layers.Layer] = []
        for c, b in zip(self.convs, self.bns):
            out += [c, b]
        return out + [self.deconv, self.mask]

    def call(self, pooled, class_ids=None):
        """Pooled ROIs [B, N, 14, 14, C] -> mask probabilities [B, N, 28, 28, K] of every class or, given
        `class_ids` [B, N], [B, N, 28, 28] of each ROI's own class: the last 1x1 convolution then takes only that
        class's kernel column, 1/K of its multiply-adds (the runtimes' graphs, vidseg.maskrcnn.engines; the same
        sums, in another order)."""
        x, batch, n = _merge_rois(pooled)
        for c, b in zip(self.convs, self.bns):
            x = ops.relu(b(c(x)))
        x = ops.relu(self.deconv(x))
        shape = ops.shape(x)
        if class_ids is None:
            x = ops.sigmoid(self.mask(x))
            return ops.reshape(x, (batch, n, shape[1], shape[2], -1))
        own = ops.reshape(ops.cast(class_ids, "int32"), (-1,))
        kernels = ops.take(ops.transpose(ops.reshape(self.mask.kernel, (shape[3], -1))), own, axis=0)  # [M, C]
        flat = ops.reshape(x, (-1, shape[1] * shape[2], shape[3]))  # [M, h*w, C]
        logits = ops.squeeze(ops.matmul(flat, ops.expand_dims(ops.cast(kernels, x.dtype), -1)), -1)
        logits = logits + ops.expand_dims(ops.cast(ops.take(self.mask.bias, own, axis=0), x.dtype), -1)
        return ops.reshape(ops.sigmoid(logits), (batch, n, shape[1], shape[2]))
