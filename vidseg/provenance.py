"""Digests of the package's own source, so Snakemake reruns a stage when its code changes.

Snakemake's "code" rerun trigger sees a rule's script, not the package modules the
script calls; a digest of those modules passed as a rule parameter closes the gap.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def _sources(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ImportError(f"no module named {module}")
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: all of its Python files
        return sorted(origin.parent.rglob("*.py"))
    return [origin]


def source_digest(*modules: str) -> str:
    """A short hash of the source files of `modules` (packages include their submodules)."""
    digest = hashlib.sha256()
    for module in modules:
        for path in _sources(module):
            digest.update(f"{module}:{path.name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
