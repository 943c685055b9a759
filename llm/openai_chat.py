"""Any OpenAI-compatible server as a LangChain chat model: langchain-openai's ``ChatOpenAI``
itself (streaming, stop sequences, token usage, tools where the server has them), with the
failure story of the text LLM: every failed request becomes one ``BackendUnavailable``
sentence with the fix (``openai_compat.explain_failure``)."""
from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from .errors import BackendUnavailable
from .openai_compat import explain_failure
from .tokens import DEFAULT_CONTEXT_WINDOW, estimate_tokens


class OpenAICompatChatModel(ChatOpenAI):
    """``ChatOpenAI`` for a local OpenAI-compatible server (vLLM, Ollama, llama.cpp's server)."""

    @classmethod
    def is_lc_serializable(cls) -> bool:
        # LangChain's loader knows ChatOpenAI, not this subclass.
        return False

    @property
    def context_window(self) -> int:
        """Servers do not say how long their context is: a common size is assumed."""
        return DEFAULT_CONTEXT_WINDOW

    def count_tokens(self, text: str) -> int:
        """An estimate: the server's tokenizer is not here (tiktoken's would be another model's)."""
        return estimate_tokens(text) if text else 0

    def get_num_tokens(self, text: str) -> int:
        return self.count_tokens(text)

    def _explain(self, exc: Exception) -> BackendUnavailable:
        return explain_failure(exc, str(self.openai_api_base), self.model_name, self._timeout_s(), self._known_models)

    def _timeout_s(self) -> float | None:
        timeout = self.request_timeout
        return timeout if isinstance(timeout, (int, float)) else None

    def _known_models(self) -> list[str]:
        try:
            return [m.id for m in self.root_client.models.list()]
        except Exception:  # noqa: BLE001 - only a hint for the message
            return []

    # A server that is down, slow, refuses the key, lacks the model or answers garbage: one
    # sentence with the fix, never a raw traceback that would take a serving process down.
    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return super()._generate(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one explained sentence
            raise self._explain(exc) from exc

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        try:
            return await super()._agenerate(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one explained sentence
            raise self._explain(exc) from exc

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        try:
            yield from super()._stream(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one explained sentence
            raise self._explain(exc) from exc

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk
        except Exception as exc:  # noqa: BLE001 - every failure becomes one explained sentence
            raise self._explain(exc) from exc
