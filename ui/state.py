"""Objects shared by every browser session of this process, built once (st.cache_resource),
and the per-session defaults. Cache keys carry the settings that shape an object, so a test
(or a settings change) with another DOCCHAT_HOME gets fresh objects, never stale ones."""
from __future__ import annotations

import logging
import threading

import streamlit as st

from chains.answer_queue import AnswerQueue  # noqa: F401 - re-exported for older imports
from chains.conversations import ConversationStore
from docchat.accounts import AccountStore, User
from docchat.factory import account_store, feedback_store, kb_access, kb_config, open_kb
from docchat.feedback import FeedbackStore
from docchat.kb_access import KBAccess
from docchat.settings import Settings, get_settings
from vectorstore import KnowledgeBase, delete_knowledge_base, list_knowledge_bases


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False, max_entries=16)
def _kb(home: str, name: str) -> KnowledgeBase:
    return open_kb(name, settings())


def get_kb(name: str) -> KnowledgeBase:
    """The knowledge base, for a user who may read it (AccessDenied otherwise): every page
    and the chat's retrieval open knowledge bases through here."""
    if accounts_on():
        access().check_read(current_user(), name)
    return _kb(str(settings().home), name)


# --- accounts (issue 14; DOCCHAT_ACCOUNTS=1) -----------------------------------------------
def accounts_on() -> bool:
    return bool(settings().accounts)


@st.cache_resource(show_spinner=False, max_entries=4)
def _account_store(home: str, limits: tuple) -> AccountStore:
    return account_store(settings())


def accounts() -> AccountStore:
    s = settings()
    return _account_store(str(s.home), (s.login_max_failures, s.login_max_failures_address,
                                        s.login_window_minutes, s.session_minutes))


@st.cache_resource(show_spinner=False, max_entries=4)
def _access(home: str) -> KBAccess:
    return kb_access(settings())


def access() -> KBAccess:
    return _access(str(settings().home))


@st.cache_resource(show_spinner=False, max_entries=4)
def _feedback(home: str) -> FeedbackStore:
    return feedback_store(settings())


def feedback() -> FeedbackStore:
    return _feedback(str(settings().home))


def current_user() -> User | None:
    """The signed-in user (set by ui/auth.py each run), or None when accounts are off."""
    return st.session_state.get("user") if accounts_on() else None


def owner() -> str | None:
    """Whose conversations this session shows and stores: None (everyone's) without accounts."""
    user = current_user()
    return user.name if user is not None else None


def is_admin() -> bool:
    user = current_user()
    return user is None or user.is_admin  # without accounts the one user runs everything


def may_change(kb_name: str) -> bool:
    return not accounts_on() or access().can_change(current_user(), kb_name)


def forget_kb(name: str) -> None:
    _kb.clear(str(settings().home), name)


def all_knowledge_bases() -> list[str]:
    s = settings()
    names = list_knowledge_bases(s.home)
    return names if s.kb in names else [s.kb, *names]


def knowledge_bases() -> list[str]:
    """The knowledge bases this session's user may read (all of them without accounts)."""
    names = all_knowledge_bases()
    return access().readable(current_user(), names) if accounts_on() else names


def drop_knowledge_base(name: str) -> bool:
    if accounts_on():
        access().check_change(current_user(), name)
    kb = _kb(str(settings().home), name) if name in all_knowledge_bases() else None
    if kb is not None:
        kb.close()
    forget_kb(name)
    deleted = delete_knowledge_base(name, kb_config(settings()))
    if accounts_on():
        access().forget(name)
    return deleted


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
    """Per-browser-session defaults, from the settings; the language from the address
    (``?lang=``) when a reload kept it there (remember_in_url)."""
    s = settings()
    url_lang = st.query_params.get("lang")
    defaults = {
        "lang": url_lang if url_lang in ("zh", "en") else s.lang,
        "kb_name": s.kb,
        "backend": s.llm,
        "temperature": float(s.temperature),
        "top_k": int(s.top_k),
        "page": "chat",
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def remember_in_url() -> None:
    """The chosen language goes in the address, so a reload keeps it (the open conversation
    is kept there by ui/conversations.py)."""
    lang = st.session_state.get("lang")
    if lang and st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang


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
