"""One GPU per segment job: TensorFlow memory growth, and a free GPU claimed through a lock file.

With K GPUs and `--resources gpu=K`, Snakemake runs up to K segment jobs at
once; each claims the first GPU whose lock (`gpu-<id>.lock` in the machine's
temporary folder, so per node and shared by every workflow there) no other
live process holds, and makes only that GPU visible to TensorFlow. The lock is
an `flock`, released when the process exits, even on `kill -9`. GPU ids are
the entries of CUDA_VISIBLE_DEVICES when set (a cluster's allocation), else
0..K-1. On a machine without GPUs nothing happens.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Sequence

log = logging.getLogger(__name__)

LOCK_DIR = Path(tempfile.gettempdir()) / "vidseg-gpu-locks"
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the NVIDIA driver knows
_held: list[IO] = []  # open lock files of this process (closing one releases its GPU)


def claim_slot(ids: Sequence[str], lock_dir: str | Path = LOCK_DIR, wait_s: float = 3600.0,
               poll_s: float = 0.5) -> int:
    """Index into `ids` of a GPU no other process holds; blocks (polling) while all are taken."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(lock_dir, 0o1777)  # other users' jobs on the node share the locks
    except PermissionError:
        pass
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        for index, gpu in enumerate(ids):
            handle = _open_lock(lock_dir / f"gpu-{gpu}.lock")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            if handle.writable():
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
            _held.append(handle)
            return index
        if time.monotonic() > deadline:
            raise TimeoutError(f"no free GPU among {list(ids)} after {wait_s:.0f} s (locks in {lock_dir})")
        if not announced:
            log.info("all %d GPUs are taken by other jobs; waiting for one (locks in %s)", len(ids), lock_dir)
            announced = True
        time.sleep(poll_s)


def _open_lock(path: Path) -> IO:
    """The lock file, created writable for every user; another user's file is opened read-only (flock works)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o666)  # the umask would otherwise lock other users out
        return os.fdopen(fd, "r+")
    except PermissionError:
        return open(path)


def visible_ids(count: int) -> list[str]:
    """The ids of the `count` GPUs this process sees, as the lock files name them."""
    listed = [part.strip() for part in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if part.strip()]
    return listed[:count] if len(listed) >= count else [str(i) for i in range(count)]


def bind_gpu(lock_dir: str | Path = LOCK_DIR, device: str = "auto") -> str | None:
    """Claim a free GPU, make it the only one TensorFlow uses, with memory growth; returns its id (None on CPU).

    With `device` "cpu" (config `segment.device`) every GPU is hidden from TensorFlow instead.
    Must run before TensorFlow places anything on a device.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    if device == "cpu":
        tf.config.set_visible_devices([], "GPU")
        log.info("segment.device cpu: %d GPU(s) hidden from TensorFlow", len(gpus))
        return None
    ids = visible_ids(len(gpus))
    index = claim_slot(ids, lock_dir)
    tf.config.set_visible_devices(gpus[index], "GPU")
    tf.config.experimental.set_memory_growth(gpus[index], True)
    log.info("using GPU %s (%d of %d on this node; lock in %s), memory growth on", ids[index], index + 1, len(ids), lock_dir)
    return ids[index]


def host_has_gpu(driver_dir: str | Path = NVIDIA_GPUS) -> bool:
    """Does this machine have an NVIDIA GPU for TensorFlow? Asked where Snakemake plans the run, so it reads the
    driver's list instead of importing TensorFlow. CUDA_VISIBLE_DEVICES set empty or to -1 hides every GPU."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    try:
        return any(Path(driver_dir).iterdir())
    except OSError:  # no NVIDIA driver (or not Linux)
        return False


def segment_on_gpu(device: str, driver_dir: str | Path = NVIDIA_GPUS) -> bool:
    """Config `segment.device` (auto, gpu or cpu) as a yes/no: auto asks `host_has_gpu`."""
    return host_has_gpu(driver_dir) if device == "auto" else device == "gpu"
