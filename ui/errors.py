"""Turns any exception into one plain sentence plus what to do; the traceback goes to the log.

The sentence is common.user_error.describe's, the same the CLI prints: each error a user can
fix carries its own wording (a UserError); anything else is "something unexpected went wrong"."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from common.user_error import UserError, describe

log = logging.getLogger("docchat.ui")


def show_error(err: BaseException, lang: str) -> str:
    """Logs the traceback, shows the plain message; returns the message."""
    expected = isinstance(err, UserError)
    log.log(logging.WARNING if expected else logging.ERROR, "shown to the user: %s", err, exc_info=err)
    message = describe(err, lang)
    st.error(message, icon="⚠️")
    return message


@contextmanager
def friendly_errors(lang: str) -> Iterator[None]:
    """Everything inside that fails shows one plain message instead of a stack trace."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - the point is that nothing reaches the screen raw
        show_error(err, lang)
