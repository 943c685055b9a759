"""load_file: size guard -> read -> detect -> zip guard -> parse -> clean blocks -> Documents."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from langchain_core.documents import Document

from .blocks import ParseResult, normalise_text
from .detect import ZIP_FORMATS, ZIP_MAGIC, detect_bytes
from .errors import LoadError, ParseFailure
from .formats import ParseContext, parser_for
from .guards import Deadline, check_zip, human_size
from .ocr import OcrRun, select_boxes
from .structure import HEADING, Piece, annotate

MiB = 1024 * 1024
GiB = 1024 * MiB
# The limits of one file when the caller names none; the knowledge base's defaults (KBConfig, and
# through it the settings) are these.
MAX_FILE_BYTES = 100 * MiB
MAX_UNZIPPED_BYTES = GiB
OCR_MAX_PAGES = 50
OCR_PAGE_SECONDS = 30.0
# Formats whose blocks carry a page (page, slide or sheet number).
PAGED_FORMATS = frozenset({"pdf", "pptx", "xlsx", "xls", "image"})


def load_file(path: str | Path, *, max_bytes: int | None = MAX_FILE_BYTES,
              max_unzipped_bytes: int = MAX_UNZIPPED_BYTES, time_limit_s: float = 300.0,
              ocr_max_pages: int = OCR_MAX_PAGES, ocr_page_seconds: float = OCR_PAGE_SECONDS,
              progress: Callable[[int, int], None] | None = None, sha256: str | None = None) -> "LoadedBlocks":
    """The file's text blocks as Documents in document order, or a LoadError naming the file.

    Never returns an empty list. `time_limit_s` bounds parsing of a pathological file.
    Scanned pages and pictures are read by OCR: at most `ocr_max_pages` pages (or pictures) per
    file (0 turns OCR off), about `ocr_page_seconds` each; `progress(done, total)` is called per
    OCR'd page. What a limit left unread is said in the result's `warnings`.
    `max_bytes` None and `sha256` given: the caller already checked the size and hashed the
    file (an upload it held in memory), so neither is done again."""
    path = Path(path)
    name = path.name
    try:
        if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
            raise LoadError.of("too_large", name, f"{human_size(size)}, limit {human_size(max_bytes)}")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError.of("corrupt", name, f"cannot be opened: {exc.strerror or exc}") from exc
    if not data.strip():
        raise LoadError.of("empty", name)

    fmt = detect_bytes(data, name)
    if fmt is None:
        raise LoadError.of("unsupported", name)
    try:
        if fmt in ZIP_FORMATS and data.startswith(ZIP_MAGIC):
            check_zip(data, max_unzipped_bytes)
        deadline = Deadline(time_limit_s)
        ocr = OcrRun(ocr_max_pages, ocr_page_seconds, progress, deadline)
        context = ParseContext(file_name=name, format=fmt, deadline=deadline, ocr=ocr)
        result = parser_for(fmt)(data, context)
    except ParseFailure as failure:
        raise LoadError.of(failure.code, name, failure.detail) from failure
    except (LoadError, ImportError):
        raise  # ImportError: a broken installation, not a broken file
    except Exception as exc:  # noqa: BLE001 - a parser library crashing on a bad file is that file's error
        raise LoadError.of("corrupt", name, f"{type(exc).__name__}: {exc}"[:300]) from exc

    documents = _documents(result, name=name, fmt=fmt, sha256=sha256 or hashlib.sha256(data).hexdigest())
    if not documents:
        raise LoadError.of("empty", name)
    loaded = LoadedBlocks(documents)
    loaded.ocr_pages = ocr.done
    if ocr.warning():
        loaded.warnings.append(ocr.warning())
    return loaded


class LoadedBlocks(list):
    """load_file's result: a plain list of Documents, plus `warnings` [(English, Chinese)] for
    what a limit left unread and `ocr_pages`, the pages (or pictures) read by OCR."""

    def __init__(self, documents=()) -> None:
        super().__init__(documents)
        self.warnings: list[tuple[str, str]] = []
        self.ocr_pages = 0


def _documents(result: ParseResult, *, name: str, fmt: str, sha256: str) -> list[Document]:
    documents: list[Document] = []
    title = normalise_text(result.title).replace("\n", " ") if result.title else ""
    pieces = [Piece(text, block.kind, block.page, block.level)
              for block in result.blocks if (text := normalise_text(block.text))]
    sources = [block for block in result.blocks if normalise_text(block.text)]
    annotated = annotate(pieces)
    for piece, (block, text, start) in zip(annotated, _source_blocks(annotated, pieces, sources)):
        metadata: dict[str, str | int] = {"source": name, "sha256": sha256, "format": fmt,
                                          "position": len(documents), "kind": piece.kind}
        if fmt in PAGED_FORMATS and piece.page is not None:
            metadata["page"] = int(piece.page)
        if title:
            metadata["title"] = title
        if piece.heading:
            metadata["heading"] = piece.heading
        if piece.kind == HEADING:
            metadata["level"] = int(piece.level or 1)
        if block is not None and block.ocr:
            metadata["ocr"] = True
            boxes = select_boxes(block.boxes, text, start, start + len(piece.text)) if block.boxes else None
            if boxes:
                metadata["boxes"] = boxes
        documents.append(Document(page_content=piece.text, metadata=metadata))
    return documents


def _source_blocks(annotated: list[Piece], pieces: list[Piece], blocks: list):
    """For each piece `annotate` makes: (the block it came from, that block's clean text, where
    the piece starts in it). A piece's text is a slice of its block's, in order; so per-block
    facts like `ocr` reach the Documents. (None, "", 0) if unmatched."""
    i, pos = 0, 0
    for piece in annotated:
        for j in range(i, len(pieces)):
            found = pieces[j].text.find(piece.text, pos if j == i else 0)
            if found >= 0:
                i, pos = j, found + len(piece.text)
                yield blocks[j], pieces[j].text, found
                break
        else:
            yield None, "", 0
