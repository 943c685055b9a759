"""The app object: everything DocChat builds from its settings, built once and owned here.

The page keeps one per process (ui/state.py, st.cache_resource), each CLI command builds one
(docchat/cli.py). Knowledge bases receive their parts (embedder, Chroma store, writer lock) from
it instead of finding them; the models, the reranker, the conversation store and the answer
queue are made on first use and shared by everyone who asks this object.
"""
from __future__ import annotations

import threading
from typing import Any

from chains.answer_queue import AnswerQueue
from loaders import UPLOAD_SUFFIXES
from chains.conversations import ConversationStore
from vectorstore import KnowledgeBase, delete_knowledge_base, list_knowledge_bases
from vectorstore.database import Database
from vectorstore.kb_parts import KBParts

from .factory import database, kb_config
from .settings import Settings, get_settings

_UNSET = object()

# What the page's file picker accepts: the loaders' list (ui/ does not import loaders).
UPLOAD_TYPES = list(UPLOAD_SUFFIXES)


class DocChat:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.kb_config = kb_config(settings)
        self.answer_queue = AnswerQueue()  # one line per app: every user shares the one model
        self._lock = threading.RLock()
        self._parts: KBParts | None = None
        self._kbs: dict[str, KnowledgeBase] = {}
        self._llms: dict[tuple, Any] = {}
        self._chat_models: dict[tuple, Any] = {}
        self._reranker: Any = _UNSET
        self._conversations: ConversationStore | None = None
        self._database: Database | None | object = _UNSET

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "DocChat":
        return cls(settings or get_settings())

    # --- the shared database -----------------------------------------------------------------
    @property
    def database(self) -> Database | None:
        """The PostgreSQL database of DOCCHAT_DATABASE_URL, migrated to the current schema on
        first use (Alembic ``upgrade head``), or None: the embedded SQLite files under home."""
        with self._lock:
            if self._database is _UNSET:
                self._database = database(self.settings)
            return self._database

    # --- knowledge bases ---------------------------------------------------------------------
    @property
    def parts(self) -> KBParts:
        """Embedder, Chroma store, writer lock: built on first use (the embedding model loads
        then), shared by every knowledge base of this app."""
        with self._lock:
            if self._parts is None:
                self._parts = KBParts.for_config(self.kb_config, database=self.database)
            return self._parts

    def kb(self, name: str | None = None, *, read_only: bool = False) -> KnowledgeBase:
        """The knowledge base ``name`` (the configured one by default), opened once for writing
        and kept. ``read_only`` (list, search, ask, the warm-up) opens a fresh one that never
        repairs or re-embeds, only reports a pending repair (KnowledgeBase.pending_repair)."""
        name = name or self.settings.kb
        if read_only:
            return KnowledgeBase(name, self.kb_config, parts=self.parts, read_only=True)
        with self._lock:
            if name not in self._kbs:
                self._kbs[name] = KnowledgeBase(name, self.kb_config, parts=self.parts)
            return self._kbs[name]

    def forget_kb(self, name: str) -> None:
        """The next kb(name) opens it again (e.g. after it was deleted elsewhere)."""
        with self._lock:
            self._kbs.pop(name, None)

    def knowledge_bases(self) -> list[str]:
        """Every knowledge base of this home, the configured default among them."""
        names = list_knowledge_bases(self.settings.home, self.database)
        return names if self.settings.kb in names else [self.settings.kb, *names]

    def delete_kb(self, name: str) -> bool:
        """Deletes a knowledge base and all it holds; False when there was none."""
        with self._lock:
            kb = self._kbs.pop(name, None)
        if kb is not None:
            kb.close()
        return delete_knowledge_base(name, self.kb_config, self._parts)

    # --- models ------------------------------------------------------------------------------
    def llm(self, backend: str | None = None, temperature: float | None = None):
        """The text LLM for a backend and temperature (the settings' by default), one object
        per pair: ChatGLM2 would load its weights per object."""
        key = (backend, None if temperature is None else round(float(temperature), 2))
        with self._lock:
            if key not in self._llms:
                from llm.factory import make_llm
                self._llms[key] = make_llm(self.settings, **_overrides(*key))
            return self._llms[key]

    def chat_model(self, backend: str | None = None, temperature: float | None = None):
        """The same backends as LangChain chat models (llm/factory.make_chat_model)."""
        key = (backend, None if temperature is None else round(float(temperature), 2))
        with self._lock:
            if key not in self._chat_models:
                from llm.factory import make_chat_model
                self._chat_models[key] = make_chat_model(self.settings, **_overrides(*key))
            return self._chat_models[key]

    @property
    def reranker(self):
        """The local cross-encoder named by DOCCHAT_RERANKER_PATH, loaded once, or None:
        reranking is off by default because no installed package ships reranker weights. A
        folder that cannot be used raises RerankerError each time it is asked for."""
        with self._lock:
            if self._reranker is _UNSET:
                from vectorstore.rerank import make_reranker
                self._reranker = make_reranker(self.settings.reranker_path)
            return self._reranker

    # --- conversations -------------------------------------------------------------------------
    @property
    def conversations(self) -> ConversationStore:
        with self._lock:
            if self._conversations is None:
                self._conversations = ConversationStore.at_home(self.settings.home, self.database)
            return self._conversations

    def close(self) -> None:
        with self._lock:
            kbs, self._kbs = list(self._kbs.values()), {}
        for kb in kbs:
            kb.close()


def _overrides(backend: str | None, temperature: float | None) -> dict:
    out: dict[str, Any] = {}
    if backend:
        out["llm"] = backend
    if temperature is not None:
        out["temperature"] = temperature
    return out
