"""ChatGLM2 as a LangChain chat model: messages in, a streamed ``AIMessage`` out, with stop
sequences and token usage. Generation is ``ChatGLM2.answer_pieces`` (``chatglm.py``): the same
loaded weights, prompt budget and decoding as the text LLM, so answers match the official chat.

ChatGLM2's prompt has rounds of (question, answer) and no system role. Messages map onto it as
ChatGLM2's own OpenAI-style API server maps them: the system text goes in front of the current
question (so it survives when old rounds are dropped to fit the context), consecutive messages
of one side are joined, and the last message must be the user's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator, Literal

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from pydantic import Field, PrivateAttr, model_validator

from .chat_base import PieceStreamingChatModel, message_text
from .chatglm import ChatGLM2

_JOIN = "\n\n"


def query_and_history(messages: list[BaseMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The current question and the earlier (question, answer) rounds of a message list."""
    system: list[str] = []
    rounds: list[tuple[str, str]] = []
    questions: list[str] = []
    answers: list[str] = []
    for message in messages:
        text = message_text(message)
        if isinstance(message, SystemMessage):
            system.append(text)
        elif isinstance(message, AIMessage):
            answers.append(text)
        else:  # the user's turn (human, tool results, other roles)
            if answers:
                rounds.append((_JOIN.join(questions), _JOIN.join(answers)))
                questions, answers = [], []
            questions.append(text)
    if answers or not questions:
        raise ValueError("ChatGLM2 answers the user: the last message must be the user's.")
    return _JOIN.join([*system, *questions]), rounds


class ChatGLM2ChatModel(PieceStreamingChatModel):
    """ChatGLM2 from a local release folder (no code from the folder runs), as a ``BaseChatModel``.

    Per-call overrides: ``temperature``, ``top_p``, ``max_tokens``.
    """

    model_path: str
    device: str = "cpu"
    # Defaults are the official chat()'s.
    temperature: float = Field(default=0.8, ge=0.0)
    top_p: float = Field(default=0.8, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1)
    max_length: int = Field(default=8192, ge=2)
    quantize: Literal["none", "int8"] = "none"

    LS_PROVIDER: ClassVar[str] = "chatglm2"
    _llm: ChatGLM2 | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _load_model_now(self) -> "ChatGLM2ChatModel":
        # As the LLM: a bad folder fails here with a ModelSetupError, not on the first question.
        self._llm = ChatGLM2(
            model_path=str(self.model_path), device=self.device, quantize=self.quantize,
            temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_tokens,
            max_length=self.max_length,
        )
        return self

    @property
    def _llm_type(self) -> str:
        return "chatglm2-chat"

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "device": self.device, "quantize": self.quantize,
                "temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                "max_length": self.max_length}

    @property
    def llm(self) -> ChatGLM2:
        """The text LLM on the same loaded weights (it owns generation and counting)."""
        assert self._llm is not None
        return self._llm

    def _answer(
        self, messages: list[BaseMessage], stop: list[str] | None, usage: dict[str, Any], **kwargs: Any
    ) -> Iterator[str]:
        query, history = query_and_history(messages)
        overrides = {name: kwargs[name] for name in ("temperature", "top_p", "max_length") if name in kwargs}
        if "max_tokens" in kwargs:
            overrides["max_new_tokens"] = kwargs["max_tokens"]
        return self.llm.answer_pieces(query, history, stop, usage, **overrides)
