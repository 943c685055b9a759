"""What a cited passage looks like in its document, for "view source" in the chat page: the PDF
page rendered with the passage highlighted, or the passage among its neighbouring passages.

Works for a search Hit and for a Source stored with a conversation (which knows its chunk only
as "<sha256>:<index>"). The drawing itself is loaders/preview.py; this module finds the file,
its page and its neighbours in the knowledge base.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from loaders.preview import passage_in_context, render_pdf_page

log = logging.getLogger(__name__)

PAGE_SCALE = 1.5  # 108 dpi: an A4 page is 893 x 1263 pixels, sharp enough to read
AROUND = 2  # neighbouring passages shown on each side of a text passage


@dataclass
class SourcePreview:
    # "page": a rendered PDF page; "text": the passage in its neighbours; "gone": the document
    # is no longer in the knowledge base (only the quoted passage is left)
    kind: str
    name: str
    page: int | None = None
    heading: str = ""
    png: bytes = b""
    boxes: list = field(default_factory=list)  # highlighted rectangles on the page ([] = not located)
    segments: list[tuple[str, bool]] = field(default_factory=list)  # (text, is the passage)
    file_missing: bool = False  # in the knowledge base, but its original file is gone from disk
    seconds: float = 0.0  # time to build it (render, locate, highlight)


def chunk_address(source) -> tuple[str, int | None]:
    """(sha256, chunk index) of a Hit or a stored Source ("" when it has none)."""
    sha = getattr(source, "sha256", "") or ""
    index = getattr(source, "chunk_index", None)
    cid = getattr(source, "chunk_id", "") or ""
    if ":" in cid:
        head, tail = cid.rsplit(":", 1)
        sha = sha or head
        if index is None and tail.isdigit():
            index = int(tail)
    return sha, index


def preview_source(kb, source) -> SourcePreview:
    started = time.perf_counter()
    sha, index = chunk_address(source)
    if sha:  # the very version cited: a newer one of the same name may hold other text
        record = kb.catalog.file(sha)
    else:  # stored before chunk ids were kept: found by name, if still there
        record, index = next((f for f in kb.files() if f.name == source.source), None), None
    heading = getattr(source, "heading", "") or ""
    if record is None:
        return SourcePreview("gone", source.source, source.page, heading, segments=[(source.text, True)])
    out = SourcePreview("text", record.name, source.page, heading)
    path = Path(record.path)
    out.file_missing = not path.is_file()
    if _is_pdf(record) and source.page and not out.file_missing:
        # An OCR'd page has no characters to find the passage by: its chunk kept its line boxes.
        boxes = getattr(source, "boxes", None) or (_stored_boxes(kb, f"{sha}:{index}") if index is not None else None)
        try:
            out.png, out.boxes = render_pdf_page(path, int(source.page), source.text, PAGE_SCALE, boxes)
            out.kind = "page"
        except Exception:  # noqa: BLE001 - a page that cannot be drawn falls back to the text
            log.exception("preview of %s page %s failed", record.name, source.page)
    if out.kind == "text" or not out.boxes:
        out.segments = _in_context(kb, record.sha256, index, source.text)
    out.seconds = time.perf_counter() - started
    log.info("preview of %s page %s: %.3f s", record.name, source.page, out.seconds)
    return out


def _stored_boxes(kb, chunk_id: str) -> str | None:
    """The OCR line boxes stored with a chunk in Chroma (None for a chunk that was not OCR'd)."""
    try:
        found = kb.store.collection(kb.collection).get(ids=[chunk_id], include=["metadatas"])
        meta = (found.get("metadatas") or [None])[0] or {}
    except Exception:  # noqa: BLE001 - without boxes the preview still shows the page
        log.exception("no stored boxes for %s", chunk_id)
        return None
    return meta.get("boxes") or None


def _is_pdf(record) -> bool:
    return record.format == "pdf" or record.name.lower().endswith(".pdf")


def _in_context(kb, sha: str, index: int | None, text: str) -> list[tuple[str, bool]]:
    if index is not None:
        ids = [f"{sha}:{i}" for i in range(max(0, index - AROUND), index + AROUND + 1)]
        chunks = sorted(kb.catalog.chunk_texts(ids).values(), key=lambda c: c.idx)
        at = next((i for i, c in enumerate(chunks) if c.idx == index), None)
        # Re-indexed since the answer (other chunking): its old neighbours are not its neighbours.
        if at is not None and _same(chunks[at].text, text):
            return passage_in_context([c.text for c in chunks], at, AROUND)
    return [(text, True)]


def _same(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())
