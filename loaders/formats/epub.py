"""EPUB: the HTML chapters in reading (spine) order, read straight from the zip."""
from __future__ import annotations

import io
import posixpath
import zipfile

from lxml import etree

from ..blocks import ParseResult
from ..errors import ParseFailure
from . import ParseContext
from .html_text import html_to_result

_NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container",
       "opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        container = etree.fromstring(archive.read("META-INF/container.xml"), _SAFE)
        opf_path = container.xpath("//c:rootfile/@full-path", namespaces=_NS)[0]
        opf = etree.fromstring(archive.read(opf_path), _SAFE)
    except (KeyError, IndexError, zipfile.BadZipFile, etree.XMLSyntaxError, ValueError) as exc:
        raise ParseFailure("corrupt", f"EPUB structure unreadable: {exc}") from exc
    base = posixpath.dirname(opf_path)
    hrefs = {item.get("id"): item.get("href") for item in opf.xpath("//opf:manifest/opf:item", namespaces=_NS)}
    title = opf.xpath("string(//dc:title)", namespaces=_NS).strip()
    result = ParseResult(title=title or None)
    names = set(archive.namelist())
    for idref in opf.xpath("//opf:spine/opf:itemref/@idref", namespaces=_NS):
        ctx.deadline.check()
        href = hrefs.get(idref)
        path = posixpath.normpath(posixpath.join(base, href.split("#")[0])) if href else None
        if path in names:
            chapter = html_to_result(archive.read(path))
            result.blocks.extend(chapter.blocks)
    return result
