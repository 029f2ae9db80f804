"""TensorFlow's thread pools sized to the job's Snakemake `threads`, not to every core it can see.

Without this, each job's TensorFlow starts as many threads as the machine has
cores: two segment jobs on a shared node (or a cluster node without CPU
cgroups) oversubscribe it. The count is capped at the cores this process may
run on, so asking for more threads than there are cores changes nothing.
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


def use_threads(threads: int) -> int:
    """Size TensorFlow's intra- and inter-op pools; call before the first TensorFlow op. Returns the size."""
    import tensorflow as tf

    n = max(1, min(int(threads), usable_cores()))
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)
    log.info("TensorFlow uses %d thread%s (job threads %d, usable cores %d)", n, "" if n == 1 else "s", threads,
             usable_cores())
    return n
