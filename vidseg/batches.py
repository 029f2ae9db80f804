"""Frames read and molded ahead of the model, a batch at a time, into reused input buffers.

The model's input is a float32 [B, S, S, 3] array: 100 MB for a batch of 8 at
1024 px. A fresh array per batch makes the kernel map and zero its pages on
first write: 30-40 ms a 1280x720 frame on this project's 2-core CPU (more than
decoding and molding it), ~2.5 ms on the H100 machine's. Two buffers, used in
turn, avoid that. A batch's frames are read and molded by a pool of threads
(OpenCV's decode and resize, and NumPy's whole-array arithmetic, release the GIL).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidseg.frames import read_rgb
from vidseg.maskrcnn.preprocess import Molding, mold_frame, normalized_window


@dataclass
class Batch:
    """Frames `[first, first + count)` being read into `buffer[:count]`."""

    first: int
    count: int
    buffer: np.ndarray
    jobs: list[Future]


class BatchReader:
    """`start` a batch, take its `result` (images, windows, moldings), `recycle` it once the model is done with it.

    Use as a context manager; at most two buffers exist when each batch is
    recycled before the one after next starts (segment_chunk's pattern).
    """

    def __init__(self, frames_dir: str | Path, image_format: str, config, threads: int = 1):
        self.frames_dir = Path(frames_dir)
        self.image_format = image_format
        self.config = config
        self.size = int(config.IMAGE_SHAPE[0])
        self.pool = ThreadPoolExecutor(max(1, int(threads)), thread_name_prefix="read")
        self.spare: list[np.ndarray] = []

    def __enter__(self) -> BatchReader:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def start(self, first: int, count: int) -> Batch:
        """Begin reading frames `[first, first + count)` in the pool's threads."""
        at = next((i for i, b in enumerate(self.spare) if len(b) >= count), None)
        buffer = self.spare.pop(at) if at is not None else np.empty((count, self.size, self.size, 3), np.float32)
        jobs = [self.pool.submit(self._load, first + k, buffer[k]) for k in range(count)]
        return Batch(first, count, buffer, jobs)

    def _load(self, index: int, out: np.ndarray) -> Molding:
        return mold_frame(read_rgb(self.frames_dir, index, self.image_format), self.config, out=out)[1]

    def result(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, list[Molding]]:
        """Wait for the batch: model inputs [count, S, S, 3] (a view of its buffer), windows [count, 4], moldings."""
        moldings = [job.result() for job in batch.jobs]
        windows = np.stack([normalized_window(m.window, self.size) for m in moldings])
        return batch.buffer[: batch.count], windows, moldings

    def recycle(self, batch: Batch) -> None:
        """The batch's buffer may be reused (waits for any of its reads still running)."""
        wait(batch.jobs)
        self.spare.append(batch.buffer)
