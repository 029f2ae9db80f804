"""What this CPU can do that the model's options depend on (Linux: /proc/cpuinfo).

`VIDSEG_CPUINFO` names a file to read in its place: benchmarks/isa.py's AVX2 emulation hands the
processes it starts a copy without the flags it masks from CPUID (the kernel's file keeps them).
A `VIDSEG_CPUINFO` that cannot be read is an error, not a CPU without flags.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vidseg.core.errors import VidsegError

CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The first CPU's feature flags; empty where /proc/cpuinfo cannot be read (not Linux)."""
    if cpuinfo is None:
        chosen = os.environ.get("VIDSEG_CPUINFO")
        try:
            cpuinfo = Path(chosen or CPUINFO).read_text()
        except OSError as error:
            if chosen:
                raise VidsegError(f"VIDSEG_CPUINFO names {chosen}, which cannot be read: {error.strerror}") from None
            return set()
    found = re.search(r"^flags\s*:(.*)$", cpuinfo, re.M)
    return set(found.group(1).split()) if found else set()


def has_bf16(flags: set[str] | None = None) -> bool:
    """Does the CPU compute bfloat16 dot products natively (AVX512-BF16 or AMX)?

    Without them TensorFlow emulates bfloat16 on a CPU, slower than float32.
    """
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_FLAGS)


def has_int8_dot(flags: set[str] | None = None) -> bool:
    """Does the CPU compute int8 dot products in one instruction (VNNI, AVX-VNNI or AMX)?

    Without them (AVX2-only CPUs) an int8 matrix product takes two instructions and an
    intermediate 16-bit sum per step, and runs no faster than float32's.
    """
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in INT8_DOT_FLAGS)


def precision_warning(precision: str, gpu: bool, flags: set[str] | None = None) -> str | None:
    """Why `precision` will be slow here (16-bit math emulated on this CPU), or None."""
    if gpu or precision == "float32":
        return None
    if precision == "mixed_bfloat16" and has_bf16(flags):
        return None
    needs = "AVX512-BF16 or AMX" if precision == "mixed_bfloat16" else "a GPU (CPUs have no fast float16)"
    return (f"segment.precision {precision} without a GPU, on a CPU without {needs}: 16-bit math is emulated "
            f"and slower than float32 here")
