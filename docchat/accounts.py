"""User accounts (issue 14): users with bcrypt password hashes, roles, login sessions and the
failed-login limits, in SQLite at ``<DOCCHAT_HOME>/accounts.sqlite3``.

Accounts are off unless DOCCHAT_ACCOUNTS=1. This module only stores and checks; the page
(ui/auth.py) and the CLI (``docchat users ...``) use it. One job: who is who, and who is signed
in. Knowledge-base permissions live in docchat/kb_access.py, feedback in docchat/feedback.py.

Every call opens its own short connection (like chains/conversations.py), so the threads of one
Streamlit process and the CLI can use the file at once.
"""
from __future__ import annotations

import re
import secrets
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from common.user_error import UserError

from chains.sqlite_file import SQLiteFile

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


class AccountStore(SQLiteFile):
    def __init__(self, path: str | Path, *, max_failures_user: int = 5, max_failures_address: int = 20,
                 window_s: float = 900.0, session_idle_s: float = 8 * 3600, timeout: float = 30.0):
        """Failed logins: at most ``max_failures_user`` per user name and ``max_failures_address``
        per address within ``window_s``; then that name (or address) waits until the oldest
        counted failure is ``window_s`` old. A session ends after ``session_idle_s`` unused."""
        self.path = Path(path)
        self.max_failures_user, self.max_failures_address = max_failures_user, max_failures_address
        self.window_s, self.session_idle_s, self.timeout = window_s, session_idle_s, timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def at_home(cls, home: str | Path, **limits) -> "AccountStore":
        return cls(Path(home) / "accounts.sqlite3", **limits)

    # --- users ----------------------------------------------------------------------------
    def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        name, password = check_name(name), check_password(password)
        user = User(name, "admin" if admin else "member", time.time())
        digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))
        with self._write() as db:
            if db.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise AccountError(f"用户 {name} 已存在。", f"There is already a user {name}.")
            db.execute("INSERT INTO users (name, hash, role, created) VALUES (?,?,?,?)",
                       (name, digest, user.role, user.created))
        return user

    def remove_user(self, name: str) -> bool:
        """Removes the user and ends their sessions; False when there was none."""
        with self._write() as db:
            db.execute("DELETE FROM sessions WHERE user=?", (name,))
            return db.execute("DELETE FROM users WHERE name=?", (name,)).rowcount > 0

    def set_password(self, name: str, password: str) -> None:
        """New password; the user's open sessions end (they sign in again with it)."""
        password = check_password(password)
        digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))
        with self._write() as db:
            if db.execute("UPDATE users SET hash=? WHERE name=?", (digest, name)).rowcount == 0:
                raise self.unknown(name)
            db.execute("DELETE FROM sessions WHERE user=?", (name,))

    def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(role)
        with self._write() as db:
            if db.execute("UPDATE users SET role=? WHERE name=?", (role, name)).rowcount == 0:
                raise self.unknown(name)

    @staticmethod
    def unknown(name: str) -> AccountError:
        return AccountError(f"没有名为 {name} 的用户。", f"There is no user {name}.")

    def get_user(self, name: str) -> User | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT name, role, created FROM users WHERE name=?", (name,)).fetchone()
        return User(*row) if row else None

    def users(self) -> list[User]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT name, role, created FROM users ORDER BY name").fetchall()
        return [User(*r) for r in rows]

    # --- signing in -----------------------------------------------------------------------
    def retry_at(self, name: str, address: str | None = None, now: float | None = None) -> float | None:
        """When this name (and address) may try again, or None when they may now."""
        now = time.time() if now is None else now
        with closing(self._connect()) as db:
            waits = [self._retry_at(db, f"user:{name.strip()}", self.max_failures_user, now)]
            if address:
                waits.append(self._retry_at(db, f"addr:{address}", self.max_failures_address, now))
        waits = [w for w in waits if w is not None]
        return max(waits) if waits else None

    def _retry_at(self, db, key: str, limit: int, now: float) -> float | None:
        rows = [r[0] for r in db.execute("SELECT at FROM login_failures WHERE key=? AND at>? ORDER BY at DESC",
                                         (key, now - self.window_s))]
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
        with closing(self._connect()) as db:
            row = db.execute("SELECT name, role, created, hash FROM users WHERE name=?", (name,)).fetchone()
        given = (password or "").encode()[:72]
        ok = bcrypt.checkpw(given, row[3]) if row else (bcrypt.checkpw(given, _DUMMY_HASH) and False)
        with self._write() as db:
            if ok:
                db.execute("DELETE FROM login_failures WHERE key=?", (f"user:{name}",))
            else:
                db.execute("INSERT INTO login_failures (key, at) VALUES (?,?)", (f"user:{name}", now))
                if address:
                    db.execute("INSERT INTO login_failures (key, at) VALUES (?,?)", (f"addr:{address}", now))
                db.execute("DELETE FROM login_failures WHERE at<?", (now - 2 * self.window_s,))
        if ok:
            return LoginResult(User(row[0], row[1], row[2]))
        # This failure may have reached the limit: say so now, not only at the next try.
        return LoginResult(retry_at=self.retry_at(name, address, now))

    # --- sessions -------------------------------------------------------------------------
    def start_session(self, user: User, now: float | None = None) -> str:
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self._write() as db:
            db.execute("INSERT INTO sessions (token, user, created, last_seen) VALUES (?,?,?,?)",
                       (token, user.name, now, now))
            db.execute("DELETE FROM sessions WHERE last_seen<?", (now - self.session_idle_s,))
        return token

    def session_user(self, token: str | None, now: float | None = None) -> User | None:
        """The signed-in user of this session, or None when it ended: unused for longer than
        the idle limit, signed out, the password changed, or the user removed. Each call
        counts as use."""
        if not token:
            return None
        now = time.time() if now is None else now
        with self._write() as db:
            row = db.execute("SELECT u.name, u.role, u.created, s.last_seen FROM sessions s "
                             "JOIN users u ON u.name = s.user WHERE s.token=?", (token,)).fetchone()
            if row is None:
                return None
            if now - row[3] > self.session_idle_s:
                db.execute("DELETE FROM sessions WHERE token=?", (token,))
                return None
            db.execute("UPDATE sessions SET last_seen=? WHERE token=?", (now, token))
        return User(*row[:3])

    def end_session(self, token: str | None) -> None:
        if token:
            with self._write() as db:
                db.execute("DELETE FROM sessions WHERE token=?", (token,))
