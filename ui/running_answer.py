"""The answer this browser session is writing, so that the page's next run can stop it cleanly.

Any click or new question starts a new run of the page while the old run may still be inside
the model (Streamlit stops the old run only at its next element, which can be seconds away
during a prompt's prefill). Left alone, the new run draws the conversation before the old one has
stored its turn, and the question seems lost. So the new run first asks the old answer to stop
(ChatSession checks the event at every token) and waits until it has stored its stopped turn.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import streamlit as st

from . import conversations
from .i18n import t

_KEY = "running_answer"
STOP_WAIT_S = 30.0  # a stop lands at the next token; only a long prefill takes this long


@dataclass
class RunningAnswer:
    question: str
    kb: str
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    conversation_id: str | None = None  # where the turn was stored


def start(question: str, kb: str) -> RunningAnswer:
    running = RunningAnswer(question, kb)
    st.session_state[_KEY] = running
    return running


def finish(running: RunningAnswer, conversation_id: str | None) -> None:
    """Called by the answering run as its last step, stopped or not (no st.* calls here)."""
    running.conversation_id = conversation_id
    running.done.set()


def stop_previous(lang: str) -> None:
    """Stops this session's answer that an earlier run is still writing, waits until it is
    stored, and shows its conversation. Call it first in a run, so that what this run does next
    (a click on "new conversation", another conversation) wins over it."""
    running: RunningAnswer | None = st.session_state.pop(_KEY, None)
    if running is None:
        return
    if not running.done.is_set():
        running.cancel.set()
        with st.spinner(t("stopping", lang)):
            running.done.wait(STOP_WAIT_S)
    if running.conversation_id is not None:
        conversations.set_current(running.conversation_id, running.kb)
