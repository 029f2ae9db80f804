"""CPU feature detection behind the precision warning (vidseg/cpu.py)."""

from vidseg.cpu import cpu_flags, has_bf16, precision_warning

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


def test_bf16_needs_avx512_bf16_or_amx():
    assert has_bf16(cpu_flags(ZEN4))
    assert not has_bf16(cpu_flags(ZEN2))
    assert has_bf16({"amx_bf16", "amx_tile"})


def test_precision_warning_only_where_16_bit_math_is_emulated():
    zen4, zen2 = cpu_flags(ZEN4), cpu_flags(ZEN2)
    assert precision_warning("float32", gpu=False, flags=zen2) is None
    assert precision_warning("mixed_bfloat16", gpu=False, flags=zen4) is None
    assert precision_warning("mixed_bfloat16", gpu=True, flags=zen2) is None
    assert precision_warning("mixed_float16", gpu=True, flags=zen2) is None
    slow = precision_warning("mixed_bfloat16", gpu=False, flags=zen2)
    assert "segment.precision mixed_bfloat16" in slow and "AVX512-BF16" in slow and "slower than float32" in slow
    assert "GPU" in precision_warning("mixed_float16", gpu=False, flags=zen4)
