"""Document loaders: detect a file's real type, parse it, and return text blocks as LangChain
Documents (see CONTRACT.md). Imports nothing from the rest of DocChat."""
from .detect import SUPPORTED_FORMATS, UPLOAD_SUFFIXES, detect_format
from .errors import LoadError
from .load import MAX_FILE_BYTES, MAX_UNZIPPED_BYTES, OCR_MAX_PAGES, OCR_PAGE_SECONDS, load_file
from .chunker import (CHUNK_SENTENCES_RANGE, DEFAULT_CHUNK_CHARS, DEFAULT_MAX_CHARS, DEFAULT_OVERLAP,
                      DEFAULT_SENTENCES_PER_CHUNK, SentenceChunker, with_heading)

__all__ = ["load_file", "MAX_FILE_BYTES", "MAX_UNZIPPED_BYTES", "OCR_MAX_PAGES", "OCR_PAGE_SECONDS", "LoadError", "detect_format", "SUPPORTED_FORMATS", "UPLOAD_SUFFIXES",
           "SentenceChunker", "CHUNK_SENTENCES_RANGE", "DEFAULT_CHUNK_CHARS", "DEFAULT_MAX_CHARS",
           "DEFAULT_OVERLAP", "DEFAULT_SENTENCES_PER_CHUNK", "with_heading"]
