"""Embeddings, Chroma, the keyword index and the KnowledgeBase that keeps them in step.

Names are imported on first use (PEP 562), so reading a light module such as kb_config (the
settings read its defaults) does not load Chroma and the knowledge base."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {"KBConfig": ".kb_config", "KnowledgeBase": ".kb", "KnowledgeBaseError": ".kb",
          "delete_knowledge_base": ".kb", "list_knowledge_bases": ".kb", "KnownFile": ".ingest",
          "WriterBusy": ".lock", "IngestResult": ".results", "Hit": ".retrieval"}
__all__ = list(_WHERE)

if TYPE_CHECKING:
    from .ingest import KnownFile
    from .kb import KnowledgeBase, KnowledgeBaseError, delete_knowledge_base, list_knowledge_bases
    from .kb_config import KBConfig
    from .lock import WriterBusy
    from .results import IngestResult
    from .retrieval import Hit


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)
