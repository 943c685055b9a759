"""Conversations that outlive the browser tab: SQLite at ``<DOCCHAT_HOME>/conversations.sqlite3``.

Every call opens its own connection and writes in one short transaction, so the threads of
one Streamlit process, the CLI and a benchmark can all use the file at once (WAL lets readers
go on while one writer commits; a writer waits up to ``timeout`` for another).
"""
from __future__ import annotations

import json
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sqlite_file import SQLiteFile

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


class ConversationNotFound(KeyError):
    def message(self, lang: str = "en") -> str:
        cid = self.args[0] if self.args else ""
        return (f"没有编号为 {cid} 的对话；用 docchat chat --list 查看已有对话。" if lang == "zh"
                else f"There is no conversation {cid}; see the existing ones with: docchat chat --list")


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


class ConversationStore(SQLiteFile):
    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent: set once per file
            db.executescript(_SCHEMA)
            # Added after the first release: stores made before it get the column here.
            if "stopped" not in {row[1] for row in db.execute("PRAGMA table_info(turns)")}:
                db.execute("ALTER TABLE turns ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0")

    @classmethod
    def at_home(cls, home: str | Path) -> "ConversationStore":
        return cls(Path(home) / "conversations.sqlite3")

    # --- writes ---------------------------------------------------------------------------
    def create(self, kb: str, owner: str | None = None) -> Conversation:
        now = time.time()
        conv = Conversation(uuid.uuid4().hex[:12], kb, owner, "", now, now)
        with self._write() as db:
            db.execute("INSERT INTO conversations (id, kb, owner, title, created, updated) VALUES (?,?,?,?,?,?)",
                       (conv.id, kb, owner, "", now, now))
        return conv

    def add_turn(self, conv_id: str, question: str, answer: str, sources: list | None = None, *,
                 refused: bool = False, standalone_question: str | None = None,
                 error: bool = False, stopped: bool = False) -> StoredTurn:
        """Appends a turn; ``sources`` are Hits or Sources (file, page, text, chunk_id, score)."""
        turn = StoredTurn(question, answer, [s if isinstance(s, Source) else Source.of(s) for s in sources or []],
                          refused, standalone_question, error, time.time(), stopped)
        with self._write() as db:
            row = db.execute("SELECT title FROM conversations WHERE id=?", (conv_id,)).fetchone()
            if row is None:
                raise ConversationNotFound(conv_id)
            n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE conversation_id=?",
                           (conv_id,)).fetchone()[0]
            db.execute("INSERT INTO turns (conversation_id, n, question, answer, sources, refused, "
                       "standalone_question, error, created, stopped) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (conv_id, n, question, answer, json.dumps([s.__dict__ for s in turn.sources],
                                                                 ensure_ascii=False),
                        int(refused), standalone_question, int(error), turn.created, int(stopped)))
            db.execute("UPDATE conversations SET updated=?, title=? WHERE id=?",
                       (turn.created, row[0] or title_of(question), conv_id))
        return turn

    def rename(self, conv_id: str, title: str) -> None:
        """A title chosen by its owner (kept as given, up to 200 characters)."""
        title = " ".join(title.split())[:200]
        with self._write() as db:
            if db.execute("UPDATE conversations SET title=? WHERE id=?", (title, conv_id)).rowcount == 0:
                raise ConversationNotFound(conv_id)

    def delete(self, conv_id: str) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM turns WHERE conversation_id=?", (conv_id,))
            deleted = db.execute("DELETE FROM conversations WHERE id=?", (conv_id,)).rowcount > 0
        # The write-ahead log still holds the old pages until a checkpoint: write them back now
        # (best effort: a reader in the middle of a read only delays it to the next one).
        with closing(self._connect()) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    # --- reads ----------------------------------------------------------------------------
    def get(self, conv_id: str) -> Conversation:
        """The conversation with all its turns, oldest first. Raises ConversationNotFound."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT id, kb, owner, title, created, updated FROM conversations WHERE id=?",
                             (conv_id,)).fetchone()
            if row is None:
                raise ConversationNotFound(conv_id)
            rows = db.execute("SELECT question, answer, sources, refused, standalone_question, error, created, "
                              "stopped FROM turns WHERE conversation_id=? ORDER BY n", (conv_id,)).fetchall()
        turns = [StoredTurn(q, a, [Source(**s) for s in json.loads(src)], bool(ref), sq, bool(err), created,
                            bool(stopped))
                 for q, a, src, ref, sq, err, created, stopped in rows]
        return Conversation(*row, turns=turns, n_turns=len(turns))

    def list(self, kb: str | None = None, limit: int = 50, owner: str | None = None,
             include_empty: bool = False) -> list[Conversation]:
        """Newest first (by last turn), without their turns; empty ones left out unless asked."""
        where, args = [], []
        if kb is not None:
            where.append("c.kb=?")
            args.append(kb)
        if owner is not None:
            where.append("c.owner=?")
            args.append(owner)
        having = "" if include_empty else "HAVING COUNT(t.n) > 0"
        sql = ("SELECT c.id, c.kb, c.owner, c.title, c.created, c.updated, COUNT(t.n) FROM conversations c "
               "LEFT JOIN turns t ON t.conversation_id = c.id "
               + (f"WHERE {' AND '.join(where)} " if where else "")
               + f"GROUP BY c.id {having} ORDER BY c.updated DESC, c.rowid DESC LIMIT ?")
        with closing(self._connect()) as db:
            rows = db.execute(sql, (*args, limit)).fetchall()
        return [Conversation(*r[:6], n_turns=r[6]) for r in rows]
