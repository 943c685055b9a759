"""Errors the LLM layer raises for problems a user can fix (bad paths, wrong files, a server
that does not answer). Raised with one English sentence (what is wrong, where, the fix), which
stays ``str(error)`` for the log; ``message(lang)`` puts it in the user's sentence
(common/user_error.py)."""
from __future__ import annotations

from common.user_error import UserError


class ModelSetupError(UserError, RuntimeError):
    """A model could not be set up. Raised instead of a raw traceback so a serving process can
    show it and keep running."""

    EN = "The language model could not start: {detail} Please ask your administrator to check the model settings."
    ZH = "语言模型无法启动：{detail} 请联系管理员检查模型设置。"


class BackendUnavailable(UserError, RuntimeError):
    """The model server could not give an answer; the detail says why and what to do."""

    EN = "The model server could not answer: {detail} Please try again in a moment."
    ZH = "模型服务器暂时无法回答：{detail} 请稍后再试。"
