"""mrcnn.coco (matterport's COCO sample) on a tiny COCO dataset in matterport's folder layout, checked with pycocotools."""

import json
import socket

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mrcnn import coco, utils
from vidseg.core.errors import VidsegError

# Images (id, height, width); image 13 has no annotation, 15 only one smaller than a pixel.
IMAGES = {11: (40, 50), 12: (36, 30), 13: (32, 32), 14: (30, 40), 15: (20, 20)}
CAR, DOG = 3, 18


def _rle_json(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _uncompressed_rle(mask):
    """COCO's uncompressed RLE: run lengths over the column-major pixels, starting with zeros."""
    flat = mask.astype(np.uint8).flatten(order="F")
    changes = np.nonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))[0]
    return {"size": list(mask.shape), "counts": np.diff(np.concatenate([[0], changes])).tolist()}


def _annotations():
    box_mask = np.zeros((36, 30), bool)
    box_mask[5:20, 3:25] = True
    box_mask[10:14, 8:12] = False  # a hole: only RLE can say that
    crowd = np.zeros((40, 50), bool)
    crowd[25:38, 30:48] = True
    return [
        # image 11: a car polygon, a dog in two parts, a crowd of dogs (uncompressed RLE)
        {"image_id": 11, "category_id": CAR, "iscrowd": 0, "segmentation": [[5, 4, 20, 4, 20, 18, 5, 18]]},
        {"image_id": 11, "category_id": DOG, "iscrowd": 0,
         "segmentation": [[30, 2, 45, 2, 38, 12], [25, 14, 35, 14, 35, 22, 25, 22]]},
        {"image_id": 11, "category_id": DOG, "iscrowd": 1, "segmentation": _uncompressed_rle(crowd)},
        # image 12: a car as compressed RLE, a dog polygon
        {"image_id": 12, "category_id": CAR, "iscrowd": 0, "segmentation": _rle_json(box_mask)},
        {"image_id": 12, "category_id": DOG, "iscrowd": 0, "segmentation": [[2, 24, 20, 24, 11, 34]]},
        {"image_id": 14, "category_id": CAR, "iscrowd": 0, "segmentation": [[3, 3, 30, 3, 30, 20, 3, 20]]},
        {"image_id": 15, "category_id": DOG, "iscrowd": 0, "segmentation": [[10, 10, 10.3, 10, 10.3, 10.3, 10, 10.3]]},
    ]


@pytest.fixture(scope="module")
def coco_dir(tmp_path_factory):
    """matterport's layout: annotations/instances_minival2014.json, images in val2014/."""
    root = tmp_path_factory.mktemp("coco")
    (root / "annotations").mkdir()
    (root / "val2014").mkdir()
    rng = np.random.default_rng(0)
    images = []
    for image_id, (h, w) in IMAGES.items():
        name = f"COCO_val2014_{image_id:012d}.png"
        cv2.imwrite(str(root / "val2014" / name), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})
    annotations = []
    for i, ann in enumerate(_annotations()):
        h, w = IMAGES[ann["image_id"]]
        segm = ann["segmentation"]
        if isinstance(segm, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
        elif isinstance(segm["counts"], list):
            rle = mask_utils.frPyObjects(segm, h, w)
        else:
            rle = {"size": segm["size"], "counts": segm["counts"].encode()}
        annotations.append({**ann, "id": i + 1, "area": float(mask_utils.area(rle)),
                            "bbox": mask_utils.toBbox(rle).tolist()})
    categories = [{"id": CAR, "name": "car", "supercategory": "vehicle"},
                  {"id": DOG, "name": "dog,puppy", "supercategory": "animal"}]
    with open(root / "annotations" / "instances_minival2014.json", "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return root


def _load(coco_dir, **kwargs):
    dataset = coco.CocoDataset()
    result = dataset.load_coco(str(coco_dir), "minival", year="2014", **kwargs)
    dataset.prepare()
    return dataset, result


def _index_of(dataset, coco_id):
    return next(i for i in dataset.image_ids if dataset.image_info[i]["id"] == coco_id)


def test_config_and_module_constants():
    config = coco.CocoConfig()
    assert (config.NAME, config.NUM_CLASSES, config.IMAGES_PER_GPU) == ("coco", 81, 2)
    assert coco.DEFAULT_DATASET_YEAR == "2014"
    assert coco.COCO_MODEL_PATH.endswith("mask_rcnn_coco.h5") and coco.DEFAULT_LOGS_DIR.endswith("logs")


def test_load_coco_reads_matterports_layout(coco_dir):
    dataset, cocoapi = _load(coco_dir, return_coco=True)
    assert dataset.class_names == ["BG", "car", "dog"]
    assert dataset.map_source_class_id(f"coco.{DOG}") == 2 and dataset.get_source_class_id(1, "coco") == CAR
    # minival's images are in val2014; image 13 has no annotation and is left out
    assert sorted(info["id"] for info in dataset.image_info) == [11, 12, 14, 15]
    info = dataset.image_info[_index_of(dataset, 12)]
    assert info["path"] == f"{coco_dir}/val2014/COCO_val2014_000000000012.png"
    assert (info["height"], info["width"]) == IMAGES[12] and len(info["annotations"]) == 2
    assert sorted(cocoapi.getImgIds()) == sorted(IMAGES)
    assert dataset.load_image(_index_of(dataset, 12)).shape == (*IMAGES[12], 3)
    assert dataset.image_reference(0) == f"http://cocodataset.org/#explore?id={dataset.image_info[0]['id']}"

    dogs_only = coco.CocoDataset()
    dogs_only.load_coco(str(coco_dir), "minival", year="2014", class_ids=[DOG])
    dogs_only.prepare()
    assert dogs_only.class_names == ["BG", "dog"]
    assert sorted(info["id"] for info in dogs_only.image_info) == [11, 12, 15]
    assert all(a["category_id"] == DOG for info in dogs_only.image_info for a in info["annotations"])


def test_load_mask_against_pycocotools(coco_dir):
    dataset, cocoapi = _load(coco_dir, return_coco=True)
    expected_classes = {11: [1, 2, -2], 12: [1, 2], 14: [1]}
    for coco_id, class_ids in expected_classes.items():
        masks, got_classes = dataset.load_mask(_index_of(dataset, coco_id))
        assert masks.dtype == bool and masks.shape == (*IMAGES[coco_id], len(class_ids))
        assert got_classes.dtype == np.int32 and got_classes.tolist() == class_ids
        anns = cocoapi.loadAnns(cocoapi.getAnnIds(imgIds=[coco_id]))
        for i, ann in enumerate(anns):
            np.testing.assert_array_equal(masks[:, :, i], cocoapi.annToMask(ann).astype(bool))
    # the hole of image 12's RLE car survives
    car = dataset.load_mask(_index_of(dataset, 12))[0][:, :, 0]
    assert car[5:20, 3:25].sum() == 15 * 22 - 16
    # image 15's only object is smaller than a pixel: dropped, leaving matterport's empty answer
    tiny = cocoapi.loadAnns(cocoapi.getAnnIds(imgIds=[15]))[0]
    assert not cocoapi.annToMask(tiny).any()
    masks, class_ids = dataset.load_mask(_index_of(dataset, 15))
    assert masks.shape == (0, 0, 0) and class_ids.shape == (0,)


def test_images_of_other_sources_go_to_the_base_class(coco_dir):
    dataset = coco.CocoDataset()
    dataset.load_coco(str(coco_dir), "minival", year="2014")
    dataset.add_image("mine", image_id="x", path="x.png")
    dataset.prepare()
    masks, class_ids = dataset.load_mask(dataset.num_images - 1)
    assert masks.shape == (0, 0, 0) and dataset.image_reference(dataset.num_images - 1) == ""


class GroundTruthModel:
    """Stands in for MaskRCNN: "detects" the ground truth of the images evaluate_coco asks for, in order."""

    def __init__(self, dataset, image_ids, keep_every=1):
        self.dataset, self.pending, self.keep_every = dataset, list(image_ids), keep_every

    def detect(self, images, verbose=0):
        image_id = self.pending.pop(0)
        assert images[0].shape[:2] == IMAGES[self.dataset.image_info[image_id]["id"]]
        masks, class_ids = self.dataset.load_mask(image_id)
        keep = np.nonzero(class_ids > 0)[0][::self.keep_every]  # crowds are not detections
        masks, class_ids = masks[:, :, keep], class_ids[keep]
        return [{"rois": utils.extract_bboxes(masks), "class_ids": class_ids.astype(np.int32),
                 "scores": np.linspace(0.99, 0.5, len(keep)).astype(np.float32), "masks": masks}]


@pytest.mark.parametrize("eval_type", ["bbox", "segm"])
def test_evaluate_coco_scores_ground_truth_one_and_less_without_half(coco_dir, eval_type, capsys):
    dataset, cocoapi = _load(coco_dir, return_coco=True)
    # image 15's object is too small for any mask (so for any detection): leave that image out
    ids = [i for i in dataset.image_ids if dataset.image_info[i]["id"] != 15]
    perfect = coco.evaluate_coco(GroundTruthModel(dataset, ids), dataset, cocoapi, eval_type, image_ids=ids)
    assert perfect.stats[0] == pytest.approx(1.0) and perfect.stats[1] == pytest.approx(1.0)
    assert sorted(perfect.params.imgIds) == [11, 12, 14]
    printed = capsys.readouterr().out
    assert "Average Precision" in printed and "Prediction time" in printed
    half = coco.evaluate_coco(GroundTruthModel(dataset, ids, keep_every=2), dataset, cocoapi, eval_type,
                              image_ids=ids)
    # every other object of each image: all 3 cars (each image's first), none of the 2 dogs -> (1 + 0) / 2
    assert half.stats[0] == pytest.approx(0.5)
    first = coco.evaluate_coco(GroundTruthModel(dataset, ids), dataset, cocoapi, eval_type, limit=1, image_ids=ids)
    assert first.params.imgIds == [dataset.image_info[ids[0]]["id"]]


def test_evaluate_coco_without_any_detection_scores_zero(coco_dir):
    dataset, cocoapi = _load(coco_dir, return_coco=True)

    class Blind:
        def detect(self, images, verbose=0):
            h, w = images[0].shape[:2]
            return [{"rois": np.zeros((0, 4), np.int32), "class_ids": np.zeros(0, np.int32),
                     "scores": np.zeros(0, np.float32), "masks": np.zeros((h, w, 0), bool)}]

    assert coco.evaluate_coco(Blind(), dataset, cocoapi, "segm").stats[0] == 0


def test_build_coco_results_loads_into_pycocotools(coco_dir):
    dataset, cocoapi = _load(coco_dir, return_coco=True)
    index = _index_of(dataset, 11)
    masks, class_ids = dataset.load_mask(index)
    masks, class_ids = masks[:, :, :2], class_ids[:2]
    rois = utils.extract_bboxes(masks)
    scores = np.array([0.9, 0.6], np.float32)
    results = coco.build_coco_results(dataset, [11], rois, class_ids, scores, masks.astype(np.uint8))
    assert [r["category_id"] for r in results] == [CAR, DOG] and [r["image_id"] for r in results] == [11, 11]
    loaded = cocoapi.loadRes(results)
    for ann, mask, (y1, x1, y2, x2), score in zip(loaded.loadAnns(loaded.getAnnIds()), np.moveaxis(masks, 2, 0),
                                                  rois, scores):
        np.testing.assert_array_equal(loaded.annToMask(ann).astype(bool), mask)
        assert list(ann["bbox"]) == [x1, y1, x2 - x1, y2 - y1] and ann["score"] == score
    assert coco.build_coco_results(dataset, [11], None, None, None, None) == []


def _refused_url():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_auto_download_offline_says_what_to_fetch_and_where(tmp_path, monkeypatch):
    base = _refused_url()
    monkeypatch.setattr(coco, "IMAGES_URL", base + "/zips/{}{}.zip")
    monkeypatch.setattr(coco, "MINIVAL_URL", base + "/instances_minival2014.json.zip")
    with pytest.raises(VidsegError) as err:
        coco.CocoDataset().load_coco(str(tmp_path), "minival", year="2014", auto_download=True)
    message = str(err.value)
    assert f"{base}/zips/val2014.zip" in message and f"{tmp_path}/val2014.zip" in message and "by hand" in message
    assert not (tmp_path / "val2014").exists() and not list(tmp_path.glob("*.part"))
    (tmp_path / "val2014").mkdir()  # images in place: now the annotations are asked for
    with pytest.raises(VidsegError) as err:
        coco.CocoDataset().load_coco(str(tmp_path), "minival", year="2014", auto_download=True)
    assert f"{base}/instances_minival2014.json.zip" in str(err.value)
    assert f"{tmp_path}/annotations/instances_minival2014.json" in str(err.value)


def test_auto_download_uses_files_in_place_and_missing_annotations_are_named(coco_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(coco, "IMAGES_URL", _refused_url() + "/{}{}.zip")  # would fail if it were fetched
    dataset = coco.CocoDataset()
    dataset.load_coco(str(coco_dir), "minival", year="2014", auto_download=True)
    assert len(dataset.image_info) == 4
    with pytest.raises(VidsegError, match="instances_val2017.json"):
        coco.CocoDataset().load_coco(str(tmp_path), "val", year="2017")


def test_cli_rejects_unknown_commands(capsys):
    coco.main(["bogus", "--dataset=/nowhere", "--model=coco"])
    assert "'bogus' is not recognized" in capsys.readouterr().out
