import numpy as np
import pytest

from media import make_video
from vidseg.core.errors import VidsegError
from vidseg.media.frames import extract, read_index, read_rgb, write_index


def test_every_frame_with_its_time(tmp_path):
    video = make_video(tmp_path / "v.mp4", seconds=1.0, fps="30000/1001")
    times = extract(video, tmp_path / "frames")
    assert len(times) == 30 and sorted(p.name for p in (tmp_path / "frames").iterdir())[:2] == ["000000.jpg", "000001.jpg"]
    np.testing.assert_allclose(times, np.arange(30) * 1001 / 30000, atol=1e-3)
    write_index(times, tmp_path / "index.tsv")
    np.testing.assert_allclose(read_index(tmp_path / "index.tsv"), times, atol=1e-6)


def test_frames_are_read_as_rgb(tmp_path):
    video = make_video(tmp_path / "red.mp4", seconds=0.2, source="color=c=red:")
    extract(video, tmp_path / "frames", image_format="png")
    r, g, b = read_rgb(tmp_path / "frames", 0, "png").reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 40 and b < 40


def test_undecodable_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(VidsegError, match="bad.mp4: ffmpeg cannot decode it"):
        extract(bad, tmp_path / "frames")
