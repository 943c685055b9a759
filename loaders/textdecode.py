"""Turn the bytes of a text file into str: BOMs, UTF-8, UTF-16, GB18030/GBK/GB2312, then a guess.

Order matters for Chinese: charset-normalizer alone sometimes calls GBK text Big5 or a
Cyrillic code page, so strict UTF-8 and strict GB18030 (a superset of GBK and GB2312) are
tried first, and the statistical guess only gets what they both reject.
"""
from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Declared names that are subsets of a wider Chinese code page: decode with the superset.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
              "ascii": "utf-8", "us-ascii": "utf-8", "iso-8859-1": "cp1252", "latin-1": "cp1252"}
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


def bom_encoding(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def _strict(data: bytes, encoding: str, final: bool) -> str | None:
    try:
        # An incremental decoder with final=False tolerates a character cut at the end of a sample.
        return codecs.getincrementaldecoder(encoding)("strict").decode(data, final=final)
    except (UnicodeDecodeError, LookupError):
        return None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM has a NUL in every other byte for ASCII characters."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0) / len(sample[0::2])
    odd_nuls = sample[1::2].count(0) / len(sample[1::2])
    if odd_nuls > 0.3 and even_nuls < 0.05:
        return "utf-16-le"
    if even_nuls > 0.3 and odd_nuls < 0.05:
        return "utf-16-be"
    return None


def _plausible_gb(data: bytes) -> bool:
    """GB2312/GBK text mostly uses trail bytes >= 0xA1; Latin-1 text mis-read as GBK pairs a
    high byte with an ASCII letter. Reject the GB reading when such pairs dominate."""
    pairs = ascii_trail = 0
    i, n = 0, len(data)
    while i < n - 1:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        pairs += 1
        if data[i + 1] < 0x80:
            ascii_trail += 1
        i += 2
    return pairs == 0 or ascii_trail / pairs < 0.2


def detect_encoding(data: bytes, declared: str | None = None, final: bool = True) -> str | None:
    """The encoding of `data`, or None when it does not look like text in any encoding."""
    encoding = bom_encoding(data)
    if encoding:
        return encoding
    if declared:
        declared = _SUPERSETS.get(declared.lower(), declared.lower())
        if _strict(data, declared, final) is not None:
            return declared
    if _strict(data, "utf-8", final) is not None:
        return "utf-8"
    encoding = _utf16_without_bom(data)
    if encoding:
        return encoding
    if b"\x00" in data[:65536]:
        return None  # NULs outside UTF-16/32: binary
    if _strict(data, "gb18030", final) is not None and _plausible_gb(data[:65536]):
        return "gb18030"
    best = from_bytes(data[:262144]).best()
    return best.encoding if best else None


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode a whole text file; unknown bytes become U+FFFD rather than an exception."""
    encoding = detect_encoding(data, declared) or "utf-8"
    return data.decode(encoding, errors="replace")


def looks_like_text(data: bytes) -> bool:
    """True when the start of `data` decodes as text with (almost) no control characters."""
    sample = data[:65536]
    encoding = detect_encoding(sample, final=len(sample) == len(data))
    if encoding is None:
        return False
    text = sample.decode(encoding, errors="replace")
    if not text:
        return False
    bad = len(_CONTROL.findall(text)) + text.count("\ufffd")
    return bad / len(text) < 0.01
