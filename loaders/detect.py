"""Find a file's real format from its bytes (magic numbers, zip members, OLE streams, text
sniffing). The suffix only breaks ties between text formats, so a PDF named .docx is a PDF."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import olefile

from .textdecode import looks_like_text

SUPPORTED_FORMATS = ("pdf", "docx", "doc", "pptx", "xlsx", "xls", "csv", "html", "md", "txt",
                     "eml", "epub", "rtf", "odt", "image")
# File name endings a user may pick in the page's file picker, in the order it lists them: the
# formats above by their usual endings, pictures (read by OCR) by theirs. The page reads this
# list (through docchat.app) instead of keeping its own copy.
UPLOAD_SUFFIXES = ("pdf", "docx", "doc", "pptx", "xlsx", "xls", "csv", "html", "htm", "md",
                   "markdown", "txt", "eml", "epub", "rtf", "odt",
                   "png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "gif")
ZIP_FORMATS = frozenset({"docx", "pptx", "xlsx", "epub", "odt"})
OOXML_FORMATS = frozenset({"docx", "pptx", "xlsx"})

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Pictures (read by OCR): PNG, JPEG, GIF, TIFF (both byte orders); WebP and BMP are checked below.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
ZIP_MAGIC = b"PK\x03\x04"

# Suffixes that name a text format; the content must still look like text.
_TEXT_SUFFIXES = {"csv": "csv", "tsv": "csv", "md": "md", "markdown": "md", "txt": "txt",
                  "text": "txt", "log": "txt", "html": "html", "htm": "html", "xhtml": "html",
                  "eml": "eml"}
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]",
                         re.I | re.S)
_HTML_TAG = re.compile(rb"<(html|head|body)[\s>]", re.I)
_MAIL_HEADER = re.compile(rb"^(Received|Return-Path|From|To|Subject|Date|MIME-Version|"
                          rb"Message-ID|Delivered-To|Content-Type|X-[\w-]+):", re.I | re.M)


def detect_format(path: str | Path) -> str | None:
    """The format of the file at `path` (one of SUPPORTED_FORMATS), or None when unsupported."""
    path = Path(path)
    return detect_bytes(path.read_bytes(), path.name)


def detect_bytes(data: bytes, name: str = "") -> str | None:
    suffix = Path(name).suffix.lower().lstrip(".")
    head = data[:1024]
    if _is_image(data):  # a magic number at byte 0 outranks "%PDF-" somewhere in the head
        return "image"
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(ZIP_MAGIC) or data.startswith(b"PK\x05\x06"):
        return _zip_format(data, suffix)
    if data.startswith(OLE_MAGIC):
        return _ole_format(data, suffix)
    if head.lstrip().startswith(b"{\\rtf"):
        return "rtf"
    if not looks_like_text(data):
        return None
    return _text_format(head, suffix)


def _is_image(data: bytes) -> bool:
    if data.startswith(_IMAGE_MAGIC):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    # "BM" alone could start a text file: the DIB header size must be a real one too.
    return data[:2] == b"BM" and len(data) > 18 and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES


def _zip_format(data: bytes, suffix: str) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100].strip() if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        # A damaged Office file: let the parser for its suffix report it as corrupt.
        return suffix if suffix in ZIP_FORMATS else None
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if mimetype == b"application/epub+zip" or "META-INF/container.xml" in names and suffix == "epub":
        return "epub"
    if mimetype == b"application/vnd.oasis.opendocument.text":
        return "odt"
    return None


def _ole_format(data: bytes, suffix: str) -> str | None:
    """Old binary Office files and encrypted new ones share the OLE2 container."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir()}
    except (OSError, ValueError, IndexError):
        return suffix if suffix in ("doc", "xls") else None
    if "EncryptedPackage" in streams:
        # An encrypted .docx/.xlsx/.pptx: its parser reports that a password is needed.
        return suffix if suffix in OOXML_FORMATS else "xlsx"
    if "WordDocument" in streams:
        return "doc"
    if "Workbook" in streams or "Book" in streams:
        return "xls"
    return None


def _text_format(head: bytes, suffix: str) -> str:
    if suffix in _TEXT_SUFFIXES:
        return _TEXT_SUFFIXES[suffix]
    sniff = _ascii_view(head)
    if _HTML_START.match(sniff) or _HTML_TAG.search(sniff):
        return "html"
    if len(_MAIL_HEADER.findall(sniff)) >= 3:
        return "eml"
    return "txt"


def _ascii_view(head: bytes) -> bytes:
    """UTF-16 text with its NULs removed, so the byte patterns above match it too."""
    return head.replace(b"\x00", b"") if head.count(b"\x00") > len(head) // 4 else head
