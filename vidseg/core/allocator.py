"""A segment job's C heap keeps the memory it frees, for the next frame's buffers (glibc's `mallopt`).

A frame's large buffers (P2 alone is 64 MB at 1024x1024; the dense part's outputs as
OpenVINO hands them back; TensorFlow's tensors between the parts) are allocated and
freed once per batch. glibc maps an allocation over its mmap threshold (32 MB at most)
afresh each time, and one in a thread's arena over that arena's 64 MB heaps too, and
unmaps it when freed: every page of it faults in again at the next frame, and the
kernel zeroes it. Measured under the AVX2 CPUID mask on a Zen 4 VM, one thread
(docs/benchmarks.md, "matterport's whole graph on two streams; where int8 and the host
side stand"): proposals and ROIAlign on OpenVINO's outputs at ResNet-50@1024 took 259 ms
a frame against 44 with freed memory kept; the segment stage on two streams, float32, took
0.86-0.98x the time (Keras and OpenVINO, ResNet-50@512 and ResNet-101@1024, interleaved).

`keep_freed_memory` turns off mmap for allocations, raises the trim threshold so freed
memory stays in the heap, and keeps one arena, so that the model streams' threads
allocate from the same heap (their own arenas would map anything over 64 MB). The job's
resident memory then stays at its peak instead of falling between batches. Other C
libraries (musl) have no `mallopt`: nothing changes there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8  # glibc's malloc.h
SETTINGS = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_ARENA_MAX, 1))


def keep_freed_memory() -> bool:
    """Keep freed memory in this process's heap (glibc); call before the job's threads start. True where it did."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = all(mallopt(option, value) == 1 for option, value in SETTINGS)
    log.info("C heap: freed memory %s", "kept for the next frames (no mmap, no trimming, one arena)" if done
             else "left to the C library's defaults (mallopt refused)")
    return done
