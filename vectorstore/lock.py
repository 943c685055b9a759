"""One writer at a time across processes.

Two processes writing one persistent Chroma folder corrupt it (DESIGN.md), so every write to a
store (Chroma, catalog, keyword index) happens while holding this inter-process file lock.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)


class WriterBusy(RuntimeError):
    """Another process kept the knowledge base busy for longer than we were willing to wait."""


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
