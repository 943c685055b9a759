"""PPTX with python-pptx: slide by slide (page = slide number): text frames, tables as row
blocks, grouped shapes, and speaker notes."""
from __future__ import annotations

import io

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from ..blocks import ROW, ParseResult, render_row
from ..errors import ParseFailure
from . import ParseContext, reject_encrypted_ooxml


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    reject_encrypted_ooxml(data)
    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:
        raise ParseFailure("corrupt", f"{type(exc).__name__}: {exc}") from exc
    result = ParseResult(title=(deck.core_properties.title or "").strip() or None)
    for number, slide in enumerate(deck.slides, start=1):
        ctx.deadline.check()
        for shape in slide.shapes:
            _add_shape(shape, result, number)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            result.add(slide.notes_slide.notes_text_frame.text, page=number)
    return result


def _add_shape(shape, result: ParseResult, page: int) -> None:
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for inner in shape.shapes:
            _add_shape(inner, result, page)
        return
    if shape.has_text_frame:
        # python-pptx writes a line break inside a paragraph as a vertical tab.
        result.add(shape.text_frame.text.replace("\v", "\n"), page=page)
    if getattr(shape, "has_table", False) and shape.has_table:
        header: list[str] | None = None
        for row in shape.table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            if not any(cells):
                continue
            if header is None:
                header = cells
                result.add("; ".join(c for c in cells if c), ROW, page)
            else:
                result.add(render_row(header, cells), ROW, page)
