"""Retrieve, then answer from the retrieved passages only, citing them as [n].

The single-question core. ``ChatSession`` (chains/chat_session.py) puts a conversation around
it: it rewrites a follow-up into a standalone question, then calls ``stream`` with that
question and the query retrieval should use.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Iterator

from langchain_core.language_models.llms import LLM

from vectorstore import Hit, KnowledgeBase
from vectorstore.retrievers import HybridRetriever

from .grounding import passages_holding, unsupported_numbers
from .language import question_language
from .prompts import NOT_FOUND, grounded_prompt

log = logging.getLogger(__name__)

# [1], and the variants small models write when they echo the instruction: [编号1] [资料 2].
_CITATION = re.compile(r"\[(?:编号|资料|passage|source)?\s*(\d{1,2})\]", re.IGNORECASE)


@dataclass
class Answer:
    question: str
    text: str = ""
    sources: list[Hit] = field(default_factory=list)
    refused: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None  # set when a follow-up was answered in a conversation
    faq: bool = False  # answered verbatim from a FAQ list's paired answer (chains/faq.py)
    # The model's answer stated these figures, found in none of its passages (chains/grounding.py):
    # it was withdrawn and replaced by the "not found" reply.
    withdrawn: list[str] = field(default_factory=list)
    # The model's answer neither cited a passage nor matched one (answers like "是" or "1", or a
    # law quoted from memory): it was withdrawn too, since it cannot show where it came from.
    unsupported: bool = False

    def to_json(self) -> dict:
        out = {
            "answer": self.text,
            "sources": [{"source": h.source, "page": h.page, "text": h.text} for h in self.sources],
            "refused": self.refused,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if self.standalone_question is not None:
            out["standalone_question"] = self.standalone_question
        if self.faq:
            out["faq"] = True
        if self.withdrawn:
            out["withdrawn_figures"] = self.withdrawn
        if self.unsupported:
            out["withdrawn_unsupported"] = True
        return out

    @property
    def replaced(self) -> bool:
        """The streamed text was withdrawn and replaced by the "not found" reply in ``text``."""
        return bool(self.withdrawn) or self.unsupported

    def withdraw(self, lang: str, figures: list[str] | None = None) -> None:
        """Replaces the model's answer by the honest "not found": for ``figures`` no passage holds,
        or (none given) because no passage supports it at all."""
        self.withdrawn, self.unsupported = figures or [], not figures
        self.text, self.refused, self.sources = NOT_FOUND[lang], True, []


def cited_sources(text: str, hits: list[Hit]) -> list[Hit]:
    """The passages the answer actually cites, in order of first citation; numbers that point
    to no passage are ignored."""
    seen: list[int] = []
    for match in _CITATION.finditer(text):
        n = int(match.group(1))
        if 1 <= n <= len(hits) and n not in seen:
            seen.append(n)
    return [hits[n - 1] for n in seen]


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", text.lower())
    return {text[i:i + 2] for i in range(len(text) - 1)}


def supporting_sources(text: str, hits: list[Hit], min_overlap: float = 0.5) -> list[Hit]:
    """For an answer that cites nothing (small models often drop the [n] marks): the passages
    that contain most of the answer's character bigrams, best first. Bigrams, not words,
    because Chinese has no spaces and the answer often restates a number ("600元")."""
    answer = _bigrams(_CITATION.sub("", text))
    if not answer:
        return []
    scored = [(len(answer & _bigrams(h.text)) / len(answer), h) for h in hits]
    best = max(score for score, _ in scored)
    return [h for score, h in sorted(scored, key=lambda sh: -sh[0])
            if score >= min_overlap and score >= best - 0.1][:2]


def credited_sources(text: str, question: str, hits: list[Hit]) -> list[Hit]:
    """The passages an answer is shown with: those its [n] cite, unless the figure it states is
    in another passage (then that one), else those that hold most of its words; [] if none."""
    cited = cited_sources(text, hits)
    holding = passages_holding(text, question, hits)
    if holding and not any(h in holding for h in cited):
        cited = holding[:2]  # the [n] points at a passage without the figure: show the one with it
    return cited or supporting_sources(text, hits)


class GroundedAnswerer:
    def __init__(self, kb: KnowledgeBase, llm: LLM, k: int = 5, expand: int = 0, reranker=None):
        self.kb, self.llm, self.k = kb, llm, k
        # Hybrid (dense + keyword) with a relevance floor: an off-topic question retrieves
        # nothing, and then the answer is an honest "not found" without asking the model.
        # ``reranker`` (vectorstore.rerank, off by default) reorders the fused candidates.
        self.retriever = HybridRetriever(kb=kb, k=k, expand=expand, reranker=reranker)

    def stream(self, question: str, answer: Answer | None = None, *, query: str | None = None,
               lang: str | None = None, history: list[tuple[str, str]] | None = None) -> Iterator[str]:
        """Yields answer text as it is generated; fills ``answer`` (text, sources, refused).

        ``question`` is what the model answers; ``query`` (default: the question) is what
        retrieval searches with; ``lang`` (default: the question's) is the reply's language;
        ``history`` (earlier question/answer pairs) is shown to the model when given."""
        answer = answer if answer is not None else Answer(question)
        lang = lang or question_language(question)
        start = time.perf_counter()
        hits = self.retriever.retrieve_hits(query or question)
        answer.timings["retrieve_s"] = time.perf_counter() - start
        if not hits:
            answer.text, answer.refused = NOT_FOUND[lang], True
            yield answer.text
            return
        prompt = grounded_prompt(question, hits, lang, history)
        pieces = []
        first = None
        for piece in self.llm.stream(prompt):
            if first is None:
                first = time.perf_counter() - start
            pieces.append(piece)
            yield piece
        answer.timings["first_token_s"] = first or 0.0
        answer.timings["total_s"] = time.perf_counter() - start
        answer.text = "".join(pieces).strip()
        answer.refused = NOT_FOUND[lang].rstrip("。.") in answer.text
        if answer.refused:
            return
        unsupported = unsupported_numbers(answer.text, question, hits)
        if unsupported:  # a figure from the model's memory, not the documents: say so instead
            log.info("answer withdrawn: %s found in no passage", ", ".join(unsupported))
            answer.withdraw(lang, unsupported)
            return
        answer.sources = credited_sources(answer.text, question, hits)
        if not answer.sources:
            # Measured (bench/load_bench.py, 0.5B, 100 answers): 19 answered without any source,
            # e.g. "是", "1", or an article the passages do not hold; none had the key fact in
            # bench/eval_answers.py. An answer that cannot show its passage gets the honest reply.
            log.info("answer withdrawn: no passage supports %r", answer.text[:80])
            answer.withdraw(lang)

    def ask(self, question: str) -> Answer:
        answer = Answer(question)
        for _ in self.stream(question, answer):
            pass
        return answer
