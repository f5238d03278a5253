"""Counter-based random numbers: every draw is a hash of (seed, person key, purpose).

A draw depends only on who it is for and what it is for, never on how many draws came before, so the
output is the same whatever the chunk size or the order in which users are processed. The hash is the
SplitMix64 finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014), which
passes BigCrush on counters and costs a handful of vectorised integer operations per value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def mix64(x: U64) -> U64:
    """SplitMix64's finaliser, element-wise (uint64 arithmetic wraps, as intended)."""
    z = x ^ (x >> _S30)
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def mix_int(value: int) -> int:
    """:func:`mix64` of one Python int (for salts)."""
    z = value & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def purpose(family: int, index: int = 0) -> int:
    """A purpose code: a family of draws (stage delay…) and an index in it (which stage)."""
    return (family << 20) | index


class Stream:
    """Uniform, normal, log-normal and categorical draws for arrays of person keys."""

    def __init__(self, seed: int) -> None:
        self._seed = mix_int(seed * GOLDEN + 1)

    def salt(self, code: int) -> np.uint64:
        return np.uint64(mix_int(self._seed ^ mix_int(code * GOLDEN + 0x632BE59BD9B4E019)))

    def bits(self, keys: U64, code: int) -> U64:
        return mix64(keys ^ self.salt(code))

    def uniform(self, keys: U64, code: int) -> F64:
        """Uniform in the open interval (0, 1)."""
        return ((self.bits(keys, code) >> _S11).astype(np.float64) + 0.5) * (1.0 / (1 << 53))

    def normal(self, keys: U64, code: int) -> F64:
        # Box–Muller from two independent uniforms.
        u1 = self.uniform(keys, code)
        u2 = self.uniform(keys, code ^ 0x5BD1E995)
        out: F64 = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        return out

    def lognormal(self, keys: U64, code: int, *, median: float, sigma: float) -> F64:
        """Heavy-tailed positive values with the given median (seconds, usually)."""
        out: F64 = median * np.exp(sigma * self.normal(keys, code))
        return out

    def choice(self, keys: U64, code: int, cumulative: F64) -> I64:
        """Index drawn from a distribution given by its cumulative weights (last value = total)."""
        u = self.uniform(keys, code) * cumulative[-1]
        picked: I64 = np.searchsorted(cumulative, u, side="right").astype(np.int64)
        np.minimum(picked, len(cumulative) - 1, out=picked)
        return picked

    def below(self, keys: U64, code: int, probability: F64 | float) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = self.uniform(keys, code) < probability
        return out


def child_keys(parent: U64, ordinal: I64) -> U64:
    """Keys of the ``ordinal``-th invitee (0-based) of each parent: distinct from the parent's draws."""
    return mix64(
        mix64(parent ^ np.uint64(0xD6E8FEB86659FD93)) + ordinal.astype(np.uint64) * np.uint64(GOLDEN)
    )


def sub_keys(keys: U64, ordinal: I64 | int) -> U64:
    """Keys for the ``ordinal``-th repeat of something a person does (a return visit, an anonymous event)."""
    return mix64(keys + (np.asarray(ordinal, dtype=np.uint64) + np.uint64(1)) * np.uint64(0xA0761D6478BD642F))


def fixed_width_strings(prefix: bytes, values: U64, *, width: int, base: int) -> pa.StringArray:
    """``prefix`` + each value written in ``base`` (10 or 16) with ``width`` digits, built without Python loops."""
    n = len(values)
    size = len(prefix) + width
    data = np.empty((n, size), dtype=np.uint8)
    data[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    rest = values.astype(np.uint64, copy=True)
    step = np.uint64(base)
    for col in range(size - 1, len(prefix) - 1, -1):
        data[:, col] = _HEX[(rest % step).astype(np.intp)]
        rest //= step
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    large = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return large.cast(pa.string())
