"""Which videos a run covers: a folder, a glob or a TSV sample sheet -> ids and paths.

Ids come from file stems, reduced to letters, digits and `._-` so they are safe in
paths and wildcards; two videos with the same id are an error naming both files.
"""

from __future__ import annotations

import csv
import glob
import re
import unicodedata
from pathlib import Path

from vidseg.core.errors import VidsegError

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".3gp"}
ID_PATTERN = r"[^\W_][\w.-]*"  # letters (any script), digits, `_`, `.`, `-`; starting with a letter or digit


def video_id(path: str | Path) -> str:
    """A path's stem made safe: letters of any script, digits and `._-` stay (NFC-normalized); other
    characters (spaces, quotes, shell metacharacters) become `_`, runs collapse, edges trimmed."""
    stem = unicodedata.normalize("NFC", Path(path).stem)
    clean = re.sub(r"[^\w.-]+", "_", stem).strip("._-")
    return clean or "video"


def resolve_videos(spec: str, base_dir: str | Path = ".") -> dict[str, str]:
    """`{video_id: path}` for the `videos:` config value, sorted by id.

    `spec` is a folder (its video files, by suffix), a glob pattern, or a `.tsv`
    sheet with columns `video_id` and `path` (relative paths are relative to the sheet).
    """
    base = Path(base_dir)
    target = Path(spec) if Path(spec).is_absolute() else base / spec
    if target.suffix.lower() == ".tsv":
        pairs = _read_sheet(target)
    elif target.is_dir():
        files = sorted(p for p in target.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        pairs = [(video_id(p), str(p)) for p in files]
    elif glob.has_magic(str(target)):
        files = sorted(Path(p) for p in glob.glob(str(target), recursive=True) if Path(p).is_file())
        pairs = [(video_id(p), str(p)) for p in files]
    else:
        raise VidsegError(f"config key 'videos': {spec!r} is not a folder, a glob pattern or a .tsv sample sheet")
    out: dict[str, str] = {}
    for vid, path in pairs:
        if vid in out:
            raise VidsegError(f"config key 'videos': two videos get the id {vid!r}: {out[vid]} and {path}; rename one")
        out[vid] = path
    return dict(sorted(out.items()))


def _read_sheet(path: Path) -> list[tuple[str, str]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as err:
        raise VidsegError(f"config key 'videos': cannot read sample sheet {path}: {err.strerror}") from None
    if not rows or {"video_id", "path"} - set(rows[0]):
        raise VidsegError(f"sample sheet {path}: needs a header with columns 'video_id' and 'path'")
    pairs = []
    for line, row in enumerate(rows, start=2):
        vid, video = (row.get("video_id") or "").strip(), (row.get("path") or "").strip()
        if not re.fullmatch(ID_PATTERN, vid):
            raise VidsegError(f"sample sheet {path}, line {line}: video_id {vid!r} must match {ID_PATTERN}")
        if not video:
            raise VidsegError(f"sample sheet {path}, line {line}: empty path")
        full = Path(video) if Path(video).is_absolute() else path.parent / video
        pairs.append((vid, str(full)))
    return pairs


def ground_truths(folder: str | Path, videos: dict[str, str]) -> dict[str, str]:
    """`{video_id: <folder>/<video_id>.json}` for the videos that have a COCO ground truth there."""
    root = Path(folder)
    if not root.is_dir():
        raise VidsegError(f"config key 'ground_truth': {str(folder)!r} is not a folder")
    return {vid: str(root / f"{vid}.json") for vid in videos if (root / f"{vid}.json").is_file()}
