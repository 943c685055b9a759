"""LoadedOnce: the owner of what a process loads once and shares by key (a model's weights, a
store's client), loaded on first use and never twice, even when two threads ask at once.

Most state lives in the app object (docchat/app.py). These few things cannot: the same weights
are asked for by objects that LangChain builds from their parameters alone (its standard test
suites make ``GGUFChatModel(model_path=...)`` and ``USEm3Embeddings()`` with no app around
them), by the text LLM and the chat model of one app, and by two app objects in one test
process; one copy each keeps memory bounded (a second 1.5B GGUF would be another 1.1 GB). Each
such cache is one LoadedOnce, named where it is made, with the reason beside it.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class LoadedOnce(Generic[T]):
    def __init__(self, what: str):
        self.what = what  # for repr and logs: "GGUF models", "embedding models", ...
        self._items: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The item for ``key``, made by ``load()`` the first time it is asked for."""
        item = self._items.get(key)
        if item is None:
            with self._lock:
                item = self._items.get(key)
                if item is None:
                    item = self._items[key] = load()
        return item

    def drain(self) -> list[T]:
        """Forgets every item and returns them (to be closed)."""
        with self._lock:
            items, self._items = list(self._items.values()), {}
        return items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"LoadedOnce({self.what!r}, {len(self)} loaded)"
