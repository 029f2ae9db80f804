"""Broken and awkward videos in one run with good ones: the good ones complete, the bad ones say why.

Also: no shell injection through file names, and two full runs (one of them the shared two-video run) give
identical tables. (A kill -9 inside a
segment job: tests/test_packing.py.)
"""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import seeded_model
from flow import MODEL, REPO, run_raw
from media import frame_times, make_video, stream_info
from vidseg.workflow.plan import PATHS

SHELL_NAME = "a'; touch pwned; ' $(touch pwned2) `touch pwned3`"
# file stem -> (video id, reason fragment of its probe failure)
BAD = {
    "zero bytes": ("zero_bytes", "empty file (0 bytes)"),
    "truncated": ("truncated", "moov atom not found"),
    "text": ("text", "Invalid data found when processing input"),
    "audio only": ("audio_only", "no video stream (streams: ['audio'])"),
    "no frame": ("no_frame", "no decodable video frame"),
}
# file stem -> (video id, frames, displayed width x height)
GOOD = {
    "tiny one frame": ("tiny_one_frame", 1, (16, 16)),
    "odd 321x241": ("odd_321x241", 5, (321, 241)),
    "phone rotated": ("phone_rotated", 10, (64, 96)),
    "vfr": ("vfr", 10, (96, 64)),
    "uhd": ("uhd", 2, (3840, 2160)),
    'it\'s "quoted" & café 日本': ("it_s_quoted_café_日本", 5, (96, 64)),
    SHELL_NAME: ("a_touch_pwned_touch_pwned2_touch_pwned3", 5, (96, 64)),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_messy_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "zero bytes.mp4").write_bytes(b"")
    whole = make_video(folder.parent / "whole.mp4", seconds=2.0, audio=True)  # moov atom at the end
    (folder / "truncated.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    (folder / "text.mp4").write_text("this is not a video\n")
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(folder / "audio only.mp4"))
    front = folder.parent / "front.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(front))
    data = bytearray(front.read_bytes())
    payload = data.find(b"mdat") + 4
    data[payload:] = bytes(len(data) - payload)  # container and stream intact, every frame zeroed
    (folder / "no frame.mp4").write_bytes(bytes(data))

    cut = front.read_bytes()  # index at the front: a cut file still decodes up to the cut
    (folder / "cut short.mp4").write_bytes(cut[: int(len(cut) * 0.7)])

    make_video(folder / "tiny one frame.mp4", seconds=0.1, size="16x16")
    make_video(folder / "odd 321x241.mp4", seconds=0.5, size="322x242", pix_fmt="yuv444p", crop="321:241")
    upright = make_video(folder.parent / "upright.mp4", seconds=1.0, audio=True)
    ffmpeg("-i", str(upright), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(folder / "phone rotated.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1",
           "-vf", r"settb=1/1000,setpts='(N/10+0.04*eq(mod(N\,3)\,1))/TB'", "-fps_mode", "vfr",
           "-enc_time_base", "1/1000", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(folder / "vfr.mp4"))
    make_video(folder / "uhd.mp4", seconds=0.2, size="3840x2160")
    for stem in list(GOOD)[-2:]:
        make_video(folder / f"{stem}.mp4", seconds=0.5, audio=True)


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    make_messy_folder(root / "videos")
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(root / "weights.h5")
    # chunks of 19 frames: the file cut short (20 frames listed, 10 decode) in two, the second with no frame to
    # read; the other 38 frames in three packs (5 segment jobs; at 16 frames a chunk, 7)
    config = {"videos": "videos", "model": MODEL, "weights": str(root / "weights.h5"),
              "segment": {"chunk_size": 19}, "encode": {"preset": "ultrafast"}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    # two segment jobs at a time (one thread each) keep this 8-video run short on 2 cores
    proc = run_raw(root, "--resources", "gpu=2", "--set-threads", "segment=1", "--keep-going", cores=2)
    return root, proc


def test_bad_videos_fail_at_the_probe_with_a_reason_and_the_rest_complete(messy):
    root, proc = messy
    assert proc.returncode == 0, proc.stderr[-4000:]
    status = pd.read_csv(root / "results/status.tsv", sep="\t", keep_default_na=False)
    assert list(status.columns) == ["video", "stage", "status", "reason", "note"]
    rows = {row.video: row for row in status.itertuples()}
    assert set(rows) == {vid for vid, _ in BAD.values()} | {vid for vid, *_ in GOOD.values()} | {"cut_short"}
    for stem, (vid, fragment) in BAD.items():
        row = rows[vid]
        assert (row.stage, row.status) == ("probe", "failed") and fragment in row.reason, row
        assert f"{stem}.mp4" in row.reason  # the reason names the file
        log_lines = (root / f"logs/probe/{vid}.log").read_text().splitlines()
        assert len(log_lines) == 1 and "FAILED at probe" in log_lines[0] and fragment in log_lines[0]
    for vid in [*(vid for vid, *_ in GOOD.values()), "cut_short"]:
        assert (rows[vid].stage, rows[vid].status, rows[vid].reason) == ("done", "ok", ""), rows[vid]
    # the end of the run says it in words too
    assert f"{len(GOOD) + 1} of {len(GOOD) + len(BAD) + 1} videos done, {len(BAD)} failed" in proc.stderr
    # and so does the report: every failure with its reason; a page, reachable by its link, for every video done
    index = (root / PATHS["report"]).read_text()
    for vid, _ in BAD.values():
        assert html.escape(rows[vid].reason) in index
    links = set(re.findall(r'href="(videos/[^"]+\.html)"', index))  # each page linked from its row and its chart row
    assert len(links) == len(GOOD) + 1 and all((root / PATHS["report"]).parent.joinpath(unquote(link)).is_file()
                                               for link in links)


def test_a_file_cut_short_keeps_the_frames_that_decode_and_says_so(messy):
    root, _ = messy
    frames = pd.read_parquet(root / "results/frames/video_id=cut_short")
    assert 0 < len(frames) < 20 and frames.frame.tolist() == list(range(len(frames)))
    log = (root / "logs/frames/cut_short.log").read_text()
    assert f"the container lists 20 frames but only {len(frames)} decode" in log
    (video,) = [s for s in stream_info(root / "results/videos/cut_short.mp4") if s["codec_type"] == "video"]
    assert int(video["nb_read_frames"]) == len(frames)


def test_dataset_tables_cover_exactly_the_good_videos(messy):
    root, _ = messy
    good = {vid for vid, *_ in GOOD.values()} | {"cut_short"}
    frames = pd.read_parquet(root / "results/frames")
    assert set(frames.video_id.astype(str)) == good
    counts = frames.groupby(frames.video_id.astype(str)).size().to_dict()
    assert {vid: counts[vid] for vid, *_ in GOOD.values()} == {vid: n for vid, n, _ in GOOD.values()}
    detections = pd.read_parquet(root / "results/detections")
    assert set(detections.video_id.astype(str)) <= good
    sizes = detections.groupby(detections.video_id.astype(str))[["width", "height"]].first()
    for vid, _, size in GOOD.values():
        if vid in sizes.index:
            assert tuple(sizes.loc[vid]) == size
    summary = pd.read_csv(root / "results/summary.csv")
    assert set(summary.video_id) <= good
    assert sorted(p.stem for p in (root / "results/videos").glob("*.mp4")) == sorted(good)


def test_rotation_vfr_odd_tiny_and_large_frames_come_out_right(messy):
    root, _ = messy
    for vid, n_frames, (width, height) in GOOD.values():
        (video,) = [s for s in stream_info(root / f"results/videos/{vid}.mp4") if s["codec_type"] == "video"]
        assert int(video["nb_read_frames"]) == n_frames, vid
        # upright (rotation applied to the pixels), padded to even sizes for yuv420p
        assert (video["width"], video["height"]) == (width + width % 2, height + height % 2), vid
        assert not video.get("side_data_list"), vid
    source = frame_times(root / "videos/vfr.mp4")
    assert len(set(np.round(np.diff(source), 3))) > 1  # really variable
    np.testing.assert_allclose(frame_times(root / "results/videos/vfr.mp4"), source, atol=2e-3)
    rotated = {s["codec_type"] for s in stream_info(root / "results/videos/phone_rotated.mp4")}
    assert rotated == {"video", "audio"}


def test_file_names_cannot_inject_shell_commands(messy):
    root, _ = messy
    leaked = [p for p in [*root.rglob("pwned*"), *Path.cwd().glob("pwned*"), *REPO.glob("pwned*")] if p.is_file()]
    assert leaked == []
    probe = json.loads((root / "results/probe/a_touch_pwned_touch_pwned2_touch_pwned3.json").read_text())
    assert probe["ok"] and probe["path"].endswith(f"{SHELL_NAME}.mp4")


def test_default_profile_keeps_going():
    profile = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert profile["keep-going"] is True and profile["rerun-incomplete"] is True


def test_two_full_runs_give_identical_tables(two_video_run, tmp_path):
    """The street clip again, its 15 frames in one segment job of 2 threads (2 model streams) against the shared
    run's two jobs of 1 thread (the same batches of 2 frames): the same tables (vidseg.inference.threads)."""
    if "one stream on the GPU" in (two_video_run / "logs/segment/street_clip.0000.log").read_text():
        pytest.skip("the shared run segmented on a GPU (TensorFlow's CUDA build): this compares CPU model streams")
    (tmp_path / "videos").mkdir()
    shutil.copy(two_video_run / "videos/street clip.mp4", tmp_path / "videos")
    config = yaml.safe_load((two_video_run / "config.yaml").read_text())
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**config, "segment": {**config["segment"], "chunk_size": 16}}))
    proc = run_raw(tmp_path, PATHS["detections"].format(video="street_clip"), cores=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TensorFlow uses 2 threads" in (tmp_path / "logs/segment/street_clip.0000.log").read_text()
    for unit in ("street_clip.0000", "street_clip.0001"):
        log = (two_video_run / f"logs/segment/{unit}.log").read_text()
        assert "TensorFlow uses 1 thread " in log
        assert "C heap: freed memory kept for the next frames" in log  # vidseg.core.allocator, on Linux's glibc
    for kind in ("detections", "frames"):
        part = f"results/{kind}/video_id=street_clip/part-0.parquet"
        first, second = (pd.read_parquet(root / part) for root in (two_video_run, tmp_path))
        assert len(first) > 0
        pd.testing.assert_frame_equal(first, second)
