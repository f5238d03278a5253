"""Corrections for several comparisons (variants × metrics): Holm (family-wise) and Benjamini–Hochberg (FDR).

Both return adjusted p-values in the input's order, capped at 1, as ``statsmodels`` ``multipletests``
(``holm``, ``fdr_bh``) computes them; ``None`` entries (no p-value) are left out of the family and stay
``None``. A comparison is significant when its adjusted p-value is below α.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Correction = Literal["holm", "bh"]
CORRECTIONS: tuple[Correction, ...] = ("holm", "bh")


def adjust(p_values: Sequence[float | None], method: Correction) -> list[float | None]:
    known = [(i, p) for i, p in enumerate(p_values) if p is not None]
    adjusted = (
        holm([p for _i, p in known]) if method == "holm" else benjamini_hochberg([p for _i, p in known])
    )
    out: list[float | None] = [None] * len(p_values)
    for (i, _p), q in zip(known, adjusted, strict=True):
        out[i] = q
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Step-down: the k-th smallest (k from 0) times ``m − k``, made non-decreasing."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [0.0] * m
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p_values[i]))
        out[i] = running
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Step-up: the k-th smallest (k from 1) times ``m / k``, made non-increasing from the largest down."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        out[i] = running
    return out
