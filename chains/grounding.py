"""Checks that an answer's claims come from its passages, not from the model's memory.

Measured (bench/eval_answers.py, 1.5B model, 2026-12-01): asked questions the documents do not
answer, the model wrote a plausible figure and cited a passage for it in 8 of 8 cases ("北京的最低
工资标准是每个月1680元[2]"), whatever the prompt said. A figure is what such answers get wrong and
what a reader acts on, and it can be checked mechanically: every number with a unit the answer
states (六个月, 600元, 35岁, 5 minutes), every long or exact number (4,755,785.11), date
(2019年7月15日, July 15, 2019) and frequency (每年, every ten years), other than those the
question itself contains, must appear in one of the passages the model was given. Arabic and
Chinese numerals are compared in one form (600 -> 六百, 两 -> 二, thousands separators dropped),
and 天 as 日, the way Chinese statutes count days.

Written here because no library checks this: NLI or LLM-judge faithfulness checks need another
model (none ships with the app, and a second model call costs seconds on 2 cores); numeral
conversion is a few lines, not worth a dependency.
"""
from __future__ import annotations

import re

from vectorstore import Hit

_CN_DIGITS = "零一二三四五六七八九"
_UNITS = (r"个月|个工作日|工作日|日|天|年|周岁|岁|倍|万元|元|小时|分钟|周|%|次|人|项|公里|户|家|名|位|股|件|份|台|辆|"
          r"minutes?|hours?|days?|weeks?|months?|years?|characters?|times?|percent|people|persons|shares|"
          r"millions?|billions?|thousands?")
NUMBER = re.compile(rf"(?:\d+(?:\.\d+)?|[零一二三四五六七八九十百千万]+)\s*(?:{_UNITS})(?![A-Za-z])", re.IGNORECASE)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Claims beyond numbers with units, matched after numbers are unified (so digits below 100,000
# have become Chinese numerals): dates, frequencies ("每年" is not in "每十年"), and exact
# numbers (amounts of six or more digits, decimals) that carry no unit in the answer.
_CN_NUM = "[零一二三四五六七八九十百千万]+"
CLAIM = re.compile(
    rf"{_CN_NUM}年{_CN_NUM}月(?:{_CN_NUM}[日号])?|{_CN_NUM}月{_CN_NUM}[日号]"
    rf"|\b{_MONTHS}\s*{_CN_NUM}(?:\s*,\s*{_CN_NUM})?|\b{_CN_NUM}\s+{_MONTHS}(?:\s*{_CN_NUM})?"
    rf"|每{_CN_NUM}个?(?:年|季度|月|周|星期|日|小时)"
    rf"|每个?(?:年度|年|季度|月|周|星期|日)(?=[^，。；,;]{{0,6}}次)"
    rf"|\b(?:every|each)\s+(?:{_CN_NUM}\s+|other\s+)?(?:years?|months?|weeks?|days?|quarters?)\b"
    rf"|\b(?:annual|monthly|quarterly|weekly|daily)\b"
    rf"|[$¥€£]\s*(?:\d+|{_CN_NUM})(?:\.\d+)?"
    rf"|\d+\.\d+|\d{{6,}}",
    re.IGNORECASE)


# "研发投入是零", "R&D spending was zero": a figure too, though it has no digits and no unit. It
# is found in a passage that states a zero of its own (零, 0, 0.00, zero, nil), never inside a
# longer number (一百零五, 10).
_ZERO_CLAIM = re.compile(rf"(?<=[是为])\s*[零0](?![{_CN_DIGITS}十百千万亿点.\d])|\b(?:is|was|were|are|of|at)\s+(?:zero|nil)\b",
                         re.IGNORECASE)
_ZERO_STATED = re.compile(r"(?<![\d.])0(?:\.0+)?(?![\d.])|\b(?:zero|nil)\b", re.IGNORECASE)
ZERO = "零"


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
    text = re.sub(r"(?<!\d)(?<!\d\.)\d+(?!\d|\.\d)",  # not a part of 3.5, but 3400. at a sentence end
                  lambda m: chinese_numeral(int(m.group())) if len(m.group()) < 6 else m.group(), text)
    text = re.sub(r"百分之([零一二三四五六七八九十点.]+)", r"\1%", text.replace("两", "二"))
    return text.replace("％", "%")


_ANNUAL = re.compile(r"\b(?:yearly|annually|per annum)\b", re.IGNORECASE)
_EN_NUMBERS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")


def _unified(text: str) -> str:
    text = _THOUSANDS.sub("", text)  # 4,755,785.11 and 4755785.11 are one number
    text = re.sub(r"(?<=\d)-(?=[A-Za-z])", " ", text)  # "7-year" and "7 year" are one claim
    text = _ANNUAL.sub("annual", text)  # a "yearly fee" is the passage's "annual fee"
    return normalise_numbers(text).replace("天", "日").lower()


def unified(text: str) -> str:
    """Numbers in canonical form, spaces kept (cells of a row stay apart)."""
    return _unified(text)


def canonical(text: str) -> str:
    return re.sub(r"\s+", "", _unified(text))


def stated_numbers(answer: str, question: str = "") -> list[str]:
    """The figures the answer states (numbers with units, exact numbers, dates, frequencies,
    amounts of money) that the question does not already contain, in canonical form."""
    asked = canonical(question)
    unified = _unified(answer)
    found = [re.sub(r"\s+", "", m) for m in NUMBER.findall(unified)]
    # A claim inside a number with a unit (the 一.五 of 一.五万元) is not a second claim.
    # A number written with thousands separators (42,951) is a precise figure even without a unit.
    precise = [canonical(m) for m in re.findall(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?:\.\d+)?", answer)]
    for claim in [re.sub(r"\s+", "", m) for m in CLAIM.findall(unified)] + precise:
        if not any(claim in f for f in found):
            found.append(claim)
    if _ZERO_CLAIM.search(unified):
        found.append(ZERO)
    # A zero is a claim even when the question holds a 零 (of 零售, 一百零五).
    return [n for n in dict.fromkeys(found) if n not in asked or n == ZERO]


# A number precise enough to be found without its unit: a decimal, six digits and more, or a
# Chinese numeral of four characters and more (七万九千零五十三, 三千四百).
_SCALED = re.compile(r"^(.+?)(million|billion|thousand)s?$")
NUMERAL_CHARS = "零一二三四五六七八九十百千万亿"


def standalone(number: str, after: str = "", not_after: str = "") -> str:
    """A regex for ``number`` as a number of its own in canonical text: not part of a longer
    one (the 三 of 十三, the 5 of 5.5). ``not_after``: more characters it may not follow;
    ``after``: a lookahead it must be followed by."""
    edge = re.escape(NUMERAL_CHARS) + r"\d."
    return rf"(?<![{edge}{not_after}]){re.escape(number)}(?![{edge}]){after}"
_EXACT = re.compile(r"^-?(\d+\.\d+|\d{6,}|[零一二三四五六七八九十百千万]{4,})")


def figure_in(figure: str, canonical_text: str, spaced_text: str | None = None) -> bool:
    """Whether a stated figure is in a passage (both canonical). A precise number also counts
    without its unit: tables put the unit in the header ("营业收入（元）… 4,755,785.11",
    "股东总数 79,053"), the answer after the number ("4,755,785.11元", "79,053户")."""
    if figure == ZERO:
        return (re.search(standalone(ZERO), canonical_text) is not None
                or _ZERO_STATED.search(spaced_text if spaced_text is not None else canonical_text) is not None)
    if figure in canonical_text:
        return True
    exact = _EXACT.match(figure)
    if exact and exact.group(0) in canonical_text:
        return True
    # "9 million" where a table says "(millions)" in its header and 9 in its row: the number
    # must stand on its own, so it is looked for in the text with its spaces (``spaced_text``,
    # see ``unified``), where a row's cells are still apart.
    scaled = _SCALED.match(figure)
    if not scaled or spaced_text is None or scaled.group(2) not in canonical_text:
        return False
    return re.search(standalone(scaled.group(1)), spaced_text) is not None


def unsupported_numbers(answer: str, question: str, passages: list[Hit]) -> list[str]:
    """Stated numbers that none of the passages contains (empty: the figures are grounded)."""
    context = canonical(" ".join(h.text for h in passages))
    return [n for n in stated_numbers(answer, question) if n not in context]


_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_NOT_WORD = re.compile(r"[\s\W_]+")
_CITATION_MARK = re.compile(r"\[(?:编号|资料|passage|source)?\s*\d{1,2}\]", re.IGNORECASE)


# English words that say nothing about what a sentence claims: left out, so that "the", "of"
# and "is" cannot make an unrelated English passage look like support.
_EN_FILLER = frozenset(
    "the and for are was were that this with from have has had not its his her they them their been will "
    "shall must can may might would could should which what when where who whom how per all any each our you "
    "your into than then there these those such also only about over under more most other some".split())


def text_units(text: str) -> set[str]:
    """What two texts are compared by: character bigrams of the Chinese (it has no spaces), and
    lower-cased words of the rest (numbers, and words of three letters or more that are not
    filler); [n] marks left out."""
    text = _CITATION_MARK.sub(" ", text).lower()
    units = {w for w in _WORD.findall(text) if (len(w) >= 3 or w[0].isdigit()) and w not in _EN_FILLER}
    for run in re.findall(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]+", text):
        run = _NOT_WORD.sub("", run)
        units.update(run[i:i + 2] for i in range(len(run) - 1))
    return units


_NUMERAL = re.compile(r"^-?(?:\d+(?:\.\d+)?|[零一二三四五六七八九十百千万]+)")


def numeral_part(figure: str) -> str:
    """The number of a canonical figure, without its unit ("一百五十七人" -> "一百五十七")."""
    found = _NUMERAL.match(figure)
    return found.group(0) if found else ""


def written_numbers(text: str) -> list[str]:
    """The numbers written in digits or as English words (nine, twelve) in a text, canonical:
    what a translated answer and its passage can still be compared by."""
    words = re.findall(r"\d[\d,]*(?:\.\d+)?|\b(?:" + "|".join(_EN_NUMBERS) + r")\b", text, re.IGNORECASE)
    return [canonical(_EN_NUMBERS.get(w.lower(), w)) for w in words]
