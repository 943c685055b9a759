"""Conversations of this browser session.

SEAM: conversations live in st.session_state for now. Persisting them (SQLite) and rewriting
follow-up questions from history belong to the conversational chain; when it lands, replace
``ConversationStore`` with one backed by it; the pages only use the methods below.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import streamlit as st


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    sources: list = field(default_factory=list)  # vectorstore.Hit, for assistant turns
    error: bool = False
    refused: bool = False  # "not in the knowledge base"


@dataclass
class Conversation:
    id: str
    kb: str
    turns: list[Turn] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def title(self, fallback: str) -> str:
        first = next((t.text for t in self.turns if t.role == "user"), "")
        return (first[:24] + "…") if len(first) > 24 else (first or fallback)


class ConversationStore:
    """Keeps this session's conversations; the newest is the current one."""

    def __init__(self, state=None):
        self._state = state if state is not None else st.session_state
        self._state.setdefault("conversations", {})
        self._state.setdefault("current_conversation", None)

    def all(self) -> list[Conversation]:
        return sorted(self._state["conversations"].values(), key=lambda c: -c.started)

    def current(self, kb: str) -> Conversation:
        conv = self._state["conversations"].get(self._state["current_conversation"])
        if conv is None or conv.kb != kb:
            conv = next((c for c in self.all() if c.kb == kb and not c.turns), None) or self.new(kb)
        self._state["current_conversation"] = conv.id
        return conv

    def new(self, kb: str) -> Conversation:
        conv = Conversation(uuid.uuid4().hex[:12], kb)
        self._state["conversations"][conv.id] = conv
        self._state["current_conversation"] = conv.id
        return conv

    def open(self, conv_id: str) -> Conversation:
        self._state["current_conversation"] = conv_id
        return self._state["conversations"][conv_id]
