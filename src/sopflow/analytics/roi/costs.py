"""Actual costs from a file (CSV or Excel .xlsx): one row per spend, ``date, channel, amount``.

- Columns by header (English or Chinese): ``date``/``日期``, ``channel``/``渠道`` (optional column; a blank
  cell is a cost of the whole campaign), ``amount``/``金额``/``费用``/``成本``, and optionally
  ``currency``/``币种`` (must be the playbook's currency when given). Other columns are ignored.
- Dates: ``2026-11-01``, ``2026/11/1``, ``2026年11月1日``, a datetime (its day counts) or an Excel date cell.
- Amounts: a number ≥ 0, with optional thousands separators and a ¥/￥ sign; kept as exact decimals.
- Every bad row is reported with its row number (the header is row 1, as Excel shows it) and nothing is
  used when any row is bad.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sopflow.errors import InvalidInput
from sopflow.events.readers import SourceFile, open_source
from sopflow.i18n import _

MAX_PROBLEMS = 20
_HEADERS = {
    "date": ("date", "日期", "day", "时间"),
    "channel": ("channel", "渠道"),
    "amount": ("amount", "金额", "费用", "成本", "cost"),
    "currency": ("currency", "币种", "货币"),
}
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")


@dataclass(frozen=True)
class CostRow:
    row: int
    day: date
    channel: str | None  # None: a cost of the whole campaign
    amount: Decimal


def read_costs(path: Path, *, currency: str) -> list[CostRow]:
    """Every cost row of ``path``; raises :class:`InvalidInput` listing the bad rows (none is kept then)."""
    source = open_source(path)
    if source.format not in ("csv", "xlsx"):
        raise InvalidInput(_("{path}: a costs file is CSV or Excel (.xlsx)", path=path))
    columns = _columns(path, source.headers)
    rows: list[CostRow] = []
    problems: list[str] = []
    for number, record in _records(source):
        cells = {key: _cell(record.get(name)) for key, name in columns.items()}
        if not any(cells.values()):
            continue
        try:
            rows.append(_row(number, cells, currency))
        except ValueError as exc:
            problems.append(_("{path} row {row}: {problem}", path=path, row=number, problem=exc))
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(_("… and {n} more bad rows", n=len(problems) - MAX_PROBLEMS))
        shown.append(_("no cost was used: fix these rows and run again"))
        raise InvalidInput("\n".join(shown))
    return rows


def _records(source: SourceFile) -> Iterator[tuple[int, dict[str, object]]]:
    """``(row number, {header: cell})``; CSV read line by line so that blank lines keep the numbering."""
    if source.format == "xlsx":
        for chunk in source.chunks():
            table = chunk.table
            assert table is not None
            data = table.to_pylist()
            yield from zip(chunk.rows.tolist(), data, strict=True)
        return
    with source.path.open(encoding=source.encoding or "utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=source.delimiter)
        next(reader, None)
        for cells in reader:
            yield reader.line_num, dict(zip(source.headers, cells, strict=False))


def _columns(path: Path, headers: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in headers:
        key = next((k for k, names in _HEADERS.items() if header.strip().lower() in names), None)
        if key is not None and key not in found:
            found[key] = header
    for required in ("date", "amount"):
        if required not in found:
            raise InvalidInput(
                _(
                    "{path}: no {column!r} column (the columns are date, channel, amount; found: {found})",
                    path=path,
                    column=required,
                    found=", ".join(headers),
                )
            )
    return found


def _cell(value: object) -> str | None:
    text = None if value is None else str(value).strip()
    return text or None


def _row(number: int, cells: dict[str, str | None], currency: str) -> CostRow:
    day = parse_day(cells.get("date"))
    amount = parse_amount(cells.get("amount"))
    given = cells.get("currency")
    if given is not None and given.upper() != currency:
        raise ValueError(
            _(
                "currency {given} is not the playbook's currency {currency}",
                given=given,
                currency=currency,
            )
        )
    return CostRow(number, day, cells.get("channel"), amount)


def parse_day(text: str | None) -> date:
    match = _DATE.match(text or "")
    if not match:
        raise ValueError(_("date {value!r} is not a date such as 2026-11-01", value=text or ""))
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(_("date {value!r} does not exist", value=text)) from None


def parse_amount(text: str | None) -> Decimal:
    cleaned = (text or "").replace(",", "").replace("¥", "").replace("￥", "").strip()
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise ValueError(_("amount {value!r} is not a number ≥ 0", value=text or ""))
    return amount
