"""The README's "Coming from matterport" video loop runs as written, on the bundled demo model."""

import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(heading: str) -> str:
    """The first ```python block after `heading` in the README."""
    text = README.read_text()
    return re.search(r"```python\n(.*?)```", text[text.index(heading):], re.S).group(1)


def frames_of(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return out
        out.append(frame)


def test_the_video_loop_of_the_readme_draws_the_demo_models_detections(tmp_path):
    code = readme_block("## Coming from matterport")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = int(re.search(r"(\d+) objects drawn into shapes_masked.mp4", proc.stdout).group(1))
    source, drawn = frames_of(tmp_path / "shapes.mp4"), frames_of(tmp_path / "shapes_masked.mp4")
    assert len(source) == len(drawn) == 20 and found >= len(source)  # the demo video has shapes in every frame
    changed = [np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 40 for a, b in zip(source, drawn)]
    assert all(c.mean() > 0.005 for c in changed)  # masks and boxes drawn on every frame
