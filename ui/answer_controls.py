"""Under a stored answer: copy it, and rate it 👍/👎 with an optional comment (kept in
docchat/feedback.py, listed on the admin page)."""
from __future__ import annotations

import streamlit as st

from . import state
from .i18n import t


def render(conv_id: str | None, turn, lang: str) -> None:
    """``turn``: an assistant ui.conversations.Turn; nothing is drawn for one not stored."""
    if conv_id is None or turn.n is None or turn.error:
        return
    key = f"{conv_id}_{turn.n}"
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    copy, rate, comment = row.container(width="content"), row.container(width="content"), row.container(width="content")
    with copy.popover(t("copy_answer", lang), icon=":material/content_copy:"):
        st.caption(t("copy_hint", lang))
        st.code(turn.text, language=None, wrap_lines=True)
    store, user = state.feedback(), state.owner()
    given = store.get(conv_id, turn.n, user)
    fb_key = f"feedback_{key}"
    with rate:
        choice = st.feedback("thumbs", key=fb_key,
                             default=None if given is None else (1 if given.rating > 0 else 0))
    if choice is None:
        return
    rating = 1 if choice == 1 else -1
    if given is None or given.rating != rating:
        given = _save(conv_id, turn, rating, given.comment if given else "", lang)
    with comment.popover(t("feedback_comment", lang) + (" ✓" if given.comment else ""),
                         icon=":material/edit_note:"):
        with st.form(f"feedback_form_{key}", border=False):
            text = st.text_area(t("feedback_comment_label", lang), value=given.comment, max_chars=2000,
                                key=f"feedback_text_{key}")
            if st.form_submit_button(t("feedback_send", lang)):
                _save(conv_id, turn, rating, text, lang)
                st.success(t("feedback_thanks", lang), icon="🙏")


def _save(conv_id: str, turn, rating: int, comment: str, lang: str):
    conv = state.conversation_store().get(conv_id)
    stored = conv.turns[turn.n]
    return state.feedback().give(conv_id, turn.n, rating=rating, kb=conv.kb, question=stored.question,
                                 answer=stored.answer, user=state.owner(), comment=comment)
