"""Searches go before ingests on a shared embedding model."""
from __future__ import annotations

import threading
from contextlib import contextmanager


class QueriesFirst:
    """Each embedding model serialises its calls with a plain lock, which is not fair: an
    ingest that embeds batch after batch takes it again before a waiting search wakes up, and
    measured here a search waited 35 s behind a large upload. So a search announces itself, and
    the ingest waits for announced searches before each slice (at most ``max_wait_s``, so a
    stream of questions cannot stall an upload for ever). A search then waits for one slice at
    most. One per set of knowledge bases sharing a model (KBParts)."""

    def __init__(self, max_wait_s: float = 2.0) -> None:
        self._cond = threading.Condition()
        self._waiting = 0
        self.max_wait_s = max_wait_s

    @contextmanager
    def search(self):
        with self._cond:
            self._waiting += 1
        try:
            yield
        finally:
            with self._cond:
                self._waiting -= 1
                if not self._waiting:
                    self._cond.notify_all()

    def ingest_turn(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._waiting == 0, timeout=self.max_wait_s)
