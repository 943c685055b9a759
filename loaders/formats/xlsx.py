"""XLSX with openpyxl (read-only, cached values): each row a row block, page = sheet number."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from ..blocks import ParseResult
from ..errors import ParseFailure
from . import ParseContext, reject_encrypted_ooxml
from .tables import add_rows


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    reject_encrypted_ooxml(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ParseFailure("corrupt", f"{type(exc).__name__}: {exc}") from exc
    try:
        result = ParseResult(title=(workbook.properties.title or "").strip() or None)
        for number, sheet in enumerate(workbook.worksheets, start=1):
            add_rows(result, sheet.iter_rows(values_only=True), ctx.deadline,
                     page=number, label=sheet.title)
    finally:
        workbook.close()
    return result
