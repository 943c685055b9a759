"""Sidebar: page, knowledge base, and the settings the chain really uses."""
from __future__ import annotations

import logging

import streamlit as st

from docchat.settings import TEMPERATURE_RANGE, TOP_K_RANGE
from llm.factory import BACKENDS

from . import auth, state
from .errors import friendly_errors
from .i18n import LANGS, t
from .ingest_view import run_batch, show_result

log = logging.getLogger("docchat.ui")


def render() -> str:
    """Draws the sidebar; returns the page to show ("chat", "kb" or "admin")."""
    s = st.session_state
    lang = s.lang
    sb = st.sidebar
    sb.title(t("app_title", lang))
    user = state.current_user()
    if user is not None:
        left, right = sb.columns([3, 2], vertical_alignment="center")
        left.caption(t("signed_in_as", lang, name=user.name,
                       role=t("role_admin" if user.is_admin else "role_member", lang)))
        if right.button(t("sign_out", lang), key="sign_out"):
            auth.sign_out()
            st.rerun()
    pages = ["chat", "kb", "admin"] if state.is_admin() else ["chat", "kb"]
    if s.get("page") not in pages:
        s.page = "chat"
    page = sb.radio(t("nav", lang), pages, key="page", horizontal=True,
                    format_func=lambda p: t(f"page_{p}", lang))
    sb.radio(t("language", lang), list(LANGS), key="lang", horizontal=True, format_func=LANGS.get)
    names = state.knowledge_bases()
    if not names:  # accounts on, and no knowledge base is open to this user
        s.kb_name = None
        sb.info(t("no_kb_for_you", lang), icon="🔒")
        return page
    if s.kb_name not in names:
        s.kb_name = names[0]
    sb.selectbox(t("kb_select", lang), names, key="kb_name")
    kb = None
    with sb.expander(t("settings_advanced", lang), expanded=False):
        st.caption(t("settings_advanced_note", lang))
        if state.is_admin():  # a shared server's model is the administrator's choice
            st.selectbox(t("backend", lang), list(BACKENDS), key="backend",
                         format_func=lambda b: t(f"backend_{b}", lang), help=t("backend_help", lang))
        st.slider(t("temperature", lang), *TEMPERATURE_RANGE, step=0.05, key="temperature",
                  help=t("temperature_help", lang))
        st.slider(t("top_k", lang), *TOP_K_RANGE, key="top_k", help=t("top_k_help", lang))
        kb = _open_kb(s.kb_name)
        if kb is not None and state.may_change(kb.name):
            with friendly_errors(lang):
                _chunking(kb, lang)
    # Outside the (folded) settings: a pending re-index must be seen without looking for it.
    if kb is not None and state.may_change(kb.name):
        with sb, friendly_errors(lang):
            _reindex_note(kb, lang)
    return page


def _open_kb(name: str):
    """The chosen knowledge base, or None when it cannot be opened (the page itself then says
    why, in one plain sentence; saying it here too would only repeat it)."""
    try:
        return state.get_kb(name)
    except Exception:  # noqa: BLE001
        log.warning("knowledge base %s could not be opened for the sidebar", name, exc_info=True)
        return None


def _chunking(kb, lang: str) -> None:
    """Sentences per passage and overlap of the chosen knowledge base: saved in it (every
    process uses them for new files), applied to the files already there by a re-index."""
    s, saved = st.session_state, kb.chunk_settings()
    key_n, key_k, key_seen = (f"chunk_sentences:{kb.name}", f"chunk_overlap:{kb.name}",
                              f"chunking_seen:{kb.name}")
    # Keys per knowledge base (switching base shows that base's values); reloaded when the
    # stored values changed since this page last showed them (another user, the CLI).
    if s.get(key_seen) != saved.tag or key_n not in s or key_k not in s:
        s[key_n], s[key_k], s[key_seen] = saved.sentences, saved.overlap, saved.tag
    st.divider()
    st.markdown(f"**{t('chunking_title', lang, kb=kb.name)}**")
    low, high = kb.CHUNK_SENTENCES_RANGE  # the range the knowledge base accepts
    n = int(st.number_input(t("chunk_sentences", lang), min_value=low, max_value=high, step=1,
                            key=key_n, help=t("chunk_sentences_help", lang)))
    k = int(st.number_input(t("chunk_overlap", lang), min_value=0, max_value=high - 1, step=1,
                            key=key_k, help=t("chunk_overlap_help", lang)))
    if k >= n:
        st.error(t("chunking_invalid", lang, n=n, k=k), icon="⚠️")
    elif (n, k) != (saved.sentences, saved.overlap):
        st.caption(t("chunking_unsaved", lang))
        if st.button(t("chunking_save", lang), type="primary", key="chunking_save"):
            kb.set_chunking(n, k)
            st.session_state.flash = t("chunking_saved", lang, n=n, k=k)
            st.rerun()
    elif not kb.reindex_pending():
        st.caption(t("chunking_applied", lang, n=n, k=k))


def _reindex_note(kb, lang: str) -> None:
    """When the stored files are still split the old way (other settings, or an older version
    of the document readers): say so, and offer to fix it now."""
    saved, stale = kb.chunk_settings(), kb.files_to_reindex()
    if not stale:
        return
    resplit = sum(r.chunking != saved.tag for r in stale)
    said = [t("reindex_pending", lang, n=saved.sentences, k=saved.overlap, files=resplit)] if resplit else []
    if len(stale) > resplit:  # the others are due only because the readers changed since
        said.append(t("reindex_pending_loaders", lang, files=len(stale) - resplit))
    st.warning("\n\n".join(said), icon="🔄")
    if st.button(t("reindex_apply", lang), type="primary", key="reindex_apply"):
        names = sorted({r.name for r in stale})  # only what the change concerns
        results = run_batch(t("reindex", lang),
                            lambda report: kb.reindex(progress=report, names=names), lang)
        failed = [r for r in results if r.status == "error"]
        for r in failed:
            show_result(r, lang)
        if failed:
            st.success(t("reindex_done", lang, n=len(results) - len(failed)))
        else:
            st.session_state.flash = t("reindex_done", lang, n=len(results))
            st.rerun()
