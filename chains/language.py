"""Which language to answer in: the question's own."""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff]")


def question_language(text: str) -> str:
    """'zh' when the question contains Chinese characters, else 'en'."""
    return "zh" if _CJK.search(text) else "en"
