"""``docchat db migrate --to URL``: an existing home's SQLite stores moved into PostgreSQL.

Copied as they are, row by row, in one transaction: each knowledge base's catalog (files, chunk
texts and keyword tokens, settings, aliases, FAQ marks, its generation), the conversations, the
users and their sessions, the feedback and the access rules. Nothing is re-read, re-chunked or
re-embedded: the vectors stay in Chroma under the same chunk ids, and this home's keyword index
stays valid (the generation it is tagged with is copied too). The SQLite files are left where
they are. A target that already holds DocChat data is refused (nothing is merged or written).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Table, func, select, text

from chains.conversations import CONVERSATIONS, TURNS, ConversationStore
from common.user_error import UserError
from vectorstore.catalog import Catalog, catalog_tables
from vectorstore.database import Database

from .accounts import LOGIN_FAILURES, SESSIONS, USERS, AccountStore
from .feedback import FEEDBACK, FeedbackStore
from .kb_access import KB_ACCESS, KBAccess

_TARGET_TABLES = ("catalog_meta", "conversations", "users", "feedback", "kb_access")


class MigrateError(UserError):
    """Nothing was written: MigrateError(en, zh)."""


@dataclass
class MigrateReport:
    knowledge_bases: dict[str, int] = field(default_factory=dict)  # name -> chunks copied
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied

    def describe(self, lang: str = "en") -> str:
        kbs = ", ".join(f"{n} ({c})" for n, c in self.knowledge_bases.items()) or "-"
        rows = ", ".join(f"{t} {n}" for t, n in self.rows.items() if n)
        if lang.startswith("zh"):
            return f"已迁移知识库（段落数）：{kbs}；行数：{rows}。未重新计算任何向量，原 SQLite 文件保留不动。"
        return (f"Moved knowledge bases (passages): {kbs}; rows: {rows}. Nothing was re-embedded; the SQLite "
                f"files were left in place.")


def _columns(table: Table) -> list:
    """The columns an SQLite file has (the shared tables' ``seq`` is not there)."""
    return [c for c in table.columns if c.name != "seq"]


def _copy(source: Database, target_conn, src: Table, dst: Table, extra: dict | None = None,
          in_order: bool = False) -> int:
    query = select(*_columns(src))
    if in_order:  # in insertion order: the target's seq (SQLite's rowid there) numbers them the same way
        query = query.order_by(source.insertion_order(src))
    with source.read() as conn:
        rows = [{**dict(r._mapping), **(extra or {})} for r in conn.execute(query)]
    if rows:
        target_conn.execute(dst.insert(), rows)
    return len(rows)


def _holds_data(target: Database) -> list[str]:
    with target.read() as conn:
        return [t for t in _TARGET_TABLES if conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()]


def migrate_home(home: Path, to_url: str) -> MigrateReport:
    target = Database(to_url)
    if not target.is_postgres:
        raise MigrateError(f"--to must name a PostgreSQL database (postgresql+pg8000://...), not {to_url}.",
                           f"--to 必须是 PostgreSQL 数据库地址（postgresql+pg8000://...），而不是 {to_url}。")
    try:
        target.upgrade()
        full = _holds_data(target)
        if full:
            raise MigrateError(
                f"The database already holds DocChat data (tables {', '.join(full)}); nothing was moved. "
                f"Use an empty database.",
                f"目标数据库中已有 DocChat 数据（表 {'、'.join(full)}），未迁移任何内容。请使用空数据库。")
        report = MigrateReport()
        files_src, chunks_src, meta_src = catalog_tables(False)
        files_dst, chunks_dst, meta_dst = catalog_tables(True)
        with target.write() as conn:  # all or nothing
            for db_file in sorted((home / "kb").glob("*/catalog.sqlite3")):
                catalog = Catalog(db_file)  # adds columns an older file lacks
                try:
                    name = catalog.get_meta("name") or db_file.parent.name
                    key = {"kb": name}
                    _copy(catalog.db, conn, files_src, files_dst, key)
                    report.knowledge_bases[name] = _copy(catalog.db, conn, chunks_src, chunks_dst, key)
                    _copy(catalog.db, conn, meta_src, meta_dst, key, in_order=True)
                finally:
                    catalog.close()
            stores = [
                ("conversations.sqlite3", ConversationStore, [(CONVERSATIONS, True), (TURNS, False)]),
                ("accounts.sqlite3", AccountStore, [(USERS, False), (SESSIONS, False), (LOGIN_FAILURES, True)]),
                ("feedback.sqlite3", FeedbackStore, [(FEEDBACK, False)]),
                ("kb_access.sqlite3", KBAccess, [(KB_ACCESS, False)]),
            ]
            for file_name, store_class, tables in stores:
                if not (home / file_name).is_file():
                    continue
                source = store_class(home / file_name).db  # adds columns an older file lacks
                try:
                    for table, in_order in tables:
                        report.rows[table.name] = _copy(source, conn, table, table, in_order=in_order)
                finally:
                    source.dispose()
        report.rows["catalog_files"] = _count(target, files_dst)
        return report
    finally:
        target.dispose()


def _count(target: Database, table: Table) -> int:
    with target.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()
