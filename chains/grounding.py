"""A last check that an answer's figures come from its passages, not from the model's memory.

Measured (bench/eval_answers.py, 1.5B model, 2026-12-01): asked questions the documents do not
answer, the model wrote a plausible figure and cited a passage for it in 8 of 8 cases ("北京的最低
工资标准是每个月1680元[2]"), whatever the prompt said. A figure is what such answers get wrong and
what a reader acts on, and it can be checked mechanically: every number with a unit the answer
states (六个月, 600元, 35岁, 5 minutes), other than those the question itself contains, must
appear in one of the passages the model was given. Arabic and Chinese numerals are compared in
one form (600 -> 六百, 两 -> 二), and 天 as 日, the way Chinese statutes count days.

Written here because no library checks this: NLI or LLM-judge faithfulness checks need another
model (none ships with the app, and a second model call costs seconds on 2 cores); numeral
conversion is a few lines, not worth a dependency.
"""
from __future__ import annotations

import re

from vectorstore import Hit

_CN_DIGITS = "零一二三四五六七八九"
_UNITS = (r"个月|个工作日|工作日|日|天|年|周岁|岁|倍|万元|元|小时|分钟|周|%|次|人|项|公里|"
          r"minutes?|hours?|days?|weeks?|months?|years?|characters?|times?|percent")
NUMBER = re.compile(rf"(?:\d+(?:\.\d+)?|[零一二三四五六七八九十百千万]+)\s*(?:{_UNITS})(?![A-Za-z])", re.IGNORECASE)


def chinese_numeral(n: int) -> str:
    """0..99999 in Chinese numerals (十二, 三十九, 一百零五), the form statutes use."""
    digits, out, zero = str(n), "", False
    for pos, ch in zip(range(len(digits) - 1, -1, -1), digits):
        if ch == "0":
            zero = bool(out)
            continue
        out += ("零" if zero else "") + _CN_DIGITS[int(ch)] + ("", "十", "百", "千", "万")[pos]
        zero = False
    return "零" if not out else (out[1:] if out.startswith("一十") else out)


def normalise_numbers(text: str) -> str:
    """Numbers in one form: Arabic integers below 100,000 as Chinese numerals, 两 as 二."""
    text = re.sub(r"(?<![\d.])\d+(?![\d.])",
                  lambda m: chinese_numeral(int(m.group())) if len(m.group()) < 6 else m.group(), text)
    text = re.sub(r"百分之([零一二三四五六七八九十点.]+)", r"\1%", text.replace("两", "二"))
    return text.replace("％", "%")


def _unified(text: str) -> str:
    return normalise_numbers(text).replace("天", "日").lower()


def _canonical(text: str) -> str:
    return re.sub(r"\s+", "", _unified(text))


def stated_numbers(answer: str, question: str = "") -> list[str]:
    """The numbers with units the answer states that the question does not already contain."""
    asked = _canonical(question)
    found = (re.sub(r"\s+", "", m) for m in NUMBER.findall(_unified(answer)))
    return [n for n in dict.fromkeys(found) if n not in asked]


def unsupported_numbers(answer: str, question: str, passages: list[Hit]) -> list[str]:
    """Stated numbers that none of the passages contains (empty: the figures are grounded)."""
    context = _canonical(" ".join(h.text for h in passages))
    return [n for n in stated_numbers(answer, question) if n not in context]


def passages_holding(answer: str, question: str, passages: list[Hit]) -> list[Hit]:
    """The passages that contain the answer's stated numbers, in the given order."""
    numbers = stated_numbers(answer, question)
    return [h for h in passages if numbers and any(n in _canonical(h.text) for n in numbers)]
