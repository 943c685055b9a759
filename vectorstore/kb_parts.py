"""What all knowledge bases of one home share: the embedder, the Chroma store, the writer lock
and the searches-first gate. The app object (docchat/app.py) builds one and hands it to every
KnowledgeBase it opens; a KnowledgeBase opened on its own (tests, benchmarks) builds its own."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .chroma_store import ChromaStore
from .embeddings import make_embeddings
from .kb_config import KBConfig
from .lock import WriterLock
from .queries_first import QueriesFirst


@dataclass(frozen=True)
class KBParts:
    embeddings: Any  # a LangChain Embeddings with ``name`` (vectorstore/embeddings.py)
    store: ChromaStore
    lock: WriterLock
    queries_first: QueriesFirst

    @classmethod
    def for_config(cls, config: KBConfig, embeddings: Any = None) -> "KBParts":
        return cls(
            embeddings=embeddings or make_embeddings(config.embedding),
            store=ChromaStore.for_home(config.home, config.chroma_url),
            lock=WriterLock(config.home / "locks" / "writer.lock", config.lock_timeout_s),
            queries_first=QueriesFirst(),
        )
