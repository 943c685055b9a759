"""What a format parser produces (RawBlock) and the text clean-up every block goes through."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

TEXT = "text"
ROW = "row"
HEADING = "heading"  # a heading line; `level` 0 = document title, 1-9 = heading levels


@dataclass
class RawBlock:
    text: str
    kind: str = TEXT
    page: int | None = None
    level: int | None = None  # headings only
    ocr: bool = False  # read from a picture by text recognition (loaders/ocr.py)
    boxes: str | None = None  # OCR only: JSON [[x0, y0, x1, y1, n], ...] (loaders/ocr.py boxes_json)


@dataclass
class ParseResult:
    blocks: list[RawBlock] = field(default_factory=list)
    title: str | None = None

    def add(self, text: str | None, kind: str = TEXT, page: int | None = None,
            level: int | None = None) -> None:
        if text and text.strip():
            self.blocks.append(RawBlock(text, kind, page, level))

    def add_ocr(self, text: str | None, page: int | None = None, boxes: str | None = None) -> None:
        """Text read from a scan or a picture (marked so citations can say so)."""
        if text and text.strip():
            self.blocks.append(RawBlock(text, TEXT, page, ocr=True, boxes=boxes))


# Characters that some PDF fonts map CJK glyphs to (Kangxi radicals, CJK compatibility
# ideographs) and Latin ligatures ("ﬁ"): folded with NFKC so search finds them. Full NFKC
# is not applied because it would also turn Chinese full-width punctuation (，：（）) into ASCII.
_FOLD = re.compile("[\u2e80-\u2fdf\uf900-\ufaff\ufb00-\ufb06\U0002f800-\U0002fa1f]")
# Invisible characters that break matching: NUL (pypdf between CJK glyphs), zero-width, BOM.
_INVISIBLE = re.compile("[\x00\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile("[\x01-\x08\x0b\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace except a line break
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise_text(text: str) -> str:
    """Collapse runs of spaces, keep line and paragraph breaks, drop invisible characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").replace("\v", "\n")
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _FOLD.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines (text must be normalised first)."""
    return [p for p in text.split("\n\n") if p.strip()]


def render_row(header: list[str], values: list[str]) -> str:
    """A table row as 'column: value; ...', keeping its header so the row stands alone."""
    parts = []
    for i, value in enumerate(values):
        value = " ".join(str(value).split())
        if not value:
            continue
        name = " ".join(header[i].split()) if i < len(header) and header[i] else ""
        parts.append(f"{name}: {value}" if name and name != value else value)
    return "; ".join(parts)
