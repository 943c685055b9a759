"""One writer at a time across processes (and, on PostgreSQL, across machines).

Two processes writing one persistent Chroma folder corrupt it (DESIGN.md), so every write to a
store (Chroma, catalog, keyword index) happens while holding the writer lock: a file lock under
DOCCHAT_HOME/locks on one machine (WriterLock), or a PostgreSQL advisory lock when the catalog
lives in PostgreSQL (AdvisoryLock), so that replicas and the CLI on other machines wait too.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from common.user_error import UserError

log = logging.getLogger(__name__)


class WriterBusy(UserError, RuntimeError):
    """Another process kept the knowledge base busy for longer than we were willing to wait."""

    EN = "The knowledge base is busy with another import; please try again in a few minutes."
    ZH = "知识库正在导入其他文件，请几分钟后再试。"


class WriterLock:
    def __init__(self, lock_file: Path, timeout_s: float = 600.0):
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(lock_file))
        self.timeout_s = timeout_s

    @contextmanager
    def try_hold(self) -> Iterator[bool]:
        """Holds the lock if it is free right now; yields whether it does."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            self._lock.release()

    @contextmanager
    def hold(self) -> Iterator[None]:
        try:
            self._lock.acquire(timeout=0.05)
        except Timeout:
            log.info("another process is writing to the knowledge base; waiting for it")
            try:
                self._lock.acquire(timeout=self.timeout_s)
            except Timeout as exc:
                raise WriterBusy(
                    "The knowledge base is busy with another import; try again in a few minutes."
                ) from exc
        try:
            yield
        finally:
            self._lock.release()


class AdvisoryLock:
    """The writer lock as a PostgreSQL session advisory lock, on a connection of its own held
    for the write (``pg_advisory_lock`` semantics: released when the holder's connection ends,
    so a killed writer never leaves it taken). Same interface as WriterLock, re-entrant within
    one thread like it; threads of one process take turns on an in-process lock first."""

    POLL_S = 0.05

    def __init__(self, database, key: int, timeout_s: float = 600.0):
        self.database, self.key, self.timeout_s = database, key, timeout_s
        self._local = threading.RLock()
        self._depth = 0
        self._conn = None

    def _try_server_lock(self) -> bool:
        from sqlalchemy import text
        conn = self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar():
                self._conn = conn
                return True
        except BaseException:
            conn.close()
            raise
        conn.close()
        return False

    def _release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            conn, self._conn = self._conn, None
            try:
                from sqlalchemy import text
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except Exception:  # the connection is gone: the server ended the lock with it
                log.warning("could not release the writer lock explicitly", exc_info=True)
            finally:
                conn.close()
        self._local.release()

    @contextmanager
    def try_hold(self) -> Iterator[bool]:
        if not self._local.acquire(blocking=False):
            yield False
            return
        if self._depth == 0 and not self._try_server_lock():
            self._local.release()
            yield False
            return
        self._depth += 1
        try:
            yield True
        finally:
            self._release()

    @contextmanager
    def hold(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        if not self._local.acquire(timeout=self.timeout_s):
            raise WriterBusy("The knowledge base is busy with another import; try again in a few minutes.")
        try:
            if self._depth == 0:
                told = False
                while not self._try_server_lock():
                    if not told:
                        log.info("another process is writing to the knowledge base; waiting for it")
                        told = True
                    if time.monotonic() >= deadline:
                        raise WriterBusy(
                            "The knowledge base is busy with another import; try again in a few minutes.")
                    time.sleep(self.POLL_S)
        except BaseException:
            self._local.release()
            raise
        self._depth += 1
        try:
            yield
        finally:
            self._release()
