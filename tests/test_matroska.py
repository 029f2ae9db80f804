"""The Matroska stream of raw frames (vidseg.media.matroska), read back by ffprobe: every frame's time and duration."""

import subprocess

import numpy as np
import pytest

from vidseg.media import matroska


def test_sizes_take_the_shortest_form_and_skip_the_reserved_all_ones():
    assert matroska._size(0) == b"\x80" and matroska._size(126) == b"\xfe"
    assert matroska._size(127) == b"\x40\x7f"  # 0xff would mean "unknown size"
    assert matroska._size(2_764_800) == b"\x10\x2a\x30\x00"  # a 1280x720 BGR frame
    with pytest.raises(ValueError):
        matroska.frame_wrapping(-1, 10, 100)


def test_ffprobe_reads_each_frame_at_its_time_for_its_duration(tmp_path):
    width, height = 6, 4
    times = [0, 100_000, 130_000, 1_500_000]  # microseconds: a gap, as a damaged file has
    durations = [100_000, 30_000, 1_370_000, 250_000]
    frame = np.arange(width * height * 3 // 2, dtype=np.uint8).tobytes()
    with open(tmp_path / "raw.mkv", "wb") as f:
        f.write(matroska.header(width, height, b"I420"))
        for t, d in zip(times, durations):
            before, after = matroska.frame_wrapping(t, d, len(frame))
            f.write(before + frame + after)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,pix_fmt:"
                          "packet=pts_time,duration_time,size", "-of", "csv=p=0", str(tmp_path / "raw.mkv")],
                         check=True, capture_output=True, text=True).stdout.split()
    packets = [line.split(",") for line in out if line.count(",") == 2]
    assert [(float(p), float(d), int(s)) for p, d, s in packets] == [
        (t / 1e6, d / 1e6, len(frame)) for t, d in zip(times, durations)]
    assert "rawvideo,6,4,yuv420p" in out
