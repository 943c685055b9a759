"""Settings turned into the configs of the app's parts (the app object itself is docchat/app.py),
the shared database, and the account stores."""
from __future__ import annotations

from functools import lru_cache

from vectorstore import KBConfig, KnowledgeBase
from vectorstore.database import Database
from vectorstore.kb_parts import shared_database

from .settings import Settings, get_settings


def kb_config(settings: Settings | None = None) -> KBConfig:
    s = settings or get_settings()
    return KBConfig(
        home=s.home, embedding=s.embedding, chroma_url=s.chroma_url, database_url=s.database_url,
        chunk_sentences=s.chunk_sentences, chunk_overlap=s.chunk_overlap,
        chunk_max_chars=s.chunk_max_chars, max_file_bytes=s.max_file_bytes,
        max_unzipped_bytes=s.max_unzipped_bytes, batch_size=s.batch_size,
        max_passages_per_file=s.max_passages_per_file, max_chars_per_file=s.max_chars_per_file,
        ingest_seconds_per_file=s.ingest_seconds_per_file, parse_memory_bytes=s.parse_memory_bytes,
        ocr_max_pages=s.ocr_max_pages, ocr_page_seconds=s.ocr_page_seconds,
    )


def database(settings: Settings | None = None) -> Database | None:
    """The PostgreSQL database of DOCCHAT_DATABASE_URL, migrated (Alembic ``upgrade head``) on
    first use, or None: the embedded SQLite files. One engine per URL in a process."""
    return _database((settings or get_settings()).database_url)


@lru_cache(maxsize=4)
def _database(url: str | None) -> Database | None:
    return shared_database(url)


def open_kb(name: str | None = None, settings: Settings | None = None, *,
            read_only: bool = False) -> KnowledgeBase:
    """One knowledge base without an app object around it (bench/scale_bench.py measures the
    memory of exactly this); the page and the CLI ask their DocChat (docchat/app.py)."""
    from .app import DocChat
    return DocChat.from_settings(settings).kb(name, read_only=read_only)


def account_store(settings: Settings | None = None):
    """Users, sign-in sessions and the failed-login limits (used when DOCCHAT_ACCOUNTS=1)."""
    from .accounts import AccountStore
    s = settings or get_settings()
    return AccountStore.at_home(s.home, database(s), max_failures_user=s.login_max_failures,
                                max_failures_address=s.login_max_failures_address,
                                window_s=s.login_window_minutes * 60, session_idle_s=s.session_minutes * 60)


def kb_access(settings: Settings | None = None):
    """Who may read and change each knowledge base (enforced when DOCCHAT_ACCOUNTS=1)."""
    from .kb_access import KBAccess
    s = settings or get_settings()
    return KBAccess.at_home(s.home, database(s))


def feedback_store(settings: Settings | None = None):
    from .feedback import FeedbackStore
    s = settings or get_settings()
    return FeedbackStore.at_home(s.home, database(s))
