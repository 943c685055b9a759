"""The per-knowledge-base catalog: which files are in the store, and their chunks.

Where it lives: an SQLite file per knowledge base (``<home>/kb/<name>/catalog.sqlite3``, the
default), or the ``catalog_*`` tables of the shared database (DOCCHAT_DATABASE_URL names
PostgreSQL), one set of rows per knowledge base, so app replicas on several machines share it.
One implementation on SQLAlchemy Core serves both (vectorstore/database.py).

It is the source of truth for what is "in" the knowledge base: a file's chunks count only once
its row says ``ready``. A ``pending`` row is a write in progress or one that a crash interrupted;
it is rolled back on the next open. Chunk texts and their keyword tokens live here too, so the
keyword index can be rebuilt without re-reading or re-tokenising any file.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from sqlalchemy import (BigInteger, Column, Connection, Double, Identity, Integer, MetaData, Table, Text, and_,
                        cast, delete, func, select, true, update)

from .database import Database

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
    chunking TEXT,
    loader_version INTEGER NOT NULL DEFAULT 0
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
    loader_version: int = 0  # loaders.LOADER_VERSION its passages were made by (0: before it was recorded)


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


def catalog_tables(shared: bool) -> tuple[Table, Table, Table]:
    """(files, chunks, meta): an SQLite file's own tables, or the shared database's, which carry
    the knowledge base's name in each key (made by the Alembic migration)."""
    md, prefix = MetaData(), "catalog_" if shared else ""

    def kb() -> list[Column]:
        return [Column("kb", Text, primary_key=True)] if shared else []

    files = Table(f"{prefix}files", md, *kb(), Column("sha256", Text, primary_key=True),
                  Column("name", Text, nullable=False), Column("path", Text, nullable=False),
                  Column("format", Text, nullable=False), Column("size", BigInteger, nullable=False),
                  Column("pages", Integer), Column("chunks", Integer, nullable=False, default=0),
                  Column("added_at", Double, nullable=False), Column("state", Text, nullable=False),
                  Column("chunking", Text), Column("loader_version", Integer, nullable=False, default=0))
    chunks = Table(f"{prefix}chunks", md, *kb(), Column("id", Text, primary_key=True),
                   Column("sha256", Text, nullable=False), Column("idx", Integer, nullable=False),
                   Column("page", Integer), Column("text", Text, nullable=False),
                   Column("tokens", Text, nullable=False), Column("heading", Text, nullable=False, default=""),
                   Column("ocr", Integer, nullable=False, default=0))
    meta = Table(f"{prefix}meta", md, *kb(), Column("key", Text, primary_key=True),
                 Column("value", Text, nullable=False),
                 *([Column("seq", BigInteger, Identity())] if shared else []))
    return files, chunks, meta


_FILE_COLUMNS = ("sha256", "name", "path", "format", "size", "pages", "chunks", "added_at", "state", "chunking",
                 "loader_version")


class Catalog:
    # Knowledge-base setting kept in ``meta``: the chunking every ingest into it uses now.
    CHUNKING = "chunking"
    GENERATION = "generation"

    def __init__(self, db_file: Path | None = None, *, database: Database | None = None, kb: str | None = None):
        """``Catalog(db_file)``: the SQLite file of one knowledge base (made if new, columns
        added since its release filled in). ``Catalog(database=db, kb=name)``: that knowledge
        base's rows in the shared database (its schema is Alembic's: ``db.upgrade()`` first)."""
        self.shared = database is not None and database.is_postgres
        if self.shared:
            self.db, self.kb, self._file = database, kb, None
        else:
            self._file = db_file
            self._prepare_sqlite_file(db_file)
            self.db, self.kb = Database.sqlite_file(db_file, timeout=60), None
        self.files_t, self.chunks_t, self.meta_t = catalog_tables(self.shared)
        self._local = threading.local()  # the thread's open transaction (transaction())

    @staticmethod
    def _prepare_sqlite_file(db_file: Path) -> None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(db_file), timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            # A catalog from before a column: its rows get the default until re-indexed (files:
            # loader version 0, so they count as "to re-index"; chunks: no heading, not OCR).
            for table, column, kind in (("files", "chunking", "TEXT"),
                                        ("files", "loader_version", "INTEGER NOT NULL DEFAULT 0"),
                                        ("chunks", "heading", "TEXT NOT NULL DEFAULT ''"),
                                        ("chunks", "ocr", "INTEGER NOT NULL DEFAULT 0")):
                if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    try:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError:
                        pass  # another process added it just now
        finally:
            db.close()

    def close(self) -> None:
        if not self.shared:
            self.db.dispose()  # the shared engine belongs to the app

    # --- connections -----------------------------------------------------------------------
    def _mine(self, table: Table):
        """The WHERE clause that keeps to this knowledge base's rows (none in its own file)."""
        return table.c.kb == self.kb if self.shared else true()

    def _key(self) -> dict:
        return {"kb": self.kb} if self.shared else {}

    @contextmanager
    def _connection(self, write: bool) -> Iterator[Connection]:
        """The thread's open transaction (transaction()), or a short one of its own."""
        tx = getattr(self._local, "conn", None)
        if tx is not None:
            yield tx
        else:
            with (self.db.write() if write else self.db.read()) as conn:
                yield conn

    def _reading(self):
        return self._connection(write=False)

    def _writing(self):
        return self._connection(write=True)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The catalog calls of this thread inside it are one transaction (joined if nested)."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self.db.write() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    _tx = transaction

    # --- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        m = self.meta_t
        with self._reading() as conn:
            value = conn.execute(select(m.c.value).where(self._mine(m), m.c.key == key)).scalar()
        return default if value is None else value

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute(self.db.upsert(self.meta_t, [*self._key(), "key"], {**self._key(), "key": key,
                                                                               "value": value}, ["value"]))

    def _delete_meta(self, conn: Connection, *where) -> None:
        conn.execute(delete(self.meta_t).where(self._mine(self.meta_t), *where))

    # --- trusted FAQ tables ------------------------------------------------------------------
    # A question/answer table answers verbatim only when an admin marked it (docchat ingest
    # --faq, the page's checkbox): kept as meta rows "faq:<sha256>", removed with the file.
    def faq_shas(self) -> set[str]:
        m = self.meta_t
        with self._reading() as conn:
            keys = conn.execute(select(m.c.key).where(self._mine(m), m.c.key.like("faq:%"))).scalars()
            return {k[4:] for k in keys}

    def set_faq(self, sha256: str, trusted: bool) -> None:
        with self._tx(), self._writing() as conn:
            if trusted:
                self.set_meta(f"faq:{sha256}", "1")
            else:
                self._delete_meta(conn, self.meta_t.c.key == f"faq:{sha256}")
            self.bump_generation()  # FAQ indexes rebuild on a new generation

    # --- other names of a stored content ---------------------------------------------------
    # An upload whose content is already stored (status "duplicate") is that content's alias:
    # deleting the first name then moves the content to the alias instead of erasing it.
    def add_alias(self, sha256: str, path: str, name: str) -> None:
        self.set_meta(f"alias:{sha256}:{path}", name)

    def aliases(self, sha256: str) -> list[tuple[str, str]]:
        """(path, name) of each alias of a content, oldest first."""
        prefix, m = f"alias:{sha256}:", self.meta_t
        with self._reading() as conn:
            rows = conn.execute(select(m.c.key, m.c.value).where(
                self._mine(m), func.substr(m.c.key, 1, len(prefix)) == prefix).order_by(self.db.insertion_order(m)))
            return [(key[len(prefix):], value) for key, value in rows]

    def aliases_named(self, name: str) -> list[tuple[str, str]]:
        """(sha256, path) of each alias called ``name``."""
        m = self.meta_t
        with self._reading() as conn:
            keys = conn.execute(select(m.c.key).where(self._mine(m), m.c.key.like("alias:%"),
                                                      m.c.value == name)).scalars()
            return [tuple(key[len("alias:"):].split(":", 1)) for key in keys]

    def remove_alias(self, sha256: str, path: str) -> None:
        with self._writing() as conn:
            self._delete_meta(conn, self.meta_t.c.key == f"alias:{sha256}:{path}")

    def checkpoint(self) -> None:
        """After deletes: what they removed is erased from the database's files (SQLite: the
        write-ahead log is folded in and emptied; PostgreSQL: VACUUM of the catalog tables)."""
        self.db.vacuum(self.files_t.name, self.chunks_t.name, self.meta_t.name)

    # --- knowledge-base settings -----------------------------------------------------------
    def chunk_settings(self) -> ChunkSettings | None:
        """The chunking every ingest into this knowledge base uses (None before the first open)."""
        tag = self.get_meta(self.CHUNKING)
        return ChunkSettings.from_tag(tag) if tag else None

    def init_chunk_settings(self, default: ChunkSettings) -> None:
        """First open: the defaults become this knowledge base's own setting (unless another
        process was first); files stored before files recorded their chunking were cut with it."""
        f = self.files_t
        with self._writing() as conn:
            conn.execute(self.db.insert(self.meta_t).values(**self._key(), key=self.CHUNKING, value=default.tag)
                         .on_conflict_do_nothing())
            conn.execute(update(f).where(self._mine(f), f.c.chunking.is_(None)).values(chunking=default.tag))

    def set_chunk_settings(self, cs: ChunkSettings) -> None:
        """Validation is the caller's. In a transaction of its own: another thread's write
        transaction must neither include it nor roll it back."""
        with self.db.write() as conn:
            conn.execute(self.db.upsert(self.meta_t, [*self._key(), "key"],
                                        {**self._key(), "key": self.CHUNKING, "value": cs.tag}, ["value"]))

    def files_cut_otherwise(self, cs: ChunkSettings, loader_version: int) -> list[FileRecord]:
        """Ready files cut with other settings than ``cs``, or by loaders older than
        ``loader_version`` (what a re-index would change)."""
        f = self.files_t
        return self._files(f.c.state == "ready", f.c.chunking.is_(None) | (f.c.chunking != cs.tag)
                           | (f.c.loader_version < loader_version))

    @property
    def generation(self) -> int:
        """Bumped by every committed change, in the change's transaction; readers (in any
        process, on any machine sharing the database) use it to notice others' writes."""
        return int(self.get_meta(self.GENERATION, "0"))

    def bump_generation(self) -> int:
        """One atomic statement (no read-then-write race between two writers)."""
        m = self.meta_t
        stmt = self.db.insert(m).values(**self._key(), key=self.GENERATION, value="1")
        stmt = stmt.on_conflict_do_update(index_elements=[*self._key(), "key"],
                                          set_={"value": cast(cast(m.c.value, BigInteger) + 1, Text)})
        with self._writing() as conn:
            conn.execute(stmt)
            return int(conn.execute(select(m.c.value).where(self._mine(m), m.c.key == self.GENERATION)).scalar())

    # --- files ---------------------------------------------------------------------------
    def _files(self, *where) -> list[FileRecord]:
        f = self.files_t
        with self._reading() as conn:
            rows = conn.execute(select(*(f.c[c] for c in _FILE_COLUMNS)).where(self._mine(f), *where)
                                .order_by(f.c.added_at, f.c.name)).all()
        return [FileRecord(*row) for row in rows]

    def file(self, sha256: str) -> FileRecord | None:
        found = self._files(self.files_t.c.sha256 == sha256)
        return found[0] if found else None

    def ready_files(self) -> list[FileRecord]:
        return self._files(self.files_t.c.state == "ready")

    def pending_files(self) -> list[FileRecord]:
        return self._files(self.files_t.c.state == "pending")

    def files_at_path(self, path: str) -> list[FileRecord]:
        return self._files(self.files_t.c.path == path)

    def files_named(self, name: str) -> list[FileRecord]:
        return self._files(self.files_t.c.name == name, self.files_t.c.state == "ready")

    def ready_shas(self) -> set[str]:
        f = self.files_t
        with self._reading() as conn:
            return set(conn.execute(select(f.c.sha256).where(self._mine(f), f.c.state == "ready")).scalars())

    def begin_file(self, rec: FileRecord) -> None:
        values = {**self._key(), **{c: getattr(rec, c) for c in _FILE_COLUMNS}, "state": "pending"}
        with self._writing() as conn:
            conn.execute(self.db.upsert(self.files_t, [*self._key(), "sha256"], values))

    def add_chunks(self, chunks: Iterable[ChunkRecord]) -> None:
        rows = [{**self._key(), "id": c.id, "sha256": c.sha256, "idx": c.idx, "page": c.page, "text": c.text,
                 "tokens": c.tokens, "heading": c.heading, "ocr": int(c.ocr)} for c in chunks]
        if rows:
            with self._writing() as conn:
                conn.execute(self.db.upsert(self.chunks_t, [*self._key(), "id"]), rows)

    def _update_file(self, sha256: str, **values) -> None:
        f = self.files_t
        with self._tx(), self._writing() as conn:
            conn.execute(update(f).where(self._mine(f), f.c.sha256 == sha256).values(**values))
            self.bump_generation()

    def commit_file(self, sha256: str) -> None:
        self._update_file(sha256, state="ready")

    def move_file(self, sha256: str, new_path: str, new_name: str) -> None:
        self._update_file(sha256, path=new_path, name=new_name)

    def remove_file(self, sha256: str) -> None:
        m = self.meta_t
        with self._tx(), self._writing() as conn:
            conn.execute(delete(self.chunks_t).where(self._mine(self.chunks_t), self.chunks_t.c.sha256 == sha256))
            conn.execute(delete(self.files_t).where(self._mine(self.files_t), self.files_t.c.sha256 == sha256))
            prefix = f"alias:{sha256}:"
            self._delete_meta(conn, (m.c.key == f"faq:{sha256}") | (func.substr(m.c.key, 1, len(prefix)) == prefix))
            self.bump_generation()

    def remove_all(self) -> None:
        """Every row of this knowledge base (deleting it from a shared database), but for its
        generation, which moves on: a replica's keyword index of the deleted one must not look
        current to a new knowledge base of the same name that reached the same number."""
        with self.transaction(), self._writing() as conn:
            for table in (self.chunks_t, self.files_t):
                conn.execute(delete(table).where(self._mine(table)))
            self._delete_meta(conn, self.meta_t.c.key != self.GENERATION)
            self.bump_generation()

    # --- chunks --------------------------------------------------------------------------
    def _ready_chunks(self, *columns):
        """SELECT ``columns`` FROM the chunks of this knowledge base's ready files."""
        c, f = self.chunks_t, self.files_t
        on = and_(f.c.sha256 == c.c.sha256, *([f.c.kb == c.c.kb] if self.shared else []))
        return select(*columns).select_from(c.join(f, on)).where(self._mine(c), f.c.state == "ready")

    def _ready_chunk_rows(self, conn: Connection) -> list[tuple[str, str]]:
        c = self.chunks_t
        return [tuple(r) for r in conn.execute(self._ready_chunks(c.c.id, c.c.tokens).order_by(c.c.id))]

    def chunks_of_ready_files(self) -> Iterator[tuple[str, str]]:
        """(chunk id, tokens) of every ready file, in a stable order."""
        with self._reading() as conn:
            rows = self._ready_chunk_rows(conn)
        yield from rows

    def ready_chunks_at_generation(self) -> tuple[int, list[tuple[str, str]]]:
        """The generation and the (chunk id, tokens) of the ready files it counts, read from one
        committed state: what a keyword index that says it reflects that generation must hold."""
        m = self.meta_t
        with self.db.snapshot() as conn:
            gen = conn.execute(select(m.c.value).where(self._mine(m), m.c.key == self.GENERATION)).scalar()
            return int(gen or 0), self._ready_chunk_rows(conn)

    def chunk_texts(self, ids: list[str]) -> dict[str, ChunkRecord]:
        c = self.chunks_t
        out: dict[str, ChunkRecord] = {}
        with self._reading() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(select(c.c.id, c.c.sha256, c.c.idx, c.c.page, c.c.text, c.c.tokens,
                                           c.c.heading, c.c.ocr)
                                    .where(self._mine(c), c.c.id.in_(ids[start: start + 500])))
                for row in rows:
                    out[row[0]] = ChunkRecord(*row[:-1], bool(row[-1]))
        return out

    def chunk_count(self) -> int:
        with self._reading() as conn:
            return conn.execute(self._ready_chunks(func.count())).scalar()

    # --- the knowledge bases of a shared database -------------------------------------------
    @staticmethod
    def names_in(database: Database) -> list[str]:
        """The knowledge bases stored in a shared database (their ``name`` meta rows)."""
        _, _, m = catalog_tables(True)
        with database.read() as conn:
            return sorted(conn.execute(select(m.c.kb).where(m.c.key == "name")).scalars())


def now() -> float:
    return time.time()
