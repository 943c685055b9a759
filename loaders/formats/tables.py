"""Spreadsheet-like rows (XLSX, XLS, CSV) into self-contained 'column: value' row blocks."""
from __future__ import annotations

import datetime as dt
import math
from typing import Iterable, Iterator, Sequence

from ..blocks import ROW, TEXT, ParseResult, render_row
from ..guards import Deadline


def format_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


HEADER_LOOKAHEAD = 20  # rows examined to find the header under title rows


def add_rows(result: ParseResult, rows: Iterable[Sequence[object]], deadline: Deadline, *,
             page: int | None = None, label: str = "") -> None:
    """Emit one row block per non-empty row, each carrying the header row's column names.

    Spreadsheets often put title rows ("Revenue", "In millions of CHF") above the table, so
    the header is the first row filled at least 60% as wide as the widest of the first rows;
    rows above it become text blocks."""
    prefix = f"[{label}] " if label else ""
    rows = iter(rows)
    first: list[list[str]] = []
    for values in _non_empty(rows, deadline):
        first.append(values)
        if len(first) >= HEADER_LOOKAHEAD:
            break
    if not first:
        return
    widest = max(_filled(values) for values in first)
    need = max(min(2, widest), math.ceil(0.6 * widest))
    header_at = next(i for i, values in enumerate(first) if _filled(values) >= need)
    for values in first[:header_at]:
        result.add(prefix + " ".join(v for v in values if v), TEXT, page)
    header = first[header_at]
    result.add(prefix + "; ".join(v for v in header if v), ROW, page)
    for values in first[header_at + 1:]:
        result.add(prefix + render_row(header, values), ROW, page)
    for values in _non_empty(rows, deadline):
        result.add(prefix + render_row(header, values), ROW, page)


def _filled(values: list[str]) -> int:
    return sum(1 for v in values if v)


def _non_empty(rows: Iterator[Sequence[object]], deadline: Deadline) -> Iterator[list[str]]:
    for count, row in enumerate(rows):
        if count % 500 == 0:
            deadline.check()
        values = [format_cell(v) for v in row]
        if any(values):
            yield values
