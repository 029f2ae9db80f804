"""Run a benchmark as on an AVX2-only CPU, on a CPU that has more (`--isa avx2`).

Two ways, the first where this machine allows it:

- **CPUID masked** (avx2_cpuid.c, loaded by LD_PRELOAD): every CPUID the process and its
  children run answers without AVX-512, AVX-VNNI or AMX, so each library picks the kernels it
  would pick on an AVX2-only CPU, by its own rules: TensorFlow turns its oneDNN rewrites off as it
  does there, and oneDNN, OpenVINO and ONNX Runtime (MLAS) take their AVX2 kernels. Needs Linux's
  CPUID faulting (the `cpuid_fault` flag: Intel CPUs, and VMs that pass it on) and a C compiler
  (`cc`) to build the shim, once, into the user's cache.
- **Caps** (the fallback): TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's default without AVX512-VNNI,
  BF16 or AMX) and ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN's cap, in TensorFlow and in OpenVINO).
  MLAS takes no cap: ONNX Runtime's kernels, and OpenVINO's fully connected layers that run on
  MLAS, keep the CPU's AVX-512.

Either way vidseg's own reading of the CPU's flags (`vidseg.core.cpu`, from /proc/cpuinfo, which
neither reaches) gets a copy without the masked ones (`VIDSEG_CPUINFO`), so its choices are an AVX2
CPU's too (int8 keeps the classifier head in float32 there). The cores, clocks and caches are this
machine's: an emulation of an AVX2 CPU's instruction set, not of its speed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

SHIM_SOURCE = Path(__file__).with_name("avx2_cpuid.c")
CAPS = {"TF_ENABLE_ONEDNN_OPTS": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}
MASKED_FLAGS = ("avx512", "avx_vnni", "avx_ifma", "avx_ne_convert", "amx")  # /proc/cpuinfo's names of them
# glibc picked its string functions before the shim loaded: mask AVX-512 there too
GLIBC_MASK = "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD"
PROBE = ("from numpy._core._multiarray_umath import __cpu_features__ as f; "
         "import sys; sys.exit(0 if f['AVX2'] and not f['AVX512F'] else 1)")


def cache_dir() -> Path:
    """Where the shim and the masked copy of /proc/cpuinfo are kept."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidseg"


def build_shim(cache: Path | None = None) -> Path:
    """avx2_cpuid.c built into a shared library (once per source text); raises OSError without `cc`."""
    source = SHIM_SOURCE.read_bytes()
    cache = cache or cache_dir()
    library = cache / f"avx2_cpuid-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if not library.exists():
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise OSError("no C compiler (cc) to build benchmarks/avx2_cpuid.c")
        cache.mkdir(parents=True, exist_ok=True)
        partial = library.with_suffix(f".{os.getpid()}.tmp")
        built = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(partial), str(SHIM_SOURCE), "-ldl"],
                               capture_output=True, text=True)
        if built.returncode:
            raise OSError(f"building {SHIM_SOURCE.name} failed: {built.stderr.strip()}")
        partial.replace(library)
    return library


def masked_environment(library: Path) -> dict[str, str]:
    """The variables that load the shim into a process and every process it starts, and point vidseg's own
    reading of the CPU's flags (`vidseg.core.cpu`, from /proc/cpuinfo, which CPUID masking does not reach) at a
    copy without the masked ones."""
    preload = " ".join(filter(None, [str(library), os.environ.get("LD_PRELOAD", "")]))
    tunables = ":".join(filter(None, [os.environ.get("GLIBC_TUNABLES", ""), GLIBC_MASK]))
    return {"LD_PRELOAD": preload, "GLIBC_TUNABLES": tunables, "AVX2_CPUID_REQUIRED": "1",
            "VIDSEG_CPUINFO": str(masked_cpuinfo(library.parent))}


def masked_cpuinfo(cache: Path, cpuinfo: Path = Path("/proc/cpuinfo")) -> Path:
    """A copy of `cpuinfo` in `cache` whose flags lines lack what the shim masks (AVX-512, AVX-VNNI, AVX-IFMA,
    AMX and the like: every flag starting with one of `MASKED_FLAGS`)."""
    def keep(line: str) -> str:
        if not line.startswith("flags"):
            return line
        name, _, flags = line.partition(":")
        return f"{name}:" + "".join(f" {flag}" for flag in flags.split() if not flag.startswith(MASKED_FLAGS)) + "\n"

    text = "".join(keep(line) for line in cpuinfo.read_text().splitlines(keepends=True))
    cache.mkdir(parents=True, exist_ok=True)
    copy = cache / f"cpuinfo-avx2-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if not copy.exists():
        partial = copy.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text)
        partial.replace(copy)
    return copy


def avx2_environment() -> tuple[dict[str, str], str]:
    """The variables that make a new process see an AVX2-only CPU, and how (for the output).

    CPUID masked where the shim builds and the probe (NumPy's CPU dispatch in a child process)
    sees AVX2 without AVX-512; the caps otherwise, with the reason.
    """
    try:
        env = masked_environment(build_shim())
    except OSError as error:
        why = str(error)
    else:
        probe = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True)
        if probe.returncode == 0:
            return env, "CPUID masked to AVX2 (benchmarks/avx2_cpuid.c): every library picks its AVX2 kernels itself"
        why = (probe.stderr.strip().splitlines() or ["the probe still saw AVX-512"])[-1]
    caps = " ".join(f"{k}={v}" for k, v in CAPS.items())
    return ({**CAPS, "VIDSEG_CPUINFO": str(masked_cpuinfo(cache_dir()))},
            f"capped: {caps}; ONNX Runtime's and OpenVINO's MLAS kernels are not (CPUID masking unavailable: {why})")
