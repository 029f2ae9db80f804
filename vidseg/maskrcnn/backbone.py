"""ResNet-50/101 backbone (stages C2-C5) and the feature pyramid (P2-P6).

Layer names are matterport's (`conv1`, `bn_conv1`, `res2a_branch2a`, ...,
`fpn_c5p5`, `fpn_p2`), so its weight files map one to one.
"""

from __future__ import annotations

import keras
from keras import ops

from vidseg.maskrcnn.layers import Composite, FrozenBatchNorm, conv

# Identity blocks after the first (projection) block of stage 4.
STAGE4_BLOCKS = {"resnet50": 5, "resnet101": 22}


class Bottleneck(Composite):
    """One ResNet bottleneck block (1x1, 3x3, 1x1), with a projection shortcut in block 'a'.

    The stride sits on the first 1x1 convolution, as in the Caffe ResNet matterport uses.
    """

    def __init__(self, filters: tuple[int, int, int], stage: int, block: str, strides: int = 1, project: bool = False, **kw):
        super().__init__(name=f"res{stage}{block}", **kw)
        f1, f2, f3 = filters
        base = f"res{stage}{block}_branch"
        bn = f"bn{stage}{block}_branch"
        self.conv_a = conv(f1, 1, base + "2a", strides=strides)
        self.bn_a = FrozenBatchNorm(name=bn + "2a")
        self.conv_b = conv(f2, 3, base + "2b", padding="same")
        self.bn_b = FrozenBatchNorm(name=bn + "2b")
        self.conv_c = conv(f3, 1, base + "2c")
        self.bn_c = FrozenBatchNorm(name=bn + "2c")
        self.project = project
        if project:
            self.conv_short = conv(f3, 1, base + "1", strides=strides)
            self.bn_short = FrozenBatchNorm(name=bn + "1")

    def weight_layers(self) -> list[keras.layers.Layer]:
        out = [self.conv_a, self.bn_a, self.conv_b, self.bn_b, self.conv_c, self.bn_c]
        if self.project:
            out += [self.conv_short, self.bn_short]
        return out

    def call(self, x):
        y = ops.relu(self.bn_a(self.conv_a(x)))
        y = ops.relu(self.bn_b(self.conv_b(y)))
        y = self.bn_c(self.conv_c(y))
        shortcut = self.bn_short(self.conv_short(x)) if self.project else x
        return ops.relu(y + shortcut)


class ResNetFPN(Composite):
    """Image [B, H, W, 3] (mean-subtracted RGB) -> [P2, P3, P4, P5, P6] with `pyramid_size` channels.

    `width` scales every ResNet channel count (1.0 is matterport's network; the
    demo model uses a quarter-width ResNet-50).
    """

    def __init__(self, architecture: str, pyramid_size: int = 256, width: float = 1.0, **kw):
        super().__init__(name="resnet_fpn", **kw)
        self.architecture = architecture

        def w(*channels: int) -> tuple[int, ...]:
            return tuple(max(1, int(round(c * width))) for c in channels)

        self.conv1 = conv(w(64)[0], 7, "conv1", strides=2)
        self.bn_conv1 = FrozenBatchNorm(name="bn_conv1")
        self.stages = [
            self._stage(2, w(64, 64, 256), 3, strides=1),
            self._stage(3, w(128, 128, 512), 4, strides=2),
            self._stage(4, w(256, 256, 1024), 1 + STAGE4_BLOCKS[architecture], strides=2),
            self._stage(5, w(512, 512, 2048), 3, strides=2),
        ]
        d = pyramid_size
        self.lateral = [conv(d, 1, f"fpn_c{i}p{i}") for i in (2, 3, 4, 5)]
        self.output_convs = [conv(d, 3, f"fpn_p{i}", padding="same") for i in (2, 3, 4, 5)]

    @staticmethod
    def _stage(stage: int, filters, blocks: int, strides: int) -> list[Bottleneck]:
        out = [Bottleneck(filters, stage, "a", strides=strides, project=True)]
        out += [Bottleneck(filters, stage, chr(ord("b") + i)) for i in range(blocks - 1)]
        return out

    def weight_layers(self) -> list[keras.layers.Layer]:
        out: list[keras.layers.Layer] = [self.conv1, self.bn_conv1]
        for stage in self.stages:
            for block in stage:
                out += block.weight_layers()
        # matterport's order: the laterals top-down, then the output convolutions.
        return out + self.lateral[::-1] + self.output_convs

    def call(self, images):
        x = ops.pad(images, [[0, 0], [3, 3], [3, 3], [0, 0]])
        x = ops.relu(self.bn_conv1(self.conv1(x)))
        x = ops.max_pool(x, 3, strides=2, padding="same")
        c = []
        for stage in self.stages:
            for block in stage:
                x = block(x)
            c.append(x)
        p5 = self.lateral[3](c[3])
        p4 = _upsample2(p5) + self.lateral[2](c[2])
        p3 = _upsample2(p4) + self.lateral[1](c[1])
        p2 = _upsample2(p3) + self.lateral[0](c[0])
        p2, p3, p4, p5 = (layer(p) for layer, p in zip(self.output_convs, (p2, p3, p4, p5)))
        p6 = p5[:, ::2, ::2, :]  # a 1x1 max pool with stride 2
        return [p2, p3, p4, p5, p6]


def _upsample2(x):
    """Nearest-neighbour 2x upsampling."""
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)
