"""User accounts (issue 14): users with bcrypt password hashes, roles, login sessions and the
failed-login limits, in SQLite at ``<DOCCHAT_HOME>/accounts.sqlite3`` or in the shared
PostgreSQL database (DOCCHAT_DATABASE_URL), through SQLAlchemy Core.

Accounts are off unless DOCCHAT_ACCOUNTS=1. This module only stores and checks; the page
(ui/auth.py) and the CLI (``docchat users ...``) use it. One job: who is who, and who is signed
in. Knowledge-base permissions live in docchat/kb_access.py, feedback in docchat/feedback.py.

Every call takes its own short connection (like chains/conversations.py), so the threads of one
Streamlit process, the CLI and other app replicas can use it at once.
"""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from sqlalchemy import BigInteger, Column, Double, LargeBinary, MetaData, Table, Text, delete, select, update

from common.user_error import UserError
from vectorstore.database import Database, store_database

ROLES = ("admin", "member")
MIN_PASSWORD_CHARS = 8
NAME_RE = re.compile(r"^[\w.@-]{1,64}$")  # letters (any script), digits, _ . @ -

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, hash BLOB NOT NULL, role TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_by_key ON login_failures(key, at);
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created REAL NOT NULL, last_seen REAL NOT NULL);
"""
_md = MetaData()
USERS = Table("users", _md, Column("name", Text, primary_key=True), Column("hash", LargeBinary),
              Column("role", Text), Column("created", Double))
LOGIN_FAILURES = Table("login_failures", _md, Column("key", Text), Column("at", Double),
                       Column("seq", BigInteger))  # seq: PostgreSQL only
SESSIONS = Table("sessions", _md, Column("token", Text, primary_key=True), Column("user", Text),
                 Column("created", Double), Column("last_seen", Double))

# Compared against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=12))


class AccountError(UserError, ValueError):
    """A problem the person can fix, said in one sentence: AccountError(zh, en)."""

    def __init__(self, zh: str, en: str):
        super().__init__(en, zh)


@dataclass(frozen=True)
class User:
    name: str
    role: str = "member"
    created: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    retry_at: float | None = None  # set when the limit was reached: no password was checked

    @property
    def ok(self) -> bool:
        return self.user is not None


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise AccountError("用户名只能包含字母、数字、汉字和 _ . @ -，最长 64 个字符。",
                           "A user name may hold letters, digits, _ . @ - and up to 64 characters.")
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_CHARS:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_CHARS} 个字符。",
                           f"A password needs at least {MIN_PASSWORD_CHARS} characters.")
    if len(password.encode()) > 72:  # bcrypt reads 72 bytes at most: longer would be cut silently
        raise AccountError("密码最长 72 个字节（约 24 个汉字或 72 个英文字母）。",
                           "A password may be at most 72 bytes long (72 letters, about 24 Chinese characters).")
    return password


class AccountStore:
    def __init__(self, path: str | Path | None = None, *, max_failures_user: int = 5, max_failures_address: int = 20,
                 window_s: float = 900.0, session_idle_s: float = 8 * 3600, timeout: float = 30.0,
                 database: Database | None = None):
        """Failed logins: at most ``max_failures_user`` per user name and ``max_failures_address``
        per address within ``window_s``; then that name (or address) waits until the oldest
        counted failure is ``window_s`` old. A session ends after ``session_idle_s`` unused.
        ``path``: its SQLite file; ``database``: the shared PostgreSQL database instead."""
        self.path = Path(path) if path is not None else None
        self.max_failures_user, self.max_failures_address = max_failures_user, max_failures_address
        self.window_s, self.session_idle_s, self.timeout = window_s, session_idle_s, timeout
        self.db = store_database(database, self.path, _SCHEMA, timeout=timeout)

    @classmethod
    def at_home(cls, home: str | Path, database: Database | None = None, **limits) -> "AccountStore":
        return cls(Path(home) / "accounts.sqlite3", database=database, **limits)

    # --- users ----------------------------------------------------------------------------
    def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        name, password = check_name(name), check_password(password)
        user = User(name, "admin" if admin else "member", time.time())
        digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))
        with self.db.write() as db:
            if db.execute(select(USERS.c.name).where(USERS.c.name == name)).first():
                raise AccountError(f"用户 {name} 已存在。", f"There is already a user {name}.")
            db.execute(USERS.insert().values(name=name, hash=digest, role=user.role, created=user.created))
        return user

    def remove_user(self, name: str) -> bool:
        """Removes the user and ends their sessions; False when there was none."""
        with self.db.write() as db:
            db.execute(delete(SESSIONS).where(SESSIONS.c.user == name))
            removed = db.execute(delete(USERS).where(USERS.c.name == name)).rowcount > 0
        self.db.vacuum(SESSIONS.name, USERS.name)  # their password hash is not left behind
        return removed

    def set_password(self, name: str, password: str) -> None:
        """New password; the user's open sessions end (they sign in again with it)."""
        password = check_password(password)
        digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))
        with self.db.write() as db:
            if db.execute(update(USERS).where(USERS.c.name == name).values(hash=digest)).rowcount == 0:
                raise self.unknown(name)
            db.execute(delete(SESSIONS).where(SESSIONS.c.user == name))

    def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(role)
        with self.db.write() as db:
            if db.execute(update(USERS).where(USERS.c.name == name).values(role=role)).rowcount == 0:
                raise self.unknown(name)

    @staticmethod
    def unknown(name: str) -> AccountError:
        return AccountError(f"没有名为 {name} 的用户。", f"There is no user {name}.")

    def get_user(self, name: str) -> User | None:
        with self.db.read() as db:
            row = db.execute(select(USERS.c.name, USERS.c.role, USERS.c.created).where(USERS.c.name == name)).first()
        return User(*row) if row else None

    def users(self) -> list[User]:
        with self.db.read() as db:
            rows = db.execute(select(USERS.c.name, USERS.c.role, USERS.c.created).order_by(USERS.c.name)).all()
        return [User(*r) for r in rows]

    # --- signing in -----------------------------------------------------------------------
    def retry_at(self, name: str, address: str | None = None, now: float | None = None) -> float | None:
        """When this name (and address) may try again, or None when they may now."""
        now = time.time() if now is None else now
        with self.db.read() as db:
            waits = [self._retry_at(db, f"user:{name.strip()}", self.max_failures_user, now)]
            if address:
                waits.append(self._retry_at(db, f"addr:{address}", self.max_failures_address, now))
        waits = [w for w in waits if w is not None]
        return max(waits) if waits else None

    def _retry_at(self, db, key: str, limit: int, now: float) -> float | None:
        f = LOGIN_FAILURES
        rows = list(db.execute(select(f.c.at).where(f.c.key == key, f.c.at > now - self.window_s)
                               .order_by(f.c.at.desc())).scalars())
        # With `limit` failures in the window, the next try waits until the limit-th newest one
        # leaves it (then only limit-1 are left in the window).
        return rows[limit - 1] + self.window_s if len(rows) >= limit else None

    def login(self, name: str, password: str, address: str | None = None,
              now: float | None = None) -> LoginResult:
        """Checks the password unless the name or the address has reached its limit of failed
        tries (then ``retry_at`` says when to try again, and nothing is checked or counted)."""
        now = time.time() if now is None else now
        name = (name or "").strip()
        wait = self.retry_at(name, address, now)
        if wait is not None:
            return LoginResult(retry_at=wait)
        with self.db.read() as db:
            row = db.execute(select(USERS.c.name, USERS.c.role, USERS.c.created, USERS.c.hash)
                             .where(USERS.c.name == name)).first()
        given = (password or "").encode()[:72]
        ok = bcrypt.checkpw(given, bytes(row[3])) if row else (bcrypt.checkpw(given, _DUMMY_HASH) and False)
        f = LOGIN_FAILURES
        with self.db.write() as db:
            if ok:
                db.execute(delete(f).where(f.c.key == f"user:{name}"))
            else:
                db.execute(f.insert().values(key=f"user:{name}", at=now))
                if address:
                    db.execute(f.insert().values(key=f"addr:{address}", at=now))
                db.execute(delete(f).where(f.c.at < now - 2 * self.window_s))
        if ok:
            return LoginResult(User(row[0], row[1], row[2]))
        # This failure may have reached the limit: say so now, not only at the next try.
        return LoginResult(retry_at=self.retry_at(name, address, now))

    # --- sessions -------------------------------------------------------------------------
    def start_session(self, user: User, now: float | None = None) -> str:
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self.db.write() as db:
            db.execute(SESSIONS.insert().values(token=token, user=user.name, created=now, last_seen=now))
            db.execute(delete(SESSIONS).where(SESSIONS.c.last_seen < now - self.session_idle_s))
        return token

    def session_user(self, token: str | None, now: float | None = None) -> User | None:
        """The signed-in user of this session, or None when it ended: unused for longer than
        the idle limit, signed out, the password changed, or the user removed. Each call
        counts as use."""
        if not token:
            return None
        now = time.time() if now is None else now
        s, u = SESSIONS, USERS
        with self.db.write() as db:
            row = db.execute(select(u.c.name, u.c.role, u.c.created, s.c.last_seen)
                             .select_from(s.join(u, u.c.name == s.c.user)).where(s.c.token == token)).first()
            if row is None:
                return None
            if now - row[3] > self.session_idle_s:
                db.execute(delete(s).where(s.c.token == token))
                return None
            db.execute(update(s).where(s.c.token == token).values(last_seen=now))
        return User(*row[:3])

    def end_session(self, token: str | None) -> None:
        if token:
            with self.db.write() as db:
                db.execute(delete(SESSIONS).where(SESSIONS.c.token == token))
