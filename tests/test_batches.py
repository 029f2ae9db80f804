"""Frames read and molded ahead of the model into reused buffers (vidseg.inference.batches)."""

import cv2
import numpy as np
import pytest

from vidseg.core.errors import VidsegError
from vidseg.inference.batches import BatchReader, Frame, UnreadableFrame, frames_of
from vidseg.maskrcnn import Config
from vidseg.maskrcnn.preprocess import mold_batch
from vidseg.media.frames import frame_name


@pytest.fixture
def frames(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (30, 50, 3), dtype=np.uint8) for _ in range(7)]
    for i, image in enumerate(images):
        cv2.imwrite(str(tmp_path / frame_name(i, "png")), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return tmp_path, images


@pytest.mark.parametrize("threads", [1, 3])
def test_batches_equal_mold_batch_and_two_buffers_take_turns(frames, threads):
    folder, images = frames
    config = Config(image_min_dim=0, image_max_dim=64)
    buffers = set()
    with BatchReader("png", config, threads) as reader:
        ahead = reader.start(frames_of("v", folder, 0, 3))
        for first in (0, 3, 6):  # the last batch is partial
            current = ahead
            got = reader.result(current)
            following = first + current.count
            ahead = reader.start(frames_of("v", folder, following, min(following + 3, 7))) if following < 7 else None
            want = mold_batch(images[first:first + 3], config)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
            assert got[2] == want[2]
            buffers.add(id(current.buffer))
            reader.recycle(current)
    assert len(buffers) == 2


def test_a_batch_recycled_while_reading_does_not_corrupt_the_next(frames):
    folder, images = frames
    config = Config(image_min_dim=0, image_max_dim=64)
    with BatchReader("png", config, 2) as reader:
        stale = reader.start(frames_of("v", folder, 0, 4))
        reader.recycle(stale)  # waits for its reads before the buffer is reused
        batch = reader.start(frames_of("v", folder, 3, 7))
        assert batch.buffer is stale.buffer
        np.testing.assert_array_equal(reader.result(batch)[0], mold_batch(images[3:7], config)[0])


def test_an_unreadable_frame_is_a_clear_error_naming_its_video(frames):
    folder, _ = frames
    (folder / frame_name(2, "png")).write_bytes(b"not a png")
    with BatchReader("png", Config(image_min_dim=0, image_max_dim=64)) as reader:
        with pytest.raises(VidsegError, match="cannot read frame image .*000002.png") as raised:
            reader.result(reader.start(frames_of("v", folder, 0, 4)))
    assert isinstance(raised.value, UnreadableFrame) and raised.value.frame == Frame("v", folder, 2)


def test_a_batch_spans_videos_in_their_own_folders(frames, tmp_path_factory):
    """A pack's batch: the last frames of one video and the first of the next, each from its folder."""
    folder, images = frames
    other = tmp_path_factory.mktemp("other")
    flipped = [image[::-1].copy() for image in images[:2]]
    for i, image in enumerate(flipped):
        cv2.imwrite(str(other / frame_name(i, "png")), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    config = Config(image_min_dim=0, image_max_dim=64)
    with BatchReader("png", config, 2) as reader:
        got = reader.result(reader.start(frames_of("a", folder, 5, 7) + frames_of("b", other, 0, 2)))
    np.testing.assert_array_equal(got[0], mold_batch(images[5:7] + flipped, config)[0])
