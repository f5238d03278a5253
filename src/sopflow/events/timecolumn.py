"""The timestamp grammar of :mod:`sopflow.events.timeparse`, vectorised over an Arrow column.

Returns UTC microseconds and a mask of the rows it could not settle; the caller sends those rows to the
per-row parser, which either accepts them (a rarer spelling) or says what is wrong. Wall-clock times
are converted with the same ``tz.utcoffset`` call as the per-row path, once per distinct local hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.timeparse import (
    DATETIME_PATTERN,
    EPOCH_MICROS_BELOW,
    EPOCH_MILLIS_BELOW,
    EPOCH_PATTERN,
    EPOCH_SECONDS_BELOW,
    TS_MAX_US,
    TS_MIN_US,
    TimeParseError,
    local_to_utc_us,
)

HOUR_US = 3_600_000_000
_LOCAL_EPOCH = datetime(1970, 1, 1)
_FAST_LEN = 19  # "YYYY-MM-DD HH:MM:SS", by far the most common spelling in exports


def parse_ts_column(column: pa.Array, tz: tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """``(utc_us int64, unsettled bool)`` for one column; ``unsettled`` includes missing values."""
    n = len(column)
    utc = np.zeros(n, dtype=np.int64)
    bad = np.ones(n, dtype=bool)
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        values = column.cast(pa.timestamp("us", tz=kind.tz if pa.types.is_timestamp(kind) else None))
        valid = _valid(values)
        raw = _ints(values)
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            utc, bad = raw, ~valid
        else:
            utc, bad = local_column_to_utc(raw, valid, tz)
    elif pa.types.is_integer(kind):
        valid = _valid(column) & (_ints(column.cast(pa.int64())) >= 0)
        utc, bad = _epoch(_ints(column.cast(pa.int64())), valid)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        utc, bad = _parse_strings(column.cast(pa.string()), tz)
    in_range = (utc >= TS_MIN_US) & (utc < TS_MAX_US)
    return utc, bad | ~in_range


def _valid(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.is_valid(array).to_numpy(zero_copy_only=False), dtype=bool)


def _ints(array: pa.Array) -> np.ndarray:
    return np.asarray(array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _epoch(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return epoch_to_us_column(values), ~valid


def epoch_to_us_column(values: np.ndarray) -> np.ndarray:
    """:func:`~sopflow.events.timeparse.epoch_to_us` of each value (seconds, ms, µs or ns by magnitude)."""
    us = np.where(
        values < EPOCH_SECONDS_BELOW,
        values * 1_000_000,
        np.where(
            values < EPOCH_MILLIS_BELOW,
            values * 1_000,
            np.where(values < EPOCH_MICROS_BELOW, values, values // 1_000),
        ),
    )
    result: np.ndarray = us.astype(np.int64)
    return result


def _parse_strings(column: pa.Array, tz: tzinfo) -> tuple[np.ndarray, np.ndarray]:
    n = len(column)
    local = np.zeros(n, dtype=np.int64)
    zone = np.zeros(n, dtype=np.int64)
    has_zone = np.zeros(n, dtype=bool)
    settled = np.zeros(n, dtype=bool)
    epoch_rows = np.zeros(n, dtype=bool)
    fast_idx, fast_local = _fast_fixed_width(column)
    local[fast_idx] = fast_local
    settled[fast_idx] = True
    zulu_idx, zulu_us = _fast_zulu(column)
    local[zulu_idx] = zulu_us  # UTC already: a zone of +00:00
    has_zone[zulu_idx] = True
    settled[zulu_idx] = True
    rest = np.flatnonzero(~settled & _valid(column))
    if len(rest):
        sub = column.take(pa.array(rest))
        g_ok, g_local, g_zone, g_has_zone = _general(sub)
        local[rest[g_ok]] = g_local[g_ok]
        zone[rest[g_ok]] = g_zone[g_ok]
        has_zone[rest[g_ok]] = g_has_zone[g_ok]
        settled[rest[g_ok]] = True
        rest = rest[~g_ok]
    if len(rest):
        sub = column.take(pa.array(rest))
        is_epoch = np.asarray(
            pc.match_substring_regex(sub, EPOCH_PATTERN).fill_null(False).to_numpy(zero_copy_only=False),
            dtype=bool,
        ) & (np.asarray(pc.utf8_length(sub).fill_null(0)) <= 18)
        if is_epoch.any():
            values = np.asarray(sub.filter(pa.array(is_epoch)).cast(pa.int64()), dtype=np.int64)
            us, _ = _epoch(values, np.ones(len(values), dtype=bool))
            idx = rest[is_epoch]
            local[idx] = us
            epoch_rows[idx] = True
            settled[idx] = True
    utc, bad = local_column_to_utc(local, settled & ~has_zone & ~epoch_rows, tz)
    utc = np.where(has_zone, local - zone * 1_000_000, np.where(epoch_rows, local, utc))
    return utc, ~settled | (bad & settled & ~has_zone & ~epoch_rows)


def _fast_fixed_width(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Rows spelled exactly ``YYYY-MM-DD HH:MM:SS`` (``/`` or ``.`` dates, ``T`` allowed), parsed by position."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets, data = string_buffers(arr)
    if not len(data):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    valid = _valid(arr)
    idx = np.flatnonzero(((offsets[1:] - offsets[:-1]) == _FAST_LEN) & valid)
    if not len(idx):
        return idx, np.zeros(0, dtype=np.int64)
    if len(idx) == len(arr) and len(data) == _FAST_LEN * len(arr):
        chars = data.reshape(-1, _FAST_LEN)  # every value has the fast shape: a view, no gather
    else:
        chars = data[offsets[idx][:, None] + np.arange(_FAST_LEN)]
    digit_pos = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
    ok = ((chars[:, digit_pos] - np.uint8(48)) <= 9).all(axis=1)
    date_sep = np.isin(chars[:, 4], (45, 47, 46)) & np.isin(chars[:, 7], (45, 47, 46))
    ok &= date_sep & np.isin(chars[:, 10], (32, 84)) & (chars[:, 13] == 58) & (chars[:, 16] == 58)

    def number(*positions: int) -> np.ndarray:
        # small integers: 32-bit arithmetic moves half the memory of 64-bit, the work here
        value = np.zeros(len(chars), dtype=np.int32)
        for position in positions:
            value = value * 10 + (chars[:, position].astype(np.int32) - 48)
        return value

    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    ok &= _valid_civil(year, month, day, hour, minute, second)
    local = _civil_to_us(year, month, day, hour, minute, second, np.zeros(len(year), dtype=np.int64))
    return idx[ok], local[ok]


_ZULU_FRACTION = {20: 0, 24: 3, 27: 6}  # length of "YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z" → fraction digits


def _fast_zulu(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Rows spelled ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`` (what JavaScript's ``toISOString`` and most SDKs
    send), parsed by position as UTC; the regular expression path costs tens of µs per row."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets, data = string_buffers(arr)
    found_idx, found_us = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    if not len(data):
        return found_idx[0], found_us[0]
    lengths = offsets[1:] - offsets[:-1]
    valid = _valid(arr)
    for length, digits in _ZULU_FRACTION.items():
        idx = np.flatnonzero((lengths == length) & valid)
        if not len(idx):
            continue
        chars = data[offsets[idx][:, None] + np.arange(length)]
        positions = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, *range(20, 20 + digits)]
        ok = ((chars[:, positions] - np.uint8(48)) <= 9).all(axis=1)
        ok &= (chars[:, 4] == 45) & (chars[:, 7] == 45) & (chars[:, 10] == 84)
        ok &= (chars[:, 13] == 58) & (chars[:, 16] == 58) & (chars[:, length - 1] == 90)
        if digits:
            ok &= chars[:, 19] == 46

        def number(*at: int, rows: np.ndarray = chars) -> np.ndarray:
            value = np.zeros(len(rows), dtype=np.int64)
            for position in at:
                value = value * 10 + (rows[:, position].astype(np.int64) - 48)
            return value

        year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
        hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
        micro = (
            number(*range(20, 20 + digits)) * 10 ** (6 - digits) if digits else np.zeros(len(idx), np.int64)
        )
        ok &= _valid_civil(year, month, day, hour, minute, second)
        found_idx.append(idx[ok])
        found_us.append(_civil_to_us(year, month, day, hour, minute, second, micro)[ok])
    return np.concatenate(found_idx), np.concatenate(found_us)


def string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, data)`` of a string array as NumPy views: row i is ``data[offsets[i]:offsets[i+1]]``."""
    n = len(array)
    buffers = array.buffers()
    if n == 0 or buffers[2] is None:
        return np.zeros(n + 1, dtype=np.int32), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[array.offset : array.offset + n + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def _general(sub: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    parts = pc.extract_regex(sub, DATETIME_PATTERN)
    matched = _valid(parts)

    def num(name: str, default: int = 0) -> np.ndarray:
        field = pc.struct_field(parts, name)
        field = pc.if_else(pc.equal(field, ""), pa.scalar(None, pa.string()), field)
        return np.asarray(
            field.cast(pa.int64()).fill_null(default).to_numpy(zero_copy_only=False), dtype=np.int64
        )

    year, month, day = num("y"), num("mo"), num("d")
    hour, minute, second = num("h"), num("mi"), num("s")
    fraction = pc.utf8_rpad(pc.utf8_slice_codeunits(pc.struct_field(parts, "f"), 0, 6), width=6, padding="0")
    micro = np.asarray(fraction.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    ok = matched & _valid_civil(year, month, day, hour, minute, second)
    local = _civil_to_us(year, month, day, hour, minute, second, micro)
    zone_text = pc.struct_field(parts, "z")
    has_zone = matched & np.asarray(
        pc.greater(pc.utf8_length(zone_text), 0).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool
    )
    zone = np.zeros(len(sub), dtype=np.int64)
    if has_zone.any():
        compact = pc.replace_substring(zone_text, ":", "")
        sign = np.where(np.asarray(pc.starts_with(compact, "-").fill_null(False), dtype=bool), -1, 1)
        hh = _slice_int(compact, 1, 3)
        mm = _slice_int(compact, 3, 5)
        ok &= ~has_zone | ((hh <= 23) & (mm <= 59))
        zone = sign * (hh * 3600 + mm * 60)
    return ok, local, zone, has_zone


def _slice_int(text: pa.Array, start: int, stop: int) -> np.ndarray:
    part = pc.utf8_slice_codeunits(text, start, stop)
    digits = pc.if_else(pc.match_substring_regex(part, r"^[0-9]+$"), part, pa.scalar(None, pa.string()))
    return np.asarray(digits.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _valid_civil(
    year: np.ndarray,
    month: np.ndarray,
    day: np.ndarray,
    hour: np.ndarray,
    minute: np.ndarray,
    second: np.ndarray,
) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    dim = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)] + (
        leap & (month == 2)
    )
    valid: np.ndarray = (
        (year >= 1)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= dim)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
    )
    return valid


def _civil_to_us(
    year: np.ndarray,
    month: np.ndarray,
    day: np.ndarray,
    hour: np.ndarray,
    minute: np.ndarray,
    second: np.ndarray,
    micro: np.ndarray,
) -> np.ndarray:
    # days from 1970-01-01 (H. Hinnant's days_from_civil), exact for the proleptic Gregorian calendar
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = (era * 146097 + doe - 719468).astype(np.int64)  # fields may come 32-bit; seconds need 64
    seconds = days * 86400 + (hour * 3600 + minute * 60 + second)
    us: np.ndarray = (seconds * 1_000_000 + micro).astype(np.int64)
    return us


def local_column_to_utc(local: np.ndarray, rows: np.ndarray, tz: tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock µs in ``tz`` → UTC µs for ``rows``; ``bad`` marks rows that could not be converted."""
    utc = local.copy()
    bad = ~rows.copy()
    idx = np.flatnonzero(rows)
    if not len(idx):
        return utc, bad
    hours = np.floor_divide(local[idx], HOUR_US)
    unique, inverse = np.unique(hours, return_inverse=True)
    offsets = np.zeros(len(unique), dtype=np.int64)
    exact = np.ones(len(unique), dtype=bool)
    for i, hour in enumerate(unique.tolist()):
        try:
            start = _LOCAL_EPOCH + timedelta(hours=hour)
            first, last = tz.utcoffset(start), tz.utcoffset(start + timedelta(microseconds=HOUR_US - 1))
        except (OverflowError, ValueError):
            exact[i] = False
            continue
        if first is None or first != last:
            exact[i] = False  # the offset changes inside this hour: convert its rows one by one
            continue
        offsets[i] = first // timedelta(microseconds=1)
    row_exact = exact[inverse]
    utc[idx[row_exact]] = local[idx[row_exact]] - offsets[inverse[row_exact]]
    for j in idx[~row_exact].tolist():
        try:
            utc[j] = local_to_utc_us(_LOCAL_EPOCH + timedelta(microseconds=int(local[j])), tz)
        except (OverflowError, ValueError, TimeParseError):
            bad[j] = True
    return utc, bad
