"""Embeddings, Chroma, the keyword index and the KnowledgeBase that keeps them in step."""
from .kb import (KBConfig, KnowledgeBase, KnowledgeBaseError, delete_knowledge_base,
                 list_knowledge_bases)
from .ingest import KnownFile
from .lock import WriterBusy
from .results import IngestResult
from .retrieval import Hit

__all__ = ["KBConfig", "KnowledgeBase", "KnowledgeBaseError", "delete_knowledge_base",
           "list_knowledge_bases", "KnownFile", "WriterBusy", "IngestResult", "Hit"]
