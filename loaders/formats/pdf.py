"""PDF with pypdf: the text of each page (headings by font size and tables as rows: see
pdf_layout), form-field values included, scans and passwords reported."""
from __future__ import annotations

import io
import logging
import re

from pypdf import PasswordType, PdfReader
from pypdf.generic import NameObject

from ..blocks import ParseResult
from ..errors import ParseFailure
from . import ParseContext
from .pdf_layout import PageLayout
from .pdf_ocr import needs_ocr, ocr_pages

# pypdf logs a warning for every odd font or damaged object; they mean nothing to our users
# and the outcome (text, or a LoadError) is what we report.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    reader = _open(data)
    result = ParseResult(title=_title(reader))
    try:
        pages = list(reader.pages)
    except Exception as exc:  # broken page tree: nothing can be read
        raise ParseFailure("corrupt", f"page tree unreadable: {exc}") from exc
    if not pages:
        raise ParseFailure("corrupt", "the PDF has no pages")
    failed = 0
    scanned: list[int] = []  # pages without a usable text layer: read by OCR below
    layout = PageLayout(data)  # headings by font size, tables as rows
    for number, page in enumerate(pages, start=1):
        ctx.deadline.check()
        try:
            text = layout.extract_text(page)
        except Exception:  # one damaged page must not lose the others
            failed += 1
            continue
        if needs_ocr(text, page):
            scanned.append(number)
        else:
            layout.add_page(text, number, number - 1)
        result.add(_form_values(page), page=number)
    layout.finish(result)  # the pages' text blocks, before each page's form values
    if scanned:
        ocr_pages(data, scanned, result, ctx)
    if not result.blocks:
        if failed == len(pages):
            raise ParseFailure("corrupt", "no page could be read")
        raise ParseFailure("scanned", f"{len(pages)} page(s), no text layer")
    return result


# A PDF line break is usually where the page ran out of width, not where a sentence or item
# ends; the sentence splitter treats line breaks as hard boundaries, so wrapped lines are
# joined back. A line stays on its own when it ends a sentence or the next line starts an
# item (第…条/章, 一、 (一) 1. • and the like), which keeps headings and lists apart.
_LINE_ENDS = tuple("。！？；：.!?;:”」』）)")
_ITEM_START = re.compile(r"^(第[一二三四五六七八九十百千零〇\d]+[条章节编款项]|[一二三四五六七八九十]+、|"
                         r"[（(][一二三四五六七八九十\d]+[)）]|\d+(\.\d+)*[.、)]\s|[•·▪●○■\-–*]\s?)")
_CJK_CHAR = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
# A table without ruling lines (pdfplumber finds only ruled ones) comes out as one line per row:
# "Finland 5.5 338,424 Helsinki Finnish, Swedish". Joined like prose, a row runs into the next
# and a figure loses its row. A run of such lines (several figures each, short, no sentence end)
# is kept one row per line.
_FIGURE = re.compile(r"[-+]?[$¥€£]?\d(?:[\d,.]*\d)?%?")  # a whole cell: 5.5  338,424  -16.55%
TABLE_RUN = 3  # rows in a row before lines are taken for a table


def _row_like(line: str) -> bool:
    """Two or more cells that are figures alone (a year or number inside wrapped prose carries
    its punctuation: "2018;" "(83"), in a short line that ends no sentence."""
    cells = sum(1 for token in line.split() if _FIGURE.fullmatch(token))
    return len(line) <= 160 and cells >= 2 and not line.endswith(("。", "."))


def _table_lines(lines: list[str]) -> set[int]:
    """Indexes of the lines that sit in a run of at least TABLE_RUN row-like lines."""
    rows, run = set(), []
    for i, line in enumerate(lines + [""]):
        if line and _row_like(line):
            run.append(i)
            continue
        if len(run) >= TABLE_RUN:
            rows.update(run)
        run = []
    return rows


def reflow_lines(text: str) -> str:
    out: list[str] = []
    lines = [line.strip() for line in text.split("\n")]
    rows = _table_lines(lines)
    for i, line in enumerate(lines):
        prev = out[-1] if out else ""
        if not line or not prev or prev.endswith(_LINE_ENDS) or _ITEM_START.match(line) \
                or i in rows or i - 1 in rows:
            out.append(line)
        elif prev.endswith("-") and line[:1].islower():
            out[-1] = prev[:-1] + line  # a word hyphenated at the line end
        elif _CJK_CHAR.match(prev[-1]) or _CJK_CHAR.match(line[0]):
            out[-1] = prev + line  # Chinese has no space between words
        else:
            out[-1] = prev + " " + line
    return "\n".join(out)


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise ParseFailure("corrupt", f"{type(exc).__name__}: {exc}") from exc
    if encrypted:
        # Many PDFs are encrypted only to restrict copying: the empty user password opens them.
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # unknown or unsupported encryption scheme
            raise ParseFailure("password", f"cannot decrypt: {exc}") from exc
        if opened == PasswordType.NOT_DECRYPTED:
            raise ParseFailure("password", "a user password is needed to open it")
    return reader


def _title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    return " ".join(str(title or "").split()) or None


def _form_values(page) -> str:
    """Filled-in form fields live in widget annotations, not in the page's text."""
    lines = []
    try:
        for ref in page.get(NameObject("/Annots"), None) or []:
            annot = ref.get_object()
            if annot.get("/Subtype") != "/Widget":
                continue
            # A widget either is the field or is a kid of it (then /T, /FT, /V sit on the parent).
            field = annot["/Parent"].get_object() if "/Parent" in annot and "/T" not in annot else annot
            if annot.get("/FT", field.get("/FT")) != "/Tx":
                continue
            value = annot.get("/V", field.get("/V"))
            if isinstance(value, str) and value.strip():
                name = field.get("/TU") or field.get("/T") or ""
                lines.append(f"{name}: {value}" if name else str(value))
    except Exception:
        return ""
    return "\n".join(lines)
