"""The per-knowledge-base catalog (SQLite): which files are in the store, and their chunks.

It is the source of truth for what is "in" the knowledge base: a file's chunks count only once
its row says ``ready``. A ``pending`` row is a write in progress or one that a crash interrupted;
it is rolled back on the next open. Chunk texts and their keyword tokens live here too, so the
keyword index can be rebuilt without re-reading or re-tokenising any file.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    sha256   TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    path     TEXT NOT NULL,
    format   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    pages    INTEGER,
    chunks   INTEGER NOT NULL DEFAULT 0,
    added_at REAL NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
    chunking TEXT
);
CREATE INDEX IF NOT EXISTS files_path ON files(path);
CREATE INDEX IF NOT EXISTS files_name ON files(name);
CREATE TABLE IF NOT EXISTS chunks (
    id     TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    page   INTEGER,
    text   TEXT NOT NULL,
    tokens TEXT NOT NULL,
    heading TEXT NOT NULL DEFAULT '',
    ocr    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_sha ON chunks(sha256);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    name: str
    path: str
    format: str
    size: int
    pages: int | None
    chunks: int
    added_at: float
    state: str
    chunking: str | None = None  # ChunkSettings.tag the file was cut with


@dataclass(frozen=True)
class ChunkRecord:
    id: str
    sha256: str
    idx: int
    page: int | None
    text: str
    tokens: str  # keyword tokens joined by "\t"
    heading: str = ""  # the chunk's heading path ("劳动合同法 › 第四章 解除和终止 › 第三十九条")
    ocr: bool = False  # read by text recognition from a scan or a picture


@dataclass(frozen=True)
class ChunkSettings:
    """How one knowledge base cuts its files: ``sentences`` per chunk, ``overlap`` shared with the
    next chunk."""
    sentences: int
    overlap: int

    @property
    def tag(self) -> str:
        """Recorded with each file, so a file cut with other settings can be told apart."""
        return f"{self.sentences}/{self.overlap}"

    @classmethod
    def from_tag(cls, tag: str) -> "ChunkSettings":
        sentences, overlap = tag.split("/")
        return cls(int(sentences), int(overlap))


class Catalog:
    # Knowledge-base setting kept in ``meta``: the chunking every ingest into it uses now.
    CHUNKING = "chunking"

    def __init__(self, db_file: Path):
        db_file.parent.mkdir(parents=True, exist_ok=True)
        self._file = db_file
        self._db = sqlite3.connect(str(db_file), timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows are overwritten, not just unlinked: a deleted document's text must not
        # linger in free pages of the file (issue 17, "delete erases").
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(SCHEMA)
        if "chunking" not in {row[1] for row in self._db.execute("PRAGMA table_info(files)")}:
            try:  # a catalog from before per-file chunking records
                self._db.execute("ALTER TABLE files ADD COLUMN chunking TEXT")
            except sqlite3.OperationalError:
                pass  # another process added it just now
        chunk_columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}
        for column, kind in (("heading", "TEXT NOT NULL DEFAULT ''"), ("ocr", "INTEGER NOT NULL DEFAULT 0")):
            if column not in chunk_columns:
                try:  # a catalog from before the column: its chunks have the default until re-indexed
                    self._db.execute(f"ALTER TABLE chunks ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError:
                    pass  # another process added it just now

    def close(self) -> None:
        self._db.close()

    # --- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- trusted FAQ tables ------------------------------------------------------------------
    # A question/answer table answers verbatim only when an admin marked it (docchat ingest
    # --faq, the page's checkbox): kept as meta rows "faq:<sha256>", removed with the file.
    def faq_shas(self) -> set[str]:
        return {k[4:] for (k,) in self._db.execute("SELECT key FROM meta WHERE key LIKE 'faq:%'")}

    def set_faq(self, sha256: str, trusted: bool) -> None:
        with self._tx():
            if trusted:
                self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (f"faq:{sha256}",))
            else:
                self._db.execute("DELETE FROM meta WHERE key=?", (f"faq:{sha256}",))
            self.bump_generation()  # FAQ indexes rebuild on a new generation

    # --- other names of a stored content ---------------------------------------------------
    # An upload whose content is already stored (status "duplicate") is that content's alias:
    # deleting the first name then moves the content to the alias instead of erasing it.
    def add_alias(self, sha256: str, path: str, name: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                         (f"alias:{sha256}:{path}", name))

    def aliases(self, sha256: str) -> list[tuple[str, str]]:
        """(path, name) of each alias of a content, oldest first."""
        prefix = f"alias:{sha256}:"
        rows = self._db.execute("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY rowid",
                                (len(prefix), prefix))
        return [(key[len(prefix):], value) for key, value in rows]

    def aliases_named(self, name: str) -> list[tuple[str, str]]:
        """(sha256, path) of each alias called ``name``."""
        rows = self._db.execute("SELECT key FROM meta WHERE key LIKE 'alias:%' AND value = ?", (name,))
        return [tuple(key[len("alias:"):].split(":", 1)) for (key,) in rows]

    def remove_alias(self, sha256: str, path: str) -> None:
        self._db.execute("DELETE FROM meta WHERE key=?", (f"alias:{sha256}:{path}",))

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file and empty it (best effort: a reader in
        another process may hold it), so deleted text is not left in catalog.sqlite3-wal."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass

    # --- knowledge-base settings -----------------------------------------------------------
    def chunk_settings(self) -> ChunkSettings | None:
        """The chunking every ingest into this knowledge base uses (None before the first open)."""
        tag = self.get_meta(self.CHUNKING)
        return ChunkSettings.from_tag(tag) if tag else None

    def init_chunk_settings(self, default: ChunkSettings) -> None:
        """First open: the defaults become this knowledge base's own setting (unless another
        process was first); files stored before files recorded their chunking were cut with it."""
        self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (self.CHUNKING, default.tag))
        self._db.execute("UPDATE files SET chunking=? WHERE chunking IS NULL", (default.tag,))

    def set_chunk_settings(self, cs: ChunkSettings) -> None:
        """Validation is the caller's. On a connection of its own: the shared one may be inside
        another thread's write transaction, which a settings change must neither join nor be
        rolled back with."""
        db = sqlite3.connect(str(self._file), timeout=60, isolation_level=None)
        try:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (self.CHUNKING, cs.tag))
        finally:
            db.close()

    def files_chunked_otherwise(self, cs: ChunkSettings) -> list[FileRecord]:
        """Ready files cut with other settings than ``cs`` (what a re-index would change)."""
        return self._files("WHERE state='ready' AND (chunking IS NULL OR chunking != ?)", (cs.tag,))

    @property
    def generation(self) -> int:
        """Bumped by every committed change; readers use it to notice other processes' writes."""
        return int(self.get_meta("generation", "0"))

    def bump_generation(self) -> int:
        gen = self.generation + 1
        self.set_meta("generation", str(gen))
        return gen

    # --- files ---------------------------------------------------------------------------
    def _files(self, where: str = "", args: tuple = ()) -> list[FileRecord]:
        rows = self._db.execute(
            "SELECT sha256, name, path, format, size, pages, chunks, added_at, state, chunking "
            f"FROM files {where} ORDER BY added_at, name", args).fetchall()
        return [FileRecord(*row) for row in rows]

    def file(self, sha256: str) -> FileRecord | None:
        found = self._files("WHERE sha256=?", (sha256,))
        return found[0] if found else None

    def ready_files(self) -> list[FileRecord]:
        return self._files("WHERE state='ready'")

    def pending_files(self) -> list[FileRecord]:
        return self._files("WHERE state='pending'")

    def files_at_path(self, path: str) -> list[FileRecord]:
        return self._files("WHERE path=?", (path,))

    def files_named(self, name: str) -> list[FileRecord]:
        return self._files("WHERE name=? AND state='ready'", (name,))

    def ready_shas(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT sha256 FROM files WHERE state='ready'")}

    def begin_file(self, rec: FileRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files (sha256, name, path, format, size, pages, chunks, added_at, "
            "state, chunking) VALUES (?,?,?,?,?,?,?,?, 'pending', ?)",
            (rec.sha256, rec.name, rec.path, rec.format, rec.size, rec.pages, rec.chunks, rec.added_at,
             rec.chunking),
        )

    def add_chunks(self, chunks: Iterable[ChunkRecord]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO chunks (id, sha256, idx, page, text, tokens, heading, ocr) "
            "VALUES (?,?,?,?,?,?,?,?)",
            ((c.id, c.sha256, c.idx, c.page, c.text, c.tokens, c.heading, int(c.ocr)) for c in chunks),
        )

    def commit_file(self, sha256: str) -> None:
        with self._tx():
            self._db.execute("UPDATE files SET state='ready' WHERE sha256=?", (sha256,))
            self.bump_generation()

    def move_file(self, sha256: str, new_path: str, new_name: str) -> None:
        with self._tx():
            self._db.execute("UPDATE files SET path=?, name=? WHERE sha256=?", (new_path, new_name, sha256))
            self.bump_generation()

    def remove_file(self, sha256: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM chunks WHERE sha256=?", (sha256,))
            self._db.execute("DELETE FROM files WHERE sha256=?", (sha256,))
            self._db.execute("DELETE FROM meta WHERE key=?", (f"faq:{sha256}",))
            self._db.execute("DELETE FROM meta WHERE substr(key, 1, ?) = ?",
                             (len(sha256) + 7, f"alias:{sha256}:"))
            self.bump_generation()

    # --- chunks --------------------------------------------------------------------------
    def chunks_of_ready_files(self) -> Iterator[tuple[str, str]]:
        """(chunk id, tokens) of every ready file, in a stable order."""
        yield from self._db.execute(
            "SELECT c.id, c.tokens FROM chunks c JOIN files f ON f.sha256=c.sha256 "
            "WHERE f.state='ready' ORDER BY c.id"
        )

    def chunk_texts(self, ids: list[str]) -> dict[str, ChunkRecord]:
        out: dict[str, ChunkRecord] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self._db.execute("SELECT id, sha256, idx, page, text, tokens, heading, ocr "
                                        f"FROM chunks WHERE id IN ({marks})", part):
                out[row[0]] = ChunkRecord(*row[:-1], bool(row[-1]))
        return out

    def chunk_count(self) -> int:
        return self._db.execute(
            "SELECT count(*) FROM chunks c JOIN files f ON f.sha256=c.sha256 WHERE f.state='ready'"
        ).fetchone()[0]

    # --- transactions --------------------------------------------------------------------
    class _Tx:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, *_):
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _tx(self) -> "Catalog._Tx":
        return Catalog._Tx(self._db)

    def transaction(self) -> "Catalog._Tx":
        return self._tx()


def now() -> float:
    return time.time()
