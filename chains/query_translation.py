"""A question asked in one language about documents in another is also searched in theirs.

The embedders are multilingual, but across languages they find the topic, not the passage: "What
were Northeast Electric Development's total assets at the end of Q1 2018?" retrieved the right
report's pages on litigation and expenses, not the row 总资产（元） 298,608,889.04; and keyword
search finds nothing at all across languages. So when the passages found are mostly in the other
language, the model translates the question (one short call, only then) and the two searches
are fused. A translation that does not read as one (wrong script, an answer, a ramble) is not
used.

Written by hand: no LangChain part decides when a query needs translating, and the check of the
small model's output is the same kind of cheap string test as the rewrite's (chains/rewrite.py).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from langchain_core.language_models.llms import LLM

from vectorstore import Hit

from .language import question_language
from .rewrite import clean_output

_PROMPT = {
    "zh": "把下面的问题翻译成中文。只输出译文，不要回答问题。\n\n{question}",
    "en": "Translate this question into English. Output only the translation; do not answer it.\n\n{question}",
}
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def text_language(text: str) -> str:
    """'zh' when at least a fifth of the letters are Chinese characters, else 'en'."""
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return "zh" if cjk and cjk * 5 >= cjk + latin else "en"


def passages_language(hits: list[Hit]) -> str | None:
    """The language most of the passages are in (None: no passages)."""
    if not hits:
        return None
    zh = sum(1 for h in hits if text_language(h.text) == "zh")
    return "zh" if 2 * zh > len(hits) else "en" if 2 * zh < len(hits) else None


@dataclass
class Translation:
    text: str | None  # None: not needed, or not usable
    seconds: float = 0.0
    raw: str = ""


class QueryTranslator:
    def __init__(self, llm: LLM, max_new_tokens: int = 80):
        self.llm, self.max_new_tokens = llm, max_new_tokens

    def needed(self, question: str, hits: list[Hit]) -> str | None:
        """The language to translate the question into, when the passages found are mostly in
        another one."""
        target = passages_language(hits)
        return target if target is not None and target != question_language(question) else None

    def translate(self, question: str, target: str) -> Translation:
        start = time.perf_counter()
        raw = self.llm.invoke(_PROMPT[target].format(question=question), temperature=0.0,
                              max_new_tokens=self.max_new_tokens)
        seconds = time.perf_counter() - start
        candidate = clean_output(raw)
        return Translation(candidate if usable(candidate, question, target) else None, seconds, raw)


def usable(candidate: str, question: str, target: str) -> bool:
    """In the target language, about as long as a question can be, and not the question again."""
    if not candidate or candidate.strip() == question.strip():
        return False
    if text_language(candidate) != target:
        return False
    # Chinese is about a third of the English length in characters; an answer or an explanation
    # runs far longer than either.
    return len(candidate) <= 2 * len(question) + 20
