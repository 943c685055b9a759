"""Sentence splitting for Chinese and English text.

`sentencex` does the real work (English abbreviations such as Mr. / e.g. / U.S., decimal
numbers, Chinese 。！？, a closing quote kept with its sentence). On top of it we fix by hand
what it misses (each rule below says why), and we work with *spans* (start, end) into the
original text rather than copied strings, so callers can prove no text is lost: the spans are
in order, never overlap, and everything between them is whitespace.
"""
from __future__ import annotations

import re

import sentencex

Span = tuple[int, int]

# Any CJK ideograph or full-width punctuation: such a line is segmented with the Chinese rules
# (which still handle embedded English), otherwise with the English ones.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")

# sentencex does not end a sentence at ； or at an ellipsis (… / ……), which the Chinese
# convention (and our chunk sizes) treat as sentence ends. A run of end marks is one boundary.
_CLAUSE_END = re.compile(r"[；…]+[。！？!?]*")

# Closing quotes/brackets that belong to the sentence before them. sentencex keeps ” and 」
# but leaves e.g. 』 after ！ as a sentence of its own; ASCII quotes are ambiguous
# (opening or closing), so they are left to sentencex, which handles them.
_CLOSERS = "”’」』）)]】》〉"
_OPENERS = "“‘「『（([【《〈"

# Abbreviations after which sentencex still ends a sentence (checked by hand; it already
# handles e.g. i.e. U.S. Jan. Sec. No. Fig. and numbers like 3.5).
_ABBREVIATIONS = ("mr.", "mrs.", "ms.", "dr.", "prof.", "approx.", "ca.", "cf.", "resp.", "incl.", "ref.", "vol.", "pp.")

# Where a too-long sentence is best cut: after a Chinese/English comma, enumeration comma,
# colon or semicolon, else at whitespace. A cut point earlier than half the limit is not worth
# it; then the sentence is cut hard at the limit.
_SOFT_BREAKS = "，、,：:；;"


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped, in order."""
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[Span]:
    """(start, end) of each sentence in `text`.

    Newlines are hard boundaries: headings, list items and table-like lines are never glued
    to the sentence before or after them.
    """
    spans: list[Span] = []
    for line_start, line_end in _line_spans(text):
        line = text[line_start:line_end]
        pieces = _pieces_from_cuts(line, _cut_points(line))
        for n, (start, end) in enumerate(pieces):
            # "2." of "2. Passwords. …" is a list number, not a sentence: it opens the next one
            # (a chunk must not end with the number of the item the next chunk holds).
            if spans and spans[-1][0] >= line_start and _LIST_NUMBER.match(text[spans[-1][0]:spans[-1][1]]):
                spans[-1] = (spans[-1][0], line_start + end)
                continue
            spans.append((line_start + start, line_start + end))
    return spans


_LIST_NUMBER = re.compile(r"^\s*(\d+(\.\d+)*[.、)）]?|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、)\s*$")


def cut_long_span(text: str, span: Span, max_chars: int) -> list[Span]:
    """Cut one sentence span into pieces of at most `max_chars` characters.

    Prefers cutting after ，、,：; or at a space in the second half of each window, so a
    piece rarely ends mid-word or mid-phrase.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    start, end = span
    pieces: list[Span] = []
    while True:
        start, end = _strip(text, start, end)
        if end - start <= max_chars:
            if end > start:
                pieces.append((start, end))
            return pieces
        cut = _best_cut(text, start, start + max_chars)
        piece = _strip(text, start, cut)
        if piece[1] > piece[0]:
            pieces.append(piece)
        start = cut


def _best_cut(text: str, start: int, limit: int) -> int:
    """Index in (start, limit] to cut at; text[start:cut] is at most limit - start long."""
    earliest = start + (limit - start) // 2
    for i in range(limit - 1, earliest - 1, -1):
        if text[i] in _SOFT_BREAKS:
            return i + 1
        if text[i].isspace():
            return i
    return limit


def _line_spans(text: str) -> list[Span]:
    spans, start = [], 0
    for match in re.finditer(r"\r\n|[\n\r\u2028\u2029\x0b\x0c\x85]", text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def _cut_points(line: str) -> list[int]:
    if not line.strip():
        return []
    language = "zh" if _CJK.search(line) else "en"
    # Only sentencex's end indices are used, as cut points: whatever it returns, the pieces
    # between cuts cover the whole line, so no character can be dropped.
    cuts = {b["end_index"] for b in sentencex.get_sentence_boundaries(language, line)}
    cuts |= _clause_end_cuts(line)
    cuts = {_past_closers(line, cut) for cut in cuts}
    cuts = {cut for cut in cuts if not _ends_with_abbreviation(line, cut)}
    return sorted(cut for cut in cuts if 0 < cut < len(line))


def _clause_end_cuts(line: str) -> set[int]:
    """Cuts after ；/… runs, except inside quotes or brackets (a quoted list stays whole)."""
    cuts, depth, last = set(), 0, 0
    for match in _CLAUSE_END.finditer(line):
        depth += _bracket_balance(line[last:match.start()])
        last = match.start()
        if depth <= 0:
            cuts.add(match.end())
    return cuts


def _bracket_balance(fragment: str) -> int:
    return sum(fragment.count(c) for c in _OPENERS) - sum(fragment.count(c) for c in _CLOSERS)


def _past_closers(line: str, cut: int) -> int:
    """Move a cut that sits right before closing quotes/brackets to after them."""
    while cut < len(line) and line[cut] in _CLOSERS and cut > 0 and not line[cut - 1].isspace():
        cut += 1
    return cut


def _ends_with_abbreviation(line: str, cut: int) -> bool:
    before = line[:cut].rstrip().lower()
    return any(
        before.endswith(abbr) and (len(before) == len(abbr) or not before[-len(abbr) - 1].isalpha())
        for abbr in _ABBREVIATIONS
    )


def _pieces_from_cuts(line: str, cuts: list[int]) -> list[Span]:
    bounds = [0, *cuts, len(line)]
    pieces = [_strip(line, a, b) for a, b in zip(bounds, bounds[1:])]
    return [(a, b) for a, b in pieces if b > a]


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
