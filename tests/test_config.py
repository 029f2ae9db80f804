import warnings

import numpy as np
import pytest
import yaml

from vidseg.core.errors import ConfigError, ConfigWarning
from vidseg.maskrcnn import COCO_CLASS_NAMES, CocoConfig, Config
from vidseg.maskrcnn.config import FIELDS, IGNORED


def test_defaults_are_matterports():
    c = Config()
    assert c.BACKBONE == "resnet101"
    assert c.IMAGES_PER_GPU == 2 and c.GPU_COUNT == 1 and c.BATCH_SIZE == 2
    assert c.IMAGE_MIN_DIM == 800 and c.IMAGE_MAX_DIM == 1024 and c.IMAGE_RESIZE_MODE == "square"
    assert list(c.IMAGE_SHAPE) == [1024, 1024, 3]
    np.testing.assert_allclose(c.MEAN_PIXEL, [123.7, 116.8, 103.9])
    assert c.RPN_ANCHOR_SCALES == (32, 64, 128, 256, 512) and c.RPN_ANCHOR_RATIOS == [0.5, 1, 2]  # as matterport types them
    assert c.RPN_NMS_THRESHOLD == 0.7 and c.PRE_NMS_LIMIT == 6000 and c.POST_NMS_ROIS_INFERENCE == 1000
    assert c.BACKBONE_STRIDES == [4, 8, 16, 32, 64]
    assert c.TOP_DOWN_PYRAMID_SIZE == 256 and c.FPN_CLASSIF_FC_LAYERS_SIZE == 1024
    assert c.POOL_SIZE == 7 and c.MASK_POOL_SIZE == 14 and c.MASK_SHAPE == [28, 28]
    assert c.DETECTION_MAX_INSTANCES == 100 and c.DETECTION_MIN_CONFIDENCE == 0.7
    assert c.DETECTION_NMS_THRESHOLD == 0.3
    np.testing.assert_allclose(c.RPN_BBOX_STD_DEV, [0.1, 0.1, 0.2, 0.2])
    np.testing.assert_allclose(c.BBOX_STD_DEV, [0.1, 0.1, 0.2, 0.2])
    assert c.IMAGE_META_SIZE == 1 + 3 + 3 + 4 + 1 + c.NUM_CLASSES


def test_subclass_like_mrcnn_users_do():
    class BalloonConfig(Config):
        NAME = "balloon"
        NUM_CLASSES = 2
        IMAGES_PER_GPU = 1

    c = BalloonConfig()
    assert (c.NAME, c.NUM_CLASSES, c.BATCH_SIZE) == ("balloon", 2, 1)
    assert CocoConfig().NUM_CLASSES == len(COCO_CLASS_NAMES) == 81
    assert COCO_CLASS_NAMES[0] == "BG" and COCO_CLASS_NAMES[1] == "person" and COCO_CLASS_NAMES[-1] == "toothbrush"


def test_from_dict_lower_case_and_round_trip(tmp_path):
    c = Config.from_dict({"num_classes": 5, "backbone": "resnet50", "image_max_dim": 512, "mean_pixel": [1, 2, 3]})
    assert (c.NUM_CLASSES, c.BACKBONE, c.IMAGE_MAX_DIM) == (5, "resnet50", 512)
    path = tmp_path / "model.yaml"
    c.to_yaml(path)
    again = Config.from_yaml(path)
    assert again.to_dict() == c.to_dict()


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"num_clases": 3}, "unknown config key 'num_clases'"),
        ({"num_classes": "three"}, "'num_classes': expected an integer"),
        ({"num_classes": 0}, "'num_classes': must be >= 1"),
        ({"backbone": "vgg16"}, "'backbone': must be one of"),
        ({"image_max_dim": 500}, "'image_max_dim': must be divisible by 64"),
        ({"detection_min_confidence": 1.5}, "'detection_min_confidence': must lie in"),
        ({"rpn_bbox_std_dev": [0.1, 0.1]}, "'rpn_bbox_std_dev': expected 4 values"),
        ({"image_resize_mode": "crop"}, "'image_resize_mode': must be one of"),
        ({"use_mini_mask": "yes"}, "'use_mini_mask': expected true or false"),
        ({"batch_size": 4}, "'batch_size' is derived"),
    ],
)
def test_bad_keys_and_values_are_clear_errors(data, fragment):
    with pytest.raises(ConfigError, match="model.yaml") as err:
        Config.from_dict(data, source="model.yaml")
    assert fragment in str(err.value)


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("num_classes: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        Config.from_yaml(bad)
    with pytest.raises(ConfigError, match="missing.yaml"):
        Config.from_yaml(tmp_path / "missing.yaml")


def test_non_utf8_yaml_is_a_clear_error(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="latin1.yaml is not UTF-8"):
        Config.from_yaml(bad)


# A value other than matterport's default for each key vidseg accepts but does not read.
IGNORED_VALUES = {"gpu_count": 2, "use_mini_mask": False, "mini_mask_shape": [28, 28], "max_gt_instances": 10}


def test_every_ignored_key_has_a_test_value():
    assert set(IGNORED_VALUES) == {field.lower() for field in IGNORED}


@pytest.mark.parametrize("key, value", IGNORED_VALUES.items())
def test_ignored_keys_warn_naming_the_key(key, value):
    with pytest.warns(ConfigWarning, match=rf"^model.yaml: config key '{key}' .* accepted for compatibility "
                                           "with matterport configs and ignored: "):
        config = Config.from_dict({key: value}, source="model.yaml")
    assert getattr(config, key.upper()) == value  # kept, as matterport has it

    class MatterportStyle(Config):
        pass

    setattr(MatterportStyle, key.upper(), value)
    with pytest.warns(ConfigWarning, match=f"config key '{key}'"):
        MatterportStyle()


def test_defaults_and_the_repos_configs_do_not_warn():
    from conftest import small_config
    from flow import MODEL, REPO

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        Config()
        CocoConfig()
        Config.from_dict(Config().to_dict())  # every key set, to its default
        Config.from_dict({field.lower(): FIELDS[field][0] for field in IGNORED})
        Config.from_dict(MODEL)
        small_config()
        Config.from_dict(yaml.safe_load((REPO / "config/config.yaml").read_text())["model"])


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"train_bn": True}, "'train_bn': true is not supported"),
        ({"train_bn": None}, "'train_bn': null is not supported"),
        ({"image_channel_count": 4}, "'image_channel_count': vidseg reads 3-channel RGB frames"),
    ],
)
def test_keys_that_would_change_matterports_results_are_errors(data, fragment):
    with pytest.raises(ConfigError, match="model.yaml") as err:
        Config.from_dict(data, source="model.yaml")
    assert fragment in str(err.value)


def test_subclass_attributes_that_are_not_fields_warn():
    class BalloonConfig(Config):
        NAME = "balloon"
        STEPS_PER_EPOCH = 100

    with pytest.warns(ConfigWarning, match=r"config key 'steps_per_epoch' \(BalloonConfig.STEPS_PER_EPOCH\)"):
        assert BalloonConfig().NAME == "balloon"


def test_setting_a_key_checks_it_and_updates_derived_values():
    c = Config()
    c.IMAGE_MAX_DIM = 512
    c.IMAGES_PER_GPU = 4
    assert list(c.IMAGE_SHAPE) == [512, 512, 3] and c.BATCH_SIZE == 4
    with pytest.raises(ConfigError, match="'num_classes': must be >= 1"):
        c.NUM_CLASSES = 0
    with pytest.raises(ConfigError, match="'batch_size' is derived"):
        c.BATCH_SIZE = 8
    with pytest.raises(ConfigError, match="'train_bn': true is not supported"):
        c.TRAIN_BN = True
    with pytest.warns(ConfigWarning, match="config key 'gpu_count'"):
        c.GPU_COUNT = 2


def test_a_frozen_config_cannot_change():
    c = Config(detection_min_confidence=0.5)
    assert c.freeze() is c and c.frozen
    with pytest.raises(ConfigError, match=r"^config key 'detection_min_confidence': this Config is frozen: "
                                          "a model was built from it; make a new Config"):
        c.DETECTION_MIN_CONFIDENCE = 0.2
    with pytest.raises(ConfigError, match="config key 'images_per_gpu': this Config is frozen"):
        c.images_per_gpu = 1
    with pytest.raises(ConfigError, match="frozen"):
        del c.NUM_CLASSES
    with pytest.raises(ValueError, match="read-only"):
        c.MEAN_PIXEL[0] = 0.0
    assert c.DETECTION_MIN_CONFIDENCE == 0.5 and c.MEAN_PIXEL[0] == 123.7

    editable = c.copy(detection_min_confidence=0.2, images_per_gpu=1)
    assert not editable.frozen and (editable.DETECTION_MIN_CONFIDENCE, editable.BATCH_SIZE) == (0.2, 1)
    editable.MEAN_PIXEL[0] = 0.0
    assert c.MEAN_PIXEL[0] == 123.7 and c.DETECTION_MIN_CONFIDENCE == 0.5
    with pytest.raises(ConfigError, match="unknown config key 'detection_min_confidance'"):
        c.copy(detection_min_confidance=0.2)


def test_freezing_checks_keys_set_one_by_one():
    c = Config()
    c.MASK_POOL_SIZE = 7  # mask_shape still [28, 28]
    with pytest.raises(ConfigError, match="'mask_shape' must be twice 'mask_pool_size'"):
        c.freeze()
    c.MASK_SHAPE = [14, 14]
    c.freeze()
