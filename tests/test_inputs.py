import pytest

from vidseg.core.errors import VidsegError
from vidseg.workflow.inputs import resolve_videos, video_id


def test_ids_from_stems_are_sanitized():
    assert video_id("/x/My Holiday (2).MP4") == "My_Holiday_2"
    assert video_id("a'; touch pwned; '.mp4") == "a_touch_pwned"
    assert video_id("ünïcode 日本.mov") == "ünïcode_日本"
    assert video_id("cafe\u0301.mp4") == video_id("caf\u00e9.mp4") == "caf\u00e9"  # NFC
    assert video_id("....mp4") == "video"


def test_folder_glob_and_sheet(tmp_path):
    for name in ["b.mp4", "a clip.mov", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert resolve_videos(str(tmp_path)) == {"a_clip": str(tmp_path / "a clip.mov"), "b": str(tmp_path / "b.mp4")}
    assert resolve_videos(str(tmp_path / "*.mp4")) == {"b": str(tmp_path / "b.mp4")}
    sheet = tmp_path / "videos.tsv"
    sheet.write_text("video_id\tpath\ncam1\tb.mp4\ncam2\t/abs/c.mp4\n")
    assert resolve_videos(str(sheet)) == {"cam1": str(tmp_path / "b.mp4"), "cam2": "/abs/c.mp4"}
    assert resolve_videos("videos.tsv", base_dir=tmp_path)["cam1"] == str(tmp_path / "b.mp4")


def test_duplicate_ids_and_bad_input_are_clear_errors(tmp_path):
    (tmp_path / "a b.mp4").write_bytes(b"x")
    (tmp_path / "a_b.mkv").write_bytes(b"x")
    with pytest.raises(VidsegError, match="two videos get the id 'a_b'"):
        resolve_videos(str(tmp_path))
    with pytest.raises(VidsegError, match="config key 'videos'.*not a folder"):
        resolve_videos(str(tmp_path / "missing"))
    sheet = tmp_path / "s.tsv"
    sheet.write_text("id\tfile\nx\ty\n")
    with pytest.raises(VidsegError, match="s.tsv: needs a header"):
        resolve_videos(str(sheet))
    sheet.write_text("video_id\tpath\nbad id\ty.mp4\n")
    with pytest.raises(VidsegError, match="s.tsv, line 2: video_id 'bad id'"):
        resolve_videos(str(sheet))


def test_ground_truths_pair_videos_with_json_files(tmp_path):
    from vidseg.workflow.inputs import ground_truths

    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "a.json").write_text("{}")
    (tmp_path / "gt" / "stray.json").write_text("{}")
    assert ground_truths(tmp_path / "gt", {"a": "a.mp4", "b": "b.mp4"}) == {"a": str(tmp_path / "gt" / "a.json")}
    with pytest.raises(VidsegError, match="config key 'ground_truth'"):
        ground_truths(tmp_path / "nowhere", {"a": "a.mp4"})
