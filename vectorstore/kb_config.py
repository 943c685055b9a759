"""The settings of the knowledge bases of one home. Their defaults are the defaults of
DocChat's settings too (docchat/settings.py reads them here), so each limit is written once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loaders import (CHUNK_SENTENCES_RANGE, DEFAULT_CHUNK_CHARS, DEFAULT_MAX_CHARS, DEFAULT_OVERLAP,
                     DEFAULT_SENTENCES_PER_CHUNK, MAX_FILE_BYTES, MAX_UNZIPPED_BYTES, OCR_MAX_PAGES,
                     OCR_PAGE_SECONDS)

from .embeddings import DEFAULT_EMBEDDING_MODEL

__all__ = ["CHUNK_SENTENCES_RANGE", "KBConfig", "MiB"]
MiB = 1024 * 1024


@dataclass(frozen=True)
class KBConfig:
    home: Path
    embedding: str = DEFAULT_EMBEDDING_MODEL
    chroma_url: str | None = None
    # None: each knowledge base's catalog is an SQLite file under home; a PostgreSQL URL: the
    # catalogs, the writer lock and the generations live in that database (vectorstore/database.py).
    database_url: str | None = None
    chunk_sentences: int = DEFAULT_SENTENCES_PER_CHUNK
    chunk_overlap: int = DEFAULT_OVERLAP
    chunk_max_chars: int = DEFAULT_MAX_CHARS
    chunk_chars: int = DEFAULT_CHUNK_CHARS  # budget of a chunk: a unit that fits is kept whole
    chunk_pack: bool = False  # short neighbouring sections share a chunk up to the budget
    max_file_bytes: int = MAX_FILE_BYTES
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES
    batch_size: int = 64
    lock_timeout_s: float = 600.0
    # Bounded work per file: over a cap, a file is indexed up to it with a warning saying how
    # much was left out; a parse over its memory or time is refused (parse_worker).
    max_passages_per_file: int = 5000
    max_chars_per_file: int = 5_000_000
    ingest_seconds_per_file: float = 600.0
    parse_memory_bytes: int | None = 2048 * MiB
    # OCR of scans and pictures: pages (or pictures) read per file (0: off), seconds per page.
    ocr_max_pages: int = OCR_MAX_PAGES
    ocr_page_seconds: float = OCR_PAGE_SECONDS
