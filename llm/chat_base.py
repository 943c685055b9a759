"""Base for our chat models whose backend yields text pieces (the embedded GGUF model, ChatGLM2):
one ``_answer`` gives invoke, stream, stop sequences and token usage, as LangChain expects of a
``BaseChatModel``.

Usage (``usage_metadata``) and ``model_name`` ride on the last chunk of a stream only, so that
adding the chunks up counts the prompt once.
"""
from __future__ import annotations

from typing import Any, ClassVar, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class PieceStreamingChatModel(BaseChatModel):
    """Subclasses implement ``_answer(messages, stop, usage, **kwargs)``, yielding the answer's
    text pieces and, once done, filling ``usage`` with input_tokens, output_tokens and
    finish_reason; ``model_name`` (a property); and ``llm``, the text LLM on the same loaded
    weights, which answers token counting for both."""

    stop: list[str] | None = None
    """Stop sequences for every call, added to those a call passes."""

    LS_PROVIDER: ClassVar[str] = ""

    def _answer(
        self, messages: list[BaseMessage], stop: list[str] | None, usage: dict[str, Any], **kwargs: Any
    ) -> Iterator[str]:
        raise NotImplementedError

    @property
    def model_name(self) -> str:
        raise NotImplementedError

    @property
    def llm(self) -> Any:
        raise NotImplementedError

    @property
    def context_window(self) -> int:
        return self.llm.context_window

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def get_num_tokens(self, text: str) -> int:
        return self.count_tokens(text)

    def _stops(self, stop: list[str] | None) -> list[str] | None:
        stops = [*(self.stop or []), *(stop or [])]
        return stops or None

    def _closing_metadata(self, usage: dict[str, Any]) -> dict[str, Any]:
        metadata: dict[str, Any] = {"model_name": self.model_name}
        if "finish_reason" in usage:
            metadata["finish_reason"] = usage["finish_reason"]
        return metadata

    def _usage(self, usage: dict[str, Any]) -> UsageMetadata | None:
        if "input_tokens" not in usage:
            return None
        return UsageMetadata(
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            total_tokens=usage["input_tokens"] + usage["output_tokens"],
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        usage: dict[str, Any] = {}
        text = "".join(self._answer(messages, self._stops(stop), usage, **kwargs))
        message = AIMessage(
            content=text, usage_metadata=self._usage(usage), response_metadata=self._closing_metadata(usage)
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        usage: dict[str, Any] = {}
        for text in self._answer(messages, self._stops(stop), usage, **kwargs):
            if not text:
                continue
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", usage_metadata=self._usage(usage), response_metadata=self._closing_metadata(usage),
            chunk_position="last",
        ))

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=self._stops(stop), **kwargs)
        params["ls_provider"] = self.LS_PROVIDER
        return params


def message_text(message: BaseMessage) -> str:
    """The text of a message; these models read text only, so any other content is refused
    (silently dropping a picture would answer a question nobody asked)."""
    if isinstance(message.content, list):
        others = [b.get("type") for b in message.content if isinstance(b, dict) and b.get("type") != "text"]
        if others:
            raise ValueError(f"This model reads text only; the message also holds: {', '.join(map(str, others))}.")
    return message.text
