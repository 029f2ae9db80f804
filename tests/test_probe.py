import subprocess
from fractions import Fraction

import pytest

from media import make_video
from vidseg.core.errors import VidsegError
from vidseg.media.probe import normalize, parse_rate, probe


def raw(video=None, audio=False, fmt=None):
    stream = {"codec_type": "video", "codec_name": "h264", "width": 640, "height": 480,
              "avg_frame_rate": "30000/1001", "r_frame_rate": "30000/1001", "nb_frames": "300", "duration": "10.01"}
    stream.update(video or {})
    streams = [stream] + ([{"codec_type": "audio", "codec_name": "aac"}] if audio else [])
    return {"streams": streams, "format": fmt or {"duration": "10.01"}}


def test_rates():
    assert parse_rate("30000/1001") == Fraction(30000, 1001)
    assert parse_rate("25") == 25
    assert parse_rate("0/0") is None and parse_rate("1/0") is None and parse_rate("90000/1") is None
    assert parse_rate("") is None and parse_rate(None) is None and parse_rate("abc") is None


def test_normalize_fields():
    info = normalize(raw(audio=True), "v.mp4")
    assert (info["fps_num"], info["fps_den"]) == (30000, 1001)
    assert (info["width"], info["height"], info["rotation"]) == (640, 480, 0)
    assert info["n_frames"] == 300 and info["n_frames_exact"] and info["has_audio"] and info["audio_codec"] == "aac"
    assert not info["variable_frame_rate"] and info["duration_s"] == pytest.approx(10.01)


def test_rotation_fallbacks_and_vfr():
    rotated = normalize(raw({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}), "p.mp4")
    assert (rotated["width"], rotated["height"], rotated["rotation"]) == (480, 640, 90)
    assert normalize(raw({"tags": {"rotate": "180"}}), "p.mp4")["rotation"] == 180
    fallback = normalize(raw({"avg_frame_rate": "0/0", "r_frame_rate": "25/1", "nb_frames": None}), "x.mkv")
    assert fallback["fps"] == 25 and fallback["n_frames"] == 250 and not fallback["n_frames_exact"]
    assert normalize(raw({"avg_frame_rate": "2997/100", "r_frame_rate": "30/1"}), "v.mp4")["variable_frame_rate"]


def test_unusable_streams_are_errors_naming_the_file():
    with pytest.raises(VidsegError, match="song.m4a: no video stream"):
        normalize({"streams": [{"codec_type": "audio"}], "format": {}}, "song.m4a")
    with pytest.raises(VidsegError, match="odd.mp4: no usable frame rate"):
        normalize(raw({"avg_frame_rate": "0/0", "r_frame_rate": "0/0"}), "odd.mp4")


def test_probe_real_files(tmp_path):
    info = probe(make_video(tmp_path / "a.mp4", seconds=1.5, fps="12", audio=True))
    assert info["fps"] == 12 and info["n_frames"] == 18 and info["has_audio"] and (info["width"], info["height"]) == (96, 64)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VidsegError, match="empty.mp4: empty file"):
        probe(empty)
    text = tmp_path / "text.mp4"
    text.write_text("hello")
    with pytest.raises(VidsegError, match="text.mp4: ffprobe cannot read it"):
        probe(text)


def test_the_video_end_is_when_its_last_frame_stops_showing(tmp_path):
    """From the last packets where they carry durations (a Matroska file whose audio outlasts the picture by
    0.2 s: the file's duration is not the video's); else the video stream's start plus duration."""
    video = tmp_path / "v.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1",
                    "-f", "lavfi", "-i", "sine=duration=1.2", "-c:v", "libx264", "-c:a", "aac", str(video)],
                   check=True)
    info = probe(video)
    assert info["duration_s"] == pytest.approx(1.2, abs=0.03)
    assert info["video_end_s"] == pytest.approx(1.0, abs=0.03)
    late = raw({"start_time": "0.5"}, fmt={"duration": "10.51", "start_time": "0.0"})
    assert normalize(late, "v.mp4")["video_end_s"] == pytest.approx(10.51)
    assert normalize(raw({"duration": None}), "v.mkv")["video_end_s"] == pytest.approx(10.01)


def test_probe_records_say_why_a_file_is_unusable(tmp_path):
    from vidseg.media.probe import probe_record

    good = probe_record("a", make_video(tmp_path / "a.mp4", seconds=0.5))
    assert good["ok"] and good["video_id"] == "a" and good["n_frames"] == 5
    front = tmp_path / "front.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1",
                    "-c:v", "libx264", "-movflags", "+faststart", str(front)], check=True)
    data = bytearray(front.read_bytes())
    start = data.find(b"mdat") + 4
    data[start:] = bytes(len(data) - start)
    zeroed = tmp_path / "zeroed frames.mp4"
    zeroed.write_bytes(bytes(data))
    record = probe_record("zeroed", zeroed)
    assert record == {"video_id": "zeroed", "ok": False, "path": str(zeroed), "reason": record["reason"]}
    assert record["reason"].startswith(f"{zeroed}: no decodable video frame") and "\n" not in record["reason"]
    missing = probe_record("gone", tmp_path / "gone.mp4")
    assert not missing["ok"] and missing["reason"] == f"{tmp_path / 'gone.mp4'}: no such file"
