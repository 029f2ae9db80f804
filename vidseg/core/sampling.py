"""Evenly spaced picks: which of n frames a contact sheet shows, or int8 calibrates on.

One formula in exact arithmetic (an integer product over an integer), so a position that
falls halfway between two frames rounds the same way everywhere (to the even one).
"""

from __future__ import annotations


def evenly_spaced(n: int, k: int) -> list[int]:
    """`k` of the indices 0 .. n-1 (all of them where n <= k, none where n <= 0), evenly spaced and in order, the
    first and the last among them."""
    k = min(n, k)
    return [round(i * (n - 1) / max(k - 1, 1)) for i in range(k)]
