import pytest

from vidseg.core.errors import ConfigError, VidsegError
from vidseg.inference.modelfile import class_names_for, model_file_for, read_model_file, resolve_model, write_model_file
from vidseg.maskrcnn import COCO_CLASS_NAMES, Config


def test_model_file_round_trip_and_overrides(tmp_path):
    config = Config(name="shapes", num_classes=4, backbone="resnet50", backbone_width=0.25, image_max_dim=128)
    write_model_file(tmp_path / "shapes.yaml", config, ["BG", "circle", "square", "triangle"], training={"minutes": 1})
    (tmp_path / "shapes.h5").write_bytes(b"")
    assert model_file_for(tmp_path / "shapes.h5") == tmp_path / "shapes.yaml"
    assert model_file_for(tmp_path / "other.h5") is None
    keys, names = read_model_file(tmp_path / "shapes.yaml")
    assert Config.from_dict(keys).to_dict() == config.to_dict() and names[1:] == ["circle", "square", "triangle"]
    resolved, names = resolve_model({"detection_min_confidence": 0.5}, None, tmp_path / "shapes.yaml")
    assert resolved.BACKBONE_WIDTH == 0.25 and resolved.DETECTION_MIN_CONFIDENCE == 0.5 and names[0] == "BG"
    _, names = resolve_model({}, ["BG", "a", "b", "c"], tmp_path / "shapes.yaml")
    assert names == ["BG", "a", "b", "c"]
    with pytest.raises(ConfigError, match="2 class names for 4 classes"):
        resolve_model({}, ["BG", "a"], tmp_path / "shapes.yaml")
    with pytest.raises(ConfigError, match=r"over model file .*shapes.yaml: .*'num_clases'"):
        resolve_model({"num_clases": 3}, None, tmp_path / "shapes.yaml")


@pytest.mark.parametrize("text, message", [
    ("config: [1]\n", "expected a 'config' mapping"),
    ("config: {num_classes: 2}\nclass_names: BG\n", "'class_names' must be a list of strings"),
    ("config: {\n", "is not valid YAML"),
])
def test_bad_model_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_model_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="cannot read model file"):
        read_model_file(tmp_path / "missing.yaml")


def test_class_names():
    assert class_names_for(Config(num_classes=81), None) == list(COCO_CLASS_NAMES)
    assert class_names_for(Config(num_classes=3), ["BG", "a", "b"]) == ["BG", "a", "b"]
    with pytest.raises(VidsegError, match="'class_names' is needed"):
        class_names_for(Config(num_classes=3), None)
    with pytest.raises(VidsegError, match="has 2 names for 3 classes"):
        class_names_for(Config(num_classes=3), ["BG", "a"])
