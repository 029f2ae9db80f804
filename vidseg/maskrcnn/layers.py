"""Small building blocks shared by the backbone and the heads.

The layers here are Keras' own plus one hook used only by
`seeded_weights`: on request, a layer rescales itself on the next (eager) call
so that its output has a target scale. Trained weights never use it.
Conv2D has one more: inside `winograd.tracing()` (the float32 graphs traced for
OpenVINO), a wide 3x3 convolution computes by Winograd's algorithm. `Composite`
is the base of the layers made of these (blocks, backbone, heads).
"""

from __future__ import annotations

import keras

from vidseg.maskrcnn import winograd


class _Calibration:
    """Mixin: `calibrate_to = s` makes the next call rescale the kernel so the output std is `s`."""

    calibrate_to: float | None = None

    def call(self, inputs, *args, **kw):
        out = super().call(inputs, *args, **kw)
        if self.calibrate_to is not None:
            factor = self.calibrate_to / (float(keras.ops.std(out)) + 1e-6)
            self.kernel.assign(self.kernel * factor)
            if self.use_bias:
                self.bias.assign(self.bias * factor)
            out = out * factor
            self.calibrate_to = None
        return out


class Conv2D(_Calibration, keras.layers.Conv2D):
    """Keras's Conv2D; in graphs traced for OpenVINO, wide 3x3 ones by Winograd's algorithm (`winograd.suits`)."""

    def call(self, inputs, *args, **kw):
        if winograd.suits(self, inputs):
            out = winograd.conv3x3(inputs, self.kernel)
            return self.activation(out + self.bias if self.use_bias else out)  # Keras's linear when none
        return super().call(inputs, *args, **kw)


class Dense(_Calibration, keras.layers.Dense):
    pass


class Conv2DTranspose(_Calibration, keras.layers.Conv2DTranspose):
    pass


class Composite(keras.layers.Layer):
    """A layer made of other layers, whose variables those layers create on the first call, made eagerly on a
    small input (`MaskRCNNNetwork._build_weights`).

    Without a `build` of its own, Keras first traces `call` into a scratch graph to create them, then runs the
    eager call anyway: building the workflow tests' ResNet-50 model took 4.3 s that way and takes 2.4 s without
    the trace (2-core Xeon), the same variables in the same order. Every segment job pays it once.
    """

    def build(self, input_shape=None):
        pass


class FrozenBatchNorm(keras.layers.BatchNormalization):
    """Batch normalization that always uses its moving statistics (matterport's TRAIN_BN=False).

    Detection trains with tiny batches, where batch statistics are noise; the
    statistics of the pretrained weights are used in training and inference alike.
    """

    calibrate_next_call = False

    def call(self, inputs, training=None, mask=None):
        if self.calibrate_next_call:
            axes = list(range(len(inputs.shape) - 1))
            self.moving_mean.assign(keras.ops.mean(inputs, axis=axes))
            self.moving_variance.assign(keras.ops.var(inputs, axis=axes))
            self.calibrate_next_call = False
        return super().call(inputs, training=False, mask=mask)


def conv(filters: int, kernel: int | tuple[int, int], name: str, strides: int = 1, padding: str = "valid", **kw):
    """A biased Conv2D with the given matterport layer name."""
    return Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=True, name=name, **kw)
