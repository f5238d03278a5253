"""Read a request body within the size limit, and undo gzip/base64 without letting a small body explode.

Limits are checked while reading (a lying or missing ``Content-Length`` cannot get past them) and again
after decompression, where a few kilobytes of gzip can expand to gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request

from sopflow.i18n import _
from sopflow.web.errors import ApiError

GZIP_MAGIC = b"\x1f\x8b"
LONG_DIGIT_RUN = 19  # orjson reads integers beyond 64 bits as floats where json keeps them: 19+ digits


def has_long_digit_run(data: bytes) -> bool:
    """Whether ``data`` holds 19 digits in a row: a mask of digits ANDed with itself shifted by 1, 2, 4, 8
    and 3 places marks where 2, 4, 8, 16 and then 19 digits start (a regex takes 15x longer)."""
    if len(data) < LONG_DIGIT_RUN:
        return False
    run = (np.frombuffer(data, dtype=np.uint8) - np.uint8(48)) < 10
    for shift in (1, 2, 4, 8, 3):
        run = run[:-shift] & run[shift:]
    return bool(run.any())


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        _("request body exceeds the limit of {limit} bytes (setting max_body_bytes)", limit=limit),
        code="body_too_large",
        status=413,
    )


async def read_body(request: Request, *, limit: int) -> bytes:
    return await read_limited(request.headers.get("content-length", ""), request.stream(), limit=limit)


async def read_limited(declared: str, chunks: AsyncIterator[bytes], *, limit: int) -> bytes:
    """The body from ``chunks``, refused as soon as it passes ``limit`` bytes (or declares more)."""
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def decoded_too_large(limit: int, *, status: int = 413) -> ApiError:
    return ApiError(
        _(
            "request body exceeds {limit} bytes once decompressed (setting max_decompressed_bytes)",
            limit=limit,
        ),
        code="body_too_large",
        status=status,
    )


def gunzip(data: bytes, *, limit: int, too_large_status: int = 413) -> bytes:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error:
        raise ApiError(
            _("failed to decode request: invalid gzip data"), code="invalid_gzip", status=400
        ) from None
    if len(out) > limit:
        raise decoded_too_large(limit, status=too_large_status)
    if not decoder.eof:
        raise ApiError(_("failed to decode request: truncated gzip data"), code="invalid_gzip", status=400)
    return out


def decode_content(data: bytes, *, content_encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (``gzip`` or none) for the native API."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return gunzip(data, limit=limit)
    raise ApiError(
        _("unsupported Content-Encoding {encoding!r}; send gzip or nothing", encoding=encoding),
        code="unsupported_encoding",
        status=415,
    )


def unbase64(text: str) -> bytes:
    # Form encoding turns an unescaped '+' into a space, and some clients drop the '=' padding.
    cleaned = text.strip().replace(" ", "+")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(cleaned)
        except (binascii.Error, ValueError):
            raise ApiError(
                _("failed to decode request: invalid base64 data"), code="invalid_base64", status=400
            ) from None


def parse_json(data: bytes) -> Any:
    """The JSON value of ``data``, exactly as :func:`json.loads` reads it (orjson for speed where it agrees).

    orjson refuses what :mod:`json` alone accepts (``NaN``, a UTF-8 BOM, lone surrogates, numbers too large
    for a float) and reads long integers differently; those bodies, and every error, go to :mod:`json`.
    """
    if not has_long_digit_run(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise ApiError(
            _("failed to parse request: the body is not UTF-8 text"), code="invalid_json", status=400
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            _(
                "failed to parse request: invalid JSON at line {line}, column {col}: {reason}",
                line=exc.lineno,
                col=exc.colno,
                reason=exc.msg,
            ),
            code="invalid_json",
            status=400,
        ) from None
