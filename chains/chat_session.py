"""One conversation with the documents: the single code path of the web page, the CLI and the
load benchmark.

A question goes: wait its turn (the model is shared) -> rewrite it from the history into a
standalone question -> retrieve with that -> stream the grounded answer -> remember and persist
the turn. History is bounded by a token budget (``ConversationMemory``).
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import closing
from typing import Callable, Iterator

from langchain_core.language_models.llms import LLM

from vectorstore import KnowledgeBase

from .answer_queue import AnswerQueue
from .conversations import ConversationStore
from .faq import matcher_for
from .followup import is_follow_up
from .grounded_answer import PASSAGE_CHARS, Answer, GroundedAnswerer
from .language import question_language
from .memory import ConversationMemory, token_counter
from .rewrite import QuestionRewriter

log = logging.getLogger(__name__)

HISTORY_BUDGET_TOKENS = 600  # for the rewrite prompt: a few turns, not the whole chat
ANSWER_HISTORY_TOKENS = 200  # for the answer prompt, only when the rewrite was not usable


class ChatSession:
    def __init__(self, kb: KnowledgeBase, llm: LLM, *, store: ConversationStore | None = None,
                 conversation_id: str | None = None, queue: AnswerQueue | None = None, k: int = 5,
                 expand: int = 0, history_budget_tokens: int = HISTORY_BUDGET_TOKENS,
                 history: list[tuple[str, str]] | None = None, owner: str | None = None,
                 faq: bool = True, reranker=None, passage_chars: int | None = PASSAGE_CHARS,
                 guess: bool = True):
        """``conversation_id`` resumes a stored conversation (ConversationNotFound if unknown);
        without one, a new conversation is stored at the first answered question. ``history``
        seeds the memory without a store (``docchat ask --history``)."""
        self.kb, self.llm, self.store, self.queue, self.owner = kb, llm, store, queue, owner
        self.faq = faq  # answer FAQ-list questions from their paired answer (chains/faq.py)
        # ``guess``: a weak search is repeated in the documents' wording (chains/passage_guess.py).
        self.answerer = GroundedAnswerer(kb, llm, k=k, expand=expand, reranker=reranker, passage_chars=passage_chars,
                                         guess=guess)
        self.rewriter = QuestionRewriter(llm)
        self.memory = ConversationMemory(history_budget_tokens, token_counter(llm))
        self.conversation_id = conversation_id
        if store is not None and conversation_id is not None:
            for turn in store.get(conversation_id).turns:
                if not turn.error:  # a failed turn has no answer worth remembering
                    self.memory.add(turn.question, turn.answer)
        for question, answer_text in history or []:
            self.memory.add(question, answer_text)

    @property
    def history(self) -> list[tuple[str, str]]:
        return list(self.memory.turns)

    def ask(self, question: str) -> Answer:
        answer = Answer(question)
        for _ in self.stream(question, answer):
            pass
        return answer

    def stream(self, question: str, answer: Answer | None = None,
               on_wait: Callable[[int], None] | None = None,
               on_evidence: Callable[[list], None] | None = None,
               cancel: threading.Event | None = None) -> Iterator[str]:
        """Yields the answer's text pieces (each checked before it is yielded) and fills
        ``answer``. ``on_wait(n)`` is called about once a second while n questions are ahead in
        the queue, and with 0 when its turn came; ``on_evidence(hits)`` with the passages the
        answer will be built from, as soon as they are found. Setting ``cancel`` (from any
        thread) stops the answer at its next token: it ends as a stopped turn."""
        answer = answer if answer is not None else Answer(question)
        ticket = self.queue.join() if self.queue is not None else None
        shown = ""
        cancelled = (cancel or threading.Event()).is_set
        try:
            start = time.perf_counter()
            if ticket is not None:
                while (ahead := self.queue.wait(ticket, timeout=1.0)) > 0 and not cancelled():
                    if on_wait:
                        on_wait(ahead)
            answer.timings["queue_wait_s"] = time.perf_counter() - start
            if not cancelled():
                if on_wait:
                    on_wait(0)
                # closing(): a stop ends the model's generator (and so the model) at once.
                with closing(self._answer(question, answer, on_evidence, cancel)) as pieces:
                    for piece in pieces:
                        if cancelled():
                            break
                        shown += piece
                        yield piece
                    else:
                        cancelled = lambda: False  # noqa: E731 - finished: a late stop changes nothing
        except Exception:
            self._persist(question, answer, error=True)
            raise
        except BaseException:
            # Stopped: the consumer closed the stream (GeneratorExit), or the page interrupted its
            # own run (Streamlit's rerun on a click or a new question). The model stops at once
            # (the closed generators end it) and the queue moves on; the question and what was
            # shown of its answer are kept, marked stopped, so nothing the user asked is lost.
            self._stopped(question, answer, shown)
            raise
        finally:
            if ticket is not None:
                self.queue.leave(ticket)
        if cancelled():
            self._stopped(question, answer, shown)
            return
        self._persist(question, answer)
        self.memory.add(question, answer.text)

    def _stopped(self, question: str, answer: Answer, shown: str) -> None:
        answer.text, answer.stopped = shown.strip(), True
        self._persist(question, answer)

    def _answer(self, question: str, answer: Answer, on_evidence=None, cancel=None) -> Iterator[str]:
        lang = question_language(question)
        # A question that stands on its own is answered on its own: no rewrite call, and no
        # earlier topic mixed into it (chains/followup.py).
        history = self.memory.window() if is_follow_up(question) else []
        rewrite = self.rewriter.rewrite(question, history)
        answer.timings["rewrite_s"] = rewrite.seconds
        if history:
            answer.standalone_question = rewrite.question
            log.info("rewrite %s: %r -> %r", "kept" if rewrite.rewritten else "rejected", question, rewrite.raw)
        # FAQ mode: a question close to a stored FAQ question gets its paired answer verbatim.
        start = time.perf_counter()
        match = matcher_for(self.kb).match(rewrite.question) if self.faq else None
        answer.timings["faq_s"] = time.perf_counter() - start
        if match is not None:
            answer.text, answer.sources, answer.faq = match.reply(lang), [match.to_hit()], True
            answer.evidence = answer.sources
            if on_evidence is not None:
                on_evidence(answer.evidence)
            yield answer.text
            return
        # A usable rewrite carries the context itself; otherwise the model sees the last turns.
        context = [] if rewrite.rewritten else self.memory.window(ANSWER_HISTORY_TOKENS) if history else []
        yield from self.answerer.stream(rewrite.question, answer, query=rewrite.retrieval_query, lang=lang,
                                        history=context, on_evidence=on_evidence, cancel=cancel)

    def _persist(self, question: str, answer: Answer, error: bool = False) -> None:
        if self.store is None:
            return
        try:
            if self.conversation_id is None:
                self.conversation_id = self.store.create(self.kb.name, self.owner).id
            self.store.add_turn(self.conversation_id, question, "" if error else answer.text,
                                [] if error else answer.sources, refused=answer.refused,
                                standalone_question=answer.standalone_question, error=error,
                                stopped=answer.stopped)
        except Exception:  # noqa: BLE001 - losing the record must not lose the answer shown
            log.exception("could not record the turn in %s", self.store.path)
