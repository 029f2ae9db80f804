"""The segment stage: one unit of work (vidseg.inference.unit: a chunk of a video, or a pack of short videos)
through the model.

The model loads once per job; frames are read as RGB and run in batches of
IMAGES_PER_GPU, a pack's batches spanning its videos (a last partial batch
padded with blank frames: one traced shape). A batch that runs out of memory is
retried at half the size (down to one frame), with a log line, and the smaller
size is kept for the rest of the job. A progress line with frames done / total
and frames per second goes to the log."""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vidseg.core.atomic import atomic_folder
from vidseg.core.errors import VidsegError
from vidseg.core.sampling import evenly_spaced
from vidseg.formats.tables import detection_table, frame_table, with_provenance, write_atomic
from vidseg.inference.batches import BatchReader, Frame, UnreadableFrame, frames_of
from vidseg.core.cpu import precision_warning
from vidseg.inference.modelfile import class_names_for, model_file_for, resolve_model
from vidseg.inference.unit import TABLES, Member, Unit, member_path, note_failure
from vidseg.maskrcnn import MaskRCNN
from vidseg.media.frames import read_index

log = logging.getLogger(__name__)


def load_model(settings: dict[str, Any], weights: str | Path, class_names: Sequence[str] | None = None,
               min_confidence: float | None = None, xla: bool = False, precision: str = "float32",
               model_file: str | Path | None = None,
               table_min_confidence: float | None = None, engine: str = "keras", streams: int = 1,
               gpu: bool = False) -> tuple[MaskRCNN, list[str]]:
    """Build the model that `settings` (over `model_file`) describe; load `weights`.

    Returns the model and its class names. `model_file` defaults to the one next to
    the weights (the workflow passes the one its plan chose). `min_confidence`
    below the config's DETECTION_MIN_CONFIDENCE lowers it. `table_min_confidence`
    only names, in the log, what the tables will keep of a lowered threshold.
    `xla` and `precision` as in `MaskRCNN`; `engine` runs the dense part (`MaskRCNN.use_engine`, for `streams`
    threads calling the model at once, `gpu` where the job has one). `precision` "int8" builds a float32 model
    whose dense part is quantized later, on the job's own frames (`calibrate`).
    """
    int8 = precision == "int8"
    if int8 and engine != "openvino":
        raise VidsegError(f"segment.precision int8 runs on segment.engine openvino, not {engine}")
    config, names = resolve_model(settings, class_names, model_file or model_file_for(weights))
    if min_confidence is not None and min_confidence < config.DETECTION_MIN_CONFIDENCE:
        config = config.copy(detection_min_confidence=float(min_confidence))
    keep = config.DETECTION_MIN_CONFIDENCE if table_min_confidence is None else table_min_confidence
    if config.DETECTION_MIN_CONFIDENCE < keep:
        log.info("detecting down to score %g for evaluation (the detection table keeps scores >= %g)",
                 config.DETECTION_MIN_CONFIDENCE, keep)
    names = class_names_for(config, names)
    model = MaskRCNN(config, xla=xla, precision="float32" if int8 else precision)
    log.info("model %s: %s, %d classes, %s%s", config.NAME, config.BACKBONE, config.NUM_CLASSES, precision,
             ", XLA" if xla else "")
    slow = None if int8 else precision_warning(precision, gpu=_has_gpu())
    if slow:
        log.warning(slow)
    model.load_weights(weights, strict=True)  # logs what it loaded
    if engine != "keras" and not int8:
        model.use_engine(engine, streams=streams, gpu=gpu)
    return model, names


CALIBRATION_FRAMES = 16  # frames int8 quantization measures activation ranges on (NNCF's own examples take 300)


def calibrate(model: MaskRCNN, engine: str, frames: Sequence[Frame], image_format: str, streams: int = 1,
              gpu: bool = False, count: int = CALIBRATION_FRAMES) -> int:
    """Quantize `model`'s dense part to int8 under `engine` on `count` of `frames` (evenly spread; a unit's own
    frames, so a job's quantization depends on its unit alone), skipping frames that cannot be read. Returns how
    many frames it used. With none readable (every video of the job will fail) the dense part stays float32."""
    from vidseg.media.frames import read_rgb

    picked = [frames[i] for i in evenly_spaced(len(frames), count)]
    images = []
    for frame in dict.fromkeys(picked):
        try:
            images.append(read_rgb(frame.folder, frame.index, image_format))
        except VidsegError:  # the segment run reports an unreadable frame, with its video
            continue
    if not images:
        log.warning("segment.precision int8: no frame of this job could be read to calibrate on; float32 instead")
        model.use_engine(engine, streams=streams, gpu=gpu)
        return 0
    model.use_engine(engine, streams=streams, gpu=gpu, calibration=images)
    return len(images)


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
    from vidseg.inference.threads import usable_cores

    return max(1, min(int(threads), usable_cores()) // 2)


def member_range(member: Member, n_frames: int) -> tuple[int, int]:
    """Frames `[start, end)` of a unit's `member` in a video that decoded `n_frames`: a chunk's range, the last
    (open-ended) one running to the real end of the video, whatever its container listed."""
    end = n_frames if member.end is None else min(n_frames, member.end)
    return min(member.start, end), end


def segment_unit(model: MaskRCNN, class_names: Sequence[str], unit: Unit, frames_dirs: Mapping[str, str | Path],
                 indexes: Mapping[str, str | Path], image_format: str, out_dir: str | Path,
                 io_threads: int = 1, provenance: Mapping[str, Any] | None = None, batch: int | None = None,
                 streams: int = 1, prepare: Callable[[Sequence[Frame]], Any] | None = None) -> dict[str, int | str]:
    """Run a unit (vidseg.inference.unit: a chunk of a video, or a pack of short videos) on one loaded model.

    One stream of frames runs across the unit's videos in shared batches, so the
    pipeline never drains between them and only the unit's last batch is padded.
    Each video's detections and frames tables (`vidseg.inference.unit.TABLES`) go into
    `out_dir` as soon as its last frame is done; the folder appears whole when the
    job ends (`vidseg.core.atomic.atomic_folder`: a killed job leaves none, so its rerun
    starts over). A video that fails (its frames job could not decode it, an
    unreadable frame, out of memory on one frame) costs only itself: a failure
    note, and its frames leave the stream. `frames_dirs` and `indexes`: per video,
    its frames folder and frame index (`vidseg.media.frames`). Returns per video its
    detection count, or its failure's reason. Frames run as `segment_frames` runs
    them; `prepare(frames)`, when given, is called with them first (int8 calibration: `calibrate`).
    """
    label = f"unit {unit.name}"
    outcome: dict[str, int | str] = {}
    with atomic_folder(out_dir) as into:
        def failed(video: str, reason: str) -> None:
            outcome[video] = note_failure(into, video, reason, "segmentation", log)

        def finished(video: str, frames: list[int], results: list) -> None:
            outcome[video] = write_tables(class_names, video, frames, times[video], results,
                                          member_path(into, video, TABLES["detections"]),
                                          member_path(into, video, TABLES["frames"]), provenance)
            log.info("%s: %s done, %d frames, %d detections", label, video, len(frames), outcome[video])

        stream, times = [], {}
        for member in unit.members:
            video = member.video
            try:
                times[video] = read_index(indexes[video])  # a video its frames job could not decode: why
            except VidsegError as err:
                failed(video, str(err))
                continue
            start, end = member_range(member, len(times[video]))
            log.info("%s: %s frames %d..%d of %d", label, video, start, end - 1, len(times[video]))
            stream += frames_of(video, frames_dirs[video], start, end)
        if prepare is not None and stream:
            prepare(stream)
        segment_frames(model, stream, image_format, label, finished, failed, io_threads=io_threads, batch=batch,
                       streams=streams)
        for video in times:
            if video not in outcome:  # no frames: empty tables
                finished(video, [], [])
    return {video: outcome[video] for video in unit.videos}


def write_tables(class_names: Sequence[str], video: str, frames: list[int], times: Sequence[float], results: list,
                 detections_out: str | Path, frames_out: str | Path, provenance: Mapping[str, Any] | None) -> int:
    """`video`'s detections and frames tables of `results` (one per frame of `frames`, whose times are in
    `times`, the video's frame index); returns the number of detections."""
    counts = [len(r) for r in results]
    picked = [float(times[i]) for i in frames]
    write_atomic(with_provenance(detection_table(video, frames, picked, results, class_names), provenance),
                 detections_out)
    write_atomic(with_provenance(frame_table(video, frames, picked, counts), provenance), frames_out)
    return sum(counts)


def segment_frames(model: MaskRCNN, frames: Sequence[Frame], image_format: str, label: str,
                   finished: Callable[[str, list[int], list], None],
                   failed: Callable[[str, str], None] | None = None,
                   io_threads: int = 1, batch: int | None = None, streams: int = 1) -> None:
    """Run `frames` (each video's together, in order) through the model; `finished(video, frames, results)`
    once all of a video's frames are post-processed, in the videos' order.

    Up to `streams` batches run through the model at once, each in its own thread
    (`vidseg.inference.threads.use_threads` says how many: on a CPU one per core, each op on
    one thread); their results are taken in order. Reading and molding the next
    batch's frames (`vidseg.inference.batches`) and post-processing earlier batches' outputs
    run beside them, each in a pool of `io_threads` threads (OpenCV, NumPy and the
    model's backend release the GIL). On a GPU the model outruns one thread of each
    (docs/benchmarks.md). Frames run in batches of `batch` (default the model's
    IMAGES_PER_GPU), which may span videos. A video that fails (an unreadable
    frame, out of memory on a single frame) raises a VidsegError, or, given
    `failed`, is reported to `failed(video, reason)` and its frames leave the run.
    `label` names the run in the log and in errors.
    """
    todo = list(frames)
    left = Counter(frame.video for frame in todo)
    done: dict[str, tuple[list[int], list]] = {}
    dropped: set[str] = set()
    batch = batch or model.config.IMAGES_PER_GPU
    streams = max(1, int(streams))
    pending: deque[tuple[tuple[Frame, ...], Future]] = deque()
    began, ran = time.perf_counter(), 0

    def give_up(frame: Frame, reason: str) -> None:
        """`frame`'s video fails (raised where no `failed`): its frames leave `todo`, its results are dropped."""
        nonlocal todo, position
        if failed is None:
            raise VidsegError(reason) from None  # the reason says it all
        failed(frame.video, reason)
        dropped.add(frame.video)
        done.pop(frame.video, None)
        position = sum(1 for f in todo[:position] if f.video != frame.video)
        todo = [f for f in todo if f.video != frame.video]

    def collect(wait_for_all: bool) -> None:
        """Hand the post-processed batches, in order, to their videos; `finished` for each video complete."""
        while pending and (wait_for_all or pending[0][1].done()):
            batch_frames, job = pending.popleft()
            for frame, result in zip(batch_frames, job.result()):
                if frame.video in dropped:
                    continue
                numbers, results = done.setdefault(frame.video, ([], []))
                numbers.append(frame.index)
                results.append(result)
                left[frame.video] -= 1
                if not left[frame.video]:
                    finished(frame.video, *done.pop(frame.video))

    # batches in the model, oldest first: (position of its first frame, its frames, its reader batch, moldings, run)
    running: deque[tuple[int, tuple[Frame, ...], Any, list, Future]] = deque()

    def abandon_running() -> None:
        """Wait for the batches still in the model and drop their results (they run again)."""
        for _, _, reading, _, job in running:
            wait([job])
            reader.recycle(reading)
        running.clear()

    with BatchReader(image_format, model.config, io_threads) as reader, \
            ThreadPoolExecutor(max(1, int(io_threads)), thread_name_prefix="post") as post, \
            ThreadPoolExecutor(streams, thread_name_prefix="model") as models:
        position, ahead, unreadable = 0, None, None
        while position < len(todo) or running:
            # fill the streams; a frame that cannot be read waits until the batches before it are done
            while len(running) < streams and position < len(todo) and unreadable is None:
                wanted = tuple(todo[position:position + batch])
                if ahead is not None and ahead.frames == wanted:
                    current = ahead
                else:  # the batch size changed after an out-of-memory retry, or a video left the run
                    if ahead is not None:
                        reader.recycle(ahead)
                    current = reader.start(wanted)
                ahead = None
                try:
                    images, windows, moldings = reader.result(current)
                except UnreadableFrame as err:
                    reader.recycle(current)
                    unreadable = err
                    break
                following = todo[position + len(wanted):position + len(wanted) + batch]
                ahead = reader.start(following) if following else None
                job = models.submit(model.predict, *full_batch(images, windows, batch))
                running.append((position, wanted, current, moldings, job))
                position += len(wanted)
            if not running:
                if unreadable is not None:
                    give_up(unreadable.frame, str(unreadable))
                    unreadable = None
                continue
            first, wanted, current, moldings, job = running.popleft()
            try:
                out = job.result()
            except Exception as err:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                reader.recycle(current)
                abandon_running()
                if not out_of_memory(err):
                    raise
                position, unreadable = first, None  # the batches from this one on run again
                if ahead is not None:
                    reader.recycle(ahead)
                    ahead = None
                if batch == 1:
                    frame = wanted[0]
                    where = f"{frame.index}" if failed is None else f"{frame.video} frame {frame.index}"
                    give_up(frame, f"{label}: out of memory on a single frame ({where}): "
                                   f"{' '.join(str(err).split())[:300]}")
                    continue
                tried, batch = batch, max(1, batch // 2)  # a partial batch ran padded to `batch` frames
                log.warning("%s: out of memory on a batch of %d frames; retrying at batch %d", label, tried, batch)
                continue
            reader.recycle(current)  # predict has returned: the model is done with the input
            pending.append((wanted, post.submit(_finish, model, out, moldings)))
            ran += len(wanted)
            rate = ran / max(time.perf_counter() - began, 1e-9)
            log.info("%s: %d/%d frames, %.2f frames/s", label, first + len(wanted), len(todo), rate)
            collect(wait_for_all=False)
        collect(wait_for_all=True)
