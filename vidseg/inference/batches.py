"""Frames read and molded ahead of the model, a batch at a time, into reused input buffers.

The model's input is a float32 [B, S, S, 3] array: 100 MB for a batch of 8 at
1024 px. A fresh array per batch makes the kernel map and zero its pages on
first write: 30-40 ms a 1280x720 frame on this project's 2-core CPU (more than
decoding and molding it), ~2.5 ms on the H100 machine's. Buffers used in turn
(one per batch in the model, plus the one read ahead) avoid that. A batch's frames are read and molded by a pool of threads
(OpenCV's decode and resize, and NumPy's whole-array arithmetic, release the GIL).
A batch may hold frames of several videos (a pack's, vidseg.workflow.packs): each frame
names its folder, and a frame that cannot be read names its video.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from vidseg.core.errors import VidsegError
from vidseg.maskrcnn.preprocess import Molding, mold_frame, normalized_window
from vidseg.media.frames import read_rgb


class Frame(NamedTuple):
    """Frame `index` of `video`, an image in `folder` (vidseg.media.frames.frame_name)."""

    video: str
    folder: Path
    index: int


def frames_of(video: str, folder: str | Path, first: int, end: int) -> list[Frame]:
    """`video`'s frames `[first, end)`, in `folder`."""
    return [Frame(video, Path(folder), index) for index in range(first, end)]


class UnreadableFrame(VidsegError):
    """A frame of a batch could not be read; `frame` says which."""

    def __init__(self, frame: Frame, reason: str):
        super().__init__(reason)
        self.frame = frame


@dataclass
class Batch:
    """`frames` being read into `buffer[:count]`."""

    frames: tuple[Frame, ...]
    buffer: np.ndarray
    jobs: list[Future]

    @property
    def count(self) -> int:
        return len(self.frames)


class BatchReader:
    """`start` a batch, take its `result` (images, windows, moldings), `recycle` it once the model is done with it.

    Use as a context manager. Buffers are made as needed and reused once
    recycled: vidseg.inference.segment holds one per batch in the model and one read
    ahead, so a job of n streams makes n + 1.
    """

    def __init__(self, image_format: str, config, threads: int = 1):
        self.image_format = image_format
        self.config = config
        self.size = int(config.IMAGE_SHAPE[0])
        self.pool = ThreadPoolExecutor(max(1, int(threads)), thread_name_prefix="read")
        self.spare: list[np.ndarray] = []

    def __enter__(self) -> BatchReader:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def start(self, frames: Sequence[Frame]) -> Batch:
        """Begin reading `frames` in the pool's threads."""
        count = len(frames)
        at = next((i for i, b in enumerate(self.spare) if len(b) >= count), None)
        buffer = self.spare.pop(at) if at is not None else np.empty((count, self.size, self.size, 3), np.float32)
        jobs = [self.pool.submit(self._load, frame, buffer[k]) for k, frame in enumerate(frames)]
        return Batch(tuple(frames), buffer, jobs)

    def _load(self, frame: Frame, out: np.ndarray) -> Molding:
        try:
            image = read_rgb(frame.folder, frame.index, self.image_format)
        except VidsegError as err:
            raise UnreadableFrame(frame, str(err)) from None
        return mold_frame(image, self.config, out=out)[1]

    def result(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, list[Molding]]:
        """Wait for the batch: model inputs [count, S, S, 3] (a view of its buffer), windows [count, 4], moldings.
        A frame that cannot be read raises UnreadableFrame."""
        moldings = [job.result() for job in batch.jobs]
        windows = np.stack([normalized_window(m.window, self.size) for m in moldings])
        return batch.buffer[: batch.count], windows, moldings

    def recycle(self, batch: Batch) -> None:
        """The batch's buffer may be reused (waits for any of its reads still running)."""
        wait(batch.jobs)
        self.spare.append(batch.buffer)
