"""Objects shared by every browser session of this process, built once (st.cache_resource),
and the per-session defaults. Cache keys carry the settings that shape an object, so a test
(or a settings change) with another DOCCHAT_HOME gets fresh objects, never stale ones."""
from __future__ import annotations

import logging
import threading

import streamlit as st

from chains.answer_queue import AnswerQueue  # noqa: F401 - re-exported for older imports
from chains.conversations import ConversationStore
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


def get_reranker():
    """The optional cross-encoder (DOCCHAT_RERANKER_PATH); make_reranker caches it per folder."""
    from docchat.factory import reranker
    return reranker(settings())


def get_llm(backend: str, temperature: float):
    return _llm(str(settings().home), backend, round(float(temperature), 2))


@st.cache_resource(show_spinner=False)
def answer_queue() -> AnswerQueue:
    # One line per process: every browser session shares the one loaded model.
    return AnswerQueue()


@st.cache_resource(show_spinner=False, max_entries=4)
def _conversation_store(home: str) -> ConversationStore:
    return ConversationStore.at_home(home)


def conversation_store() -> ConversationStore:
    return _conversation_store(str(settings().home))


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


@st.cache_resource(show_spinner=False, max_entries=4)
def _warm_up(home: str, backend: str, kb_name: str) -> dict:
    """Loads the embedding model and the default chat model in a background thread, once per
    process, so the page is usable at once and the first answer does not pay for the loading."""
    status = {"done": threading.Event(), "error": None}
    s = settings()

    def load() -> None:
        try:
            from docchat.factory import open_kb as open_kb_
            # The embedding model loads with the knowledge base and is shared per process; read
            # only, so warming up never repairs or re-embeds anything (the next writer does).
            open_kb_(kb_name, s, read_only=True).close()
            if backend == "gguf":  # its weights are shared per process; others load per object
                from llm.factory import make_llm
                make_llm(s, llm=backend).load()
        except Exception as err:  # noqa: BLE001 - the first question will report it plainly
            logging.getLogger(__name__).warning("background model loading failed: %s", err)
            status["error"] = err
        finally:
            status["done"].set()

    threading.Thread(target=load, name="docchat-warm-up", daemon=True).start()
    return status


def models_ready() -> bool:
    """Starts the background loading on first call; True once it has finished."""
    s = settings()
    return _warm_up(str(s.home), s.llm, s.kb)["done"].is_set()
