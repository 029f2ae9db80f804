"""The segment stage: one contiguous range of a video's frames, or a pack of short videos, through the model.

The model loads once per job; frames are read as RGB and run in batches of
IMAGES_PER_GPU (a last partial batch padded with blank frames: one traced
shape). A batch that runs out of memory is retried at half the size (down to
one frame), with a log line, and
the smaller size is kept for the rest of the chunk. A progress line with
frames done / total and frames per second goes to the log.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vidseg.errors import VidsegError
from vidseg.batches import BatchReader
from vidseg.cpu import precision_warning
from vidseg.frames import read_index
from vidseg.maskrcnn import MaskRCNN
from vidseg.modelfile import class_names_for, model_file_for, resolve_model
from vidseg.packs import PACKED, checked_tables, member_path, run_each
from vidseg.tables import detection_table, frame_table, with_provenance, write_atomic

log = logging.getLogger(__name__)


def load_model(settings: dict[str, Any], weights: str | Path, class_names: Sequence[str] | None = None,
               min_confidence: float | None = None, xla: bool = False, precision: str = "float32",
               model_file: str | Path | None = None,
               table_min_confidence: float | None = None) -> tuple[MaskRCNN, list[str]]:
    """Build the model that `settings` (over `model_file`) describe; load `weights`.

    Returns the model and its class names. `model_file` defaults to the one next to
    the weights (the workflow passes the one its plan chose). `min_confidence`
    below the config's DETECTION_MIN_CONFIDENCE lowers it. `table_min_confidence`
    only names, in the log, what the tables will keep of a lowered threshold.
    `xla` and `precision` as in `MaskRCNN`.
    """
    config, names = resolve_model(settings, class_names, model_file or model_file_for(weights))
    if min_confidence is not None and min_confidence < config.DETECTION_MIN_CONFIDENCE:
        config = config.copy(detection_min_confidence=float(min_confidence))
    keep = config.DETECTION_MIN_CONFIDENCE if table_min_confidence is None else table_min_confidence
    if config.DETECTION_MIN_CONFIDENCE < keep:
        log.info("detecting down to score %g for evaluation (the detection table keeps scores >= %g)",
                 config.DETECTION_MIN_CONFIDENCE, keep)
    names = class_names_for(config, names)
    model = MaskRCNN(config, xla=xla, precision=precision)
    log.info("model %s: %s, %d classes, %s%s", config.NAME, config.BACKBONE, config.NUM_CLASSES, precision,
             ", XLA" if xla else "")
    slow = precision_warning(precision, gpu=_has_gpu())
    if slow:
        log.warning(slow)
    model.load_weights(weights, strict=True)  # logs what it loaded
    return model, names


def _has_gpu() -> bool:
    """Does TensorFlow see a GPU? (True under other Keras backends: no warning there.)"""
    import keras

    if keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def out_of_memory(err: BaseException) -> bool:
    """Is this TensorFlow's (or the allocator's) out-of-memory error?"""
    if isinstance(err, MemoryError) or "OOM when allocating" in str(err) or "RESOURCE_EXHAUSTED" in str(err):
        return True
    try:
        import tensorflow as tf
    except ImportError:  # another Keras backend
        return False
    return isinstance(err, tf.errors.ResourceExhaustedError)


def chunk_range(chunk: int, chunk_size: int, n_chunks: int, n_frames: int) -> tuple[int, int]:
    """Frames `[start, end)` of `chunk`; the last chunk runs to the real end of the video."""
    start = chunk * chunk_size
    end = n_frames if chunk == n_chunks - 1 else min(n_frames, start + chunk_size)
    return min(start, n_frames), end


def full_batch(images: np.ndarray, windows: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """A partial batch (a chunk's or a packed video's last) padded with blank frames to `batch` frames.

    The model then sees one input shape all job long, so its graph is traced once:
    a new batch size costs a retrace (1.5-2.5 s on this project's CPU, the time of
    dozens of frames), where a blank frame costs one frame's compute. The padding's
    outputs are never read (post-processing takes one result per real frame).
    """
    missing = batch - len(images)
    if missing <= 0:
        return images, windows
    return (np.concatenate([images, np.zeros((missing, *images.shape[1:]), images.dtype)]),
            np.concatenate([windows, np.repeat(windows[-1:], missing, axis=0)]))


def _finish(model: MaskRCNN, out: dict, moldings: list) -> list:
    """Post-process one batch, RLE included (runs in a worker thread beside the next batch's model run)."""
    found = model.unmold_batch(out, moldings)
    for r in found:
        r.rle()
        r.mask_areas
    return found


def io_threads_for(threads: int) -> int:
    """Reading and post-processing threads (each) for a segment job of `threads` threads: half, at least one.

    With the default 2 threads that is one of each, beside the model's own threads; a
    GPU job given more threads (`--set-threads segment=8`) spreads that work over more.
    """
    from vidseg.threads import usable_cores

    return max(1, min(int(threads), usable_cores()) // 2)


def segment_chunk(
    model: MaskRCNN,
    class_names: Sequence[str],
    video_id: str,
    frames_dir: str | Path,
    index_path: str | Path,
    image_format: str,
    chunk: int,
    chunk_size: int,
    n_chunks: int,
    detections_out: str | Path,
    frames_out: str | Path,
    io_threads: int = 1,
    provenance: Mapping[str, Any] | None = None,
    batch: int | None = None,
) -> int:
    """Run one chunk; writes the detections and frame tables; returns the number of detections.

    The model runs in this thread; reading and molding the next batch's frames
    (`vidseg.batches`) and post-processing earlier batches' outputs run beside it,
    each in a pool of `io_threads` threads (OpenCV, NumPy and the model's backend
    release the GIL). On a GPU the model outruns one thread of each (docs/benchmarks.md).
    `provenance` goes into both tables' Parquet metadata (`vidseg.tables.with_provenance`).
    Frames run in batches of `batch` (default the model's IMAGES_PER_GPU).
    """
    times = read_index(index_path)
    start, end = chunk_range(chunk, chunk_size, n_chunks, len(times))
    batch = batch or model.config.IMAGES_PER_GPU
    frames: list[int] = []
    pending: list[Future] = []
    began = time.perf_counter()
    log.info("%s chunk %d: frames %d..%d of %d", video_id, chunk, start, end - 1, len(times))

    with BatchReader(frames_dir, image_format, model.config, io_threads) as reader, \
            ThreadPoolExecutor(max(1, int(io_threads)), thread_name_prefix="post") as post:
        first = start
        ahead = reader.start(first, min(batch, end - first)) if first < end else None
        while first < end:
            size = min(batch, end - first)
            if ahead is not None and (ahead.first, ahead.count) == (first, size):
                current = ahead
            else:  # the batch size changed after an out-of-memory retry
                if ahead is not None:
                    reader.recycle(ahead)
                current = reader.start(first, size)
            images, windows, moldings = reader.result(current)
            following = first + size
            ahead = reader.start(following, min(batch, end - following)) if following < end else None
            try:
                out = model.predict(*full_batch(images, windows, batch))
            except Exception as err:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                if not out_of_memory(err):
                    raise
                if batch == 1:
                    raise VidsegError(f"{video_id} chunk {chunk}: out of memory on a single frame ({first}): "
                                      f"{' '.join(str(err).split())[:300]}") from None
                ran, batch = batch, max(1, batch // 2)  # a partial batch ran padded to `batch` frames
                log.warning("%s chunk %d: out of memory on a batch of %d frames; retrying at batch %d",
                            video_id, chunk, ran, batch)
                continue
            finally:
                reader.recycle(current)  # predict has returned: the model is done with the input
            pending.append(post.submit(_finish, model, out, moldings))
            frames += range(first, following)
            first = following
            rate = len(frames) / max(time.perf_counter() - began, 1e-9)
            log.info("%s chunk %d: %d/%d frames, %.2f frames/s", video_id, chunk, len(frames), end - start, rate)
        results = [r for job in pending for r in job.result()]
    counts = [len(r) for r in results]
    picked = [float(times[i]) for i in frames]
    write_atomic(with_provenance(detection_table(video_id, frames, picked, results, class_names), provenance),
                 detections_out)
    write_atomic(with_provenance(frame_table(video_id, frames, picked, counts), provenance), frames_out)
    return sum(counts)


def segment_pack(model: MaskRCNN, class_names: Sequence[str], videos: Sequence[str], frames_dirs: Sequence[str | Path],
                 indexes: Sequence[str | Path], image_format: str, out_dir: str | Path,
                 io_threads: int = 1, provenance: Mapping[str, Any] | None = None) -> dict[str, int | str]:
    """Run each of a pack's `videos` whole, in order, on one loaded model (vidseg.packs).

    Each video's detections and frames tables go into `out_dir`
    (`vidseg.packs.PACKED`). A video that fails with a
    VidsegError (an unreadable frame, out of memory on one frame) costs only
    itself (`vidseg.packs.run_each`). Returns per video its detection count, or
    its failure's reason.
    """
    inputs = dict(zip(videos, zip(frames_dirs, indexes)))

    def segment_video(video: str, into: Path) -> int:
        frames_dir, index = inputs[video]
        checked_tables([index])  # a video its frames pack job could not decode: the reason it noted
        return segment_chunk(model, class_names, video, frames_dir, index, image_format, 0, 1, 1,
                             member_path(into, video, PACKED["detections"]), member_path(into, video, PACKED["frames"]),
                             io_threads=io_threads, provenance=provenance)

    return run_each(videos, out_dir, segment_video, "segmentation", log)
