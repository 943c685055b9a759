"""Conversations that outlive the browser tab: SQLite at ``<DOCCHAT_HOME>/conversations.sqlite3``,
or the shared PostgreSQL database (DOCCHAT_DATABASE_URL), through SQLAlchemy Core.

Every call takes its own connection and writes in one short transaction, so the threads of
one Streamlit process, the CLI, a benchmark and other app replicas can all use it at once
(SQLite: WAL lets readers go on while one writer commits; a writer waits up to ``timeout``).
"""
from __future__ import annotations

import json
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.user_error import UserError

from sqlalchemy import BigInteger, Column, Double, Integer, MetaData, Table, Text, delete, func, select, update

from vectorstore.database import Database, store_database

TITLE_CHARS = 40

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, kb TEXT NOT NULL, owner TEXT, title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_by_time ON conversations(updated DESC);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, sources TEXT NOT NULL,
    refused INTEGER NOT NULL, standalone_question TEXT, error INTEGER NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (conversation_id, n));
"""

_md = MetaData()
CONVERSATIONS = Table("conversations", _md, Column("id", Text, primary_key=True), Column("kb", Text),
                      Column("owner", Text), Column("title", Text), Column("created", Double),
                      Column("updated", Double), Column("seq", BigInteger))  # seq: PostgreSQL only
TURNS = Table("turns", _md, Column("conversation_id", Text, primary_key=True), Column("n", Integer, primary_key=True),
              Column("question", Text), Column("answer", Text), Column("sources", Text), Column("refused", Integer),
              Column("standalone_question", Text), Column("error", Integer), Column("created", Double),
              Column("stopped", Integer))


def _add_stopped(db) -> None:
    # Added after the first release: stores made before it get the column here.
    if "stopped" not in {row[1] for row in db.execute("PRAGMA table_info(turns)")}:
        db.execute("ALTER TABLE turns ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0")


class ConversationNotFound(UserError, KeyError):
    def __init__(self, cid: str):
        super().__init__(f"There is no conversation {cid}; see the existing ones with: docchat chat --list",
                         f"没有编号为 {cid} 的对话；用 docchat chat --list 查看已有对话。")


@dataclass
class Source:
    """A cited passage as stored with its turn (the same fields the UI shows for a Hit)."""
    source: str
    page: int | None
    text: str
    chunk_id: str = ""
    score: float = 0.0
    heading: str = ""  # the passage's heading path, where its document has headings
    ocr: bool = False  # read by text recognition from a scan or a picture

    @classmethod
    def of(cls, hit: Any) -> "Source":
        return cls(hit.source, hit.page, hit.text, getattr(hit, "chunk_id", ""), float(getattr(hit, "score", 0.0)),
                   getattr(hit, "heading", ""), bool(getattr(hit, "ocr", False)))


@dataclass
class StoredTurn:
    question: str
    answer: str
    sources: list[Source] = field(default_factory=list)
    refused: bool = False
    standalone_question: str | None = None
    error: bool = False
    created: float = 0.0
    stopped: bool = False  # the user stopped the answer: ``answer`` is what was shown until then


@dataclass
class Conversation:
    id: str
    kb: str
    owner: str | None = None
    title: str = ""
    created: float = 0.0
    updated: float = 0.0
    turns: list[StoredTurn] = field(default_factory=list)
    n_turns: int = 0


def title_of(question: str) -> str:
    question = " ".join(question.split())
    return question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1] + "…"


class ConversationStore:
    def __init__(self, path: str | Path | None = None, timeout: float = 30.0, *, database: Database | None = None):
        """``path``: its SQLite file; ``database``: the shared PostgreSQL database instead."""
        self.path = Path(path) if path is not None else None
        self.timeout = timeout
        self.db = store_database(database, self.path, _SCHEMA, timeout=timeout, adapt=_add_stopped)

    @classmethod
    def at_home(cls, home: str | Path, database: Database | None = None) -> "ConversationStore":
        return cls(Path(home) / "conversations.sqlite3", database=database)

    # --- writes ---------------------------------------------------------------------------
    def create(self, kb: str, owner: str | None = None) -> Conversation:
        now = time.time()
        conv = Conversation(uuid.uuid4().hex[:12], kb, owner, "", now, now)
        with self.db.write() as db:
            db.execute(CONVERSATIONS.insert().values(id=conv.id, kb=kb, owner=owner, title="", created=now,
                                                     updated=now))
        return conv

    def add_turn(self, conv_id: str, question: str, answer: str, sources: list | None = None, *,
                 refused: bool = False, standalone_question: str | None = None,
                 error: bool = False, stopped: bool = False) -> StoredTurn:
        """Appends a turn; ``sources`` are Hits or Sources (file, page, text, chunk_id, score)."""
        turn = StoredTurn(question, answer, [s if isinstance(s, Source) else Source.of(s) for s in sources or []],
                          refused, standalone_question, error, time.time(), stopped)
        c, t = CONVERSATIONS, TURNS
        with self.db.write() as db:
            # FOR UPDATE: two replicas adding to one conversation take turns numbering it
            # (SQLite's immediate transaction already does).
            title = db.execute(self._for_update(select(c.c.title).where(c.c.id == conv_id))).first()
            if title is None:
                raise ConversationNotFound(conv_id)
            n = db.execute(select(func.coalesce(func.max(t.c.n), 0) + 1).where(t.c.conversation_id == conv_id)).scalar()
            db.execute(t.insert().values(
                conversation_id=conv_id, n=n, question=question, answer=answer,
                sources=json.dumps([s.__dict__ for s in turn.sources], ensure_ascii=False),
                refused=int(refused), standalone_question=standalone_question, error=int(error),
                created=turn.created, stopped=int(stopped)))
            db.execute(update(c).where(c.c.id == conv_id).values(updated=turn.created,
                                                                 title=title[0] or title_of(question)))
        return turn

    def _for_update(self, query):
        return query.with_for_update() if self.db.is_postgres else query

    def rename(self, conv_id: str, title: str) -> None:
        """A title chosen by its owner (kept as given, up to 200 characters)."""
        title = " ".join(title.split())[:200]
        with self.db.write() as db:
            if db.execute(update(CONVERSATIONS).where(CONVERSATIONS.c.id == conv_id).values(title=title)).rowcount == 0:
                raise ConversationNotFound(conv_id)

    def delete(self, conv_id: str) -> bool:
        with self.db.write() as db:
            db.execute(delete(TURNS).where(TURNS.c.conversation_id == conv_id))
            deleted = db.execute(delete(CONVERSATIONS).where(CONVERSATIONS.c.id == conv_id)).rowcount > 0
        # Deleted text must not linger (issue 13): SQLite's write-ahead log still holds the old
        # pages until a checkpoint, PostgreSQL's tables the dead row versions until a VACUUM.
        self.db.vacuum(TURNS.name, CONVERSATIONS.name)
        return deleted

    # --- reads ----------------------------------------------------------------------------
    def get(self, conv_id: str) -> Conversation:
        """The conversation with all its turns, oldest first. Raises ConversationNotFound."""
        c, t = CONVERSATIONS, TURNS
        with self.db.read() as db:
            row = db.execute(select(c.c.id, c.c.kb, c.c.owner, c.c.title, c.c.created, c.c.updated)
                             .where(c.c.id == conv_id)).first()
            if row is None:
                raise ConversationNotFound(conv_id)
            rows = db.execute(select(t.c.question, t.c.answer, t.c.sources, t.c.refused, t.c.standalone_question,
                                     t.c.error, t.c.created, t.c.stopped)
                              .where(t.c.conversation_id == conv_id).order_by(t.c.n)).all()
        turns = [StoredTurn(q, a, [Source(**s) for s in json.loads(src)], bool(ref), sq, bool(err), created,
                            bool(stopped))
                 for q, a, src, ref, sq, err, created, stopped in rows]
        return Conversation(*row, turns=turns, n_turns=len(turns))

    def list(self, kb: str | None = None, limit: int = 50, owner: str | None = None,
             include_empty: bool = False) -> list[Conversation]:
        """Newest first (by last turn), without their turns; empty ones left out unless asked."""
        c, t = CONVERSATIONS, TURNS
        n_turns = func.count(t.c.n)
        query = (select(c.c.id, c.c.kb, c.c.owner, c.c.title, c.c.created, c.c.updated, n_turns)
                 .select_from(c.outerjoin(t, t.c.conversation_id == c.c.id))
                 .group_by(c.c.id)
                 .order_by(c.c.updated.desc(), self.db.insertion_order(c).desc()).limit(limit))
        if kb is not None:
            query = query.where(c.c.kb == kb)
        if owner is not None:
            query = query.where(c.c.owner == owner)
        if not include_empty:
            query = query.having(n_turns > 0)
        with self.db.read() as db:
            rows = db.execute(query).all()
        return [Conversation(*r[:6], n_turns=r[6]) for r in rows]
