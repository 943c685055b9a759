"""Document loaders: detect a file's real type, parse it, and return text blocks as LangChain
Documents (see CONTRACT.md). Imports nothing from the rest of DocChat."""
from .detect import SUPPORTED_FORMATS, UPLOAD_SUFFIXES, detect_format
from .errors import LoadError
from .load import MAX_FILE_BYTES, MAX_UNZIPPED_BYTES, OCR_MAX_PAGES, OCR_PAGE_SECONDS, load_file
from .chunker import (CHUNK_SENTENCES_RANGE, DEFAULT_CHUNK_CHARS, DEFAULT_MAX_CHARS, DEFAULT_OVERLAP,
                      DEFAULT_SENTENCES_PER_CHUNK, SentenceChunker, with_heading)

# The version of the passages these loaders and the chunker make. Bump it (by one) in the change
# to loaders/ or the chunker that alters the passages of files already stored: each stored file
# records the version it was cut with, and files cut with an older one are "to re-index" (the
# page says so; `docchat reindex` re-cuts them). Files stored before versions were recorded count
# as version 0, so 1 marks them all as older.
LOADER_VERSION = 1

__all__ = ["load_file", "MAX_FILE_BYTES", "MAX_UNZIPPED_BYTES", "OCR_MAX_PAGES", "OCR_PAGE_SECONDS", "LoadError", "detect_format", "SUPPORTED_FORMATS", "UPLOAD_SUFFIXES",
           "SentenceChunker", "CHUNK_SENTENCES_RANGE", "DEFAULT_CHUNK_CHARS", "DEFAULT_MAX_CHARS",
           "DEFAULT_OVERLAP", "DEFAULT_SENTENCES_PER_CHUNK", "with_heading", "LOADER_VERSION"]
