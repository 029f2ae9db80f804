"""The inference model under Keras's JAX backend: the generic keras.ops paths, no TensorFlow imported; matterport's
API (`mrcnn`) on it too."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import matched


def test_the_model_runs_under_jax_with_the_same_detections(small_model, frames, tmp_path):
    small_model.save_weights(tmp_path / "weights.h5")
    np.savez(tmp_path / "frames.npz", *frames[:2])
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("backend_run.py")), "jax",
                           str(tmp_path / "weights.h5"), str(tmp_path / "frames.npz"), str(tmp_path / "out.npz")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    assert not out["tensorflow_imported"]  # the JAX run never touched TensorFlow, mrcnn's included
    assert out["mrcnn_equal"]  # mrcnn.model's detect under JAX: vidseg's detections under JAX, exactly
    total = agree = 0
    for i, want in enumerate(small_model.detect(frames[:2])):
        got = (out[f"boxes{i}"], out[f"class_ids{i}"], out[f"scores{i}"])
        assert len(got[1]) == len(want)
        total += len(want)
        agree += matched(want.boxes, want.class_ids, want.scores, *got)
        # masks: about the same areas where the same detection sits in the same slot (random weights
        # leave many mask probabilities near 0.5, where rounding flips pixels)
        same_slot = (got[1] == want.class_ids) & (np.abs(got[0] - want.boxes).max(axis=1) <= 1)
        np.testing.assert_allclose(out[f"areas{i}"][same_slot], want.mask_areas[same_slot], rtol=0.1, atol=5)
    # random weights make many near-ties; a rounding difference may flip one NMS decision
    assert agree >= 0.9 * total, (agree, total)
