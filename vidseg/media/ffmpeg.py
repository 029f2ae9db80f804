"""Running ffmpeg and ffprobe: argument lists (never a shell), clear errors."""

from __future__ import annotations

import shutil
import subprocess
from typing import Sequence

from vidseg.core.errors import VidsegError


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise VidsegError(
            f"{tool} is not installed or not on PATH; install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; "
            f"conda: conda install -c conda-forge ffmpeg)"
        )
    return path


def run(args: Sequence[str], what: str, timeout: float | None = None, check: bool = True,
        binary: bool = False) -> subprocess.CompletedProcess:
    """Run a command; on failure raise `VidsegError` with `what` and the tool's last error lines.

    With `check=False` a non-zero exit status is returned, not raised (a timeout still raises);
    with `binary=True` stdout is bytes (stderr is still text).
    """
    require(args[0])
    try:
        proc = subprocess.run(list(args), capture_output=True, text=not binary, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise VidsegError(f"{what}: {args[0]} did not finish within {timeout} s") from None
    if binary:
        proc.stderr = proc.stderr.decode(errors="replace")
    if check and proc.returncode != 0:
        lines = error_lines(proc.stderr)
        reason = " / ".join(lines[-3:]) if lines else f"exit status {proc.returncode}"
        raise VidsegError(f"{what}: {reason}")
    return proc


def error_lines(stderr: str) -> list[str]:
    """The non-blank lines a tool printed on stderr."""
    return [line for line in stderr.strip().splitlines() if line.strip()]
