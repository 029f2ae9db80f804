"""Memory of the segment, render and encode stages does not grow with the video's length."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import seeded_model
from flow import MODEL
from media import make_video
from vidseg.frames import extract, write_index

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A 1 s and a 10 s video (160x120, 10 fps, audio), decoded, with seeded weights."""
    root = tmp_path_factory.mktemp("memory")
    model = {k: v for k, v in MODEL.items() if k != "name"}
    weights = root / "weights.h5"
    seeded_model(0, **model).save_weights(weights)
    out = {}
    for name, seconds in [("short", 1), ("long", 10)]:
        work = root / name
        make_video(work / "video.mp4", seconds=seconds, size="160x120", audio=True)
        write_index(extract(work / "video.mp4", work / "frames"), work / "index.tsv")
        (work / "weights.h5").symlink_to(weights)
        (work / "model.json").write_text(json.dumps(model))
        out[name] = work
    return out


def peaks(stage: str, work: Path) -> dict[str, int]:
    """Peak KiB of the stage's own process and of its largest child (ffmpeg, for encode)."""
    proc = subprocess.run([sys.executable, str(HERE / "stage_memory.py"), stage, str(work)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_peak_memory_of_a_10x_longer_video_stays_within_20_percent(videos):
    ratios = {}
    for stage in ("segment", "render", "encode"):  # in order: each stage reads what the one before wrote
        short, long = peaks(stage, videos["short"]), peaks(stage, videos["long"])
        ratios[stage] = (short["self_kib"], long["self_kib"])
        if stage == "encode":
            ratios["encode (ffmpeg)"] = (short["children_kib"], long["children_kib"])
    print({stage: f"{s / 1024:.0f} -> {lg / 1024:.0f} MiB (x{lg / s:.3f})" for stage, (s, lg) in ratios.items()})
    assert all(lg / s < 1.2 for s, lg in ratios.values()), ratios
