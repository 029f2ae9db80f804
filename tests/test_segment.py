import pytest

from vidseg.errors import VidsegError
from vidseg.maskrcnn import COCO_CLASS_NAMES, Config
from vidseg.segment import chunk_range, class_names_for


def test_chunks_cover_every_frame_once_whatever_the_probe_said():
    # probe said 10 frames (chunk 4 -> 3 chunks); the video really has 13: the last chunk takes the rest
    assert [chunk_range(c, 4, 3, 13) for c in range(3)] == [(0, 4), (4, 8), (8, 13)]
    # probe said 12 (3 chunks); the video really has 6: later chunks are empty, none overlaps
    assert [chunk_range(c, 4, 3, 6) for c in range(3)] == [(0, 4), (4, 6), (6, 6)]


def test_class_names():
    assert class_names_for(Config(num_classes=81), None) == list(COCO_CLASS_NAMES)
    assert class_names_for(Config(num_classes=3), ["BG", "a", "b"]) == ["BG", "a", "b"]
    with pytest.raises(VidsegError, match="'class_names' is needed"):
        class_names_for(Config(num_classes=3), None)
    with pytest.raises(VidsegError, match="has 2 names for 3 classes"):
        class_names_for(Config(num_classes=3), ["BG", "a"])
