"""Objects shared by every browser session of this process, built once (st.cache_resource),
and the per-session defaults. Cache keys carry the settings that shape an object, so a test
(or a settings change) with another DOCCHAT_HOME gets fresh objects, never stale ones."""
from __future__ import annotations

import threading

import streamlit as st

from docchat.factory import kb_config, open_kb
from docchat.settings import Settings, get_settings
from vectorstore import KnowledgeBase, delete_knowledge_base, list_knowledge_bases


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False, max_entries=16)
def _kb(home: str, name: str) -> KnowledgeBase:
    return open_kb(name, settings())


def get_kb(name: str) -> KnowledgeBase:
    return _kb(str(settings().home), name)


def forget_kb(name: str) -> None:
    _kb.clear(str(settings().home), name)


def knowledge_bases() -> list[str]:
    s = settings()
    names = list_knowledge_bases(s.home)
    return names if s.kb in names else [s.kb, *names]


def drop_knowledge_base(name: str) -> bool:
    kb = _kb(str(settings().home), name) if name in knowledge_bases() else None
    if kb is not None:
        kb.close()
    forget_kb(name)
    return delete_knowledge_base(name, kb_config(settings()))


@st.cache_resource(show_spinner=False, max_entries=8)
def _llm(home: str, backend: str, temperature: float):
    # make_llm is cheap per call for GGUF (the weights load once per process and are shared),
    # but ChatGLM2 would load its weights per object: one object per (backend, temperature).
    from llm.factory import make_llm
    return make_llm(settings(), llm=backend, temperature=temperature)


def get_llm(backend: str, temperature: float):
    return _llm(str(settings().home), backend, round(float(temperature), 2))


class AnswerQueue:
    """One answer is generated at a time per process (the model is shared); the others wait
    in line and are told their place instead of facing a frozen page. A session that leaves
    the line (page closed, error) is simply removed from it."""

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


@st.cache_resource(show_spinner=False)
def answer_queue() -> AnswerQueue:
    return AnswerQueue()


def init_session() -> None:
    """Per-browser-session defaults, from the settings."""
    s = settings()
    defaults = {
        "lang": s.lang,
        "kb_name": s.kb,
        "backend": s.llm,
        "temperature": float(s.temperature),
        "top_k": int(s.top_k),
        "page": "chat",
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
