"""Spreadsheet-like rows (XLSX, XLS, CSV) into self-contained 'column: value' row blocks."""
from __future__ import annotations

import datetime as dt
import itertools
import math
import re
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

    Spreadsheets often put title rows ("Revenue", "In millions of CHF  January–June 2023") above
    a table, and one sheet often holds several tables of the same shape (this half-year, then
    last year's). So:
    - the header is the first row filled at least 60% as wide as the widest of the first rows;
      rows above it become text blocks;
    - a sparse row (a title, a unit or period line, a footnote) is a text block, and the nearest
      one above a row travels with that row as its caption ("[sheet · In millions of CHF
      January–June 2022] Zone NA; Sales: 12138"), so rows of two same-shaped tables stay apart;
    - a row of text cells only, right after such a title row, starts a new table: it is the new
      header. (Anywhere else a text-only row is data: a list of names is all text.)"""
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
    if _band_above_header(first, header_at):
        header_at += 1
    caption = ""
    for values in first[:header_at]:
        caption = " ".join(v for v in values if v)
        result.add(_prefix(label, "") + caption, TEXT, page)
    header = first[header_at]
    result.add(_prefix(label, caption) + "; ".join(v for v in header if v), ROW, page)
    after_title = False
    for values in itertools.chain(first[header_at + 1:], _non_empty(rows, deadline)):
        if _filled(values) < need and not _has_figures(values):
            caption, after_title = " ".join(v for v in values if v), True
            result.add(_prefix(label, "") + caption, TEXT, page)
            continue
        if after_title and _filled(values) >= 2 and not _has_figures(values):
            header = values  # a new table under its own title
            result.add(_prefix(label, caption) + "; ".join(v for v in header if v), ROW, page)
        else:
            result.add(_prefix(label, caption) + render_row(header, values), ROW, page)
        after_title = False


def _band_above_header(first: list[list[str]], at: int) -> bool:
    """Whether row ``at`` is a band over the real header (periods spanning columns: "January–June
    2023 | January–June 2022" above "Sales | Profit | Sales | Profit"): both rows are text only and
    the next is fuller. The band then becomes the caption: which of its labels spans which column
    is not in the cell values (a merged or centred label's position is no safe guide)."""
    if at + 1 >= len(first):
        return False
    band, below = first[at], first[at + 1]
    return (_filled(below) > _filled(band) and not _has_figures(band) and not _has_figures(below))


def _prefix(label: str, caption: str) -> str:
    inside = " · ".join(part for part in (label, caption) if part)
    return f"[{inside}] " if inside else ""


_FIGURE = re.compile(r"^[-+−–—(]*\s*[$€£¥]?\s*\d[\d,.\s]*%?\)?$")


def _has_figures(values: list[str]) -> bool:
    """Whether any cell is a plain figure (12553, -1,164, 5.5%, (83)): a data row, not a title."""
    return any(_FIGURE.match(v.strip()) for v in values if v)


def _filled(values: list[str]) -> int:
    return sum(1 for v in values if v)


def _non_empty(rows: Iterator[Sequence[object]], deadline: Deadline) -> Iterator[list[str]]:
    for count, row in enumerate(rows):
        if count % 500 == 0:
            deadline.check()
        values = [format_cell(v) for v in row]
        if any(values):
            yield values
