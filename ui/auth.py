"""Who may use the page.

With accounts (DOCCHAT_ACCOUNTS=1, issue 14): a sign-in form with user name and password;
nothing else of the app is drawn before it is passed. The session is kept server-side
(docchat/accounts.py): it ends when unused for DOCCHAT_SESSION_MINUTES, when its user signs
out, is removed or gets a new password. Failed tries are limited per name and per address, and
the form says when to try again.

Without accounts: an optional shared password for demos on a LAN, off unless one is set, read
from Streamlit secrets (`.streamlit/secrets.toml`: password = "...") or `settings.ui_password`
(DOCCHAT_UI_PASSWORD). No password set: the page is open, which is right for the default bind
address 127.0.0.1."""
from __future__ import annotations

import hmac
import time

import streamlit as st

from . import state
from .i18n import LANGS, t


def configured_password() -> str | None:
    try:
        secret = st.secrets.get("password")
    except Exception:  # noqa: BLE001 - no secrets file at all is the normal case
        secret = None
    return secret or state.settings().ui_password or None


def signed_in(lang: str) -> bool:
    """True when this session may see the app; otherwise draws the sign-in form."""
    if state.accounts_on():
        return _account_signed_in(lang)
    password = configured_password()
    if not password or st.session_state.get("signed_in"):
        return True
    with st.form("sign_in"):
        st.subheader(t("sign_in_title", lang))
        given = st.text_input(t("password", lang), type="password", key="password_given")
        if st.form_submit_button(t("sign_in", lang)):
            if hmac.compare_digest(given.encode(), str(password).encode()):
                st.session_state.signed_in = True
                st.rerun()
            st.error(t("wrong_password", lang), icon="⚠️")
    return False


def _address() -> str | None:
    try:
        return st.context.ip_address
    except Exception:  # noqa: BLE001 - not known (e.g. AppTest): only the per-name limit applies
        return None


def _account_signed_in(lang: str) -> bool:
    s = st.session_state
    store = state.accounts()
    token = s.get("session_token")
    user = store.session_user(token)
    if user is not None:
        s.user = user
        return True
    ended = token is not None
    s.pop("session_token", None)
    s.pop("user", None)
    st.radio(t("language", lang), list(LANGS), key="lang", horizontal=True, format_func=LANGS.get)
    if ended:
        st.info(t("session_ended", lang), icon="🔒")
    if not store.users():
        st.warning(t("no_accounts_yet", lang), icon="👤")
    with st.form("login"):
        st.subheader(t("login_title", lang))
        name = st.text_input(t("username", lang), key="login_name")
        password = st.text_input(t("password", lang), type="password", key="login_password")
        if st.form_submit_button(t("login_button", lang)):
            result = store.login(name, password, _address())
            if result.ok:
                s.session_token = store.start_session(result.user)
                s.user = result.user
                st.rerun()
            elif result.retry_at is not None:
                minutes = max(1, round((result.retry_at - time.time()) / 60))
                st.error(t("login_locked", lang, minutes=minutes,
                           at=time.strftime("%H:%M", time.localtime(result.retry_at))), icon="⏳")
            else:
                st.error(t("login_wrong", lang), icon="⚠️")
    return False


def sign_out() -> None:
    """Ends the session; nothing of this user's stays in the tab for whoever signs in next."""
    s = st.session_state
    state.accounts().end_session(s.pop("session_token", None))
    for key in ("user", "conversation_id", "conversation_kb", "error_turns", "upload_results",
                "action_results", "confirm_delete_doc"):
        s.pop(key, None)
    if "c" in st.query_params:
        del st.query_params["c"]
