"""CSV/TSV: encoding detected, dialect sniffed, each record a row block under its header."""
from __future__ import annotations

import csv
import io

from ..blocks import ParseResult
from ..errors import ParseFailure
from ..textdecode import decode_bytes
from . import ParseContext
from .tables import add_rows

# Cells with long quoted text (issue dumps, notes) exceed csv's 128 KB default.
csv.field_size_limit(64 * 1024 * 1024)


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    text = decode_bytes(data)
    dialect = _sniff(text, tab_default=ctx.file_name.lower().endswith(".tsv"))
    result = ParseResult()
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        add_rows(result, reader, ctx.deadline)
    except csv.Error as exc:
        raise ParseFailure("corrupt", f"CSV: {exc}") from exc
    return result


def _sniff(text: str, tab_default: bool) -> type[csv.Dialect] | csv.Dialect:
    sample = "\n".join(text[:32768].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel_tab if tab_default else csv.excel
