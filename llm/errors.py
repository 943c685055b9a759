"""Errors the LLM layer raises for problems a user can fix (bad paths, wrong files)."""
from __future__ import annotations


class _ExplainedError(RuntimeError):
    """The detail (str(err)) names the file or server in English, as the logs want it; message()
    puts a lead sentence in the user's language before it, for the CLI and any other front end."""

    LEAD: dict[str, str] = {}

    def message(self, lang: str) -> str:
        detail = str(self).strip()
        return self.LEAD.get(lang, self.LEAD["en"]).format(detail=detail)


class ModelSetupError(_ExplainedError):
    """A model could not be set up. The message is one sentence: what is wrong, where, and the fix.

    Raised instead of a raw traceback so a serving process can show it and keep running.
    """

    LEAD = {"zh": "语言模型无法启动：{detail}", "en": "{detail}"}


class BackendUnavailable(_ExplainedError):
    """The model server could not give an answer; the message says why and what to do."""

    LEAD = {"zh": "模型服务器暂时无法回答：{detail}", "en": "{detail}"}
