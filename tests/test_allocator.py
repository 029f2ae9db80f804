"""A segment job's C heap keeps freed memory: a frame's large buffers do not fault in afresh at every frame."""

import json
import subprocess
import sys

import pytest

# A 100 MB buffer allocated, every page touched and freed six times in a worker thread (as a model stream
# allocates), the page faults each time counted
FAULTS = """
import json, resource, sys, threading
import numpy as np
from vidseg.core.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
faults = []
def allocate():
    for _ in range(6):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        buffer = np.empty(100 * 2**20, np.uint8)
        buffer[::4096] = 1
        del buffer
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
thread = threading.Thread(target=allocate)
thread.start()
thread.join()
print(json.dumps({"kept": kept, "faults": faults}))
"""


def faults(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_buffers_are_reused_without_faulting_in_again():
    default, kept = faults("default"), faults("keep")
    # glibc's default maps a buffer this large afresh each time: its pages fault in at every allocation (50 with
    # 2 MB transparent huge pages, 25,600 with 4 KB pages)
    assert min(default["faults"]) >= 50, default
    assert kept["kept"] is True
    assert max(kept["faults"][1:]) < 10, kept  # after the first allocation, the heap's pages are reused
