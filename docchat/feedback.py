"""👍/👎 on answers, with an optional comment (issue 14), in SQLite at
``<DOCCHAT_HOME>/feedback.sqlite3`` or the shared PostgreSQL database (DOCCHAT_DATABASE_URL);
listed on the admin page and exported as CSV.

One row per (conversation, turn, user): rating again or adding a comment updates it. The row
keeps a copy of the question and the answer, so the admins can read what was rated.
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Double, Integer, MetaData, Table, Text, select

from vectorstore.database import Database, store_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    conversation_id TEXT NOT NULL, turn INTEGER NOT NULL, user TEXT NOT NULL DEFAULT '',
    kb TEXT NOT NULL, rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (conversation_id, turn, user));
"""
FEEDBACK = Table("feedback", MetaData(), Column("conversation_id", Text, primary_key=True),
                 Column("turn", Integer, primary_key=True), Column("user", Text, primary_key=True), Column("kb", Text),
                 Column("rating", Integer), Column("comment", Text), Column("question", Text), Column("answer", Text),
                 Column("created", Double), Column("updated", Double))

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
    def __init__(self, path: str | Path | None = None, timeout: float = 30.0, *, database: Database | None = None):
        self.path, self.timeout = (Path(path) if path is not None else None), timeout
        self.db = store_database(database, self.path, _SCHEMA, timeout=timeout)

    @classmethod
    def at_home(cls, home: str | Path, database: Database | None = None) -> "FeedbackStore":
        return cls(Path(home) / "feedback.sqlite3", database=database)

    def give(self, conversation_id: str, turn: int, *, rating: int, kb: str, question: str, answer: str,
             user: str | None = None, comment: str = "") -> Feedback:
        if rating not in (1, -1):
            raise ValueError("rating must be 1 or -1")
        now = time.time()
        with self.db.write() as db:
            db.execute(self.db.upsert(FEEDBACK, ["conversation_id", "turn", "user"], dict(
                conversation_id=conversation_id, turn=turn, user=user or "", kb=kb, rating=rating,
                comment=comment.strip(), question=question, answer=answer, created=now, updated=now),
                ["rating", "comment", "updated"]))
        return self.get(conversation_id, turn, user)

    def get(self, conversation_id: str, turn: int, user: str | None = None) -> Feedback | None:
        f = FEEDBACK
        with self.db.read() as db:
            row = db.execute(select(f).where(f.c.conversation_id == conversation_id, f.c.turn == turn,
                                             f.c.user == (user or ""))).first()
        return Feedback(*row) if row else None

    def list(self, limit: int = 1000) -> list[Feedback]:
        """Newest first."""
        with self.db.read() as db:
            rows = db.execute(select(FEEDBACK).order_by(FEEDBACK.c.updated.desc()).limit(limit)).all()
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
