"""load_file: size guard -> read -> detect -> zip guard -> parse -> clean blocks -> Documents."""
from __future__ import annotations

import hashlib
from pathlib import Path

from langchain_core.documents import Document

from .blocks import ParseResult, normalise_text
from .detect import ZIP_FORMATS, ZIP_MAGIC, detect_bytes
from .errors import LoadError, ParseFailure
from .formats import ParseContext, parser_for
from .guards import Deadline, check_zip, human_size
from .structure import HEADING, Piece, annotate

MiB = 1024 * 1024
GiB = 1024 * MiB
# Formats whose blocks carry a page (page, slide or sheet number).
PAGED_FORMATS = frozenset({"pdf", "pptx", "xlsx", "xls"})


def load_file(path: str | Path, *, max_bytes: int = 100 * MiB, max_unzipped_bytes: int = GiB,
              time_limit_s: float = 300.0) -> list[Document]:
    """The file's text blocks as Documents in document order, or a LoadError naming the file.

    Never returns an empty list. `time_limit_s` bounds parsing of a pathological file."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
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
        context = ParseContext(file_name=name, format=fmt, deadline=Deadline(time_limit_s))
        result = parser_for(fmt)(data, context)
    except ParseFailure as failure:
        raise LoadError.of(failure.code, name, failure.detail) from failure
    except (LoadError, ImportError):
        raise  # ImportError: a broken installation, not a broken file
    except Exception as exc:  # noqa: BLE001 - a parser library crashing on a bad file is that file's error
        raise LoadError.of("corrupt", name, f"{type(exc).__name__}: {exc}"[:300]) from exc

    documents = _documents(result, name=name, fmt=fmt, sha256=hashlib.sha256(data).hexdigest())
    if not documents:
        raise LoadError.of("empty", name)
    return documents


def _documents(result: ParseResult, *, name: str, fmt: str, sha256: str) -> list[Document]:
    documents: list[Document] = []
    title = normalise_text(result.title).replace("\n", " ") if result.title else ""
    pieces = [Piece(text, block.kind, block.page, block.level)
              for block in result.blocks if (text := normalise_text(block.text))]
    for piece in annotate(pieces):
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
        documents.append(Document(page_content=piece.text, metadata=metadata))
    return documents
