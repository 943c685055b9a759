"""Sidebar: page, knowledge base, and the settings the chain really uses."""
from __future__ import annotations

import streamlit as st

from llm.factory import BACKENDS

from . import state
from .i18n import LANGS, t


def render() -> str:
    """Draws the sidebar; returns the page to show ("chat" or "kb")."""
    s = st.session_state
    lang = s.lang
    sb = st.sidebar
    sb.title(t("app_title", lang))
    page = sb.radio(t("nav", lang), ["chat", "kb"], key="page", horizontal=True,
                    format_func=lambda p: t(f"page_{p}", lang))
    names = state.knowledge_bases()
    if s.kb_name not in names:
        s.kb_name = names[0]
    sb.selectbox(t("kb_select", lang), names, key="kb_name")
    with sb.expander(t("settings", lang), expanded=False):
        st.radio(t("language", lang), list(LANGS), key="lang", horizontal=True,
                 format_func=LANGS.get)
        st.selectbox(t("backend", lang), list(BACKENDS), key="backend",
                     format_func=lambda b: t(f"backend_{b}", lang))
        st.slider(t("temperature", lang), 0.0, 1.5, step=0.05, key="temperature",
                  help=t("temperature_help", lang))
        st.slider(t("top_k", lang), 1, 20, key="top_k", help=t("top_k_help", lang))
    return page
