"""The embedded GGUF model as a LangChain chat model: messages in, a streamed ``AIMessage`` out,
with stop sequences and token usage. Generation is ``GGUFChat.chat_pieces`` (``gguf.py``): the
same loaded model, lock and loop as the text LLM."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator

from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import Field, PrivateAttr

from .chat_base import PieceStreamingChatModel, message_text
from .gguf import GGUFChat, machine_cores

_ROLES = ((SystemMessage, "system"), (HumanMessage, "user"), (AIMessage, "assistant"), (ToolMessage, "tool"))


def openai_style(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """Role/content dicts, as llama.cpp's chat template wants them."""
    out = []
    for message in messages:
        role = message.role if isinstance(message, ChatMessage) else next(
            (name for kind, name in _ROLES if isinstance(message, kind)), None)
        if role is None:
            raise ValueError(f"Unsupported message type {type(message).__name__}")
        out.append({"role": role, "content": message_text(message)})
    return out


class GGUFChatModel(PieceStreamingChatModel):
    """A GGUF chat model run in-process by llama.cpp, as a ``BaseChatModel``.

    Per-call overrides: ``temperature``, ``top_p``, ``max_tokens``.
    """

    model_path: str
    expected_sha256: str | None = None
    expected_size: int | None = None
    n_ctx: int = 4096
    n_threads: int = Field(default_factory=machine_cores)
    n_batch: int = 512
    temperature: float = 0.1  # 0 = greedy
    top_p: float = 0.8
    max_tokens: int = 512
    repeat_penalty: float = 1.05

    LS_PROVIDER: ClassVar[str] = "llama_cpp"
    _llm: GGUFChat | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "gguf-llama-cpp-chat"

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model_name, "n_ctx": self.n_ctx, "temperature": self.temperature,
                "top_p": self.top_p, "max_tokens": self.max_tokens}

    @property
    def llm(self) -> GGUFChat:
        """The text LLM on the same loaded model (it owns generation and counting)."""
        if self._llm is None:
            self._llm = GGUFChat(
                model_path=self.model_path, expected_sha256=self.expected_sha256,
                expected_size=self.expected_size, n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_batch=self.n_batch, temperature=self.temperature, top_p=self.top_p,
                max_new_tokens=self.max_tokens, repeat_penalty=self.repeat_penalty,
            )
        return self._llm

    def load(self) -> "GGUFChatModel":
        """Load now (e.g. at server start) rather than on the first question."""
        self.llm.load()
        return self

    def _answer(
        self, messages: list[BaseMessage], stop: list[str] | None, usage: dict[str, Any], **kwargs: Any
    ) -> Iterator[str]:
        overrides = {name: kwargs[name] for name in ("temperature", "top_p", "repeat_penalty") if name in kwargs}
        if "max_tokens" in kwargs:
            overrides["max_new_tokens"] = kwargs["max_tokens"]
        return self.llm.chat_pieces(openai_style(messages), stop, usage, **overrides)
