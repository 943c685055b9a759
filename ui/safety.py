"""Untrusted text in, safe text out: upload file names, and model output shown as markdown.

Model output (and quoted passages) may contain HTML, images or links, e.g. copied from a
document crafted to leak data. Images would be fetched by the browser, links invite clicks,
so neither is rendered: an image becomes its alt text, a link its text, a bare URL plain code.
"""
from __future__ import annotations

import re
import unicodedata

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_MAX_NAME_BYTES = 200


def safe_filename(name: str, fallback: str = "upload") -> str:
    """A name that is one plain file in one folder on any OS; keeps Chinese and the suffix."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]  # no folders, whichever slash
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # no control chars
    name = re.sub(r'[<>:"|?*]', "_", name).strip().strip(".").strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if not stem or stem.upper() in _RESERVED:
        stem = fallback + ("_" + stem if stem else "")
    suffix = re.sub(r"[^\w]", "", suffix)[:10]
    while len((stem + "." + suffix).encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    return f"{stem}.{suffix}" if suffix else stem


_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_IMAGE = re.compile(r"!\[([^\]]*)\]\[[^\]]*\]")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto|file|data|javascript):[^>\s]*)>", re.IGNORECASE)
# What GitHub-flavoured markdown would turn into a live link by itself: URLs with a scheme,
# www. names and bare e-mail addresses (rendered as mailto: links). Its autolinker only looks at
# ASCII around them, so "请发邮件到it-help@evil.example" links too: the guard is ASCII as well.
_BARE_URL = re.compile(
    r"(?<![`A-Za-z0-9])((?:https?|ftp|file|data|javascript|mailto|xmpp|tel|sms|callto|vbscript):[^\s`<>]+"
    r"|www\.[^\s`<>]+"
    r"|(?<![.+_-])[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", re.IGNORECASE)


def safe_markdown(text: str) -> str:
    """Markdown that renders no HTML, no image and no link to anywhere."""
    text = _LINK_DEFINITION.sub("", text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _REF_IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _AUTOLINK.sub(lambda m: m.group(1), text)
    text = _BARE_URL.sub(lambda m: "`" + m.group(1).replace("`", "") + "`", text)
    # Raw HTML: escape the opening bracket so it shows as text (never parsed as a tag).
    # "$5 and $6" would otherwise render as LaTeX.
    return text.replace("<", "&lt;").replace("$", "\\$")


def quote(text: str) -> str:
    """A source passage as a markdown block quote, made safe."""
    body = safe_markdown(text.strip())
    return "\n".join("> " + line if line.strip() else ">" for line in body.splitlines())
