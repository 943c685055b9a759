"""Chat page: conversation, streamed answers with their sources, first-run welcome."""
from __future__ import annotations

import streamlit as st

from chains.grounded_answer import Answer, GroundedAnswerer

from . import state
from .conversations import ConversationStore, Turn
from .errors import friendly_errors, show_error
from .i18n import SAMPLE_QUESTIONS, t
from .ingest_view import run_batch, show_result
from .safety import quote, safe_markdown

CURSOR = "▌"


def render() -> None:
    lang, kb_name = st.session_state.lang, st.session_state.kb_name
    store = ConversationStore()
    conv = store.current(kb_name)
    for turn in conv.turns:
        with st.chat_message(turn.role):
            _show_turn(turn, lang)
    question = st.chat_input(t("ask_placeholder", lang), key="question")
    question = question or st.session_state.pop("sample_question", None)
    if not conv.turns and not question:
        _welcome(lang, kb_name)
    if question and question.strip():
        _ask(conv, question.strip(), lang)


def render_sidebar() -> None:
    """New conversation, and this session's past conversations to reopen."""
    lang = st.session_state.lang
    store = ConversationStore()
    if st.sidebar.button(t("new_chat", lang), key="new_chat", width="stretch"):
        store.new(st.session_state.kb_name)
    past = [c for c in store.all() if c.turns]
    if past:
        st.sidebar.caption(t("past_chats", lang))
        for conv in past:
            if st.sidebar.button(conv.title(t("untitled", lang)), key=f"conv_{conv.id}",
                                 width="stretch"):
                store.open(conv.id)
                if conv.kb != st.session_state.kb_name:
                    st.session_state.switch_kb = conv.kb
                    st.rerun()


def _show_turn(turn: Turn, lang: str) -> None:
    if turn.error:
        st.error(turn.text, icon="⚠️")
        return
    st.markdown(safe_markdown(turn.text))
    if turn.role == "assistant":
        _show_sources(turn.sources, lang, turn.refused)


def _source_label(hit, lang: str) -> str:
    return f"{hit.source} ({t('page_n', lang, page=hit.page)})" if hit.page else hit.source


def _show_sources(sources: list, lang: str, refused: bool = False) -> None:
    if not sources:
        if not refused:
            st.caption(t("no_sources", lang))
        return
    names = "; ".join(dict.fromkeys(_source_label(h, lang) for h in sources))
    with st.expander(safe_markdown(f"{t('sources', lang, n=len(sources))}: {names}")):
        for n, hit in enumerate(sources, 1):
            st.markdown(safe_markdown(f"**[{n}] {_source_label(hit, lang)}**"))
            st.markdown(quote(hit.text))


def _welcome(lang: str, kb_name: str) -> None:
    with st.container(border=True):
        st.subheader(t("welcome_title", lang))
        with friendly_errors(lang):
            kb = state.get_kb(kb_name)
            if not kb.files():
                st.info(t("welcome_empty_kb", lang, kb=kb_name))
                if st.button(t("load_samples", lang), key="load_samples"):
                    data_dir = state.settings().data_dir
                    for r in run_batch(t("load_samples", lang),
                                       lambda report: kb.sync(data_dir, progress=report), lang):
                        show_result(r, lang)
                return
        st.markdown(t("welcome_body", lang))
        for i, q in enumerate(SAMPLE_QUESTIONS[lang]):
            if st.button(q, key=f"sample_{i}"):
                st.session_state.sample_question = q
                st.rerun()


def _ask(conv, question: str, lang: str) -> None:
    conv.turns.append(Turn("user", question))
    with st.chat_message("user"):
        st.markdown(safe_markdown(question))
    with st.chat_message("assistant"):
        try:
            answer = _stream_answer(question, lang)
        except Exception as err:  # noqa: BLE001 - shown as one plain sentence, logged in full
            conv.turns.append(Turn("assistant", show_error(err, lang), error=True))
            return
        _show_sources(answer.sources, lang, answer.refused)
    conv.turns.append(Turn("assistant", answer.text, list(answer.sources), refused=answer.refused))


def _stream_answer(question: str, lang: str) -> Answer:
    """Streams the answer into the page. Not st.write_stream: that renders each partial text
    as raw markdown, and every partial text must pass through safe_markdown first."""
    s = st.session_state
    kb = state.get_kb(s.kb_name)
    llm = state.get_llm(s.backend, s.temperature)
    # SEAM: the conversational chain (history -> standalone question) replaces this answerer;
    # it will take conv.turns as history.
    answerer = GroundedAnswerer(kb, llm, k=int(s.top_k))
    answer = Answer(question)
    queue = state.answer_queue()
    ticket = queue.join()
    try:
        waiting = st.empty()
        while (ahead := queue.wait(ticket, timeout=1.0)) > 0:
            waiting.info(t("queue_wait", lang, n=ahead), icon="⏳")
        waiting.empty()
        shown = st.empty()
        shown.markdown(t("thinking", lang))
        text = ""
        for piece in answerer.stream(question, answer):
            text += piece
            shown.markdown(safe_markdown(text) + CURSOR)
        shown.markdown(safe_markdown(answer.text or text))
    finally:
        queue.leave(ticket)
    return answer
