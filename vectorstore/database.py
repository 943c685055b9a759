"""The database engine behind the catalog and the app's own stores (SQLAlchemy Core).

Two kinds: an embedded SQLite file (the default: nothing to start, one file per store as
always), or a PostgreSQL server named by ``DOCCHAT_DATABASE_URL`` (``postgresql+pg8000://``),
shared by every app replica and CLI. PostgreSQL's tables are made and upgraded by Alembic
(vectorstore/migrations) when the app opens it; SQLite files keep their own ``CREATE ... IF NOT
EXISTS`` schemas, so existing homes open as before.

It lives in vectorstore/ because the catalog needs it; chains/ and docchat/ use it from here.
"""
from __future__ import annotations

import sqlite3
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import Connection, Table, create_engine, event, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

from common.user_error import UserError

MIGRATIONS = Path(__file__).with_name("migrations")


def lock_key(name: str) -> int:
    """A stable 63-bit key for a PostgreSQL advisory lock named ``name``."""
    return zlib.crc32(b"docchat:" + name.encode()) | (0x5DC << 32)


class DatabaseUrlError(UserError, ValueError):
    """DOCCHAT_DATABASE_URL names no database we can use."""

    def __init__(self, url: str, why: str = ""):
        self.url, shown = url, _hide_password(url)
        super().__init__(
            f"The database address {shown} is not usable{' (' + why + ')' if why else ''}. Use "
            f"postgresql+pg8000://user:password@host:5432/dbname, or leave DOCCHAT_DATABASE_URL unset for "
            f"the embedded SQLite files.",
            f"数据库地址 {shown} 不可用{'（' + why + '）' if why else ''}。请使用 "
            f"postgresql+pg8000://用户:密码@主机:5432/库名，或不设置 DOCCHAT_DATABASE_URL 以使用内置的 SQLite 文件。")


class DatabaseUnavailable(UserError, RuntimeError):
    """The database server does not answer (or refuses us): nothing was changed."""

    def __init__(self, url: str, detail: object):
        shown = _hide_password(url)
        super().__init__(
            f"Cannot reach the database at {shown} ({detail}). Start it, or correct DOCCHAT_DATABASE_URL; "
            f"nothing was changed.",
            f"无法连接数据库 {shown}（{detail}）。请启动数据库，或更正 DOCCHAT_DATABASE_URL；未做任何更改。")


def _hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class Database:
    """One engine. ``read()`` and ``write()`` hand out a connection for one short transaction;
    on SQLite a write takes the file's write lock up front (BEGIN IMMEDIATE), and deleted rows
    are overwritten (secure_delete), as the stores did before SQLAlchemy."""

    def __init__(self, url: str, *, timeout: float = 30.0):
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise DatabaseUrlError(url) from exc
        self.url = url
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        if self.is_postgres:
            if parsed.get_driver_name() not in ("pg8000", "psycopg", "psycopg2"):
                raise DatabaseUrlError(url, "unknown driver")
            try:
                # No pool_pre_ping: with pg8000 its ping leaves a transaction open, and VACUUM and the
                # advisory lock need a connection outside any.
                self.engine = create_engine(url, pool_size=5, max_overflow=20)
            except Exception as exc:  # a driver that is not installed
                raise DatabaseUrlError(url, str(exc)) from exc
        elif parsed.get_backend_name() == "sqlite":
            self.engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            raise DatabaseUrlError(url, "only PostgreSQL or SQLite")
        self._insert = postgresql.insert if self.is_postgres else sqlite.insert
        self._migrated = False
        self._migrate_lock = threading.Lock()

    @classmethod
    def sqlite_file(cls, path: Path, *, timeout: float = 30.0) -> "Database":
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}", timeout=timeout)

    def __repr__(self) -> str:
        return f"Database({_hide_password(self.url)})"

    # --- connections -------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction, committed at the end (rolled back on an error)."""
        with self.engine.connect() as conn:
            conn.execution_options(docchat_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read that sees one committed state throughout (the generation and the rows it
        counts), while writers go on."""
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    # --- statements that differ by dialect ----------------------------------------------------
    def insert(self, table: Table):
        """An INSERT with ``on_conflict_do_update`` / ``on_conflict_do_nothing`` (both dialects)."""
        return self._insert(table)

    def upsert(self, table: Table, keys: list[str], values: dict | None = None, update: list[str] | None = None):
        """INSERT, or on a key conflict UPDATE the ``update`` columns (every non-key by default)."""
        stmt = self._insert(table)
        if values is not None:
            stmt = stmt.values(**values)
        cols = update if update is not None else [c.name for c in table.columns
                                                   if c.name not in keys and not c.identity]
        return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in cols})

    def insertion_order(self, table: Table):
        """A column that orders rows as they were inserted: SQLite's rowid, PostgreSQL's ``seq``."""
        return table.c.seq if self.is_postgres else literal_column(f"{table.name}.rowid")

    # --- schema ------------------------------------------------------------------------------
    def upgrade(self) -> None:
        """PostgreSQL: ``alembic upgrade head``, once per process, under a lock so that replicas
        starting together do not both create the tables. SQLite: nothing (its stores make their
        own files)."""
        if not self.is_postgres or self._migrated:
            return
        from alembic import command
        from alembic.config import Config

        with self._migrate_lock:
            if self._migrated:
                return
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            try:
                with self.engine.begin() as conn:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("migrate")})
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            except (OperationalError, InterfaceError) as exc:
                raise DatabaseUnavailable(self.url, exc.orig) from exc
            self._migrated = True

    def revision(self) -> str | None:
        """The Alembic revision the database is at (None: never migrated)."""
        if not self.is_postgres:
            return None
        with self.read() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception:
                return None

    # --- erasing ----------------------------------------------------------------------------
    def vacuum(self, *tables: str) -> None:
        """After deletes (issue 13: deletes leave no traces): PostgreSQL's plain VACUUM marks the
        dead row versions of these tables as free space to be overwritten and prunes them from
        their pages and indexes; SQLite's stores overwrite deleted rows themselves
        (secure_delete) and empty their write-ahead log."""
        if self.is_postgres:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in tables:
                    conn.exec_driver_sql(f'VACUUM "{table}"')
        else:
            raw = self.engine.raw_connection()  # outside any transaction (isolation_level None)
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except Exception:  # best effort: a reader in another process may hold the log
                pass
            finally:
                raw.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_connect(dbapi_conn, _record) -> None:
    # SQLAlchemy emits BEGIN itself (below), so that a write can take the lock up front.
    dbapi_conn.isolation_level = None
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
    # What is deleted is gone for good: overwritten, not left in free pages.
    dbapi_conn.execute("PRAGMA secure_delete=ON")


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE: no deadlock between two writers that both read first, and what a writer
    # reads cannot be changed by another meanwhile.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("docchat_write") else "BEGIN")


def store_database(database: Database | None, path: Path, schema: str, *, timeout: float = 30.0,
                   adapt: Callable[[sqlite3.Connection], None] | None = None) -> Database:
    """Where one of the app's own stores (conversations, accounts, feedback, access rules) keeps
    its rows: the shared PostgreSQL database (its tables are Alembic's), or its SQLite file at
    ``path``, made with ``schema`` if new and ``adapt``-ed (columns added since a release)."""
    if database is not None and database.is_postgres:
        return database
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")  # persistent: set once per file
        db.executescript(schema)
        if adapt:
            adapt(db)
    finally:
        db.close()
    return Database.sqlite_file(path, timeout=timeout)
