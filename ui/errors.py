"""Turns any exception into one plain sentence plus what to do; the traceback goes to the log."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from docchat.accounts import AccountError
from docchat.kb_access import AccessDenied
from llm.errors import BackendUnavailable, ModelSetupError
from llm.factory import UnknownBackend
from vectorstore import KnowledgeBaseError, WriterBusy

from .i18n import t

log = logging.getLogger("docchat.ui")


def _sentence(err: BaseException) -> str:
    return str(err).strip().rstrip(".。") + ("。" if any("\u4e00" <= c <= "\u9fff" for c in str(err)) else ".")


def plain_message(err: BaseException, lang: str) -> str:
    if isinstance(err, (KnowledgeBaseError, AccessDenied, AccountError)):
        return err.message(lang)
    if isinstance(err, WriterBusy):
        return t("err_busy", lang)
    if isinstance(err, (ModelSetupError, UnknownBackend)):
        return t("err_model", lang, detail=_sentence(err))
    if isinstance(err, BackendUnavailable):
        return t("err_backend", lang, detail=_sentence(err))
    if type(err).__name__ == "PromptTooLong":
        return t("err_too_long", lang)
    if type(err).__name__ == "RerankerError":  # DOCCHAT_RERANKER_PATH points at no usable model
        return err.message(lang)
    return t("err_unexpected", lang)


def show_error(err: BaseException, lang: str) -> str:
    """Logs the traceback, shows the plain message; returns the message."""
    expected = isinstance(err, (KnowledgeBaseError, WriterBusy, AccessDenied, AccountError, ModelSetupError, UnknownBackend,
                                BackendUnavailable)) or type(err).__name__ == "PromptTooLong"
    log.log(logging.WARNING if expected else logging.ERROR, "shown to the user: %s", err, exc_info=err)
    message = plain_message(err, lang)
    st.error(message, icon="⚠️")
    return message


@contextmanager
def friendly_errors(lang: str) -> Iterator[None]:
    """Everything inside that fails shows one plain message instead of a stack trace."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - the point is that nothing reaches the screen raw
        show_error(err, lang)
