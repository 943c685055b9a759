"""One answer at a time per process, the others told their place in line.

The model is shared by every user of the process (loading it per user would multiply its
memory), so questions take turns; a waiting user sees "2 questions ahead of yours" instead of
a frozen page. A user who leaves the line (page closed, error) is simply removed from it.
"""
from __future__ import annotations

import threading


class AnswerQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[int] = []
        self._count = 0

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
            return self._line.index(ticket)

    def leave(self, ticket: int) -> None:
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._line)
