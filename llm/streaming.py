"""Base for our LLMs whose backend yields text pieces: one `_pieces` gives invoke and stream."""
from __future__ import annotations

from typing import Any, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk


class PieceStreamingLLM(LLM):
    """Subclasses implement `_pieces(prompt, stop, **kwargs)`, yielding answer text pieces."""

    def _pieces(self, prompt: str, stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        raise NotImplementedError

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        pieces = []
        for text in self._pieces(prompt, stop, **kwargs):
            pieces.append(text)
            if run_manager:
                run_manager.on_llm_new_token(text)
        return "".join(pieces)

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for text in self._pieces(prompt, stop, **kwargs):
            chunk = GenerationChunk(text=text)
            if run_manager:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
