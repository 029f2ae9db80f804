"""Write a file (or a folder of files) so that readers see either nothing or the whole of it.

The content goes to a temporary file in the target's folder, which is renamed
over the target only when complete; on any error the temporary file is removed,
and one left by a process killed mid-write is removed by the next write.
The result gets the usual permissions (0666 less the umask), not mkstemp's 0600.
A folder is written the same way, as a temporary folder beside it (a pack job's
folder: Snakemake would take a partial folder left by a killed job for a whole one,
since it learns of that job only after the checkpoint it waits on).
"""

from __future__ import annotations

import os
import shutil
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


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it replaces the folder `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*.partial"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a writer killed before its rename
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
