"""DOCX with python-docx: headers, body (headings, paragraphs, lists, tables, text boxes) and
footers in document order. Each table row becomes a row block that names its column headers."""
from __future__ import annotations

import io
import re

from docx import Document as open_docx
from docx.oxml.ns import qn

from ..blocks import HEADING, ROW, ParseResult, render_row
from ..errors import ParseFailure
from . import ParseContext, reject_encrypted_ooxml

W_P, W_TBL, W_TR, W_TC, W_T = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc"), qn("w:t")
W_TAB, W_BR, W_CR = qn("w:tab"), qn("w:br"), qn("w:cr")
W_TXBX, W_DEL = qn("w:txbxContent"), qn("w:del")
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Containers whose children are paragraphs/tables again (content controls, custom XML).
W_WRAPPERS = {qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml"), qn("w:smartTag")}


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    reject_encrypted_ooxml(data)
    try:
        document = open_docx(io.BytesIO(data))
    except Exception as exc:
        raise ParseFailure("corrupt", f"{type(exc).__name__}: {exc}") from exc
    result = ParseResult(title=(document.core_properties.title or "").strip() or None)
    headers, footers = _headers_and_footers(document)
    _collect_pictures(document, ctx)
    for text in headers:
        result.add(text)
    _walk(document.element.body, result, ctx, _style_levels(document))
    for text in footers:
        result.add(text)
    return result


def _walk(container, result: ParseResult, ctx: ParseContext | None,
          levels: dict[str, int] | None = None) -> None:
    for child in container.iterchildren():
        if child.tag == W_P:
            level = _heading_level(child, levels) if levels is not None else None
            text = "".join(_runs_text(child)) if level is not None else ""
            if level is not None and 0 < len(text.strip()) <= HEADING_MAX_CHARS:
                result.add(text, HEADING, level=level)
            else:
                result.add(_paragraph_text(child))
            # Text boxes anchored in this paragraph come right after it.
            for box in _text_boxes(child):
                _walk(box, result, ctx)
            if ctx is not None and ctx.pictures:
                _read_pictures(child, result, ctx)
        elif child.tag == W_TBL:
            if ctx:
                ctx.deadline.check()
            for row in _table_rows(child):
                result.add(row, ROW)
        elif child.tag in W_WRAPPERS:
            _walk(child, result, ctx, levels)


# A "heading" longer than this is body text someone styled as a heading.
HEADING_MAX_CHARS = 200
_HEADING_NAME = re.compile(r"heading\s*([1-9])")


def _style_levels(document) -> dict[str, int]:
    """Paragraph style id -> heading level: 0 for Title, N for "Heading N" (any language: Word
    keeps the English name inside), or the outline level set on the style or a style it is
    based on (custom heading styles)."""
    styles: dict[str, object] = {}
    try:
        for style in document.styles.element.iterchildren(qn("w:style")):
            if style.get(qn("w:type")) == "paragraph":
                styles[style.get(qn("w:styleId"))] = style
    except Exception:  # a damaged styles part: no heading levels, the text still comes through
        return {}

    def level(style_id: str | None, depth: int = 0) -> int | None:
        style = styles.get(style_id)
        if style is None or depth > 10:
            return None
        name_el = style.find(qn("w:name"))
        name = (name_el.get(qn("w:val")) or "").strip().lower() if name_el is not None else ""
        if name == "title":
            return 0
        if match := _HEADING_NAME.fullmatch(name):
            return int(match.group(1))
        outline = _outline_level(style)
        if outline is not None:
            return outline
        based = style.find(qn("w:basedOn"))
        return level(based.get(qn("w:val")), depth + 1) if based is not None else None

    return {sid: lvl for sid in styles if (lvl := level(sid)) is not None}


def _outline_level(element) -> int | None:
    ppr = element.find(qn("w:pPr"))
    outline = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
    if outline is None:
        return None
    try:
        value = int(outline.get(qn("w:val"), "9"))
    except ValueError:
        return None
    return value + 1 if 0 <= value < 9 else None  # 9 = body text


def _heading_level(p, levels: dict[str, int]) -> int | None:
    """The paragraph's own outline level, else its style's level."""
    own = _outline_level(p)
    if own is not None:
        return own
    ppr = p.find(qn("w:pPr"))
    style = ppr.find(qn("w:pStyle")) if ppr is not None else None
    return levels.get(style.get(qn("w:val"))) if style is not None else None


def _paragraph_text(p) -> str:
    text = "".join(_runs_text(p))
    return f"- {text}" if text.strip() and _is_list_item(p) else text


def _runs_text(element):
    """Visible text of a paragraph: w:t, tabs and breaks, including tracked insertions,
    hyperlinks and fields, but not deleted text, nor text boxes (walked separately), nor
    the fallback copy Word writes next to each drawing."""
    for child in element.iterchildren():
        tag = child.tag
        if tag == W_T:
            yield child.text or ""
        elif tag == W_TAB:
            yield "\t"
        elif tag in (W_BR, W_CR):
            yield "\n"
        elif tag in (W_TXBX, W_DEL, MC_FALLBACK):
            continue
        else:
            yield from _runs_text(child)


def _text_boxes(p):
    for box in p.iter(W_TXBX):
        if not any(a.tag == MC_FALLBACK for a in box.iterancestors()):
            yield box


def _is_list_item(p) -> bool:
    ppr = p.find(qn("w:pPr"))
    if ppr is None:
        return False
    if ppr.find(qn("w:numPr")) is not None:
        return True
    style = ppr.find(qn("w:pStyle"))
    return style is not None and "list" in (style.get(qn("w:val")) or "").lower()


def _cell_text(tc) -> str:
    # Nested tables are flattened into their cell, paragraph by paragraph.
    return " ".join(" ".join(_paragraph_text(p).split()) for p in tc.iter(W_P)).strip()


def _table_rows(tbl) -> list[str]:
    """Rows as 'header: value; ...'. Cells are placed on the grid (gridSpan), and a
    vertically merged cell repeats its value so every row stands on its own."""
    rows: list[str] = []
    header: list[str] | None = None
    above: dict[int, str] = {}
    for tr in tbl.iterchildren(W_TR):
        grid: list[str] = []
        for tc in tr.iter(W_TC):
            if next(tc.iterancestors(W_TR)) is not tr:
                continue  # a cell of a nested table
            col = len(grid)
            tcpr = tc.find(qn("w:tcPr"))
            span, continued = 1, False
            if tcpr is not None:
                span_el = tcpr.find(qn("w:gridSpan"))
                span = int(span_el.get(qn("w:val"), "1")) if span_el is not None else 1
                vmerge = tcpr.find(qn("w:vMerge"))
                continued = vmerge is not None and vmerge.get(qn("w:val"), "continue") == "continue"
            text = above.get(col, "") if continued else _cell_text(tc)
            above[col] = text
            grid.extend([text] + [""] * (max(span, 1) - 1))
        if not any(grid):
            continue
        if header is None:
            header = _spread(grid)
            rows.append("; ".join(dict.fromkeys(c for c in grid if c)))
        else:
            rows.append(render_row(header, grid))
    return rows


def _spread(header: list[str]) -> list[str]:
    """A header cell spanning several columns names all of them."""
    out, last = [], ""
    for cell in header:
        last = cell or last
        out.append(cell or last)
    return out


def _headers_and_footers(document) -> tuple[list[str], list[str]]:
    headers: dict[str, None] = {}
    footers: dict[str, None] = {}
    for section in document.sections:
        for part, seen in ((section.header, headers), (section.first_page_header, headers),
                           (section.even_page_header, headers), (section.footer, footers),
                           (section.first_page_footer, footers), (section.even_page_footer, footers)):
            if part.is_linked_to_previous:  # no content of its own (reading it would add one)
                continue
            collected = ParseResult()
            _walk(part._element, collected, None)
            for block in collected.blocks:
                seen.setdefault(block.text)
    return list(headers), list(footers)


# --- pictures in the body, read by OCR where they stand --------------------------------------
A_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
V_IMAGEDATA = "{urn:schemas-microsoft-com:vml}imagedata"
R_EMBED = qn("r:embed")
R_ID = qn("r:id")


def _collect_pictures(document, ctx: ParseContext) -> None:
    """The body's pictures by relationship id; OCR is planned for as many as are placed."""
    try:
        for rid, rel in document.part.rels.items():
            if not rel.is_external and rel.reltype.endswith("/image"):
                ctx.pictures[rid] = rel.target_part.blob
    except Exception:  # a damaged relationship: the text still comes through
        return
    if ctx.pictures:
        placed = {_picture_id(el) for el in document.element.body.iter(A_BLIP, V_IMAGEDATA)}
        ctx.ocr.plan(len(placed & set(ctx.pictures)), "pictures")


def _picture_id(element) -> str | None:
    return element.get(R_EMBED) or element.get(R_ID)


def _read_pictures(p, result: ParseResult, ctx: ParseContext) -> None:
    """OCR text of the pictures in paragraph `p`, each picture once (not the copy Word keeps
    for old readers, nor those in text boxes, which are read with the box's paragraphs)."""
    from ..ocr import lines_text
    from .pdf import reflow_lines

    for element in p.iter(A_BLIP, V_IMAGEDATA):
        if _inside(element, p, (MC_FALLBACK, W_TXBX)):
            continue
        data = ctx.pictures.pop(_picture_id(element), None)  # popped: a repeated logo is read once
        if not data:
            continue
        try:
            lines = ctx.ocr.read(data)
        except Exception:  # a picture format PIL cannot read (EMF, WMF): no text from it
            continue
        if lines is None:  # a limit was reached
            ctx.pictures.clear()
            return
        result.add_ocr(reflow_lines(lines_text(lines)))


def _inside(element, stop, tags) -> bool:
    """Whether an ancestor of `element` below `stop` has one of `tags`."""
    for ancestor in element.iterancestors():
        if ancestor is stop:
            return False
        if ancestor.tag in tags:
            return True
    return False

