"""Who may read and who may change each knowledge base (issue 14), in SQLite at
``<DOCCHAT_HOME>/kb_access.sqlite3`` or the shared PostgreSQL database (DOCCHAT_DATABASE_URL).
Used only when accounts are on.

A knowledge base no admin has set rules for is read by everyone and changed by admins only.
Admins read and change every knowledge base. Whoever may change one may also read it. ``"*"``
in a list means every signed-in user. The page, the chat (retrieval) and the CLI all ask
``can_read`` / ``can_change`` before they open a knowledge base for a user.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, Text, delete, select

from common.user_error import UserError
from vectorstore.database import Database, store_database

from .accounts import User

EVERYONE = "*"
_SCHEMA = "CREATE TABLE IF NOT EXISTS kb_access (kb TEXT PRIMARY KEY, readers TEXT NOT NULL, writers TEXT NOT NULL);"
KB_ACCESS = Table("kb_access", MetaData(), Column("kb", Text, primary_key=True), Column("readers", Text),
                  Column("writers", Text))


@dataclass(frozen=True)
class Rule:
    readers: tuple[str, ...] = (EVERYONE,)
    writers: tuple[str, ...] = ()

    def may_read(self, user: User) -> bool:
        return user.is_admin or bool({EVERYONE, user.name} & set(self.readers)) or self.may_change(user)

    def may_change(self, user: User) -> bool:
        return user.is_admin or bool({EVERYONE, user.name} & set(self.writers))


class AccessDenied(UserError, PermissionError):
    def __init__(self, kb: str, change: bool = False):
        if change:
            super().__init__(f"You may not change the knowledge base “{kb}”; ask an administrator.",
                             f"您没有修改知识库“{kb}”的权限；请联系管理员。")
        else:
            super().__init__(f"There is no knowledge base “{kb}” that you may read.",
                             f"没有名为“{kb}”的知识库，或您无权查看它。")
        self.kb, self.change = kb, change


class KBAccess:
    def __init__(self, path: str | Path | None = None, timeout: float = 30.0, *, database: Database | None = None):
        self.path, self.timeout = (Path(path) if path is not None else None), timeout
        self.db = store_database(database, self.path, _SCHEMA, timeout=timeout)

    @classmethod
    def at_home(cls, home: str | Path, database: Database | None = None) -> "KBAccess":
        return cls(Path(home) / "kb_access.sqlite3", database=database)

    def rule(self, kb: str) -> Rule:
        with self.db.read() as db:
            row = db.execute(select(KB_ACCESS.c.readers, KB_ACCESS.c.writers).where(KB_ACCESS.c.kb == kb)).first()
        return Rule(tuple(json.loads(row[0])), tuple(json.loads(row[1]))) if row else Rule()

    def set_rule(self, kb: str, readers, writers) -> Rule:
        rule = Rule(tuple(sorted(set(readers))), tuple(sorted(set(writers))))
        with self.db.write() as db:
            db.execute(self.db.upsert(KB_ACCESS, ["kb"], dict(kb=kb, readers=json.dumps(rule.readers, ensure_ascii=False),
                                                              writers=json.dumps(rule.writers, ensure_ascii=False))))
        return rule

    def forget(self, kb: str) -> None:
        """The knowledge base was deleted: a new one of that name starts with the default rule."""
        with self.db.write() as db:
            db.execute(delete(KB_ACCESS).where(KB_ACCESS.c.kb == kb))

    def can_read(self, user: User | None, kb: str) -> bool:
        """``user`` None: accounts are off (or the CLI runs as the machine's operator)."""
        return user is None or self.rule(kb).may_read(user)

    def can_change(self, user: User | None, kb: str) -> bool:
        return user is None or self.rule(kb).may_change(user)

    def readable(self, user: User | None, names: list[str]) -> list[str]:
        return [n for n in names if self.can_read(user, n)]

    def check_read(self, user: User | None, kb: str) -> None:
        if not self.can_read(user, kb):
            raise AccessDenied(kb)

    def check_change(self, user: User | None, kb: str) -> None:
        if not self.can_read(user, kb):
            raise AccessDenied(kb)  # no hint that a knowledge base one may not read exists
        if not self.can_change(user, kb):
            raise AccessDenied(kb, change=True)
