"""The app object shared by every browser session of this process, built once
(st.cache_resource), and the per-session defaults. The cache key is the settings, so a test (or
a settings change) with another DOCCHAT_HOME gets a fresh app, never a stale one."""
from __future__ import annotations

import logging
import threading

import streamlit as st

from chains.answer_queue import AnswerQueue  # noqa: F401 - re-exported for older imports
from chains.conversations import ConversationStore
from docchat.accounts import AccountStore, User
from docchat.app import DocChat
from docchat.factory import account_store, feedback_store, kb_access
from docchat.feedback import FeedbackStore
from docchat.kb_access import KBAccess
from docchat.settings import Settings, get_settings
from vectorstore import KnowledgeBase


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False, max_entries=4)
def _app(settings_json: str) -> DocChat:
    return DocChat.from_settings(settings())


def app() -> DocChat:
    """This process's app object: knowledge bases, models, reranker, conversations, queue."""
    return _app(settings().model_dump_json())


def get_kb(name: str) -> KnowledgeBase:
    """The knowledge base, for a user who may read it (AccessDenied otherwise): every page
    and the chat's retrieval open knowledge bases through here."""
    if accounts_on():
        access().check_read(current_user(), name)
    return app().kb(name)


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
    app().forget_kb(name)


def all_knowledge_bases() -> list[str]:
    return app().knowledge_bases()


def knowledge_bases() -> list[str]:
    """The knowledge bases this session's user may read (all of them without accounts)."""
    names = all_knowledge_bases()
    return access().readable(current_user(), names) if accounts_on() else names


def drop_knowledge_base(name: str) -> bool:
    if accounts_on():
        access().check_change(current_user(), name)
    deleted = app().delete_kb(name)
    if accounts_on():
        access().forget(name)
    return deleted


def get_reranker():
    """The optional cross-encoder (DOCCHAT_RERANKER_PATH), loaded once by the app."""
    return app().reranker


def get_llm(backend: str, temperature: float):
    return app().llm(backend, temperature)


def answer_queue() -> AnswerQueue:
    # One line per app: every browser session shares the one loaded model.
    return app().answer_queue


def conversation_store() -> ConversationStore:
    return app().conversations


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
    docchat = app()

    def load() -> None:
        try:
            # The embedding model loads with the knowledge base and is shared by the app; read
            # only, so warming up never repairs or re-embeds anything (the next writer does).
            docchat.kb(kb_name, read_only=True).close()
            if backend == "gguf":  # its weights are shared per process; others load per object
                docchat.llm(backend).load()
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
