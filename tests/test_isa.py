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
    # vidseg's reading of the flags (/proc/cpuinfo, out of the shim's reach) is masked too
    flags = python("from vidseg.core.cpu import has_bf16, has_int8_dot; print(has_bf16(), has_int8_dot())", env)
    assert flags.stdout.split() == ["False", "False"], flags.stderr
    # and the library is built once per source text
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".so"] == [isa.build_shim(tmp_path).name]


@needs_cc
def test_avx2_environment_says_how_it_emulates(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "built"))  # the shim is built there, not in ~/.cache
    env, how = isa.avx2_environment()
    if cpuid_faulting():
        assert env["LD_PRELOAD"].startswith(str(tmp_path / "built")) and how.startswith("CPUID masked")
    else:
        assert caps(env) == isa.CAPS and "CPUID masking unavailable" in how
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))  # nothing built there yet
    monkeypatch.setattr(isa.shutil, "which", lambda name: None)
    env, how = isa.avx2_environment()
    assert caps(env) == isa.CAPS
    assert "not (CPUID masking unavailable: no C compiler (cc)" in how
    assert Path(env["VIDSEG_CPUINFO"]).parent == tmp_path / "empty" / "vidseg"  # the caps mask vidseg's flags too


def caps(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if key != "VIDSEG_CPUINFO"}


XEON = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8481C
flags\t\t: fpu avx2 fma avx512f avx512_vnni avx512_bf16 avx_vnni amx_bf16 amx_int8 amx_tile avx_ifma sha_ni
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu avx2 fma avx512f avx512_vnni avx_vnni amx_int8
"""


def test_vidseg_reads_the_masked_copy_of_the_cpus_flags(tmp_path, monkeypatch):
    from vidseg.core.cpu import cpu_flags, has_bf16, has_int8_dot

    real = tmp_path / "cpuinfo"
    real.write_text(XEON)
    copy = isa.masked_cpuinfo(tmp_path / "cache", real)
    assert copy.read_text().splitlines() == [
        "processor\t: 0", "model name\t: Intel(R) Xeon(R) Platinum 8481C", "flags\t\t: fpu avx2 fma sha_ni",
        "bugs\t\t: spectre_v1", "", "processor\t: 1", "flags\t\t: fpu avx2 fma"]
    assert isa.masked_cpuinfo(tmp_path / "cache", real) == copy  # written once
    monkeypatch.setenv("VIDSEG_CPUINFO", str(real))
    assert has_bf16() and has_int8_dot()
    monkeypatch.setenv("VIDSEG_CPUINFO", str(copy))
    assert cpu_flags() == {"fpu", "avx2", "fma", "sha_ni"} and not has_bf16() and not has_int8_dot()
