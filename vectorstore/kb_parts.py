"""What all knowledge bases of one home share: the embedder, the Chroma store, the writer lock,
the searches-first gate and, when DOCCHAT_DATABASE_URL names PostgreSQL, the database. The app
object (docchat/app.py) builds one and hands it to every KnowledgeBase it opens; a KnowledgeBase
opened on its own (tests, benchmarks) builds its own.

Two locks: ``lock``, the writer lock of the stores everyone shares (a file lock under home, or a
PostgreSQL advisory lock across machines); ``home_lock``, the file lock of what is this home's
own (its keyword indexes). With SQLite both are the one file lock, as before."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .chroma_store import ChromaStore
from .database import Database, lock_key
from .embeddings import make_embeddings
from .kb_config import KBConfig
from .lock import AdvisoryLock, WriterLock
from .queries_first import QueriesFirst


@dataclass(frozen=True)
class KBParts:
    embeddings: Any  # a LangChain Embeddings with ``name`` (vectorstore/embeddings.py)
    store: ChromaStore
    lock: WriterLock | AdvisoryLock
    queries_first: QueriesFirst
    database: Database | None = None  # the shared database (PostgreSQL), or None: SQLite files
    home_lock: WriterLock | None = None  # None: the writer lock is the home's file lock

    @classmethod
    def for_config(cls, config: KBConfig, embeddings: Any = None, database: Database | None = None) -> "KBParts":
        database = database or shared_database(config.database_url)
        home_lock, lock = writer_locks(config, database)
        return cls(
            embeddings=embeddings or make_embeddings(config.embedding),
            store=ChromaStore.for_home(config.home, config.chroma_url),
            lock=lock, queries_first=QueriesFirst(), database=database, home_lock=home_lock,
        )

    @property
    def local_lock(self) -> WriterLock:
        return self.home_lock or self.lock


def shared_database(url: str | None) -> Database | None:
    """The database named by DOCCHAT_DATABASE_URL, upgraded to the current schema, or None for
    the embedded SQLite files (an ``sqlite:`` URL means them too)."""
    if not url or url.startswith("sqlite"):
        return None
    database = Database(url)
    database.upgrade()
    return database


def writer_locks(config: KBConfig, database: Database | None) -> tuple[WriterLock | None, WriterLock | AdvisoryLock]:
    """(the home's own lock or None, the writer lock): see the module's docstring."""
    home_lock = WriterLock(config.home / "locks" / "writer.lock", config.lock_timeout_s)
    if database is None:
        return None, home_lock
    return home_lock, AdvisoryLock(database, lock_key("writer"), config.lock_timeout_s)
