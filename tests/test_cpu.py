"""CPU feature detection behind the precision warning (vidseg/core/cpu.py), and a segment job's tables: the same
whatever its thread count, under either of TensorFlow's CPU kernel sets."""

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vidseg.core.cpu import cpu_flags, has_bf16, has_int8_dot, precision_warning
from vidseg.core.errors import VidsegError

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni
processor\t: 1
flags\t\t: fpu sse2
"""
ZEN2 = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 fma\n"


def test_flags_are_the_first_cpus():
    assert cpu_flags(ZEN4) == {"fpu", "sse2", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni"}
    assert cpu_flags("no flags line here") == set()


def test_a_cpuinfo_named_by_the_environment_must_be_readable(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDSEG_CPUINFO", str(tmp_path / "missing"))
    with pytest.raises(VidsegError, match=r"VIDSEG_CPUINFO names .*missing, which cannot be read"):
        cpu_flags()
    (tmp_path / "zen2").write_text(ZEN2)
    monkeypatch.setenv("VIDSEG_CPUINFO", str(tmp_path / "zen2"))
    assert cpu_flags() == {"fpu", "sse2", "avx2", "fma"}


def test_bf16_needs_avx512_bf16_or_amx():
    assert has_bf16(cpu_flags(ZEN4))
    assert not has_bf16(cpu_flags(ZEN2))
    assert has_bf16({"amx_bf16", "amx_tile"})


def test_int8_dot_products_need_vnni_or_amx():
    assert has_int8_dot(cpu_flags(ZEN4))
    assert not has_int8_dot(cpu_flags(ZEN2))
    assert has_int8_dot({"avx2", "avx_vnni"}) and has_int8_dot({"amx_int8", "amx_tile"})


def test_precision_warning_only_where_16_bit_math_is_emulated():
    zen4, zen2 = cpu_flags(ZEN4), cpu_flags(ZEN2)
    assert precision_warning("float32", gpu=False, flags=zen2) is None
    assert precision_warning("mixed_bfloat16", gpu=False, flags=zen4) is None
    assert precision_warning("mixed_bfloat16", gpu=True, flags=zen2) is None
    assert precision_warning("mixed_float16", gpu=True, flags=zen2) is None
    slow = precision_warning("mixed_bfloat16", gpu=False, flags=zen2)
    assert "segment.precision mixed_bfloat16" in slow and "AVX512-BF16" in slow and "slower than float32" in slow
    assert "GPU" in precision_warning("mixed_float16", gpu=False, flags=zen4)


# TensorFlow's own kernels (what it runs by default on CPUs without AVX512-VNNI/BF16 or AMX, such as AVX2-only
# ones), and oneDNN's for AVX2 (what it runs there with TF_ENABLE_ONEDNN_OPTS=1)
KERNELS = {"tensorflow": {"TF_ENABLE_ONEDNN_OPTS": "0"},
           "onednn-avx2": {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2"}}


@pytest.mark.parametrize("kernels", KERNELS)
def test_the_same_tables_bit_for_bit_at_1_and_3_threads(tmp_path, kernels):
    """A segment job's tables do not depend on its thread count: on AVX2 CPUs they did (issue 33). The kernels
    such a CPU runs are chosen here on any CPU."""
    from conftest import seeded_model
    from flow import MODEL
    from media import short_videos

    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(tmp_path / "weights.h5")
    (frames,), (index,) = short_videos({"v": 9}, tmp_path)  # 9 frames: batches of 2, the last one padded
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")}
    env.update(KERNELS[kernels])
    outputs = {threads: [tmp_path / f"{threads}.{kind}.parquet" for kind in ("detections", "frames")]
               for threads in (1, 3)}
    logs = {threads: tmp_path / f"{threads}.log" for threads in outputs}
    # both at once (the tables cannot depend on what else the machine runs either)
    runs = {}
    for threads, out in outputs.items():
        with logs[threads].open("w") as log:
            runs[threads] = subprocess.Popen([sys.executable, str(Path(__file__).with_name("segment_run.py")),
                                              str(threads), str(tmp_path / "weights.h5"), str(frames), str(index),
                                              *map(str, out)], env=env, stdout=subprocess.DEVNULL, stderr=log)
    tables = {}
    for threads, run in runs.items():
        assert run.wait(timeout=600) == 0, logs[threads].read_text()[-3000:]
        tables[threads] = [pq.read_table(path) for path in outputs[threads]]
    assert tables[1][0].num_rows >= 20
    for got, want in zip(tables[3], tables[1]):
        assert got.equals(want)  # every column, every bit (floats compared exactly)
