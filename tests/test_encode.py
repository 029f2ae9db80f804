"""Encoding drawn frames into the annotated MP4: timed like the source (constant-rate, variable-rate, damaged,
late-starting), audio whole, the encoder settings of the `encode:` config."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from media import frame_times, make_video, stream_info
from vidseg.core.errors import ConfigError, EncoderError, VidsegError
from vidseg.media.encode import encode, frame_clock
from vidseg.media.encoders import EncodeSettings
from vidseg.media.frames import extract, read_frames
from vidseg.media.probe import probe

FAST = EncodeSettings(preset="ultrafast")


def reencoded(video: Path, tmp_path: Path, settings: EncodeSettings = FAST) -> tuple[list[float], dict, Path]:
    """The video's frames as the frames stage extracts them, encoded back as the annotate stage does."""
    record = probe(video)
    times = extract(video, tmp_path / "frames", start_s=record["start_s"])
    out = tmp_path / "out.mp4"
    frames = read_frames(tmp_path / "frames", len(times), "jpg")
    assert encode(frames, times, record, video, out, settings) == len(times)
    return times, record, out


def streams(path: Path) -> dict[str, dict]:
    return {s["codec_type"]: s for s in stream_info(path)}


def extent(path: Path, kind: str) -> tuple[float, float]:
    """When a stream (`v` or `a`) starts and when its last frame stops showing, from its packets, in seconds
    from the file's start."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", kind, "-show_entries",
                          "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    packets = [line.split(",")[:2] for line in out.split()]
    start = float(probe(path)["start_s"])
    return (min(float(pts) for pts, _ in packets) - start,
            max(float(pts) + float(duration) for pts, duration in packets if duration != "N/A") - start)


def assert_timed_like(source: Path, out: Path, times: list[float], frame_s: float) -> None:
    """Every frame at its source time; the video ends within one frame of the source's, the audio starts and
    ends within 50 ms of the source's."""
    np.testing.assert_allclose(frame_times(out), times, atol=1e-3)
    assert abs(extent(out, "v")[1] - extent(source, "v")[1]) <= frame_s + 1e-3
    if "audio" in streams(source):
        np.testing.assert_allclose(extent(out, "a"), extent(source, "a"), atol=0.05)


def test_constant_rate_with_audio(tmp_path):
    video = make_video(tmp_path / "in.mp4", seconds=1.5, fps="12", audio=True)
    times, _, out = reencoded(video, tmp_path)
    v = streams(out)["video"]
    assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p" and v["avg_frame_rate"] == "12/1"
    assert int(v["nb_read_frames"]) == len(times) == 18
    assert_timed_like(video, out, times, 1 / 12)
    assert streams(out)["audio"]["codec_name"] == "aac"


def test_variable_rate_keeps_every_frame_time(tmp_path):
    """Frames 0.1 s apart, every third one 0.03 s later, the last one 0.1 s later still; in Matroska (as
    browsers and screen recorders write variable-rate video), where the audio runs 0.07 s past the picture."""
    video = tmp_path / "vfr.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2.2",
                    "-vf", "settb=1/1000,setpts='(N/10+0.03*eq(mod(N,3),1)+0.1*eq(N,19))/TB'",
                    "-fps_mode", "vfr", "-enc_time_base", "1/1000",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video)], check=True)
    times, _, out = reencoded(video, tmp_path)
    gaps = np.diff(times)
    assert len(times) == 20 and gaps[0] == pytest.approx(0.13, abs=2e-3) and gaps[-1] == pytest.approx(0.23, abs=2e-3)
    assert_timed_like(video, out, times, 0.1)


def test_a_damaged_file_keeps_its_gap_and_its_length(tmp_path):
    """Bytes zeroed in the middle of an MP4 (24 frames over 2.0 s listed): the frames that decode keep their
    true times, the gap stays a gap (the frame before it is held), the video lasts 2.0 s and the audio too."""
    whole = tmp_path / "whole.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=12:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2", "-c:a", "aac",
                    "-c:v", "libx264", "-g", "4", "-bf", "0", "-pix_fmt", "yuv420p", str(whole)], check=True)
    data = bytearray(whole.read_bytes())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4:at], "big")
    start = at + 4 + size * 2 // 5
    data[start:start + size // 5] = bytes(size // 5)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))

    times, record, out = reencoded(damaged, tmp_path)
    assert record["n_frames"] == 24 and 12 <= len(times) < 24
    assert max(np.diff(times)) > 0.2  # the gap
    assert_timed_like(damaged, out, times, 1 / 12)
    assert extent(out, "v")[1] == pytest.approx(2.0, abs=1 / 12)


def test_a_video_that_starts_after_its_audio_keeps_the_offset_and_odd_sizes_are_padded(tmp_path):
    made = make_video(tmp_path / "made.mp4", seconds=1.0, size="34x22", fps="10", pix_fmt="yuv444p", crop="33:21")
    video = tmp_path / "late.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-itsoffset", "0.5", "-i", str(made), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100:duration=1.5", "-map", "0:v", "-map", "1:a",
                    "-c:v", "copy", "-c:a", "aac", str(video)], check=True)
    times, _, out = reencoded(video, tmp_path)
    assert times[0] == pytest.approx(0.5, abs=0.01)
    assert_timed_like(video, out, times, 0.1)
    v = streams(out)["video"]
    assert (v["width"], v["height"]) == (34, 22) and stream_info(video)[0]["width"] == 33
    assert float(v["start_time"]) == pytest.approx(0.5, abs=0.01)


def test_an_mpeg_ts_keeps_the_gap_between_its_audio_and_its_video(tmp_path):
    """A transport stream starts its clock at about 1.5 s, and its audio 23 ms before its video: frame times count
    from the file's start, and the annotated video keeps the audio 23 ms ahead of the picture."""
    video = tmp_path / "clip.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1",
                    "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-c:a", "aac", str(video)], check=True)
    times, record, out = reencoded(video, tmp_path)
    (video_start, _), (audio_start, _) = extent(video, "v"), extent(video, "a")
    assert record["start_s"] > 1 and audio_start == 0 and video_start > 0.01
    assert times[0] == pytest.approx(video_start, abs=1e-3)
    assert extent(out, "v")[0] - extent(out, "a")[0] == pytest.approx(video_start - audio_start, abs=2e-3)
    assert_timed_like(video, out, times, 0.1)


def test_frame_clock_orders_every_frame_and_gives_the_last_its_duration():
    starts, durations = frame_clock([1.0, 1.1, 1.1, 1.05, 1.3], 0.25, 90000)
    tick = 12  # microseconds: one 1/90000 s tick, rounded up
    assert starts.tolist() == [0, 100000, 100000 + tick, 100000 + 2 * tick, 300000]
    assert durations.tolist() == [100000, tick, tick, 200000 - 2 * tick, 250000]


def test_frames_and_times_must_agree(tmp_path):
    video = make_video(tmp_path / "in.mp4", seconds=0.5, fps="10")
    times = extract(video, tmp_path / "frames")
    frames = list(read_frames(tmp_path / "frames", len(times), "jpg"))
    with pytest.raises(VidsegError, match="4 frames for 5 frame times"):
        encode(iter(frames[:4]), times, probe(video), video, tmp_path / "a.mp4", FAST)
    with pytest.raises(VidsegError, match="frame 0 is 10x10"):
        encode(iter([np.zeros((10, 10, 3), np.uint8)]), times, probe(video), video, tmp_path / "b.mp4", FAST)
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()


def test_encode_settings_name_the_config_key():
    assert EncodeSettings().args(2) == ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-threads", "2"]
    assert EncodeSettings("h264_nvenc", crf=23).args(2) == ["-c:v", "h264_nvenc", "-preset", "p4", "-rc", "vbr",
                                                             "-cq", "23", "-b:v", "0"]
    with pytest.raises(ConfigError, match="'encode.encoder'"):
        EncodeSettings.from_config({"encoder": "h265"})
    with pytest.raises(ConfigError, match="'encode.preset': 'p4' is not a preset of libx264"):
        EncodeSettings.from_config({"preset": "p4"})
    with pytest.raises(ConfigError, match="unknown key"):
        EncodeSettings.from_config({"quality": 3})


def test_a_hardware_encoder_that_cannot_run_gives_an_encoder_error(tmp_path):
    """This machine has no NVIDIA GPU: ffmpeg either lacks h264_nvenc or cannot open it; either way an
    EncoderError (the annotate stage falls back to libx264 on it: tests/test_encode_render.py)."""
    video = make_video(tmp_path / "in.mp4", seconds=0.5, fps="10")
    times = extract(video, tmp_path / "frames")
    with pytest.raises(EncoderError, match="h264_nvenc"):
        encode(read_frames(tmp_path / "frames", len(times), "jpg"), times, probe(video), video, tmp_path / "o.mp4",
               EncodeSettings("h264_nvenc"))
    assert not (tmp_path / "o.mp4").exists()
