"""Document loaders: detect a file's real type, parse it, and return text blocks as LangChain
Documents (see CONTRACT.md). Imports nothing from the rest of DocChat."""
from .detect import SUPPORTED_FORMATS, UPLOAD_SUFFIXES, detect_format
from .errors import LoadError
from .load import load_file
from .chunker import DEFAULT_CHUNK_CHARS, SentenceChunker, with_heading

__all__ = ["load_file", "LoadError", "detect_format", "SUPPORTED_FORMATS", "UPLOAD_SUFFIXES",
           "SentenceChunker", "DEFAULT_CHUNK_CHARS", "with_heading"]
