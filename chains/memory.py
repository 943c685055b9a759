"""A conversation's turns, and the newest of them that fit a token budget.

History must not grow without bound (a long chat would overflow the model's context and slow
every answer), so prompts only ever see ``window()``: the newest turns whose tokens fit the
budget, the oldest dropped first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from llm.tokens import estimate_tokens  # noqa: F401 - the estimate, re-exported for callers

_CITATION = re.compile(r"\s*\[\d{1,2}\]")


def token_counter(llm: Any) -> Callable[[str], int]:
    """The model's own count: every DocChat LLM and chat model answers ``count_tokens`` (its
    tokenizer where there is one here, else the estimate); any other model gets the estimate."""
    count = getattr(llm, "count_tokens", None)
    return count if callable(count) else estimate_tokens


def clean_answer(text: str) -> str:
    """An answer as history: [n] marks point to passages of another turn, so they go."""
    return _CITATION.sub("", text).strip()


@dataclass
class ConversationMemory:
    budget_tokens: int = 600
    count_tokens: Callable[[str], int] = estimate_tokens
    turns: list[tuple[str, str]] = field(default_factory=list)

    def add(self, question: str, answer: str) -> None:
        self.turns.append((question, clean_answer(answer)))

    def window(self, budget_tokens: int | None = None) -> list[tuple[str, str]]:
        """Newest turns, in order, whose question + answer tokens fit the budget. When even the
        newest turn is too long, its answer is cut (the question is what a follow-up needs)."""
        budget = self.budget_tokens if budget_tokens is None else budget_tokens
        kept: list[tuple[str, str]] = []
        used = 0
        for question, answer in reversed(self.turns):
            cost = self.count_tokens(question) + self.count_tokens(answer)
            if used + cost > budget:
                if not kept:
                    kept.append((question, self._cut(answer, budget - self.count_tokens(question))))
                break
            kept.append((question, answer))
            used += cost
        return kept[::-1]

    def _cut(self, text: str, budget: int) -> str:
        if budget <= 0:
            return ""
        # Halve until it fits: a few tokenizer calls, not one per character.
        while text and self.count_tokens(text) > budget:
            text = text[: len(text) // 2]
        return text + ("…" if text else "")
