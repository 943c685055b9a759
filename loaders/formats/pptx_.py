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
    slide_size = (deck.slide_width or 0, deck.slide_height or 0)
    ctx.ocr.plan(sum(1 for slide in deck.slides for _ in _pictures(slide.shapes)), "pictures")
    seen: set[str] = set()  # a logo on every slide is read once
    for number, slide in enumerate(deck.slides, start=1):
        ctx.deadline.check()
        for shape in slide.shapes:
            _add_shape(shape, result, number)
        for picture, grouped in _pictures(slide.shapes):
            # A grouped picture's position is in its group's coordinates: no boxes for it.
            _read_picture(picture, result, number, ctx, None if grouped else slide_size, seen)
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


def _pictures(shapes, grouped: bool = False):
    """(picture shape, inside a group), groups included (a picture placeholder has an image too)."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _pictures(shape.shapes, True)
        elif hasattr(shape, "image"):
            yield shape, grouped


def _read_picture(shape, result: ParseResult, page: int, ctx: ParseContext,
                  slide_size: tuple[int, int] | None, seen: set[str]) -> None:
    """The picture's OCR text after the slide's text; boxes as fractions of the slide (when
    `slide_size` is known)."""
    from ..ocr import boxes_json, lines_text
    from .pdf import reflow_lines

    try:
        image = shape.image
        data, sha = image.blob, image.sha1
    except Exception:  # an empty placeholder or a linked picture: nothing to read
        return
    if sha in seen:
        return
    seen.add(sha)
    try:
        lines = ctx.ocr.read(data)
    except Exception:  # a picture format PIL cannot read (EMF, WMF): no text from it
        return
    if not lines:
        return
    boxes = None
    width, height = slide_size or (0, 0)
    try:
        if width and height and shape.width and shape.height:
            boxes = boxes_json(lines, (shape.left / width, shape.top / height,
                                       (shape.left + shape.width) / width, (shape.top + shape.height) / height))
    except (TypeError, AttributeError):  # no position stored: the text without boxes
        pass
    result.add_ocr(reflow_lines(lines_text(lines)), page=page, boxes=boxes)

