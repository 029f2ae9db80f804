"""The AVX2 emulation of the benchmarks (benchmarks/isa.py, benchmarks/avx2_cpuid.c)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import isa  # noqa: E402

FEATURES = "from numpy._core._multiarray_umath import __cpu_features__ as f; print(f['AVX2'], f['AVX512F'])"
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) to build the shim")


def cpuid_faulting() -> bool:
    try:
        return "cpuid_fault" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60)


@needs_cc
@pytest.mark.skipif(not cpuid_faulting(), reason="this CPU (or VM) offers no CPUID faulting: the shim cannot load")
def test_the_shim_hides_avx512_from_every_library_and_passes_real_faults_on(tmp_path):
    env = isa.masked_environment(isa.build_shim(tmp_path))
    seen = python(FEATURES, env)
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split() == ["True", "False"]  # AVX2 kept, AVX-512 gone (NumPy asks CPUID itself)
    # a program's own SIGSEGV handler (Python's faulthandler) still gets the faults that are not CPUIDs
    crash = python("import faulthandler, ctypes; faulthandler.enable(); ctypes.string_at(0)", env)
    assert crash.returncode == -11
    assert "Fatal Python error: Segmentation fault" in crash.stderr
    # and the library is built once per source text
    assert [p.name for p in tmp_path.iterdir()] == [isa.build_shim(tmp_path).name]


@needs_cc
def test_avx2_environment_says_how_it_emulates(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "built"))  # the shim is built there, not in ~/.cache
    env, how = isa.avx2_environment()
    if cpuid_faulting():
        assert env["LD_PRELOAD"].startswith(str(tmp_path / "built")) and how.startswith("CPUID masked")
    else:
        assert env == isa.CAPS and "CPUID masking unavailable" in how
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))  # nothing built there yet
    monkeypatch.setattr(isa.shutil, "which", lambda name: None)
    env, how = isa.avx2_environment()
    assert env == isa.CAPS
    assert "not (CPUID masking unavailable: no C compiler (cc)" in how
