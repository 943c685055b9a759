"""Retrieve, then answer from the retrieved passages only, citing them as [n].

The single-question core. ``ChatSession`` (chains/chat_session.py) puts a conversation around
it: it rewrites a follow-up into a standalone question, then calls ``stream`` with that
question and the query retrieval should use.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from langchain_core.language_models.llms import LLM

from vectorstore import Hit, KnowledgeBase
from vectorstore.retrievers import HybridRetriever

from .claim_check import CheckedStream
from .language import question_language
from .passage_guess import PassageGuesser
from .prompts import NOT_FOUND, grounded_prompt, is_yes_no
from .query_translation import QueryTranslator

log = logging.getLogger(__name__)

# Characters of each passage the model reads (chains/prompts.py focus); None: whole passages.
# 300 leaves 90% of statute articles whole (median 86 characters) and cuts a table chunk to the
# rows the question names; measured with bench/eval_docs.py and bench/eval_answers.py.
PASSAGE_CHARS: int | None = 300


# Units (character bigrams, words) the first sentence of a second, rule-asking try must share
# with the question. On the law dev set the right rules shared 2-3, the off-topic ones 0.
RULE_NAMES_QUESTION = 2


@dataclass
class Answer:
    question: str
    text: str = ""
    sources: list[Hit] = field(default_factory=list)
    refused: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None  # set when a follow-up was answered in a conversation
    faq: bool = False  # answered verbatim from a FAQ list's paired answer (chains/faq.py)
    # Never shown: the model's first sentence stated these figures, found in none of its passages
    # (chains/grounding.py), so the answer is the "not found" reply.
    withdrawn: list[str] = field(default_factory=list)
    # Never shown: the model's first sentence had no passage to support it (answers like "是" or
    # "1", or a law quoted from memory), so the answer is the "not found" reply too.
    unsupported: bool = False
    partial: bool = False  # some sentences were shown, a later one failed its check
    stopped: bool = False  # the user stopped it; ``text`` is what was shown until then
    evidence: list[Hit] = field(default_factory=list)  # the passages the model was given
    dropped: str = ""  # the model's sentence the check stopped at (logged, never shown)

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
        if self.partial:
            out["partial"] = True
        if self.stopped:
            out["stopped"] = True
        out["evidence"] = [{"source": h.source, "page": h.page} for h in self.evidence]
        return out


class GroundedAnswerer:
    def __init__(self, kb: KnowledgeBase, llm: LLM, k: int = 5, expand: int = 0, reranker=None,
                 passage_chars: int | None = PASSAGE_CHARS, translate: bool = True, guess: bool = True):
        self.kb, self.llm, self.k, self.passage_chars = kb, llm, k, passage_chars
        # A question in one language about documents in another is searched in both
        # (chains/query_translation.py).
        self.translator = QueryTranslator(llm) if translate and llm is not None else None
        # A weak search is repeated in the documents' own wording (chains/passage_guess.py).
        self.guesser = PassageGuesser(llm) if guess and llm is not None else None
        # Hybrid (dense + keyword) with a relevance floor: an off-topic question retrieves
        # nothing, and then the answer is an honest "not found" without asking the model.
        # ``reranker`` (vectorstore.rerank, off by default) reorders the fused candidates.
        self.retriever = HybridRetriever(kb=kb, k=k, expand=expand, reranker=reranker)

    def stream(self, question: str, answer: Answer | None = None, *, query: str | None = None,
               lang: str | None = None, history: list[tuple[str, str]] | None = None,
               on_evidence: Callable[[list[Hit]], None] | None = None,
               cancel: threading.Event | None = None) -> Iterator[str]:
        """Yields the answer's text as it may be shown: checked sentence by sentence
        (chains/claim_check.py), so nothing yielded is ever taken back. Fills ``answer``.

        ``question`` is what the model answers; ``query`` (default: the question) is what
        retrieval searches with; ``lang`` (default: the question's) is the reply's language;
        ``history`` (earlier question/answer pairs) is shown to the model when given;
        ``on_evidence(hits)`` is called with the passages as soon as they are found, before the
        model starts, so a page can show them at once. ``cancel``, once set, ends the model's
        generation at once where the model can be interrupted (llm.gguf, even in its prefill)."""
        answer = answer if answer is not None else Answer(question)
        lang = lang or question_language(question)
        start = time.perf_counter()
        hits = self.find(query or question, answer, lang)
        answer.evidence = hits
        # When the page (or `docchat ask --json`) can show the passages: before the model starts.
        answer.timings["evidence_s"] = time.perf_counter() - start
        if on_evidence is not None:
            on_evidence(hits)
        if not hits:
            answer.text, answer.refused = NOT_FOUND[lang], True
            yield answer.text
            return
        checked = yield from self._attempt(question, hits, lang, history, cancel, answer, start)
        if (not checked.result.text and not checked.result.dropped and is_yes_no(question, lang)
                and not (cancel is not None and cancel.is_set())):
            # The model's own "not found" (or a bare 不能) to a yes/no question: asked once more
            # for the rule that decides it. Nothing was shown, so nothing is taken back; the
            # prompt differs only after the question, so the model rereads only those words.
            answer.timings["rule_retry_s"] = time.perf_counter() - start
            checked = yield from self._attempt(question, hits, lang, history, cancel, answer, start,
                                               ask_for_rule=True)
        answer.timings["total_s"] = time.perf_counter() - start
        result = checked.result
        answer.dropped = result.dropped
        if result.dropped:
            log.info("sentence not shown (%s): %r", ", ".join(result.missing) or "no passage supports it",
                     result.dropped[:80])
        if not result.text:
            # Nothing passed: the honest reply. ``withdrawn``/``unsupported`` say why (never shown).
            answer.text, answer.refused = NOT_FOUND[lang], True
            answer.withdrawn = result.missing
            answer.unsupported = bool(result.dropped) and not result.missing
            yield answer.text
            return
        yield from checked.finish()
        answer.text, answer.sources, answer.partial = result.text, result.sources, result.partial

    def _attempt(self, question: str, hits: list[Hit], lang: str, history, cancel, answer: Answer, start: float,
                 ask_for_rule: bool = False):
        """Streams one model answer through the claim check; yields what may be shown and
        returns the ``CheckedStream``."""
        # Asked for "the rule that decides it", the model also quoted rules about something else
        # (a gym card question answered with the ID card law): the rule must name the question.
        checked = CheckedStream(question, hits, lang, first_names_question=RULE_NAMES_QUESTION if ask_for_rule else 0)
        interruptible = cancel is not None and getattr(self.llm, "supports_cancel", False)
        generated = self.llm.stream(grounded_prompt(question, hits, lang, history, self.passage_chars, ask_for_rule),
                                    **({"cancel": cancel} if interruptible else {}))

        def timed() -> Iterator[str]:
            for piece in generated:
                answer.timings.setdefault("first_token_s", time.perf_counter() - start)
                yield piece

        try:
            for shown in checked.run(timed()):
                if shown:
                    answer.timings.setdefault("first_shown_s", time.perf_counter() - start)
                yield shown
        finally:
            generated.close()  # a failed sentence stops the model (and frees it for the next)
        return checked

    def find(self, query: str, answer: Answer | None = None, lang: str | None = None) -> list[Hit]:
        """The passages to answer from: the search, then, when needed, a second search fused in
        (the query translated into the passages' language, or else, when the first search was
        weak, in the documents' wording). Timings go to ``answer``."""
        answer = answer if answer is not None else Answer(query)
        start = time.perf_counter()
        # Twice as deep as shown: a passage both searches rank 6th-10th can beat one that only
        # one of them ranks first, once they are fused.
        found = self.retriever.retrieve(query, 2 * self.k)
        answer.timings["retrieve_s"] = time.perf_counter() - start
        hits = found.hits[: self.k]
        target = self.translator.needed(query, hits) if self.translator is not None else None
        if target is not None:  # a question in one language about documents in another
            translation = self.translator.translate(query, target)
            return self._fused(found.hits, translation.text, answer, "translate_s", translation.seconds)
        if found.weak and self.guesser is not None:  # everyday words, formal documents
            guess = self.guesser.guess(query, lang or question_language(query))
            return self._fused(found.hits, guess.text, answer, "guess_s", guess.seconds)
        return hits

    def _fused(self, hits: list[Hit], wording: str | None, answer: Answer, timing: str, seconds: float) -> list[Hit]:
        """The best k of ``hits`` fused with those found for another ``wording`` of the query
        (None: no usable one, the hits alone)."""
        answer.timings[timing] = seconds
        if wording is None:
            return hits[: self.k]
        log.info("searched also as %r", wording)
        return self.retriever.fuse_with(hits, wording, self.k)

    def ask(self, question: str) -> Answer:
        answer = Answer(question)
        for _ in self.stream(question, answer):
            pass
        return answer
