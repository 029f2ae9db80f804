"""The report as one zip file that works anywhere once unpacked: its pages and images, and every file they link to.

The pages link the run's files (annotated videos, tables, evaluations) by relative
paths, so the zip keeps them at their places under the run's folder: unpacked, the
index is `results/report/index.html` and every link and video resolves. Only what
the pages link is taken (not the frames, units or logs), stored without
compression (videos, PNG and Parquet are compressed already).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Sequence
from urllib.parse import unquote, urlsplit

from vidseg.core.atomic import atomic_path
from vidseg.core.errors import VidsegError
from vidseg.workflow.plan import PATHS

LINK = re.compile(r'(?:href|src)="([^"#?]+)')


def linked_files(root: Path, skip: Sequence[str] = ()) -> list[Path]:
    """The report's files (but those named in `skip`) and those its pages link to (relative to `root`, each once, in
    order)."""
    report = (root / PATHS["report"]).parent
    if not (root / PATHS["report"]).is_file():
        raise VidsegError(f"{root / PATHS['report']} not found: build the report first (python -m vidseg.report)")
    found = {p.resolve(): None for p in sorted(report.rglob("*")) if p.is_file() and p.name not in skip}
    for page in sorted(report.rglob("*.html")):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if urlsplit(target).scheme or target.startswith("/"):
                continue  # another site, or an absolute path: not part of the run
            path = (page.parent / unquote(target)).resolve()
            if path.is_file() and path.is_relative_to(root.resolve()):
                found.setdefault(path, None)
    return [p.relative_to(root.resolve()) for p in found]


def bundle(root: str | Path, out: str | Path, skip: Sequence[str] = ()) -> int:
    """Write the zip of the report of the run in `root` to `out` (atomically), leaving out the report's files named
    in `skip` (its bookkeeping); returns the number of files."""
    root = Path(root)
    files = linked_files(root, skip)
    with atomic_path(out, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name in files:
            archive.write(root / name, name.as_posix())
    return len(files)
