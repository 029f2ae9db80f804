"""Send a job's Python logging and stderr (also that of C++ libraries) to its Snakemake log file.

An error that stops the job ends the log with one `FAILED: <reason>` line
(what `results/status.tsv` quotes): a `VidsegError` (bad input) gives just its
message; anything else is a bug and its traceback follows.
"""

from __future__ import annotations

import logging
import os
import sys

from vidseg.core.errors import FAILED_MARK, VidsegError


def log_to(path: str) -> logging.Logger:
    """Redirect stderr (file descriptor 2 too) and logging to `path` (a fresh log per job run); return the job's logger."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    log_file = open(path, "w", buffering=1)
    os.dup2(log_file.fileno(), 2)
    sys.stderr = log_file
    logging.basicConfig(stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    logger = logging.getLogger("vidseg")
    sys.excepthook = lambda kind, err, tb: report_failure(logger, kind, err, tb)
    return logger


def report_failure(logger: logging.Logger, kind, err, tb) -> None:
    reason = " ".join(str(err).split()) or kind.__name__
    if issubclass(kind, VidsegError):
        logger.error("%s%s", FAILED_MARK, reason)
    else:
        logger.error("%s%s: %s (an internal error; traceback below)", FAILED_MARK, kind.__name__, reason,
                     exc_info=(kind, err, tb))
