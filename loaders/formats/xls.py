"""Old binary Excel (.xls) with xlrd: each row a row block, page = sheet number."""
from __future__ import annotations

import xlrd

from ..blocks import ParseResult
from ..errors import ParseFailure
from . import ParseContext
from .tables import add_rows


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except xlrd.XLRDError as exc:
        code = "password" if "encrypt" in str(exc).lower() else "corrupt"
        raise ParseFailure(code, str(exc)) from exc
    except Exception as exc:
        raise ParseFailure("corrupt", f"{type(exc).__name__}: {exc}") from exc
    result = ParseResult()
    try:
        for number in range(book.nsheets):
            sheet = book.sheet_by_index(number)
            rows = ([_value(cell, book.datemode) for cell in sheet.row(r)] for r in range(sheet.nrows))
            add_rows(result, rows, ctx.deadline, page=number + 1, label=sheet.name)
    finally:
        book.release_resources()
    return result


def _value(cell, datemode: int) -> object:
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError):
            return cell.value
    if cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    return cell.value
