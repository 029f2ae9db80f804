"""matterport's shapes tutorial with `import mrcnn`, fine-tuned from vidseg's bundled demo model, offline.

    .venv/bin/python examples/train_shapes.py            # about 4 minutes on 2 CPU cores

The calls are matterport's notebook's (`train_shapes.ipynb`): a `Config` subclass, a
`utils.Dataset` subclass that draws its images, `MaskRCNN(mode="training")`,
`load_weights(..., exclude=[the class-specific heads])`, `train(layers="heads")` then
`train(layers="all")`, and `utils.compute_ap` over validation images through
`load_image_gt` and `detect`. Only the starting weights differ: COCO's cannot be
downloaded here, so training starts from the demo model (`mrcnn.demo`), whose
network is a narrow ResNet-50, with its class-specific heads excluded as the notebook
excludes COCO's. Prints the mAP@0.5 and the minutes each part took.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time

import cv2
import numpy as np

from mrcnn import model as modellib
from mrcnn import utils
from mrcnn.demo import DEMO_WEIGHTS, DemoConfig

SHAPES = ("square", "circle", "triangle")


class ShapesConfig(DemoConfig):
    """The tutorial's settings on the demo model's network: 128 px images, three shape classes."""

    NAME = "shapes"
    GPU_COUNT = 1
    IMAGES_PER_GPU = 8
    NUM_CLASSES = 1 + 3
    IMAGE_MIN_DIM = 128
    IMAGE_MAX_DIM = 128
    RPN_ANCHOR_SCALES = (8, 16, 32, 64, 128)
    TRAIN_ROIS_PER_IMAGE = 32
    STEPS_PER_EPOCH = 100
    VALIDATION_STEPS = 5


class InferenceConfig(ShapesConfig):
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1


class ShapesDataset(utils.Dataset):
    """Images of one to four filled shapes on a plain background, drawn on request from their recipe."""

    def load_shapes(self, count: int, height: int, width: int) -> None:
        for i, name in enumerate(SHAPES, start=1):
            self.add_class("shapes", i, name)
        for i in range(count):
            background, shapes = self.random_image(height, width)
            self.add_image("shapes", image_id=i, path=None, width=width, height=height,
                           bg_color=background, shapes=shapes)

    def load_image(self, image_id):
        info = self.image_info[image_id]
        image = np.full((info["height"], info["width"], 3), info["bg_color"], dtype=np.uint8)
        for shape, color, dims in info["shapes"]:
            image = self.draw_shape(image, shape, dims, color)
        return image

    def image_reference(self, image_id):
        info = self.image_info[image_id]
        return info["shapes"] if info["source"] == "shapes" else super().image_reference(image_id)

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        shapes = info["shapes"]
        mask = np.zeros((info["height"], info["width"], len(shapes)), dtype=np.uint8)
        for i, (shape, _, dims) in enumerate(shapes):
            mask[:, :, i:i + 1] = self.draw_shape(mask[:, :, i:i + 1].copy(), shape, dims, 1)
        # later shapes are drawn over earlier ones: take what they cover out of the earlier masks
        visible = np.logical_not(mask[:, :, -1])
        for i in range(len(shapes) - 2, -1, -1):
            mask[:, :, i] = mask[:, :, i] * visible
            visible = np.logical_and(visible, np.logical_not(mask[:, :, i]))
        class_ids = np.array([self.class_names.index(shape) for shape, _, _ in shapes])
        return mask.astype(bool), class_ids.astype(np.int32)

    @staticmethod
    def draw_shape(image, shape, dims, color):
        x, y, s = dims
        if shape == "square":
            cv2.rectangle(image, (x - s, y - s), (x + s, y + s), color, -1)
        elif shape == "circle":
            cv2.circle(image, (x, y), s, color, -1)
        else:
            corners = np.array([[(x, y - s), (x - s / math.sin(math.radians(60)), y + s),
                                 (x + s / math.sin(math.radians(60)), y + s)]], dtype=np.int32)
            cv2.fillPoly(image, corners, color)
        return image

    @staticmethod
    def random_shape(height, width):
        shape = random.choice(SHAPES)
        color = tuple(random.randint(0, 255) for _ in range(3))
        margin = 20
        y, x = random.randint(margin, height - margin - 1), random.randint(margin, width - margin - 1)
        return shape, color, (x, y, random.randint(margin, height // 4))

    def random_image(self, height, width):
        background = np.array([random.randint(0, 255) for _ in range(3)])
        shapes, boxes = [], []
        for _ in range(random.randint(1, 4)):
            shape, color, (x, y, s) = self.random_shape(height, width)
            shapes.append((shape, color, (x, y, s)))
            boxes.append([y - s, x - s, y + s, x + s])
        # drop shapes that overlap another too much (each stays recognisable)
        keep = utils.non_max_suppression(np.array(boxes), np.arange(len(shapes)), 0.3)
        return background, [shapes[i] for i in keep]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=500)
    parser.add_argument("--val-images", type=int, default=50)
    parser.add_argument("--heads-epochs", type=int, default=4, help="epochs of the heads (the notebook: 1)")
    parser.add_argument("--all-epochs", type=int, default=4, help="then epochs of all layers (the notebook: 1)")
    parser.add_argument("--steps", type=int, default=ShapesConfig.STEPS_PER_EPOCH, help="steps per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logs", default=None, help="model_dir (default: a temporary folder)")
    args = parser.parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)
    ShapesConfig.STEPS_PER_EPOCH = args.steps
    model_dir = args.logs or tempfile.mkdtemp(prefix="shapes-logs-")

    config = ShapesConfig()
    config.display()
    dataset_train = ShapesDataset()
    dataset_train.load_shapes(args.train_images, config.IMAGE_SHAPE[0], config.IMAGE_SHAPE[1])
    dataset_train.prepare()
    dataset_val = ShapesDataset()
    dataset_val.load_shapes(args.val_images, config.IMAGE_SHAPE[0], config.IMAGE_SHAPE[1])
    dataset_val.prepare()

    start = time.monotonic()
    model = modellib.MaskRCNN(mode="training", config=config, model_dir=model_dir)
    model.load_weights(DEMO_WEIGHTS, by_name=True,
                       exclude=["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"])
    model.train(dataset_train, dataset_val, learning_rate=config.LEARNING_RATE, epochs=args.heads_epochs,
                layers="heads")
    heads = time.monotonic()
    model.train(dataset_train, dataset_val, learning_rate=config.LEARNING_RATE / 10,
                epochs=args.heads_epochs + args.all_epochs, layers="all")
    trained = time.monotonic()

    inference_config = InferenceConfig()
    model = modellib.MaskRCNN(mode="inference", config=inference_config, model_dir=model_dir)
    model.load_weights(model.find_last(), by_name=True)
    aps = []
    for image_id in dataset_val.image_ids:
        image, _, gt_class_id, gt_bbox, gt_mask = modellib.load_image_gt(dataset_val, inference_config, image_id)
        r = model.detect([image], verbose=0)[0]
        ap, _, _, _ = utils.compute_ap(gt_bbox, gt_class_id, gt_mask, r["rois"], r["class_ids"], r["scores"],
                                       r["masks"])
        aps.append(ap)
    done = time.monotonic()
    mean_ap = float(np.mean(aps))
    print(f"mAP@0.5 over {len(aps)} validation images: {mean_ap:.3f}")
    print(f"minutes: heads {(heads - start) / 60:.1f}, all layers {(trained - heads) / 60:.1f}, "
          f"evaluation {(done - trained) / 60:.1f}, in all {(done - start) / 60:.1f}")
    return mean_ap


if __name__ == "__main__":
    sys.exit(0 if main() >= 0 else 1)
