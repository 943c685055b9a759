"""Does a question lean on the conversation, or stand on its own?

A question that stands alone is answered on its own: no rewrite call (seconds on 2 cores
saved), and no earlier topic mixed into it. Measured before this check (2026-12-02): a new
question asked in the same chat, "核电厂定期安全评价一般多久开展一次？", was rewritten together with
the earlier ones into "…营业收入是多少？上一季度呢？核电厂定期安全评价一般多久开展一次？".

A follow-up shows itself in its words: it opens with 那/那么/如果/what about, ends with 呢, points
back (上一…, 刚才, 这个, it, they, the same), or is too short to name its subject. A message of
several sentences whose first one stands alone carries its own subject: "我想辞职，要提前多少天跟公司
打招呼？还在试用期的话呢？" leans on its own first sentence, not on the chat (measured 2026-12-02: after a
divorce turn, the rewriter merged it into "两口子同意离婚，要提前多少天…"). Checked on the
dev sets (bench/eval_rag.py, bench/eval_docs.py): every follow-up there has such a mark, and a
long question with its own subject does not need the history even when it says 这个.
Written by hand: the rules are short and need no model call, which is the point.
"""
from __future__ import annotations

import re

from .language import question_language, question_sentences

_ZH_OPENERS = re.compile(r"^\s*(那|那么|那如果|如果|要是|假如|假设|还有|另外|此外|而且|并且|同样|也|它|他|她|其|该|此|这|上述)")
_ZH_CLOSERS = re.compile(r"呢\s*[？?。！!]*\s*$")
_ZH_BACK = re.compile(r"上一|上个|上年|前面|前者|后者|刚才|刚刚|上述|以上|这个|这种|这些|这样|这笔|这项|这条|那个|那种|那些|"
                      r"它们?|他们|她们|该公司|该单位|该文件|该规定|该条|该法|同一|同样的|还是一样|对应")
_EN_OPENERS = re.compile(r"^\s*(and|but|so|then|also|what about|how about|what if|and if|same)\b", re.IGNORECASE)
_EN_BACK = re.compile(r"\b(it|its|they|them|their|this one|that one|those|these|he|she|his|her|the same|"
                      r"previous|above|former|latter|there)\b", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][A-Za-z]+")  # a capitalised word not opening a sentence

SHORT_ZH = 10  # characters: "那北京呢？", "试用期多久？" name no subject of their own
LONG_ZH = 16  # characters: long enough to carry its own subject, even with a 这个 in it
SHORT_EN = 5  # words


def is_follow_up(question: str) -> bool:
    """Whether the question needs the conversation to be understood."""
    q = question.strip()
    sentences = question_sentences(q)
    if len(sentences) > 1:
        # The later sentences lean on the first; the message needs the chat only if the first does.
        return _needs_history(sentences[0])
    return _needs_history(q)


def _needs_history(q: str) -> bool:
    if question_language(q) == "zh":
        size = len(_CJK.findall(q))
        if _ZH_OPENERS.search(q) or _ZH_CLOSERS.search(q) or size <= SHORT_ZH:
            return True
        return bool(_ZH_BACK.search(q)) and size < LONG_ZH
    words = re.findall(r"[A-Za-z0-9']+", q)
    if _EN_OPENERS.search(q) or len(words) <= SHORT_EN:
        return True
    return bool(_EN_BACK.search(q)) and not _NAME.search(q)
