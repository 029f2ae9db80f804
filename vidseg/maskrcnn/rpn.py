"""Region proposal network: the shared RPN head and proposal selection.

The head is one layer named `rpn_model` (as matterport's nested model), applied
to every pyramid level. Proposals: top-k anchors by score, deltas applied,
clipped to the image, NMS, padded with zero boxes to a fixed count.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from vidseg.maskrcnn import boxes as box_ops
from vidseg.maskrcnn import kernels
from vidseg.maskrcnn.layers import Composite, conv


class RPNHead(Composite):
    """Feature map [B, H, W, C] -> (logits [B, H*W*A, 2], probs [B, H*W*A, 2], deltas [B, H*W*A, 4])."""

    def __init__(self, anchors_per_location: int, anchor_stride: int = 1, conv_size: int = 512, **kw):
        super().__init__(name="rpn_model", **kw)
        self.anchors_per_location = anchors_per_location
        self.shared = conv(conv_size, 3, "rpn_conv_shared", strides=anchor_stride, padding="same")
        self.class_raw = conv(2 * anchors_per_location, 1, "rpn_class_raw")
        self.bbox_pred = conv(4 * anchors_per_location, 1, "rpn_bbox_pred")

    def weight_layers(self) -> list[keras.layers.Layer]:
        return [self]

    def inner_layers(self) -> list[keras.layers.Layer]:
        return [self.shared, self.class_raw, self.bbox_pred]

    def call(self, feature_map):
        shared = ops.relu(self.shared(feature_map))
        batch = ops.shape(feature_map)[0]
        logits = ops.reshape(self.class_raw(shared), (batch, -1, 2))
        deltas = ops.reshape(self.bbox_pred(shared), (batch, -1, 4))
        return logits, ops.softmax(logits, axis=-1), deltas


def select_proposals(probs, deltas, anchors: np.ndarray, config, count: int):
    """Proposals [B, count, 4] (normalized) and their validity [B, count] from RPN outputs.

    `probs` [B, A, 2], `deltas` [B, A, 4] (in units of RPN_BBOX_STD_DEV),
    `anchors` [A, 4] normalized. Empty slots hold zero boxes, as in matterport.
    """
    scores = probs[..., 1]
    deltas = deltas * ops.convert_to_tensor(np.reshape(config.RPN_BBOX_STD_DEV, (1, 1, 4)), dtype="float32")
    pre_nms = min(config.PRE_NMS_LIMIT, anchors.shape[0])
    top_scores, top_ix = ops.top_k(scores, pre_nms, sorted=True)
    top_deltas = ops.take_along_axis(deltas, ops.expand_dims(top_ix, -1), axis=1)
    top_anchors = ops.take(ops.convert_to_tensor(anchors), top_ix, axis=0)
    proposals = box_ops.decode(top_anchors, top_deltas)
    proposals = box_ops.clip(proposals, ops.convert_to_tensor(np.array([0, 0, 1, 1], np.float32)))
    threshold = config.RPN_NMS_THRESHOLD

    def per_image(args):
        image_boxes, image_scores = args
        keep, valid = kernels.nms_padded(image_boxes, image_scores, count, threshold)
        picked = ops.take(image_boxes, keep, axis=0)
        return ops.where(ops.expand_dims(valid, -1), picked, 0.0), valid

    return kernels.map_images(
        per_image,
        (proposals, top_scores),
        (kernels.spec([count, 4], "float32"), kernels.spec([count], "bool")),
    )
