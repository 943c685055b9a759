"""PDF with pypdf: one block per page, form-field values included, scans and passwords reported."""
from __future__ import annotations

import io
import logging

from pypdf import PasswordType, PdfReader
from pypdf.generic import NameObject

from ..blocks import ParseResult
from ..errors import ParseFailure
from . import ParseContext

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
    for number, page in enumerate(pages, start=1):
        ctx.deadline.check()
        try:
            text = page.extract_text() or ""
        except Exception:  # one damaged page must not lose the others
            failed += 1
            continue
        result.add(text, page=number)
        result.add(_form_values(page), page=number)
    if not result.blocks:
        if failed == len(pages):
            raise ParseFailure("corrupt", "no page could be read")
        raise ParseFailure("scanned", f"{len(pages)} page(s), no text layer")
    return result


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
