"""Send a job's Python logging and stderr (also that of C++ libraries) to its Snakemake log file."""

from __future__ import annotations

import logging
import os
import sys


def log_to(path: str) -> logging.Logger:
    """Redirect stderr (file descriptor 2 too) and logging to `path`; return the job's logger."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    log_file = open(path, "a", buffering=1)
    os.dup2(log_file.fileno(), 2)
    sys.stderr = log_file
    logging.basicConfig(stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    return logging.getLogger("vidseg")
