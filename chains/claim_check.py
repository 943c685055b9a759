"""Every sentence of an answer is checked against its passages before anyone sees it.

The model's text streams in token by token; ``CheckedStream`` holds it back until a sentence is
complete, then checks that sentence:
- every figure it states (numbers with units, exact numbers, dates, frequencies, a zero; see
  chains/grounding.py) must be in a passage, else the sentence is a claim from memory;
- some passage must support it: the passage its [n] cites, or else the one that holds its
  figures or most of its words. A figure stated for a whole year is not supported by a passage
  about part of one (a quarter, a half year). Its [n] is then set to that passage, numbered in the order the
  sources are listed, so the [n] in the text and the source list always match.
- it must not turn its passage's rule around: the words it shares with the passage must not
  follow a negation ("不得", "must not") on one side only. The 1.5B model wrote "物业…可以采取停止
  供电、供水…方式催交物业费" from "物业服务人不得采取停止供电、供水…方式催交物业费".
A bare verdict ("不能。", "可以[1]。", "No.") is not shown and does not end the answer: no passage
can support a yes or no by itself, and the small model gets it wrong ("不能[1]。" where the law
makes the platform jointly liable); the rule it quotes next is checked and shown instead.
A sentence that passes is shown; the first one that fails ends the answer (generation stops),
and nothing is ever taken back: if no sentence passed, the answer is the honest "not found";
if some did, a last line says the documents answered only part of the question.

Written by hand: no library checks streamed sentences against retrieved passages, and the rules
are cheap string tests, so they add no measurable time per sentence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Iterable, Iterator

from vectorstore import Hit

from .grounding import (NUMERAL_CHARS, canonical, figure_in, numeral_part, standalone, stated_numbers, text_units,
                        unified, written_numbers)

# [1], and the variants small models write when they echo the instruction: [编号1] [资料 2].
CITATION = re.compile(r"\s?\[(?:编号|资料|passage|source)?\s*(\d{1,2})\]", re.IGNORECASE)

PARTIAL = {
    "zh": "（资料只回答了这个问题的一部分；其余内容在资料中无法核实，未显示。）",
    "en": "(The documents answer only part of this question; the rest could not be checked against them "
          "and is not shown.)",
}

# A sentence in which the model says the passages lack the answer (not always in our exact words).
_REFUSAL = re.compile(
    r"(资料|文件|文档|知识库|上下文|内容)[^。！？]{0,8}(没有|未|并未|无|不包含)[^。！？]{0,4}"
    r"(提到|提及|找到|说明|给出|包含|涉及|相关|记载|规定|信息)"
    r"|没有找到与这个问题相关的内容"
    r"|\b(passages?|documents?|context|knowledge base|files?)\b[^.!?]{0,30}\b(do|does|did)\s*(not|n't)\s+"
    r"(mention|contain|say|provide|specify|include|state|cover)"
    r"|\bnot (mentioned|found|specified|provided|stated|covered) in\b"
    r"|could not find the answer",
    re.IGNORECASE)

_CJK = re.compile(r"[\u3400-\u9fff]")
_PUNCT = re.compile(r"[\s\W_]+")

# Share of a sentence's words (character bigrams in Chinese) a passage must hold to support it on
# words alone. Measured on the dev sets' answers (bench/eval_docs.py, bench/eval_answers.py): the
# 1.5B model's grounded sentences restate 0.5-1.0 of their passage's words, while sentences it
# makes up share at most a third with any passage.
MIN_OVERLAP = 0.45
# With all its figures in a passage, a sentence needs less word overlap with it.
MIN_OVERLAP_WITH_FIGURES = 0.2

# Where a sentence ends: Chinese and English end marks and line breaks. A "." ends an English
# sentence only before a space (not 3.5, not U.S.), and not after a common abbreviation.
_ENDS = "。！？!?；;\n"
_CLOSERS = "”’\"'」』）)】"
_ABBREVIATIONS = {"st", "mr", "mrs", "ms", "dr", "no", "vs", "e.g", "i.e", "u.s", "inc", "co", "ltd", "jr",
                  "sr", "p", "pp", "fig", "sec", "art", "para", "approx", "ca"}


def sentence_end(text: str, final: bool) -> int | None:
    """Index just past the first complete sentence of ``text`` (its closing quotes and [n] marks
    included), or None when it may still go on. ``final``: no more text will come."""
    i = 0
    while i < len(text):
        ch = text[i]
        is_end = ch in _ENDS
        if ch == ".":
            after = text[i + 1:i + 2]
            line = text[:i].rsplit("\n", 1)[-1].strip()
            word = re.search(r"([A-Za-z.]+)$", text[:i])
            is_end = (after == "" and final) or (after.isspace() or after == "[")
            is_end = is_end and not (word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS)
            is_end = is_end and not line.isdigit()  # "1. " opens a list item
        if is_end:
            j = i + 1
            while True:
                while j < len(text) and text[j] in _CLOSERS:
                    j += 1
                mark = CITATION.match(text, j)  # with the one space it may follow
                if not mark and text[j:j + 1] == " ":
                    mark = CITATION.match(text, j + 1)
                if mark:
                    j = mark.end()
                    continue
                break
            if j >= len(text) and not final:
                return None  # a [n] or a closing quote may still follow
            sentence = text[:j].strip()
            # A lead-in ("根据资料：", "The rules are:") is kept with what it introduces.
            if sentence and not sentence.endswith((":", "：")) and _content(sentence):
                return j
            i = j
            continue
        i += 1
    return len(text) if final and text.strip() else None


_VERDICT = re.compile(r"(不|没)?(能|可以|行|是|是的|会|要|需要|用|有|合法|违法|算|对|需|必须|应当|允许)(的)?"
                      r"|(yes|no)(it|they)?(can|cannot|cant|is|isnt|are|arent|does|doesnt|do|dont|must|may)?(not)?",
                      re.IGNORECASE)


def bare_verdict(sentence: str) -> bool:
    """Only a yes or a no: "不能。", "可以[1]。", "No."."""
    return bool(_VERDICT.fullmatch(re.sub(r"\W+", "", _content(sentence))))


def _content(sentence: str) -> str:
    return _PUNCT.sub("", CITATION.sub("", sentence))


def overlap(sentence: str, passage: str) -> float:
    mine = text_units(sentence)
    return len(mine & text_units(passage)) / len(mine) if mine else 0.0


def _words(sentence: str) -> set[str]:
    """The sentence's units that are not numbers: what it says about the figures it states."""
    return {u for u in text_units(sentence) if not any(ch.isdigit() for ch in u)}


def _language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


@dataclass
class Verdict:
    ok: bool
    passage: int | None = None  # 0-based index of the supporting passage
    missing: list[str] = field(default_factory=list)  # figures found in no passage
    refusal: bool = False  # the sentence says the passages lack the answer


class ClaimChecker:
    """Checks one sentence at a time against the numbered passages the model was given."""

    def __init__(self, question: str, hits: list[Hit]):
        self.question, self.hits = question, hits
        self._canonical = [canonical(h.text) for h in hits]
        # A figure the question states may stand in the passage's heading path instead (the
        # report and period its pages are headed with, the law and article): "2018年" in
        # "东北电气…2018 年第一季度报告全文 › 第二节 …".
        self._headed = [canonical(f"{h.heading}\n{h.text}") for h in hits]
        self._spaced = [unified(h.text) for h in hits]
        self._language = [_language(h.text) for h in hits]

    def check(self, sentence: str) -> Verdict:
        if _REFUSAL.search(sentence):
            return Verdict(ok=True, refusal=True)
        # Every figure must be in some passage, even one the question already states: "the
        # 7 year fixed rate is 5.2%" restates the question's "7 year", and is a guess when no
        # passage has a 7 year rate. Only the new figures decide which passage supports it.
        body = CITATION.sub("", sentence)
        asked = canonical(self.question)
        missing = [f for f in stated_numbers(body)
                   if not any(self._holds(f, sentence, i) or (f in asked and self._restated(f, i))
                              for i in range(len(self.hits)))]
        if missing:
            return Verdict(ok=False, missing=missing)
        figures = stated_numbers(body, self.question)
        cited = [int(m) - 1 for m in CITATION.findall(sentence) if 1 <= int(m) <= len(self.hits)]
        others = [i for i in range(len(self.hits)) if i not in cited]
        scored = [(self._support(sentence, figures, i), i) for i in cited + others]
        best = max(scored, key=lambda si: si[0], default=(0.0, None))
        # The cited passage keeps the credit when it supports the sentence at all.
        chosen = next(((s, i) for s, i in scored if i in cited and s > 0), best)
        if chosen[0] <= 0 or flips_negation(body, self.hits[chosen[1]].text):
            return Verdict(ok=False)
        return Verdict(ok=True, passage=chosen[1])

    def _support(self, sentence: str, figures: list[str], i: int) -> float:
        """> 0 when passage i supports the sentence (higher is better), else 0."""
        if _language(sentence) != self._language[i]:
            # A translated answer shares no words with its passage: only its numbers can show it
            # ("157人死亡" from "157 people were killed", "nine tones" from "九个声调").
            numbers = written_numbers(CITATION.sub("", sentence))
            if len(_words(sentence)) < 2:  # a bare "1" is no sentence to check
                return 0.0
            return 1.0 if numbers and all(_number_in(n, self._canonical[i]) for n in numbers) else 0.0
        if figures and _FULL_YEAR.search(sentence) and self._part_year_only(i):
            return 0.0
        holds_figures = bool(figures) and all(self._holds(f, sentence, i) for f in figures)
        if holds_figures and not self._figures_in_context(sentence, figures, i):
            return 0.0
        share = overlap(sentence, self.hits[i].text)
        if holds_figures and share >= MIN_OVERLAP_WITH_FIGURES:
            return 1.0 + share
        return share if share >= MIN_OVERLAP else 0.0

    def _part_year_only(self, i: int) -> bool:
        """Passage i (its heading path and table captions included) speaks of part of a year (a
        quarter, a half) and nowhere of a whole one: its figures are no full-year figures
        ("东北电气2019年全年的净利润是…" from a first-quarter report; "Nespresso's sales for the
        full year 2023" from a January–June table)."""
        text = f"{self.hits[i].heading}\n{self.hits[i].text}"
        return bool(_PART_YEAR.search(text)) and not _FULL_YEAR.search(text)

    def _restated(self, figure: str, i: int) -> bool:
        """A figure the question itself states, repeated in the answer, is found when its number
        stands in the passage in another wording (the question's 一年 in 一个纳税年度内)."""
        number = numeral_part(figure)
        return bool(number) and (_number_in(number, self._headed[i]) or figure_in(figure, self._headed[i]))

    def _holds(self, figure: str, sentence: str, i: int) -> bool:
        """Passage i (its heading path included: the report's period, the law's article) holds
        the figure; across languages its number is enough (人 / people)."""
        if figure_in(figure, self._canonical[i], self._spaced[i]) or (
                self.hits[i].heading and figure_in(figure, self._headed[i])):
            return True
        number = numeral_part(figure)
        return _language(sentence) != self._language[i] and bool(number) and number in self._canonical[i]

    def _figures_in_context(self, sentence: str, figures: list[str], i: int) -> bool:
        """Each figure stands in a line (a table row, a sentence) of the passage that names what
        the answer's sentence is about:
        - the line shares a word with the sentence ("Finland's area is 42,951 km²" is not
          supported by the row "Denmark 5.8 42,951 Copenhagen");
        - no other row holding a figure of the same kind shares clearly more of the sentence's
          words ("the AOA sensor test costs $7,650" is not supported by the stall-warning row's
          $7,650 when the AOA row says $3,400).
        A figure read from the wrong row of a table is the 1.5B model's most common error.
        A year the sentence names counts as one of its words here: it tells this year's table
        from last year's ("Nespresso's 2023 sales were 3190" is the 2022 row's figure)."""
        words = _words(sentence) | {u for u in text_units(CITATION.sub("", sentence)) if _YEAR.match(u)}
        if not words:
            return True  # nothing but the figure to place ("六百元。")
        lines = [line for line in _LINES.split(self.hits[i].text) if line.strip()]
        shared = [len(words & text_units(line)) for line in lines]
        rows: dict[int, set[str]] = {}  # line -> kinds of its figures, when it holds two or more

        def row_kinds(j: int) -> set[str]:
            if j not in rows:
                found = stated_numbers(lines[j])
                # A table row: two figures or more, or a record of named cells ("Team: Maple
                # Leafs; Stanley Cups: 13", as spreadsheets and CSV files are loaded) with one.
                record = _RECORD.search(lines[j]) is not None
                is_row = len(found) >= 2 or (len(found) == 1 and record)
                rows[j] = {_kind(f) for f in found} if is_row else set()
                if record and re.search(r"\d", lines[j]):
                    rows[j].add("any")  # its cells' bare figures take their unit from the caption
            return rows[j]

        named = [words & text_units(line) for line in lines]
        for figure in figures:
            holding = [j for j, line in enumerate(lines) if figure_in(figure, canonical(line))]
            if not holding and numeral_part(figure):
                # The unit may stand in the table's caption ("In millions of CHF"), not the row.
                holding = [j for j, line in enumerate(lines) if _number_in(numeral_part(figure), canonical(line))]
            if not holding:
                continue
            here = max(shared[j] for j in holding)
            if here == 0:
                return False
            kind = _kind(figure)
            rivals = [j for j in range(len(lines)) if j not in holding and shared[j] > here
                      and (kind in row_kinds(j) or "any" in row_kinds(j))]
            rival = max((shared[j] for j in rivals), default=0)
            if rival >= 2 * here and rival - here >= RIVAL_MARGIN:
                return False
            # Another row names everything the figure's row names of the sentence, and more:
            # "PetCare sold CHF 1,706 million" read from the Water row, whose "CHF million" the
            # PetCare row also has.
            best = max(holding, key=lambda j: shared[j])
            if any(named[best] < named[j] for j in rivals):
                return False
        return True


_NEGATED_ZH = re.compile(r"(不得|不能|不可|不准|不应|不必|不需|不用|不会|不是|无权|无须|无需|禁止|严禁|没有|未|不|非)$")
_NEGATED_EN = {"not", "no", "never", "cannot", "can't", "mustn't", "don't", "doesn't", "isn't", "aren't", "won't",
               "shouldn't", "nor", "without", "prohibited", "forbidden"}
MIN_SHARED_ZH, MIN_SHARED_EN = 4, 3  # characters, words: a stretch long enough to be the same clause


def flips_negation(sentence: str, passage: str) -> bool:
    """Whether the sentence repeats a stretch of the passage with a negation in front of it on
    one side only ("可以采取停止供电…" from "不得采取停止供电…"; "may disclose the data" from "may
    not disclose the data"). Written by hand: a string test on the shared stretches, no model."""
    if _language(sentence) == "zh":
        a, b, size, before = sentence, passage, MIN_SHARED_ZH, lambda text, i: text[max(0, i - 3):i]
        negated = lambda prefix: bool(_NEGATED_ZH.search(prefix))
    else:
        a, b = re.findall(r"[a-z0-9']+|[.,;:!?]", sentence.lower()), re.findall(r"[a-z0-9']+|[.,;:!?]", passage.lower())
        size = MIN_SHARED_EN

        def before(words: list[str], i: int) -> list[str]:
            """The two words before the stretch, within its clause: "No, the controller may not…" is no flip."""
            prefix = words[max(0, i - 2):i]
            cut = max((k + 1 for k, w in enumerate(prefix) if w in ",."), default=0)
            return prefix[cut:]
        negated = lambda prefix: bool(set(prefix) & _NEGATED_EN)
    for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        if block.size >= size and negated(before(a, block.a)) != negated(before(b, block.b)):
            return True
    return False


_COUNTED = "个种名人年月日天次项位家条件只张台辆岁倍周%"


def _number_in(number: str, canonical_text: str) -> bool:
    """The number stands in the text as a number of its own: not inside a longer one (the 一 of
    一百), nor as an ordinal (the 一 of 第一季度, which would "support" "won 1 Stanley Cup"). A
    single Chinese digit must count something (九个声调): 一 alone is also a word (一致, 统一)."""
    after = rf"(?=[{_COUNTED}])" if len(number) == 1 and number in NUMERAL_CHARS else ""
    return re.search(standalone(number, after=after, not_after="第"), canonical_text) is not None


def _kind(figure: str) -> str:
    """What a canonical figure measures, as far as its form tells: money, a percentage, a number
    with a unit (its unit), or a bare number."""
    if figure[:1] in "$¥€£" or figure.endswith("元"):
        return "money"
    if figure.endswith("%"):
        return "percent"
    unit = figure[len(numeral_part(figure)):]
    return f"unit:{unit}" if unit else "number"


_YEAR = re.compile(r"^(19|20)\d\d$")
# A sentence about a whole year, and passages about part of one (quarters, halves, months).
_FULL_YEAR = re.compile(r"全年|整年|全年度|\bfull[- ]year\b|\bwhole year\b|\bfor the year\b|\bannual (?:sales|revenue|profit|results?)\b",
                        re.IGNORECASE)
_PART_YEAR = re.compile(
    r"[一二三四1-4１-４]季度|季报|半年|前三季度|\d{1,2}\s*[-–~至]\s*\d{1,2}\s*月|"
    r"\bQ[1-4]\b|\b(?:first|second|third|fourth) quarter\b|\bquarterly\b|\b(?:first|second) half\b|\bhalf[- ]year|"
    r"\b(?:three|six|nine) months\b|\bJanuary\s*[–-]\s*(?:March|June|September)\b|\bH[12]\b",
    re.IGNORECASE)
_RECORD = re.compile(r"[^;:\n]+: [^;\n]+; [^;:\n]+: ")  # two named cells: "Team: Blues; Location: STL"
RIVAL_MARGIN = 2  # words (Chinese: character pairs) another row must name beyond the figure's own


_LINES = re.compile(r"\n|(?<=。)")  # table rows are lines; "; " separates a row's cells


@dataclass
class CheckResult:
    text: str = ""
    sources: list[Hit] = field(default_factory=list)
    refused: bool = False
    partial: bool = False
    missing: list[str] = field(default_factory=list)  # figures of the sentence that ended it
    dropped: str = ""  # the sentence that failed (logged, never shown)


class CheckedStream:
    """Turns the model's pieces into checked sentences; see the module docstring."""

    def __init__(self, question: str, hits: list[Hit], lang: str, first_names_question: int = 0):
        """``first_names_question``: the first sentence shown must also share that many units
        (chains.grounding.text_units) with the question, else it ends the answer."""
        self.checker, self.hits, self.lang = ClaimChecker(question, hits), hits, lang
        self.first_names_question = first_names_question
        self.result = CheckResult()
        self._numbers: dict[int, int] = {}  # passage index -> number shown in the text

    def run(self, pieces: Iterable[str]) -> Iterator[str]:
        """Yields the text to show, sentence by sentence ("" for a token that completes none).
        Stops reading ``pieces`` (so the model stops generating) at the first failed sentence."""
        buffer = ""
        for piece in pieces:
            buffer += piece
            shown_any = False
            while (end := sentence_end(buffer, final=False)) is not None:
                sentence, buffer = buffer[:end], buffer[end:]
                shown = self._take(sentence)
                if shown is None:
                    return
                if shown:
                    shown_any = True
                    yield shown
            if not shown_any:
                yield ""  # nothing to show yet, but the caller gets control (e.g. to stop) per token
        while buffer.strip() and (end := sentence_end(buffer, final=True)) is not None:
            sentence, buffer = buffer[:end], buffer[end:]
            shown = self._take(sentence)
            if shown is None:
                return
            if shown:
                yield shown

    def finish(self) -> Iterator[str]:
        """The closing words, if any: the partial-answer note (after the text shown)."""
        if self.result.partial:
            note = ("\n\n" if self.result.text else "") + PARTIAL[self.lang]
            self.result.text += note
            yield note

    def _take(self, sentence: str) -> str | None:
        """The sentence as shown ("" to show nothing), or None to end the answer."""
        result = self.result
        if not _content(sentence) or bare_verdict(sentence):
            return ""
        verdict = self.checker.check(sentence)
        if verdict.refusal:
            # What follows a "not in the documents" is guesswork; after a checked sentence it
            # means the documents answer only part of the question.
            result.refused, result.partial = not result.text, bool(result.text)
            return None
        if verdict.ok and not result.text and self.first_names_question and \
                len(text_units(sentence) & text_units(self.checker.question)) < self.first_names_question:
            verdict = Verdict(ok=False)  # true to its passage, but about something else
        if not verdict.ok:
            result.missing, result.dropped = verdict.missing, sentence.strip()
            result.partial = bool(result.text)
            return None
        # The sentence keeps the space or line break that led into it, except at the very start.
        shown = self._renumber(sentence, verdict.passage).rstrip()
        shown = shown.lstrip() if not result.text else shown
        result.text += shown
        return shown

    def _renumber(self, sentence: str, passage: int) -> str:
        """The sentence with one [n] for its supporting passage, n its place in the source list."""
        if passage not in self._numbers:
            self._numbers[passage] = len(self._numbers) + 1
            self.result.sources.append(self.hits[passage])
        mark = f"[{self._numbers[passage]}]"
        body = CITATION.sub("", sentence).rstrip()
        if not body.strip():
            return body
        # Before the end mark, as the prompt's example writes it: 每晚不超过六百元[1]。
        tail = re.search(r"[。！？!?.;；”’\"'」』）)】]*$", body)
        cut = tail.start() if tail else len(body)
        return body[:cut] + (" " if self.lang == "en" else "") + mark + body[cut:]
