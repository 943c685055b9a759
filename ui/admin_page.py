"""The administrators' page: answers' feedback (👍/👎 and comments, CSV export), and with
accounts on, the users and who may read / change each knowledge base."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from docchat.kb_access import EVERYONE

from . import state
from .errors import friendly_errors
from .i18n import t


def render() -> None:
    lang = st.session_state.lang
    if not state.is_admin():  # the page is not offered to members; a stale session gets nothing
        st.error(t("admin_only", lang), icon="🔒")
        return
    st.header(t("admin_title", lang))
    if state.accounts_on():
        feedback_tab, users_tab, access_tab = st.tabs(
            [t("admin_feedback", lang), t("admin_users", lang), t("admin_access", lang)])
    else:
        feedback_tab, users_tab, access_tab = st.container(), None, None
    with feedback_tab, friendly_errors(lang):
        _feedback(lang)
    if users_tab is not None:
        with users_tab, friendly_errors(lang):
            _users(lang)
        with access_tab, friendly_errors(lang):
            _access(lang)


FEEDBACK_SHOWN = 100


def _short(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _feedback(lang: str) -> None:
    store = state.feedback()
    rows = store.list()
    up, down = sum(f.rating > 0 for f in rows), sum(f.rating < 0 for f in rows)
    st.subheader(t("feedback_title", lang, n=len(rows), up=up, down=down))
    if not rows:
        st.caption(t("feedback_none", lang))
        return
    # A plain table (its words are on the page, wrapped), newest first; the CSV has them all.
    shown = rows[:FEEDBACK_SHOWN]
    st.table([{t("fb_col_time", lang): _when(f.updated), t("fb_col_user", lang): f.user or "—",
               t("fb_col_kb", lang): f.kb, t("fb_col_rating", lang): "👍" if f.rating > 0 else "👎",
               t("fb_col_comment", lang): f.comment, t("fb_col_question", lang): f.question,
               t("fb_col_answer", lang): _short(f.answer)} for f in shown])
    if len(rows) > len(shown):
        st.caption(t("feedback_more", lang, n=len(shown)))
    st.download_button(t("feedback_csv", lang), data=lambda: store.to_csv().encode("utf-8"),
                       file_name="docchat-feedback.csv", mime="text/csv", key="feedback_csv",
                       on_click="ignore", icon="⬇️")


def _users(lang: str) -> None:
    store = state.accounts()
    me = state.current_user()
    users = store.users()
    st.dataframe([{t("user_col_name", lang): u.name,
                   t("user_col_role", lang): t("role_admin" if u.is_admin else "role_member", lang),
                   t("user_col_created", lang): _when(u.created)} for u in users],
                 hide_index=True, width="stretch")
    with st.form("add_user", clear_on_submit=True):
        st.markdown(f"**{t('user_add', lang)}**")
        name = st.text_input(t("username", lang), key="new_user_name")
        password = st.text_input(t("password", lang), type="password", key="new_user_password",
                                 help=t("password_rule", lang))
        admin = st.checkbox(t("user_admin", lang), key="new_user_admin")
        if st.form_submit_button(t("user_add_go", lang)):
            store.add_user(name, password, admin=admin)
            st.session_state.flash = t("user_added", lang, name=name.strip())
            st.rerun()
    others = [u.name for u in users if me is None or u.name != me.name]
    if not others:
        return
    st.markdown(f"**{t('user_manage', lang)}**")
    who = st.selectbox(t("username", lang), others, key="manage_user")
    with st.form("reset_password", clear_on_submit=True, border=False):
        new = st.text_input(t("user_new_password", lang), type="password", key="reset_password_value",
                            help=t("password_rule", lang))
        if st.form_submit_button(t("user_set_password", lang)):
            store.set_password(who, new)
            st.session_state.flash = t("user_password_set", lang, name=who)
            st.rerun()
    sure = st.checkbox(t("user_remove_sure", lang, name=who), key=f"remove_user_sure_{who}")
    if st.button(t("user_remove", lang), key="remove_user", disabled=not sure):
        store.remove_user(who)
        st.session_state.flash = t("user_removed", lang, name=who)
        st.rerun()


def _access(lang: str) -> None:
    """Per knowledge base: who may read it, who may change it (admins always may both)."""
    st.caption(t("access_note", lang))
    names = state.all_knowledge_bases()
    members = [u.name for u in state.accounts().users() if not u.is_admin]
    options = [EVERYONE, *members]
    everyone = t("access_everyone", lang)
    kb = st.selectbox(t("kb_select", lang), names, key="access_kb")
    rule = state.access().rule(kb)
    with st.form(f"access_{kb}", border=False):
        readers = st.multiselect(t("access_readers", lang), options,
                                 default=[r for r in rule.readers if r in options],
                                 format_func=lambda n: everyone if n == EVERYONE else n, key=f"readers_{kb}")
        writers = st.multiselect(t("access_writers", lang), options,
                                 default=[w for w in rule.writers if w in options],
                                 format_func=lambda n: everyone if n == EVERYONE else n, key=f"writers_{kb}")
        if st.form_submit_button(t("access_save", lang)):
            state.access().set_rule(kb, readers, writers)
            st.session_state.flash = t("access_saved", lang, kb=kb)
            st.rerun()
