"""ODT (OpenDocument text): content.xml walked in order; headings, paragraphs, lists, and
tables as row blocks."""
from __future__ import annotations

import io
import zipfile

from lxml import etree

from ..blocks import ROW, ParseResult, render_row
from ..errors import ParseFailure
from . import ParseContext

TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
T = lambda name: f"{{{TEXT_NS}}}{name}"  # noqa: E731
TB = lambda name: f"{{{TABLE_NS}}}{name}"  # noqa: E731
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_SKIP = {T("note"), f"{{{OFFICE_NS}}}annotation", T("tracked-changes")}


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            root = etree.fromstring(archive.read("content.xml"), _SAFE)
    except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise ParseFailure("corrupt", f"ODT content unreadable: {exc}") from exc
    result = ParseResult()
    for body in root.iter(f"{{{OFFICE_NS}}}text"):
        _walk(body, result, ctx)
    return result


def _walk(element, result: ParseResult, ctx: ParseContext, in_list: bool = False) -> None:
    for child in element.iterchildren():
        tag = child.tag
        if tag in (T("p"), T("h")):
            text = _inline_text(child)
            result.add(f"- {text}" if in_list and text.strip() else text)
        elif tag == TB("table"):
            ctx.deadline.check()
            _table(child, result)
        elif tag in _SKIP:
            continue
        else:  # lists, list items, sections, and other containers
            _walk(child, result, ctx, in_list or tag == T("list"))


def _inline_text(element) -> str:
    parts = [element.text or ""]
    for child in element.iterchildren():
        if child.tag == T("s"):
            parts.append(" " * int(child.get(T("c"), "1")))
        elif child.tag == T("tab"):
            parts.append("\t")
        elif child.tag == T("line-break"):
            parts.append("\n")
        elif child.tag not in _SKIP:
            parts.append(_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _table(table, result: ParseResult) -> None:
    header: list[str] | None = None
    for row in table.iter(TB("table-row")):
        if next(row.iterancestors(TB("table"))) is not table:
            continue  # a row of a nested table: part of its cell's text
        cells: list[str] = []
        for cell in row.iterchildren(TB("table-cell"), TB("covered-table-cell")):
            text = " ".join(" ".join(_inline_text(p).split()) for p in cell.iter(T("p"), T("h")))
            # Repeated empty cells can claim thousands of columns: cap them.
            cells.extend([text] * min(int(cell.get(TB("number-columns-repeated"), "1")), 64))
        if not any(cells):
            continue
        if header is None:
            header = cells
            result.add("; ".join(c for c in cells if c), ROW)
        else:
            result.add(render_row(header, cells), ROW)
