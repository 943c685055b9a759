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

from ui import auth, chat_page, kb_page, sidebar, state  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    st.set_page_config(page_title="DocChat", page_icon="💬", layout="wide")
    state.init_session()
    s = st.session_state
    if not auth.signed_in(s.lang):
        return
    # Requests to switch knowledge base are applied before its selectbox is drawn.
    if "switch_kb" in s:
        s.kb_name = s.pop("switch_kb")
    page = sidebar.render()
    if "flash" in s:
        st.success(s.pop("flash"), icon="✅")
    if page == "kb":
        kb_page.render()
    else:
        chat_page.render_sidebar()
        chat_page.render()


main()
