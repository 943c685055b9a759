"""RTF with striprtf, decoding \\'xx escapes with the code page the file declares."""
from __future__ import annotations

import codecs
import re

from striprtf.striprtf import rtf_to_text

from ..blocks import ParseResult
from ..errors import ParseFailure
from . import ParseContext

_CODEPAGE = re.compile(rb"\\ansicpg(\d+)")


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    found = _CODEPAGE.search(data[:4096])
    encoding = f"cp{int(found.group(1))}" if found else "cp1252"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        # RTF itself is 7-bit ASCII; non-ASCII text comes as escapes that striprtf decodes.
        text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    except Exception as exc:
        raise ParseFailure("corrupt", f"RTF: {type(exc).__name__}: {exc}") from exc
    result = ParseResult()
    for line in text.splitlines():
        result.add(line)
    return result
