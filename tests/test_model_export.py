"""`vidseg export-model`: the model as a SavedModel, ONNX and OpenVINO IR, each checked against the Keras model
when written, and loadable by the stock runtimes without vidseg (vidseg.maskrcnn.export)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidseg.core.errors import VidsegError
from vidseg.inference.segment import load_model
from vidseg.maskrcnn import export
from vidseg.maskrcnn.preprocess import mold_batch
from vidseg.media.synthetic import Scene, scene_frames

MODELS = Path(__file__).resolve().parents[1] / "models"
VIDSEG = Path(sys.executable).parent / "vidseg"  # the console script pip installs

# Runs in its own process: the stock runtimes only, never vidseg.
STOCK = textwrap.dedent("""
    import sys
    import numpy as np
    import onnxruntime, openvino, tensorflow as tf
    prefix, inputs = sys.argv[1], dict(np.load(sys.argv[2]))
    out = {}
    session = onnxruntime.InferenceSession(prefix + ".onnx", providers=["CPUExecutionProvider"])
    out["onnx"] = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
    compiled = openvino.Core().compile_model(prefix + ".xml", "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(inputs)
    out["openvino"] = {o.get_any_name(): result[o] for o in compiled.outputs}
    loaded = tf.saved_model.load(prefix)
    out["savedmodel"] = {k: v.numpy() for k, v in loaded.serve(inputs["images"], inputs["windows"]).items()}
    assert not any(name.split(".")[0] in ("vidseg", "mrcnn") for name in sys.modules)
    np.savez(sys.argv[3], **{f"{fmt}/{k}": v for fmt, d in out.items() for k, v in d.items()})
""")


@pytest.fixture(scope="module")
def demo():
    model, _ = load_model({}, MODELS / "shapes.h5")
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory, demo):
    """The demo model exported by the command, checked on a folder of the user's frames."""
    folder = tmp_path_factory.mktemp("export")
    frames = folder / "frames"
    frames.mkdir()
    scene = Scene(np.random.default_rng(11), (360, 480), shapes=(3, 6))
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:03d}.png"), cv2.cvtColor(scene.render(i * 4)[0], cv2.COLOR_RGB2BGR))
    run = subprocess.run([str(VIDSEG), "export-model", "--frames", str(frames), "--count", "3",
                          "--out", str(folder / "shapes")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return folder, run.stdout


def test_every_format_is_written_with_its_passed_check(exported):
    folder, stdout = exported
    for fmt, path in (("onnx", "shapes.onnx"), ("openvino", "shapes.xml"), ("savedmodel", "shapes")):
        assert (folder / path).exists(), fmt
        check = json.loads((folder / f"{path}.check.json").read_text())
        assert check["passed"] and check["format"] == fmt and check["frames"] == 3, check
        assert check["matched"] >= 6 and check["missing"] == check["extra"] == 0, check
        assert check["max_score_diff"] <= 1e-3 and check["min_mask_iou"] >= 0.99, check
        assert f"{folder / path}: {check['summary']}" in stdout
    assert (folder / "shapes.bin").is_file()  # OpenVINO's weights beside its .xml


def test_stock_runtimes_load_the_files_and_find_the_keras_detections(exported, demo, tmp_path):
    folder, _ = exported
    frames = [Scene(np.random.default_rng(12), (480, 640), shapes=(3, 6)).render(i)[0] for i in (0, 9)]
    images, windows, _ = mold_batch(frames, demo.config)
    np.savez(tmp_path / "in.npz", images=images, windows=windows)
    run = subprocess.run([sys.executable, "-c", STOCK, str(folder / "shapes"), str(tmp_path / "in.npz"),
                          str(tmp_path / "out.npz")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    got = np.load(tmp_path / "out.npz")
    want = export._keras_whole(demo, images, windows)
    for fmt in export.FORMATS:
        outputs = {name: got[f"{fmt}/{name}"] for name in export.WHOLE_OUTPUTS}
        assert outputs["masks"].shape == want["masks"].shape  # [B, D, 28, 28]: every slot's mask
        result = export.compare_whole(want, outputs)
        assert result["passed"] and result["matched"] >= 4, (fmt, result["summary"])


def test_compare_whole_catches_a_lost_or_moved_detection(demo):
    frames = [Scene(np.random.default_rng(13), (480, 640), shapes=(3, 6)).render(0)[0]]
    want = export._keras_whole(demo, *mold_batch(frames, demo.config)[:2])
    assert want["count"][0] >= 3 and export.compare_whole(want, want)["passed"]
    lost = {k: v.copy() for k, v in want.items()}
    lost["count"][0] -= 1  # the last detection silently gone (TensorRT #3792's failure)
    result = export.compare_whole(want, lost)
    assert not result["passed"] and result["missing"] == 1 and "1 missing from the export" in result["summary"]
    moved = {k: v.copy() for k, v in want.items()}
    moved["scores"][0, 0] -= 0.01
    assert not export.compare_whole(want, moved)["passed"]
    relabelled = {k: v.copy() for k, v in want.items()}
    relabelled["class_ids"][0, 0] = relabelled["class_ids"][0, 0] % 3 + 1  # another of the 3 shape classes
    result = export.compare_whole(want, relabelled)
    assert result["missing"] == result["extra"] == 1
    assert export.compare_whole(want, {"boxes": want["boxes"]})["summary"].startswith("outputs missing")


def test_a_failed_check_is_written_and_raised_naming_the_file(demo, tmp_path, monkeypatch):
    real = export.run_exported

    def off(path, fmt, inputs):
        out = real(path, fmt, inputs)
        out["p3"] = out["p3"] * 1.01  # a converter's 1 % error in one feature map
        return out

    monkeypatch.setattr(export, "run_exported", off)
    with pytest.raises(VidsegError, match="dense.onnx: the exported model does not match the Keras model"):
        export.export_model(demo, tmp_path / "dense", "onnx", scene_frames(2), part="dense")
    check = json.loads((tmp_path / "dense.onnx.check.json").read_text())
    assert not check["passed"] and check["relative_errors"]["p3"] > 5e-3 and check["relative_errors"]["p2"] < 1e-4


def test_export_errors_name_what_is_wrong(tmp_path, demo):
    run = subprocess.run([str(VIDSEG), "export-model", "--frames", str(tmp_path / "missing.mp4"),
                          "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert run.returncode == 1 and "--frames" in run.stderr and "missing.mp4" in run.stderr
    with pytest.raises(VidsegError, match="export format must be one of savedmodel, onnx, openvino"):
        export.export_model(demo, tmp_path / "x", "tflite", scene_frames(1))


def test_a_missing_runtime_package_is_named(demo, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as where `vidseg[runtimes]` is not installed
    with pytest.raises(VidsegError, match=r"export format onnx needs the tf2onnx package: pip install 'vidseg\[runtimes\]'"):
        export.export_model(demo, tmp_path / "x", "onnx", scene_frames(1))
