"""DocChat web page: `streamlit run ui/app.py` (binds to 127.0.0.1, see .streamlit/config.toml)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

# `streamlit run ui/app.py` puts ui/ (not the checkout) on sys.path.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from ui import admin_page, auth, chat_page, conversations, kb_page, running_answer, sidebar, state  # noqa: E402
from ui.i18n import t  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    st.set_page_config(page_title="DocChat", page_icon="💬", layout="wide")
    state.init_session()
    s = st.session_state
    # A click or a new question while an answer is being written: that answer stops and is
    # stored first, so this run shows it (marked stopped) and the model is free.
    running_answer.stop_previous(s.lang)
    if not auth.signed_in(s.lang):
        state.remember_in_url()
        return
    conversations.restore_from_url()  # ?c=<id>: the conversation open before a reload
    # Requests to switch knowledge base are applied before its selectbox is drawn.
    if "switch_kb" in s:
        s.kb_name = s.pop("switch_kb")
    page = sidebar.render()
    state.remember_in_url()
    if "flash" in s:
        st.success(s.pop("flash"), icon="✅")
    if page == "admin":
        admin_page.render()
    elif s.kb_name is None:  # accounts on, and no knowledge base is open to this user
        st.info(t("no_kb_for_you", s.lang), icon="🔒")
    elif page == "kb":
        kb_page.render()
    else:
        chat_page.render_sidebar()
        chat_page.render()


main()
