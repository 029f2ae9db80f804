"""TensorFlow's thread pools sized to the job's Snakemake `threads`, not to every core it can see.

Without this, each job's TensorFlow starts as many threads as the machine has
cores: two segment jobs on a shared node (or a cluster node without CPU
cgroups) oversubscribe it. The count is capped at the cores this process may
run on, so asking for more threads than there are cores changes nothing.

`segment_threads` is how many threads a segment job gets: on a GPU a few to feed
it; without one, the run's cores shared out among its segment jobs, one job per
core first. Measured on 2 cores (docs/benchmarks.md, "CPU cores"): two
one-thread jobs segment 1.7x the frames/s of one, while one job with two
intra-op threads gained 1.0-1.2x (the demo model's convolutions are small).
Where there are fewer jobs than cores, the spare cores go to the jobs as
threads: idle otherwise. `use_threads` makes a CPU job's threads model streams
of one thread each (bit-equal tables at any thread count).
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


GPU_SEGMENT_THREADS = 2  # a GPU job: one thread reading frames and one post-processing beside the model's


def segment_threads(cores: int | None, jobs: int, gpu: bool, index: int = 0) -> int:
    """Threads of segment job number `index` (0-based) of a run's `jobs` segment jobs on `cores` cores.

    On a GPU: GPU_SEGMENT_THREADS (one job per GPU, `resources: gpu=1`). Without one,
    every core is used: with at least as many jobs as cores, one thread each (the
    jobs run `cores` at a time); with fewer, the cores are shared out (16 cores, 5
    jobs: 4, 3, 3, 3, 3). Without `cores` (a cluster executor given only --jobs; its
    profile's set-threads decides) as on a GPU.
    """
    if gpu or cores is None:
        return GPU_SEGMENT_THREADS
    jobs = max(1, int(jobs))
    share, spare = divmod(int(cores), jobs)
    return max(1, share + (index < spare))


def use_threads(threads: int, gpu: bool = False) -> int:
    """Size TensorFlow's thread pools for a job of `threads` threads (capped at the usable cores); call before the
    first TensorFlow op. Returns how many batches the job should run through the model at once (its streams).

    Without a GPU each op runs on one thread and the job runs one batch per thread at
    once (vidseg.inference.segment.segment_frames). An op's sums then always add up in the order
    one thread adds them, so the detections are the same bit for bit whatever the
    thread count: TensorFlow's kernels split a sum across the threads they are given
    in an order that depends on their number (on AVX2 CPUs this changed boxes, masks
    and track ids between a 1- and a 2-thread run; issue 33). Two one-thread streams
    run ResNet-50 as fast as one two-thread call (docs/benchmarks.md, "CPU kernels
    and threads"). On a GPU, one stream, and the threads size TensorFlow's pools.
    """
    import tensorflow as tf

    n = max(1, min(int(threads), usable_cores()))
    tf.config.threading.set_intra_op_parallelism_threads(n if gpu else 1)
    tf.config.threading.set_inter_op_parallelism_threads(n)
    streams = 1 if gpu else n
    log.info("TensorFlow uses %d thread%s (job threads %d, usable cores %d): %s", n, "" if n == 1 else "s", threads,
             usable_cores(), "one stream on the GPU" if gpu else
             f"{n} model stream{'' if n == 1 else 's'} of one thread each")
    return streams
