"""HTML: encoding from BOM, <meta charset> or the bytes themselves (GB18030 without a
declaration included); scripts and styles dropped."""
from __future__ import annotations

import re

from ..blocks import ParseResult
from ..textdecode import decode_bytes
from . import ParseContext
from .html_text import html_to_result

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    declared = _META_CHARSET.search(data[:8192])
    text = decode_bytes(data, declared.group(1).decode("ascii") if declared else None)
    return html_to_result(text)
