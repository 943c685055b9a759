"""Chat page: conversation, streamed answers with their sources, first-run welcome."""
from __future__ import annotations

from contextlib import closing

import streamlit as st

from chains.chat_session import ChatSession
from chains.conversations import ConversationNotFound
from chains.grounded_answer import Answer

from . import answer_controls, conversation_sidebar, conversations, preview, running_answer, state
from .conversations import Turn
from .errors import friendly_errors, show_error
from .i18n import SAMPLE_QUESTIONS, t
from .ingest_view import run_batch, show_result
from .safety import quote, safe_markdown

CURSOR = "▌"


def render() -> None:
    lang, kb_name = st.session_state.lang, st.session_state.kb_name
    conv_id = conversations.current_id(kb_name)
    shown = conversations.turns(conv_id, t("err_earlier", lang))
    preview.show_pending(lang)  # a [n] "view source" button was pressed in the last run
    for i, turn in enumerate(shown):
        with st.chat_message(turn.role):
            _show_turn(turn, lang, key=f"turn{i}")
            if turn.role == "assistant":
                answer_controls.render(conv_id, turn, lang)  # copy, 👍/👎
    if not state.models_ready():
        st.caption(t("models_loading", lang))
    question = st.chat_input(t("ask_placeholder", lang), key="question")
    question = question or st.session_state.pop("sample_question", None)
    if not shown and not question:
        _welcome(lang, kb_name)
    if question and question.strip():
        _ask(conv_id, question.strip(), lang)


def render_sidebar() -> None:
    """New conversation, the stored past conversations to reopen, managing the open one."""
    conversation_sidebar.render()


def _show_turn(turn: Turn, lang: str, key: str) -> None:
    if turn.error:
        st.error(turn.text, icon="⚠️")
        return
    st.markdown(safe_markdown(turn.text))
    if turn.stopped:
        st.caption(t("stopped", lang))
    if turn.role == "assistant":  # a stopped answer has nothing to cite: no "cites nothing" note
        _show_sources(turn.sources, lang, turn.refused or turn.stopped, key=key)


def _source_label(hit, lang: str) -> str:
    where = f"{hit.source} ({t('page_n', lang, page=hit.page)})" if hit.page else hit.source
    where = f"{where} › {hit.heading}" if hit.heading else where
    # Text recognition can misread a scan: the reader is told to check the page itself.
    return f"{where} {t('ocr_mark', lang)}" if getattr(hit, "ocr", False) else where


def _show_sources(sources: list, lang: str, refused: bool = False, key: str = "new") -> None:
    if not sources:
        if not refused:
            st.caption(t("no_sources", lang))
        return
    names = "; ".join(dict.fromkeys(_source_label(h, lang) for h in sources))
    with st.expander(safe_markdown(f"{t('sources', lang, n=len(sources))}: {names}")):
        for n, hit in enumerate(sources, 1):
            preview.source_button(hit, n, _source_label(hit, lang), lang, key=f"src_{key}_{n}")
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
                    results = run_batch(t("load_samples", lang),
                                        lambda report: kb.sync(data_dir, progress=report), lang)
                    for r in results:
                        show_result(r, lang)
                    if not any(r.status == "error" for r in results):
                        # A fresh page: the sample questions (and the sidebar) follow at once.
                        st.session_state.flash = t("samples_loaded", lang, n=len(results))
                        st.rerun()
                return
        st.markdown(t("welcome_body", lang))
        for i, q in enumerate(SAMPLE_QUESTIONS[lang]):
            if st.button(q, key=f"sample_{i}"):
                st.session_state.sample_question = q
                st.rerun()


def _ask(conv_id: str | None, question: str, lang: str) -> None:
    with st.chat_message("user"):
        st.markdown(safe_markdown(question))
    with st.chat_message("assistant"):
        session = None
        running = running_answer.start(question, st.session_state.kb_name)
        try:
            session = _session(conv_id)
            answer = _stream_answer(session, question, lang, running.cancel)
        except Exception as err:  # noqa: BLE001 - shown as one plain sentence, logged in full
            message = show_error(err, lang)
            stored = session is not None and session.conversation_id is not None
            conv_id = session.conversation_id if stored else conv_id
            conversations.remember_error(conv_id, question, message, stored=stored)
            conversations.set_current(conv_id, st.session_state.kb_name)
            return
        finally:
            # Stopped by a click, or ended: the page's next run (which waits for this, see
            # ui/running_answer.py) makes this conversation the current one. Nothing here may
            # touch st.session_state: once a stop is pending, every access raises at once.
            running_answer.finish(running, session.conversation_id if session is not None else None)
        conversations.set_current(session.conversation_id, st.session_state.kb_name)
        _show_sources(answer.sources, lang, answer.refused)
    if session.conversation_id is not None:
        # The sidebar was drawn before this answer: now it lists the new conversation, and the
        # stored answer gets its controls (copy, 👍/👎).
        st.rerun()


def _session(conv_id: str | None) -> ChatSession:
    s = st.session_state
    kb, llm = state.get_kb(s.kb_name), state.get_llm(s.backend, s.temperature)
    store, owner = state.conversation_store(), state.owner()
    if conv_id is not None and conversations.get(conv_id) is None:
        conv_id = None  # deleted meanwhile, or not this user's: a new one
    try:
        return ChatSession(kb, llm, store=store, conversation_id=conv_id, queue=state.answer_queue(),
                           k=int(s.top_k), reranker=state.get_reranker(), owner=owner)
    except ConversationNotFound:  # deleted meanwhile (e.g. from the CLI): start a new one
        return ChatSession(kb, llm, store=store, queue=state.answer_queue(), k=int(s.top_k),
                           reranker=state.get_reranker(), owner=owner)


def _stream_answer(session: ChatSession, question: str, lang: str, cancel) -> Answer:
    """Streams the answer into the page. Not st.write_stream: that renders each partial text
    as raw markdown, and every partial text must pass through safe_markdown first."""
    answer = Answer(question)
    waiting = st.empty()

    def on_wait(ahead: int) -> None:
        if ahead:
            wait_s = state.answer_queue().estimated_wait_s(ahead)
            about = t("queue_eta", lang, s=max(1, round(wait_s))) if wait_s is not None else ""
            waiting.info(t("queue_wait", lang, n=ahead) + about, icon="⏳")
        else:
            waiting.markdown(t("thinking", lang))

    evidence = st.empty()

    def on_evidence(hits: list) -> None:
        # Evidence first: the passages are shown before the model starts to write.
        if hits:
            labels = "; ".join(dict.fromkeys(_source_label(h, lang) for h in hits))
            evidence.caption(safe_markdown(f"{t('evidence', lang, n=len(hits))}: {labels}"))
            waiting.markdown(t("checking", lang))

    # Any click (this button, another question) reruns the page, which stops this script at its
    # next st call; closing the stream then stops the model and keeps the turn, marked stopped.
    stop = st.empty()
    stop.button(t("stop", lang), key="stop_answer", icon=":material/stop_circle:")
    text = ""
    with closing(session.stream(question, answer, on_wait=on_wait, on_evidence=on_evidence,
                                cancel=cancel)) as pieces:
        for piece in pieces:
            text += piece  # each piece was checked before it came (chains/claim_check.py)
            waiting.markdown(safe_markdown(text) + CURSOR)
    waiting.markdown(safe_markdown(answer.text or text))
    stop.empty()
    evidence.empty()  # the sources the answer cites follow below it
    return answer
