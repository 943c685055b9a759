"""Which language to answer in: the question's own; and a question's sentences."""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff]")


def question_language(text: str) -> str:
    """'zh' when the question contains Chinese characters, else 'en'."""
    return "zh" if _CJK.search(text) else "en"


_QUESTION_SENTENCE_END = re.compile(r"(?<=[？?。！!])\s*")


def question_sentences(text: str) -> list[str]:
    """The sentences of a message ("…打招呼？还在试用期的话呢？" is two), without empty ones."""
    return [s for s in _QUESTION_SENTENCE_END.split(text.strip()) if s.strip()]
