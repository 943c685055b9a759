"""UserError, the base of every error a person can fix, and describe(error, lang): the one place
where any exception becomes the sentence the page (ui/errors.py) and the CLI show.

It lives below every layer (loaders/ and llm/ import nothing else of ours), so each layer's own
errors (LoadError, ModelSetupError, KnowledgeBaseError, AccessDenied, ...) derive from it and
carry their wording in both languages, next to the code that knows what went wrong.
"""
from __future__ import annotations

# Shown for anything that is not a UserError: a bug or a broken installation, not the user's
# doing; its traceback belongs in the log.
UNEXPECTED = {
    "en": "Something unexpected went wrong and was written to the log. Please try again; if it keeps "
          "happening, tell your administrator.",
    "zh": "出现了意外问题，已记录到日志。请重试；如果仍然出错，请联系管理员。",
}


def _is_zh(lang: str) -> bool:
    return lang.lower().startswith("zh")


def as_sentence(text: str) -> str:
    """Ends ``text`` with one full stop (Chinese or English, by its script)."""
    text = text.strip().rstrip(".。")
    return text + ("。" if any("\u4e00" <= c <= "\u9fff" for c in text) else ".")


class UserError(Exception):
    """A problem the person using DocChat can fix, said in English and Chinese.

    Raised with both sentences (``UserError(en, zh)``), or, in a subclass with a fixed wording
    (``EN``/``ZH`` around ``{detail}``), with only the English detail: then ``str(error)`` stays
    that detail (what the log wants) and ``message(lang)`` is the subclass's sentence around it.
    """

    EN = ZH = "{detail}"

    def __init__(self, en: str, zh: str | None = None):
        super().__init__(en)
        detail = as_sentence(en) if ("{detail}" in self.EN and self.EN != "{detail}") else en
        self.message_en = self.EN.format(detail=detail)
        self.message_zh = zh if zh is not None else self.ZH.format(detail=detail)

    def message(self, lang: str = "en") -> str:
        return self.message_zh if _is_zh(lang) else self.message_en


def describe(error: BaseException, lang: str = "en") -> str:
    """The sentence a user is shown for ``error``, in ``lang`` ("zh" or "en")."""
    if isinstance(error, UserError):
        return error.message(lang)
    return UNEXPECTED["zh" if _is_zh(lang) else "en"]
