"""One answer at a time per process, the others told their place in line.

The model is shared by every user of the process (loading it per user would multiply its
memory), so questions take turns; a waiting user sees "2 questions ahead of yours" instead of
a frozen page, with an estimated wait: the mean time of the recent turns (the model's speed on
this machine, measured as it serves) times the turns ahead. A user who leaves the line (page
closed, answer stopped, error) is simply removed from it.
"""
from __future__ import annotations

import threading
import time
from collections import deque

RECENT_TURNS = 20  # turns the wait estimate averages over


class AnswerQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[int] = []
        self._count = 0
        self._turn_started: dict[int, float] = {}  # ticket -> when it reached the front
        self._recent: deque[float] = deque(maxlen=RECENT_TURNS)  # seconds per finished turn

    def join(self) -> int:
        with self._cond:
            self._count += 1
            self._line.append(self._count)
            return self._count

    def wait(self, ticket: int, timeout: float) -> int:
        """Waits up to ``timeout`` for this ticket's turn; returns how many are still ahead."""
        with self._cond:
            if self._line.index(ticket) > 0:
                self._cond.wait(timeout)
            ahead = self._line.index(ticket)
            if ahead == 0:
                self._turn_started.setdefault(ticket, time.monotonic())
            return ahead

    def leave(self, ticket: int) -> None:
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
            started = self._turn_started.pop(ticket, None)
            if started is not None:
                self._recent.append(time.monotonic() - started)
            self._cond.notify_all()

    def estimated_wait_s(self, ahead: int) -> float | None:
        """Seconds until a question with ``ahead`` questions before it starts (None before any
        turn has finished on this process)."""
        with self._cond:
            if not self._recent:
                return None
            return ahead * sum(self._recent) / len(self._recent)

    def __len__(self) -> int:
        with self._cond:
            return len(self._line)
