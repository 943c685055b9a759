"""Plain text and Markdown: encoding detected, one block per paragraph."""
from __future__ import annotations

import re

from ..blocks import HEADING, ParseResult, normalise_text, split_paragraphs
from ..textdecode import decode_bytes
from . import ParseContext

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_MD_TITLE = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.M)
_MD_HEADING = re.compile(r"^(#{1,6})\s+\S")


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    text = decode_bytes(data)
    result = ParseResult()
    if ctx.format == "md":
        text = _HTML_COMMENT.sub("", text)  # editor notes that are not shown when rendered
        title = _MD_TITLE.search(text)
        result.title = title.group(1) if title else None
    for paragraph in split_paragraphs(normalise_text(text)):
        if ctx.format != "md":
            result.add(paragraph)
            continue
        # A "## heading" line is a heading block even without a blank line after it.
        lines: list[str] = []
        for line in paragraph.split("\n"):
            heading = _MD_HEADING.match(line)
            if heading:
                result.add("\n".join(lines))
                lines = []
                result.add(line, HEADING, level=len(heading.group(1)))
            else:
                lines.append(line)
        result.add("\n".join(lines))
    return result
