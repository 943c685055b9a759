"""E-mail (.eml) with the standard library: headers, the text body (HTML when there is no
plain text), and the names of attachments."""
from __future__ import annotations

import email
from email import policy

from ..blocks import ParseResult
from . import ParseContext
from .html_text import html_to_result

_HEADERS = ("Subject", "From", "To", "Cc", "Date")


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    message = email.message_from_bytes(data, policy=policy.default)
    subject = _header(message, "Subject")
    result = ParseResult(title=subject or None)
    result.add("\n".join(f"{name}: {_header(message, name)}" for name in _HEADERS
                         if _header(message, name)))
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        content = _content(body)
        if body.get_content_subtype() == "html":
            html_to_result(content, result)
        else:
            for paragraph in content.replace("\r\n", "\n").split("\n\n"):
                result.add(paragraph)
    names = [part.get_filename() for part in message.iter_attachments() if part.get_filename()]
    if names:
        result.add("Attachments: " + ", ".join(names))
    return result


def _header(message, name: str) -> str:
    try:
        value = message[name]
    except Exception:  # a malformed header must not lose the body
        value = message.get_all(name, failobj=[""])[0] if message.get_all(name) else ""
    return " ".join(str(value or "").split())


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        # Unknown or wrong charset label: decode the raw bytes leniently.
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")
