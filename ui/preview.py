""""View source" under an answer: a [n] button per source opens a dialog with the cited PDF page
(passage highlighted) or the passage within its neighbouring text, with its heading path.

The button only records which source was asked for (on_click runs before the next script run,
even if the answer it sat under is drawn under another key then); `show_pending` opens the
dialog during that run. What is drawn comes from vectorstore/preview.py."""
from __future__ import annotations

import html

import streamlit as st

from vectorstore.preview import preview_source

from . import state
from .errors import friendly_errors
from .i18n import t
from .safety import quote, safe_markdown

_PENDING = "preview_request"


def source_button(source, n: int, label: str, lang: str, key: str) -> None:
    """The "[n] file (page) — View source" button for one source of an answer."""
    st.button(safe_markdown(f"[{n}] {label} — {t('view_source', lang)}"), key=key, type="tertiary",
              icon="📄", on_click=_request, args=(source, n, label))


def _request(source, n: int, label: str) -> None:
    st.session_state[_PENDING] = (source, n, label)


def show_pending(lang: str) -> None:
    """Opens the preview a [n] button asked for in the run before this one."""
    request = st.session_state.pop(_PENDING, None)
    if request is not None:
        # Medium (750 px): a whole A4 page fits about one screen high; large makes it two.
        st.dialog(t("preview_title", lang), width="medium")(_preview)(*request, lang)


def _preview(source, n: int, label: str, lang: str) -> None:
    st.markdown(safe_markdown(f"**[{n}] {label}**"))
    with friendly_errors(lang):
        p = preview_source(state.get_kb(st.session_state.kb_name), source)
        if p.kind == "gone":
            st.warning(t("preview_gone", lang), icon="🗑️")
            st.markdown(quote(source.text))
            return
        if p.file_missing:
            st.info(t("preview_file_missing", lang), icon="ℹ️")
        if p.png:
            where = f"{p.name} — {t('page_n', lang, page=p.page)}"
            if p.boxes:
                st.caption(t("preview_marked", lang))
            else:
                st.caption(t("preview_not_located", lang))
                st.markdown(quote(source.text))
            st.image(p.png, caption=where, alt=where, width="stretch")
        else:
            st.html(context_html(p.segments))


def context_html(segments: list[tuple[str, bool]]) -> str:
    """The passage and its neighbours as HTML, the passage in <mark>. Every piece of document
    text is escaped: a document's own markup is shown, never run."""
    parts = []
    for text, marked in segments:
        body = html.escape(text).replace("\n", "<br>")
        parts.append(f'<mark style="background:#ffe066;color:#111;padding:0 2px">{body}</mark>'
                     if marked else f'<span style="opacity:0.75">{body}</span>')
    return ('<div style="max-height:60vh;overflow-y:auto;line-height:1.75">'
            + " ".join(parts) + "</div>")
