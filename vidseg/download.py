"""Fetch a weights file once: streamed to a temporary file, checked, then renamed into place."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

import h5py

from vidseg.atomic import atomic_path
from vidseg.errors import VidsegError

COCO_WEIGHTS_URL = "https://github.com/matterport/Mask_RCNN/releases/download/v2.0/mask_rcnn_coco.h5"
REQUIRED_LAYERS = ("conv1", "bn_conv1", "fpn_c5p5", "rpn_model", "mrcnn_class_logits", "mrcnn_mask")


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


def download_weights(url: str, dest: str | Path, timeout: float = 60.0) -> None:
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    shutil.copyfileobj(response, out, length=1 << 20)
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise VidsegError(f"cannot download weights from {url}: {reason}") from None
        check_weights_file(tmp, url)
