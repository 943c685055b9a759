"""Document structure shared by every format: numbered units found in the text, and the heading
path of each block.

Parsers report what their format knows (a DOCX heading style, an HTML <h2>, a PDF line in a
larger font) as `heading` blocks with a `level`. This step adds what the words themselves say:
Chinese and English numbering (第X编/章/节/条, 一、, （一）, 1.1, Article/Section/§). A line that
starts a numbered *unit* (第X条, Article 5) starts a new block, so an article never shares a
block with the one before it; a short numbered line (第二章 总则, 一、主要财务数据) becomes a
heading block. Each block then gets the path of the headings above it, levels joined by " › ".

Ranks order the levels: a heading pops every entry of the path with a rank >= its own. Levels a
parser reports (0 = document title, 1-9 = heading levels) rank above any numbering found in the
text, because a styled heading is a stronger signal than a number at the start of a line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .blocks import HEADING, TEXT

SEPARATOR = " › "

_CN_NUM = "零〇一二三四五六七八九十百千两"
_NUM = rf"[{_CN_NUM}\d]+"
_ROMAN = r"[IVXLCivxlc]+"

# (rank, pattern, unit): `unit` patterns start an article-like block whatever follows on the
# line; the others count only on a short line that reads like a heading.
_NUMBERED = [
    (20, re.compile(rf"^第{_NUM}[编部]分?(?=[\s　]|$)"), False),
    (21, re.compile(rf"^第{_NUM}分编(?=[\s　]|$)"), False),
    (22, re.compile(rf"^第{_NUM}章(?=[\s　]|$)"), False),
    (23, re.compile(rf"^第{_NUM}节(?=[\s　]|$)"), False),
    # 第三十九条 followed by a space: "第三十九条规定…" at a wrapped line start is a reference.
    (24, re.compile(rf"^第{_NUM}条(?:之[{_CN_NUM}]+)?(?=[\s　]|$)"), True),
    (20, re.compile(rf"^PART\s+({_ROMAN}|\d+)\b", re.I), False),
    (22, re.compile(rf"^CHAPTER\s+({_ROMAN}|\d+)\b", re.I), False),
    (24, re.compile(rf"^ARTICLE\s+({_ROMAN}|\d+[A-Za-z]?)(?=[.:\s—–-]|$)", re.I), False),
    (25, re.compile(r"^(SECTION|SEC\.)\s+\d+[A-Za-z]?(\.\d+)*(?=[.:\s—–-]|$)", re.I), False),
    (25, re.compile(r"^§+\s*\d+[A-Za-z]?(\.\d+)*(?=[.:\s—–-]|$)"), False),
    (26, re.compile(r"^[一二三四五六七八九十]+、"), False),
    (27, re.compile(r"^[（(][一二三四五六七八九十]+[)）]"), False),
    # 1.1 / 1.1.1 (a plain "1." is far more often a list item than a heading)
    (28, re.compile(r"^\d+(\.\d+)+\.?(?=[\s　]|$)"), False),
]
UNIT_RANK = 24  # 第X条 / Article: the unit the chunker keeps whole; numbering below it is inside
_ENDS_SENTENCE = tuple("。；;，,：:！？!?、.")
_HEADING_MAX_CHARS = 60


@dataclass
class Piece:
    """A block after this step: its text, kind, page, heading path and, for a heading, its
    level: its depth in that path (1 = outermost)."""
    text: str
    kind: str
    page: int | None
    level: int | None = None
    heading: str = ""


def numbered(line: str, inside_unit: bool = False) -> tuple[int, str, bool] | None:
    """(rank, label, is_unit) when `line` starts a numbered heading or unit, else None.

    The label is the heading text for a heading ("第二章 总则") and just the number for a unit
    ("第三十九条"), whose text is the article itself."""
    line = line.strip()
    for rank, pattern, unit in _NUMBERED:
        match = pattern.match(line)
        if not match:
            continue
        if inside_unit and rank > UNIT_RANK:
            return None  # （一） inside an article is an item of it, not a heading
        if unit:
            return rank, match.group(0), True
        if heading_like(line):
            return rank, line, False
        if rank in (24, 25) and len(line) > len(match.group(0)):
            # "Article 5. Members shall…" / "§ 3. Scope…": a unit whose text follows the number
            return rank, match.group(0).rstrip(".:"), True
        return None
    return None


def heading_like(line: str) -> bool:
    """Short and not a sentence: what a heading line looks like."""
    line = line.strip()
    return (0 < len(line) <= _HEADING_MAX_CHARS and not line.endswith(_ENDS_SENTENCE)
            and "。" not in line)


def heading_label(text: str) -> str:
    """A heading's text as it appears in a path: one line, markdown marks dropped."""
    text = re.sub(r"^#{1,6}\s+", "", text.strip())
    return " ".join(text.split())


def annotate(blocks: list[Piece]) -> list[Piece]:
    """Split text blocks at numbered units and headings, then give every block its path."""
    out: list[Piece] = []
    path: list[tuple[int, str]] = []  # (rank, label), outermost first

    def push(rank: int, label: str) -> None:
        while path and path[-1][0] >= rank:
            path.pop()
        path.append((rank, label))

    def current() -> str:
        return SEPARATOR.join(label for _, label in path)

    def in_unit() -> bool:
        return bool(path) and path[-1][0] in (24, 25)

    for block in blocks:
        if block.kind == HEADING:
            rank = block.level if block.level is not None else 9
            push(max(0, min(rank, 9)), heading_label(block.text))
            out.append(Piece(block.text, HEADING, block.page, len(path), current()))
            continue
        if block.kind != TEXT:
            out.append(Piece(block.text, block.kind, block.page, None, current()))
            continue
        lines: list[str] = []

        def flush() -> None:
            text = "\n".join(lines).strip()
            if text:
                out.append(Piece(text, "text", block.page, None, current()))
            lines.clear()

        for line in block.text.split("\n"):
            found = numbered(line, in_unit()) if line.strip() else None
            if found is None:
                lines.append(line)
                continue
            rank, label, unit = found
            flush()
            push(rank, label)
            if unit:
                lines.append(line)
            else:
                out.append(Piece(line.strip(), HEADING, block.page, len(path), current()))
        flush()
    return out
