"""Loading and saving weights in matterport's layout: what loads, what is reported, what is refused."""

import h5py
import numpy as np
import pytest

from conftest import copy_model
from matterport_layout import matterport_layers, write_keras2_h5
from vidseg.core.errors import WeightsError


@pytest.fixture(scope="module")
def model(small_model):
    """A copy of conftest's seeded model: these tests load other weights into it, which the session's model must
    not get (tests of other modules compare its detections)."""
    return copy_model(small_model)


def variable(model, layer, role):
    for v in model.network.weight_layers():
        if v.name == layer:
            return next(w for w in v.weights if w.name == role).numpy()
    raise KeyError(layer)


def test_matterport_layout_loads_with_nothing_missing_or_unexpected(model, tmp_path):
    path = tmp_path / "mask_rcnn_like.h5"
    values = write_keras2_h5(path, matterport_layers("resnet50", 81))
    report = model.load_weights(path, strict=True)
    assert report.missing == [] and report.unexpected == []
    assert len(report.loaded) == len(matterport_layers("resnet50", 81))
    np.testing.assert_array_equal(variable(model, "res4f_branch2c", "kernel"), values[("res4f_branch2c", "res4f_branch2c/kernel:0")])
    np.testing.assert_array_equal(variable(model, "mrcnn_mask_bn3", "moving_variance"), values[("mrcnn_mask_bn3", "mrcnn_mask_bn3/moving_variance:0")])
    rpn = model.network.rpn.shared
    np.testing.assert_array_equal(rpn.kernel.numpy(), values[("rpn_model", "rpn_conv_shared/kernel:0")])


def test_model_weights_group_and_chunked_names(model, tmp_path):
    path = tmp_path / "full_model.h5"
    values = write_keras2_h5(path, matterport_layers("resnet50", 81), seed=3, model_weights_group=True, chunk_names=True)
    report = model.load_weights(path, strict=True)
    assert not report.missing and not report.unexpected
    np.testing.assert_array_equal(variable(model, "conv1", "bias"), values[("conv1", "conv1/bias:0")])


def test_exclude_keeps_heads_and_reports_them(model, tmp_path):
    path = tmp_path / "other_classes.h5"
    write_keras2_h5(path, matterport_layers("resnet50", num_classes=5), seed=4)
    heads = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_mask"]
    with pytest.raises(WeightsError, match=r"other_classes\.h5.*mrcnn_class_logits.*\(1024, 5\).*\(1024, 81\)"):
        model.load_weights(path)
    before = variable(model, "mrcnn_mask", "kernel")
    report = model.load_weights(path, exclude=heads)
    assert report.excluded == heads and not report.missing
    np.testing.assert_array_equal(variable(model, "mrcnn_mask", "kernel"), before)


def test_shape_mismatch_changes_nothing(model, tmp_path):
    path = tmp_path / "narrow.h5"  # fpn_p3 with 128 output channels instead of 256
    layers = [
        (n, [(w, s[:3] + (128,) if n == "fpn_p3" and w.endswith("kernel:0") else s) for w, s in ws])
        for n, ws in matterport_layers("resnet50", 81)
    ]
    write_keras2_h5(path, layers)
    before = variable(model, "conv1", "kernel")
    with pytest.raises(WeightsError) as err:
        model.load_weights(path)
    message = str(err.value)
    assert "narrow.h5" in message and "fpn_p3" in message and "(3, 3, 256, 128)" in message and "(3, 3, 256, 256)" in message
    np.testing.assert_array_equal(variable(model, "conv1", "kernel"), before)


def test_missing_and_unexpected_layers_are_reported(model, tmp_path):
    layers = [(n, w) for n, w in matterport_layers("resnet101", 81) if n != "mrcnn_mask"]
    path = tmp_path / "r101.h5"
    write_keras2_h5(path, layers)
    report = model.load_weights(path)
    assert report.missing == ["mrcnn_mask"]
    assert "res4g_branch2a" in report.unexpected and "res4w_branch2c" in report.unexpected
    assert "1 missing" in str(report)
    with pytest.raises(WeightsError, match="does not fit the model exactly"):
        model.load_weights(path, strict=True)


def test_bad_files_are_clear_errors(model, tmp_path):
    with pytest.raises(WeightsError, match="nope.h5 does not exist"):
        model.load_weights(tmp_path / "nope.h5")
    text = tmp_path / "weights.h5"
    text.write_text("not weights")
    with pytest.raises(WeightsError, match="weights.h5 is not an HDF5 file"):
        model.load_weights(text)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("x", data=[1, 2])
    with pytest.raises(WeightsError, match="plain.h5 has no 'layer_names'"):
        model.load_weights(plain)
    with pytest.raises(WeightsError, match="exclude names layers the model does not have: mrcnn_maks"):
        model.load_weights(plain, exclude=["mrcnn_maks"])


def test_a_layer_without_its_bias_is_an_error(model, tmp_path):
    layers = [(n, [w for w in ws if not (n == "conv1" and "bias" in w[0])]) for n, ws in matterport_layers("resnet50", 81)]
    path = tmp_path / "nobias.h5"
    write_keras2_h5(path, layers)
    with pytest.raises(WeightsError, match=r"nobias\.h5, layer conv1: expected one weight for 'bias'"):
        model.load_weights(path)


def test_save_writes_matterport_layout(model, tmp_path):
    path = tmp_path / "saved.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        expected = [n for n, _ in matterport_layers("resnet50", 81)]
        assert names == expected
        for layer, weights in matterport_layers("resnet50", 81):
            stored = [w.decode() for w in f[layer].attrs["weight_names"]]
            assert stored == [w for w, _ in weights]
            for w, shape in weights:
                assert f[layer][w].shape == shape


def test_matterports_readme_exclude_list_works(model, tmp_path):
    path = tmp_path / "coco_like.h5"
    write_keras2_h5(path, matterport_layers("resnet50", num_classes=5))
    report = model.load_weights(path, exclude=["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"])
    assert not report.missing and "mrcnn_bbox" in report.excluded


def test_suffixed_inner_scopes_and_broken_datasets(model, tmp_path):
    layers = [
        (n, [(w.replace("rpn_conv_shared/", "rpn_conv_shared_1/"), s) for w, s in ws]) for n, ws in matterport_layers("resnet50", 81)
    ]
    path = tmp_path / "suffixed.h5"
    values = write_keras2_h5(path, layers)
    model.load_weights(path, strict=True)
    np.testing.assert_array_equal(model.network.rpn.shared.kernel.numpy(), values[("rpn_model", "rpn_conv_shared_1/kernel:0")])
    with h5py.File(path, "a") as f:
        del f["conv1"]["conv1/bias:0"]  # listed in weight_names, but gone
    with pytest.raises(WeightsError, match="cannot read weights file .*suffixed.h5"):
        model.load_weights(path)
