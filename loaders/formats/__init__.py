"""One parser module per format. Each exposes `parse(data: bytes, ctx: ParseContext) -> ParseResult`
and is imported only when a file of its format arrives (keeps app start-up light)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from ..blocks import ParseResult
from ..detect import OLE_MAGIC
from ..errors import ParseFailure
from ..guards import Deadline
from ..ocr import OcrRun

_MODULES = {"pdf": "pdf", "docx": "docx_", "doc": "doc", "pptx": "pptx_", "xlsx": "xlsx",
            "xls": "xls", "csv": "csv_", "html": "html", "md": "text", "txt": "text",
            "eml": "eml", "epub": "epub", "rtf": "rtf", "odt": "odt", "image": "image"}


@dataclass
class ParseContext:
    file_name: str
    format: str
    deadline: Deadline
    ocr: OcrRun = field(default_factory=OcrRun)  # scanned pages and pictures (loaders/ocr.py)
    pictures: dict[str, bytes] = field(default_factory=dict)  # DOCX: relationship id -> picture


Parser = Callable[[bytes, ParseContext], ParseResult]


def parser_for(fmt: str) -> Parser:
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    return module.parse


def reject_encrypted_ooxml(data: bytes) -> None:
    """A password-protected .docx/.xlsx/.pptx is an OLE container, not a zip."""
    if data.startswith(OLE_MAGIC):
        raise ParseFailure("password", "Office file encrypted with a password")
