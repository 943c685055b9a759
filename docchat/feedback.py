"""👍/👎 on answers, with an optional comment (issue 14), in SQLite at
``<DOCCHAT_HOME>/feedback.sqlite3``; listed on the admin page and exported as CSV.

One row per (conversation, turn, user): rating again or adding a comment updates it. The row
keeps a copy of the question and the answer, so the admins can read what was rated.
"""
from __future__ import annotations

import csv
import io
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    conversation_id TEXT NOT NULL, turn INTEGER NOT NULL, user TEXT NOT NULL DEFAULT '',
    kb TEXT NOT NULL, rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (conversation_id, turn, user));
"""

CSV_COLUMNS = ["time", "user", "knowledge_base", "rating", "comment", "question", "answer", "conversation", "turn"]


@dataclass
class Feedback:
    conversation_id: str
    turn: int
    user: str
    kb: str
    rating: int  # +1 or -1
    comment: str
    question: str
    answer: str
    created: float
    updated: float


class FeedbackStore:
    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path, self.timeout = Path(path), timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def at_home(cls, home: str | Path) -> "FeedbackStore":
        return cls(Path(home) / "feedback.sqlite3")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)

    def give(self, conversation_id: str, turn: int, *, rating: int, kb: str, question: str, answer: str,
             user: str | None = None, comment: str = "") -> Feedback:
        if rating not in (1, -1):
            raise ValueError("rating must be 1 or -1")
        now = time.time()
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO feedback (conversation_id, turn, user, kb, rating, comment, question, answer, "
                "created, updated) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(conversation_id, turn, user) DO UPDATE "
                "SET rating=excluded.rating, comment=excluded.comment, updated=excluded.updated",
                (conversation_id, turn, user or "", kb, rating, comment.strip(), question, answer, now, now))
        return self.get(conversation_id, turn, user)

    def get(self, conversation_id: str, turn: int, user: str | None = None) -> Feedback | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM feedback WHERE conversation_id=? AND turn=? AND user=?",
                             (conversation_id, turn, user or "")).fetchone()
        return Feedback(*row) if row else None

    def list(self, limit: int = 1000) -> list[Feedback]:
        """Newest first."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM feedback ORDER BY updated DESC LIMIT ?", (limit,)).fetchall()
        return [Feedback(*r) for r in rows]

    def to_csv(self, rows: list[Feedback] | None = None) -> str:
        """UTF-8 text with a BOM, so that Excel shows Chinese correctly when the file is opened."""
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for f in self.list() if rows is None else rows:
            writer.writerow([time.strftime("%Y-%m-%d %H:%M", time.localtime(f.updated)), f.user, f.kb,
                             "up" if f.rating > 0 else "down", f.comment, f.question, f.answer,
                             f.conversation_id, f.turn])
        return out.getvalue()
