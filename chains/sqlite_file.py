"""One SQLite file of the app's own stores (conversations, accounts): a connection per call, and
writes in one short immediate transaction. Each call opens its own connection, so the threads of
one Streamlit process, the CLI and a benchmark can use the file at once (WAL)."""
from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator


class SQLiteFile:
    path: Path
    timeout: float = 30.0

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        db.execute("PRAGMA foreign_keys=ON")
        # What is deleted is gone for good: overwritten, not left in free pages.
        db.execute("PRAGMA secure_delete=ON")
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front: no deadlock between two writers that
        # both read first, and what a writer reads cannot be changed by another meanwhile.
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
