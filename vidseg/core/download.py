"""Fetch a weights file once: streamed with progress, resumed after an interruption, checked, then moved into place.

The bytes go to `<dest>.part` beside the destination. A rerun after a dropped
connection asks the server for the rest (an HTTP `Range` request) and appends;
a server that answers with the whole file instead restarts it cleanly. Before
the file is used its size must equal what the server announced, it must be HDF5
with matterport's key layers, and, when one is given, its SHA-256 must match.
urllib (standard library) is enough here: one GET with one header, no session.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import h5py

from vidseg.core.errors import VidsegError
from vidseg.core.provenance import file_sha256

COCO_WEIGHTS_URL = "https://github.com/matterport/Mask_RCNN/releases/download/v2.0/mask_rcnn_coco.h5"
REQUIRED_LAYERS = ("conv1", "bn_conv1", "fpn_c5p5", "rpn_model", "mrcnn_class_logits", "mrcnn_mask")
BLOCK = 1 << 20


def check_weights_file(path: str | Path, source: str) -> None:
    """The file opens as HDF5 and lists matterport's key layers."""
    if not h5py.is_hdf5(path):
        raise VidsegError(f"{source}: the download is not an HDF5 file")
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        names = {n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs.get("layer_names", [])}
    missing = [n for n in REQUIRED_LAYERS if n not in names]
    if missing:
        raise VidsegError(f"{source}: the download lacks Mask R-CNN layers {missing}")


def _open(url: str, start: int, timeout: float):
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # nothing past what we have (or a stale partial file): start over
            return _open(url, 0, timeout)
        raise


def _total(response, start: int) -> int | None:
    """The whole file's size from a 200's Content-Length or a 206's Content-Range."""
    if response.status == 206:
        announced = response.headers.get("Content-Range", "").rpartition("/")[2]
        return int(announced) if announced.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def download_weights(url: str, dest: str | Path, timeout: float = 60.0, sha256: str | None = None,
                     report: Callable[[str], None] | None = None, every: float = 10.0) -> None:
    """Download `url` to `dest` (resuming `<dest>.part` if a previous try left one); see the module docstring.

    `report` gets a progress line at most every `every` seconds and at the end.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    try:
        with _open(url, have, timeout) as response:
            resumed = response.status == 206 and have > 0
            if have and not resumed:
                have = 0  # the server sent the whole file: start over
            total = _total(response, have)
            if resumed and report:
                report(f"resuming at {have / 1e6:.1f} MB")
            done, last = have, time.monotonic()
            with open(part, "ab" if resumed else "wb") as out:
                for block in iter(lambda: response.read(BLOCK), b""):
                    out.write(block)
                    done += len(block)
                    if report and time.monotonic() - last >= every:
                        last = time.monotonic()
                        shown = f" of {total / 1e6:.1f} MB ({100 * done / total:.0f} %)" if total else " MB"
                        report(f"downloaded {done / 1e6:.1f}{shown}")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        kept = f"; {part} keeps what arrived, rerun to resume" if part.is_file() and part.stat().st_size else ""
        raise VidsegError(f"cannot download weights from {url}: {reason}{kept}") from None
    if total is not None and done != total:
        raise VidsegError(f"{url}: the download stopped at {done} of {total} bytes; {part} keeps what arrived, "
                          "rerun to resume")
    if report:
        report(f"downloaded {done / 1e6:.1f} MB; checking")
    try:
        check_weights_file(part, url)
        got = file_sha256(part) if sha256 is not None else None
        if got is not None and got != sha256.lower():
            raise VidsegError(f"{url}: SHA-256 {got} is not the expected {sha256.lower()} (config key 'weights_sha256')")
    except VidsegError:
        part.unlink()
        raise
    os.replace(part, dest)
