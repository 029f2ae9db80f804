"""matterport's `samples/coco/coco.py` as a module: `CocoConfig`, `CocoDataset`, COCO evaluation and the CLI.

Same names, arguments and behaviour as matterport's sample, so its notebooks
and scripts run with `from mrcnn import coco`. Annotations are read with
pycocotools (`COCO`, `COCOeval`, its mask RLE functions), as there; images go
through `mrcnn.utils.Dataset.load_image`. The command line is matterport's:

    python -m mrcnn.coco train --dataset=/path/to/coco/ --model=coco
    python -m mrcnn.coco evaluate --dataset=/path/to/coco/ --model=last

matterport's sample lives two folders below its repository and puts the weights
and logs in the repository's root; here that root is the current directory at
import (`ROOT_DIR`), so `COCO_MODEL_PATH` is `./mask_rcnn_coco.h5` and
`DEFAULT_LOGS_DIR` is `./logs`.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile

import numpy as np
from pycocotools import mask as maskUtils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mrcnn import utils
from mrcnn.config import Config
from vidseg.core.errors import VidsegError

ROOT_DIR = os.path.abspath(os.curdir)
COCO_MODEL_PATH = os.path.join(ROOT_DIR, "mask_rcnn_coco.h5")
DEFAULT_LOGS_DIR = os.path.join(ROOT_DIR, "logs")
DEFAULT_DATASET_YEAR = "2014"

# Where `CocoDataset.auto_download` fetches the dataset ({subset}{year} and {year} filled in).
IMAGES_URL = "http://images.cocodataset.org/zips/{}{}.zip"
ANNOTATIONS_URL = "http://images.cocodataset.org/annotations/annotations_trainval{}.zip"
MINIVAL_URL = "https://dl.dropboxusercontent.com/s/o43o90bna78omob/instances_minival2014.json.zip?dl=0"
VALMINUSMINIVAL_URL = "https://dl.dropboxusercontent.com/s/s3tw5zcg7395368/instances_valminusminival2014.json.zip?dl=0"


############################################################
#  Configuration
############################################################

class CocoConfig(Config):
    """Training on MS COCO: 80 classes plus background, two images per GPU."""

    NAME = "coco"
    IMAGES_PER_GPU = 2
    NUM_CLASSES = 1 + 80


############################################################
#  Dataset
############################################################

def _image_folder(subset: str) -> str:
    """The image folder's stem of a subset: minival and valminusminival are cut out of val's images."""
    return "val" if subset in ("minival", "valminusminival") else subset


class CocoDataset(utils.Dataset):
    """Images and instance masks of MS COCO (or any file in its format), source name "coco"."""

    def load_coco(self, dataset_dir, subset, year=DEFAULT_DATASET_YEAR, class_ids=None, class_map=None,
                  return_coco=False, auto_download=False):
        """Add the images and classes of `{dataset_dir}/annotations/instances_{subset}{year}.json`.

        subset: train, val, minival or valminusminival (2014's splits, whose images
        are in val2014); images are read from `{dataset_dir}/{subset}{year}/`.
        year: a string, "2014" or "2017". class_ids: only these COCO category ids
        and the images showing them (default: all categories). Only images with at
        least one annotation of those categories are added, as matterport does.
        class_map: not supported (matterport's neither). return_coco: also return
        the pycocotools `COCO` object. auto_download: fetch missing files first.
        """
        if auto_download is True:
            self.auto_download(dataset_dir, subset, year)
        annotations = f"{dataset_dir}/annotations/instances_{subset}{year}.json"
        if not os.path.isfile(annotations):
            raise VidsegError(f"COCO annotations {annotations} not found: download the {subset}{year} annotations "
                              f"(see CocoDataset.auto_download, or pass auto_download=True)")
        coco = COCO(annotations)
        image_dir = f"{dataset_dir}/{_image_folder(subset)}{year}"

        if not class_ids:
            class_ids = sorted(coco.getCatIds())
        # The images that show one of the classes, each once (in set order, as matterport lists them);
        # a file without categories gives all its images.
        image_ids = list({image_id for class_id in class_ids for image_id in coco.getImgIds(catIds=[class_id])}
                         if class_ids else coco.imgs.keys())
        for class_id in class_ids:
            self.add_class("coco", class_id, coco.loadCats(class_id)[0]["name"])
        for image_id in image_ids:
            info = coco.imgs[image_id]
            self.add_image("coco", image_id=image_id, path=os.path.join(image_dir, info["file_name"]),
                           width=info["width"], height=info["height"],
                           annotations=coco.loadAnns(coco.getAnnIds(imgIds=[image_id], catIds=class_ids,
                                                                    iscrowd=None)))
        if return_coco:
            return coco

    def auto_download(self, dataDir, dataType, dataYear):
        """Download and unzip the images and annotations of a subset unless they are there.

        2014 has train, val, minival and valminusminival; 2017 only train and val.
        Without network access the error names each file to fetch and where it goes.
        """
        image_stem = f"{_image_folder(dataType)}{dataYear}"
        image_dir = f"{dataDir}/{image_stem}"
        os.makedirs(dataDir, exist_ok=True)
        if not os.path.exists(image_dir):
            zip_path = f"{dataDir}/{image_stem}.zip"
            if not os.path.exists(zip_path):
                _fetch(IMAGES_URL.format(_image_folder(dataType), dataYear), zip_path,
                       f"unzip it into {dataDir} (it holds the folder {image_stem}/)")
            _unzip(zip_path, dataDir)
            os.makedirs(image_dir, exist_ok=True)
        print("Will use images in " + image_dir)

        annotation_dir = f"{dataDir}/annotations"
        if dataType in ("minival", "valminusminival"):
            url = MINIVAL_URL if dataType == "minival" else VALMINUSMINIVAL_URL
            zip_path = f"{dataDir}/instances_{dataType}2014.json.zip"
            annotations = f"{annotation_dir}/instances_{dataType}2014.json"
            unzip_to = annotation_dir
        else:
            url = ANNOTATIONS_URL.format(dataYear)
            zip_path = f"{dataDir}/annotations_trainval{dataYear}.zip"
            annotations = f"{annotation_dir}/instances_{dataType}{dataYear}.json"
            unzip_to = dataDir
        os.makedirs(annotation_dir, exist_ok=True)
        if not os.path.exists(annotations):
            if not os.path.exists(zip_path):
                _fetch(url, zip_path, f"unzip it into {unzip_to} so that {annotations} exists")
            _unzip(zip_path, unzip_to)
        print("Will use annotations in " + annotations)

    def load_mask(self, image_id):
        """Instance masks bool [H, W, N] and class ids int32 [N] of a COCO image.

        Crowd annotations get the negative class id (a crowd mask that does not fit
        the image becomes the whole image); masks with no pixel (objects smaller
        than a pixel) are dropped. Images of other sources go to the base class.
        """
        image_info = self.image_info[image_id]
        if image_info["source"] != "coco":
            return super().load_mask(image_id)
        height, width = image_info["height"], image_info["width"]
        masks, class_ids = [], []
        for annotation in image_info["annotations"]:
            class_id = self.map_source_class_id(f"coco.{annotation['category_id']}")
            if not class_id:
                continue
            m = self.annToMask(annotation, height, width)
            if m.max() < 1:
                continue
            if annotation["iscrowd"]:
                class_id *= -1
                if m.shape != (height, width):
                    m = np.ones([height, width], dtype=bool)
            masks.append(m)
            class_ids.append(class_id)
        if not class_ids:
            return super().load_mask(image_id)
        return np.stack(masks, axis=2).astype(bool), np.array(class_ids, dtype=np.int32)

    def image_reference(self, image_id):
        """The image's page on the COCO website (other sources: the base class's answer)."""
        info = self.image_info[image_id]
        if info["source"] == "coco":
            return f"http://cocodataset.org/#explore?id={info['id']}"
        return super().image_reference(image_id)

    def annToRLE(self, ann, height, width):
        """An annotation's segmentation (polygons, uncompressed or compressed RLE) as one compressed RLE."""
        segm = ann["segmentation"]
        if isinstance(segm, list):  # polygons: the parts of one object, merged
            return maskUtils.merge(maskUtils.frPyObjects(segm, height, width))
        if isinstance(segm["counts"], list):  # uncompressed RLE
            return maskUtils.frPyObjects(segm, height, width)
        return segm

    def annToMask(self, ann, height, width):
        """An annotation's segmentation as a uint8 mask [height, width]."""
        return maskUtils.decode(self.annToRLE(ann, height, width))


def _fetch(url: str, dest: str, then: str) -> None:
    """Download `url` to `dest` (through `dest.part`); offline, an error saying what to fetch and where."""
    part = dest + ".part"
    print(f"Downloading {url} to {dest} ...")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as err:
        if os.path.exists(part):
            os.remove(part)
        reason = getattr(err, "reason", err)
        raise VidsegError(f"cannot download {url}: {reason}. Download it by hand and {then} (or place the zip "
                          f"file at {dest}: auto_download unzips it)") from None
    os.replace(part, dest)
    print("... done downloading.")


def _unzip(zip_path: str, folder: str) -> None:
    print("Unzipping " + zip_path)
    try:
        with zipfile.ZipFile(zip_path, "r") as archive:
            archive.extractall(folder)
    except zipfile.BadZipFile as err:
        raise VidsegError(f"{zip_path} is not a complete zip file ({err}); delete it and download it again") from None
    print("... done unzipping")


############################################################
#  COCO evaluation
############################################################

def build_coco_results(dataset, image_ids, rois, class_ids, scores, masks):
    """Detections as COCO result records (http://cocodataset.org/#format-results).

    Each of `image_ids` (COCO image ids; matterport passes one) gets every detection:
    rois [N, (y1, x1, y2, x2)], class_ids [N] (the dataset's, mapped back to COCO
    category ids), scores [N], masks [H, W, N] (RLE-encoded). rois None: no records.
    """
    if rois is None:
        return []
    results = []
    for image_id in image_ids:
        for i in range(rois.shape[0]):
            y1, x1, y2, x2 = np.around(rois[i], 1)
            results.append({
                "image_id": image_id,
                "category_id": dataset.get_source_class_id(class_ids[i], "coco"),
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": scores[i],
                "segmentation": maskUtils.encode(np.asfortranarray(masks[:, :, i].astype(np.uint8))),
            })
    return results


def _load_results(coco, results):
    """`coco.loadRes(results)`, also for no results at all (pycocotools fails on an empty list)."""
    if results:
        return coco.loadRes(results)
    empty = COCO()
    empty.dataset = {"images": list(coco.dataset["images"]), "categories": list(coco.dataset["categories"]),
                     "annotations": []}
    empty.createIndex()
    return empty


def evaluate_coco(model, dataset, coco, eval_type="bbox", limit=0, image_ids=None):
    """Run the official COCO evaluation of `model` on `dataset` (or `image_ids`, the first `limit` of them).

    Each image goes through `model.detect([image], verbose=0)[0]`; `eval_type` is
    "bbox" or "segm". Prints COCOeval's summary and the timings, and returns the
    `COCOeval` (its `stats` hold the summary's numbers; matterport's returns nothing).
    """
    if image_ids is None or len(image_ids) == 0:
        image_ids = dataset.image_ids
    if limit:
        image_ids = image_ids[:limit]
    coco_image_ids = [dataset.image_info[image_id]["id"] for image_id in image_ids]

    t_prediction = 0.0
    t_start = time.time()
    results = []
    for i, image_id in enumerate(image_ids):
        image = dataset.load_image(image_id)
        t = time.time()
        r = model.detect([image], verbose=0)[0]
        t_prediction += time.time() - t
        results.extend(build_coco_results(dataset, coco_image_ids[i:i + 1], r["rois"], r["class_ids"], r["scores"],
                                          r["masks"].astype(np.uint8)))

    coco_eval = COCOeval(coco, _load_results(coco, results), eval_type)
    coco_eval.params.imgIds = coco_image_ids
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()

    print(f"Prediction time: {t_prediction}. Average {t_prediction / max(len(image_ids), 1)}/image")
    print("Total time: ", time.time() - t_start)
    return coco_eval


############################################################
#  Command line: train or evaluate on MS COCO
############################################################

def _flip_half(image, mask):
    """Left-right flip of half the images and their masks: the CLI's augmentation without imgaug."""
    return (np.fliplr(image), np.fliplr(mask)) if np.random.random() < 0.5 else (image, mask)


def main(argv=None) -> None:
    import argparse

    from mrcnn import model as modellib

    parser = argparse.ArgumentParser(description="Train Mask R-CNN on MS COCO.")
    parser.add_argument("command", metavar="<command>", help="'train' or 'evaluate' on MS COCO")
    parser.add_argument("--dataset", required=True, metavar="/path/to/coco/", help="Directory of the MS-COCO dataset")
    parser.add_argument("--year", required=False, default=DEFAULT_DATASET_YEAR, metavar="<year>",
                        help="Year of the MS-COCO dataset (2014 or 2017) (default=2014)")
    parser.add_argument("--model", required=True, metavar="/path/to/weights.h5",
                        help="Path to weights .h5 file or 'coco', 'last' or 'imagenet'")
    parser.add_argument("--logs", required=False, default=DEFAULT_LOGS_DIR, metavar="/path/to/logs/",
                        help="Logs and checkpoints directory (default=logs/)")
    parser.add_argument("--limit", required=False, default=500, metavar="<image count>",
                        help="Images to use for evaluation (default=500)")
    # type=bool as matterport's: any non-empty value (even "False") switches it on.
    parser.add_argument("--download", required=False, default=False, metavar="<True|False>", type=bool,
                        help="Automatically download and unzip MS-COCO files (default=False)")
    args = parser.parse_args(argv)
    print("Command: ", args.command)
    print("Model: ", args.model)
    print("Dataset: ", args.dataset)
    print("Year: ", args.year)
    print("Logs: ", args.logs)
    print("Auto Download: ", args.download)
    if args.command not in ("train", "evaluate"):
        print(f"'{args.command}' is not recognized. Use 'train' or 'evaluate'")
        return

    if args.command == "train":
        config = CocoConfig()
    else:
        class InferenceConfig(CocoConfig):
            GPU_COUNT = 1
            IMAGES_PER_GPU = 1
            DETECTION_MIN_CONFIDENCE = 0

        config = InferenceConfig()
    config.display()
    mode = "training" if args.command == "train" else "inference"
    model = modellib.MaskRCNN(mode=mode, config=config, model_dir=args.logs)

    choice = args.model.lower()
    if choice == "coco":
        model_path = COCO_MODEL_PATH
        if not os.path.exists(model_path):
            utils.download_trained_weights(model_path)
    elif choice == "last":
        model_path = model.find_last()
    elif choice == "imagenet":
        model_path = model.get_imagenet_weights()
    else:
        model_path = args.model
    print("Loading weights ", model_path)
    model.load_weights(model_path, by_name=True)

    val_type = "val" if args.year in "2017" else "minival"
    if args.command == "train":
        # The training set plus 2014's val minus minival (35K images), as in the Mask R-CNN paper.
        dataset_train = CocoDataset()
        dataset_train.load_coco(args.dataset, "train", year=args.year, auto_download=args.download)
        if args.year in "2014":
            dataset_train.load_coco(args.dataset, "valminusminival", year=args.year, auto_download=args.download)
        dataset_train.prepare()
        dataset_val = CocoDataset()
        dataset_val.load_coco(args.dataset, val_type, year=args.year, auto_download=args.download)
        dataset_val.prepare()

        try:
            import imgaug
            augmentation = imgaug.augmenters.Fliplr(0.5)
        except ImportError:
            augmentation = _flip_half

        # matterport's example schedule: heads, then ResNet stage 4 and up, then everything at a tenth the rate.
        print("Training network heads")
        model.train(dataset_train, dataset_val, learning_rate=config.LEARNING_RATE, epochs=40, layers="heads",
                    augmentation=augmentation)
        print("Fine tune Resnet stage 4 and up")
        model.train(dataset_train, dataset_val, learning_rate=config.LEARNING_RATE, epochs=120, layers="4+",
                    augmentation=augmentation)
        print("Fine tune all layers")
        model.train(dataset_train, dataset_val, learning_rate=config.LEARNING_RATE / 10, epochs=160, layers="all",
                    augmentation=augmentation)
    else:
        dataset_val = CocoDataset()
        coco = dataset_val.load_coco(args.dataset, val_type, year=args.year, return_coco=True,
                                     auto_download=args.download)
        dataset_val.prepare()
        print(f"Running COCO evaluation on {args.limit} images.")
        evaluate_coco(model, dataset_val, coco, "bbox", limit=int(args.limit))


if __name__ == "__main__":
    main()
