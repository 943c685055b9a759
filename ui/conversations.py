"""Which conversation this browser session shows, backed by the SQLite store
(chains/conversations.py), so conversations outlive the tab and the app.

The session keeps only the current conversation's id (None: a new one, stored at its first
answer by ChatSession) and the plain messages of the turns that failed here: ChatSession
stores a failed turn with its error flag (no message), and a failure before the chain started
(e.g. a model that is not set up) is not stored at all, so it is shown in this session only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from chains.conversations import Conversation, ConversationNotFound

from . import state

_CURRENT = "conversation_id"
_CURRENT_KB = "conversation_kb"
# conversation id (or "" for none yet) -> [(turn index, question, message, stored)]: a stored
# failed turn is turn n itself; one that was not stored is shown before stored turn n.
_ERRORS = "error_turns"


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    sources: list = field(default_factory=list)  # vectorstore.Hit or chains.conversations.Source
    error: bool = False
    refused: bool = False  # "not in the knowledge base"
    stopped: bool = False  # the user stopped the answer; ``text`` is what was shown until then
    n: int | None = None  # the stored turn's index in its conversation (feedback refers to it)


def current_id(kb: str) -> str | None:
    """The conversation shown for ``kb``; switching knowledge base starts a new one."""
    s = st.session_state
    if s.get(_CURRENT_KB) != kb:
        set_current(None, kb)
    return s.get(_CURRENT)


def set_current(conv_id: str | None, kb: str) -> None:
    st.session_state[_CURRENT], st.session_state[_CURRENT_KB] = conv_id, kb
    # In the address too, so a reload (or a bookmark) opens it again (restore_from_url).
    if conv_id:
        if st.query_params.get("c") != conv_id:
            st.query_params["c"] = conv_id
    elif "c" in st.query_params:
        del st.query_params["c"]


def may_open(conv: Conversation) -> bool:
    """Only its owner opens a conversation (anyone without accounts), and only while they may
    still read its knowledge base."""
    if not state.accounts_on():
        return True
    return conv.owner == state.owner() and state.access().can_read(state.current_user(), conv.kb)


def restore_from_url() -> None:
    """Once per browser session: the conversation named in the address (``?c=``), if this user
    may open it; anything else in ``c`` is dropped from the address."""
    s = st.session_state
    if s.get("_restored_url"):
        return
    s["_restored_url"] = True
    conv_id = st.query_params.get("c")
    if not conv_id:
        return
    try:
        conv = state.conversation_store().get(conv_id)
    except ConversationNotFound:
        conv = None
    if conv is None or not may_open(conv):
        del st.query_params["c"]
        return
    set_current(conv.id, conv.kb)
    if conv.kb != s.get("kb_name"):
        s.switch_kb = conv.kb


def get(conv_id: str) -> Conversation | None:
    """The conversation if this user may open it, else None."""
    try:
        conv = state.conversation_store().get(conv_id)
    except ConversationNotFound:
        return None
    return conv if may_open(conv) else None


def new(kb: str) -> None:
    set_current(None, kb)


def turns(conv_id: str | None, error_message: str) -> list[Turn]:
    """The stored turns as chat messages, with this session's failed turns where they happened;
    a stored failed turn shows the message seen at the time, or ``error_message``."""
    stored = []
    if conv_id is not None:
        conv = get(conv_id)  # None: deleted meanwhile (e.g. from the CLI), or not this user's
        stored = conv.turns if conv is not None else []
    errors = st.session_state.get(_ERRORS, {}).get(conv_id or "", [])
    seen = {n: message for n, _, message, was_stored in errors if was_stored}
    out: list[Turn] = []
    for n in range(len(stored) + 1):
        for at, question, message, was_stored in errors:
            if at == n and not was_stored:
                out += [Turn("user", question), Turn("assistant", message, error=True)]
        if n < len(stored):
            t = stored[n]
            out.append(Turn("user", t.question))
            out.append(Turn("assistant", seen.get(n, error_message), error=True) if t.error else
                       Turn("assistant", t.answer, t.sources, refused=t.refused, stopped=t.stopped, n=n))
    return out


def remember_error(conv_id: str | None, question: str, message: str, stored: bool) -> None:
    """The plain message of a failed turn; ``stored``: ChatSession recorded it as its last turn."""
    n = 0 if conv_id is None else state.conversation_store().get(conv_id).n_turns
    entry = (n - 1 if stored else n, question, message, stored)
    st.session_state.setdefault(_ERRORS, {}).setdefault(conv_id or "", []).append(entry)


def past(limit: int = 30) -> list[Conversation]:
    """Past conversations (every knowledge base), newest first: with accounts, only this
    user's, on knowledge bases they may still read."""
    if not state.accounts_on():
        return state.conversation_store().list(limit=limit)
    readable = set(state.knowledge_bases())
    return [c for c in state.conversation_store().list(limit=limit, owner=state.owner() or "")
            if c.kb in readable]


def title(conv: Conversation, fallback: str) -> str:
    return conv.title or fallback
