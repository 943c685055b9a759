"""The sidebar's conversations: a new one, the stored ones (this user's only, when accounts are
on), each with its date, and for the open one: rename, export (Markdown, Word) and delete."""
from __future__ import annotations

import datetime as dt
import re

import streamlit as st

from chains.conversation_export import to_docx, to_markdown

from . import conversations, state
from .errors import friendly_errors
from .i18n import t
from .safety import safe_markdown


def when(ts: float, now: dt.datetime | None = None) -> str:
    """'14:05' today, '12-01 09:30' this year, '2025-12-01' before."""
    at, now = dt.datetime.fromtimestamp(ts), now or dt.datetime.now()
    if at.date() == now.date():
        return at.strftime("%H:%M")
    return at.strftime("%m-%d %H:%M") if at.year == now.year else at.strftime("%Y-%m-%d")


def label(conv, lang: str) -> str:
    # Another session's question, as markdown: made safe like any shown text.
    return f"{safe_markdown(conversations.title(conv, t('untitled', lang)))} :gray[· {when(conv.updated)}]"


def render() -> None:
    lang, kb_name = st.session_state.lang, st.session_state.kb_name
    sb = st.sidebar
    if sb.button(t("new_chat", lang), key="new_chat", width="stretch"):
        conversations.new(kb_name)
    with friendly_errors(lang):
        past = conversations.past()
        if past:
            sb.caption(t("past_chats", lang))
        current = conversations.current_id(kb_name)
        for conv in past:
            if sb.button(label(conv, lang), key=f"conv_{conv.id}", width="stretch",
                         type="primary" if conv.id == current else "secondary"):
                conversations.set_current(conv.id, conv.kb)
                if conv.kb != kb_name:
                    st.session_state.switch_kb = conv.kb
                st.rerun()
        conv = conversations.get(current) if current else None
        if conv is not None:
            _manage(conv, lang)


def _file_name(conv, lang: str) -> str:
    stem = re.sub(r'[\\/:*?"<>|\s]+', "_", conversations.title(conv, t("untitled", lang))).strip("_")
    return (stem or "conversation")[:60]


def _manage(conv, lang: str) -> None:
    with st.sidebar.popover(t("conv_manage", lang), width="stretch"):
        with st.form(f"rename_{conv.id}", border=False):
            title = st.text_input(t("conv_rename", lang), value=conv.title, max_chars=200,
                                  key=f"rename_title_{conv.id}")
            if st.form_submit_button(t("conv_rename_save", lang)) and title.strip():
                state.conversation_store().rename(conv.id, title)
                st.rerun()
        name = _file_name(conv, lang)
        st.download_button(t("conv_export_md", lang), data=to_markdown(conv, lang).encode("utf-8"),
                           file_name=f"{name}.md", mime="text/markdown", key=f"export_md_{conv.id}",
                           on_click="ignore", icon="📝")
        st.download_button(t("conv_export_docx", lang), data=lambda: to_docx(conv, lang), file_name=f"{name}.docx",
                           mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                           key=f"export_docx_{conv.id}", on_click="ignore", icon="📄")
        st.divider()
        sure = st.checkbox(t("conv_delete_sure", lang), key=f"delete_conv_sure_{conv.id}")
        if st.button(t("conv_delete", lang), key=f"delete_conv_{conv.id}", disabled=not sure, type="primary"):
            state.conversation_store().delete(conv.id)
            conversations.new(st.session_state.kb_name)
            st.session_state.flash = t("conv_deleted", lang)
            st.rerun()
