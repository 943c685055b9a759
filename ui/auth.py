"""Optional password for demos on a LAN; off unless one is set.

Read from Streamlit secrets (`.streamlit/secrets.toml`: password = "...") or
`settings.ui_password` (DOCCHAT_UI_PASSWORD). No password set: the page is open,
which is right for the default bind address 127.0.0.1."""
from __future__ import annotations

import hmac

import streamlit as st

from . import state
from .i18n import t


def configured_password() -> str | None:
    try:
        secret = st.secrets.get("password")
    except Exception:  # noqa: BLE001 - no secrets file at all is the normal case
        secret = None
    return secret or state.settings().ui_password or None


def signed_in(lang: str) -> bool:
    """True when no password is set or this session gave it; otherwise draws the sign-in form."""
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
