"""Write a file so that readers see either nothing or the whole file.

The content goes to a temporary file in the target's folder, which is renamed
over the target only when complete; on any error the temporary file is removed,
and one left by a process killed mid-write is removed by the next write.
The result gets the usual permissions (0666 less the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import os
import tempfile
from glob import escape as glob_escape
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*{glob_escape(suffix)}"):
        stale.unlink(missing_ok=True)  # left by a writer killed before its rename (one writer per target)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
