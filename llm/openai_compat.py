"""Any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, ChatGLM2's API) as a LangChain
``LLM``: ``invoke`` returns text and ``stream`` yields text, like the embedded model.

The request itself goes through langchain-openai's ``ChatOpenAI``. What this wrapper adds is the
failure story: a server that is down, slow, refuses the key, lacks the model or answers garbage
becomes one ``BackendUnavailable`` sentence with the fix, never a raw traceback that would take
a serving process down. The chat model ``OpenAICompatChatModel`` (``openai_chat.py``) tells the
same story through ``explain_failure``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator

import openai
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr

from .errors import BackendUnavailable
from .streaming import PieceStreamingLLM
from .tokens import DEFAULT_CONTEXT_WINDOW, estimate_tokens

logger = logging.getLogger(__name__)


class OpenAICompatChat(PieceStreamingLLM):
    """Chat completions from an OpenAI-compatible server, exposed as a text-in/text-out LLM."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model_name: str = "local-model"
    api_key: str = "not-needed"
    timeout: float = 60.0
    max_retries: int = 2
    temperature: float = 0.1
    top_p: float = 0.8
    max_new_tokens: int = 512
    system_prompt: str | None = None

    _chat: ChatOpenAI | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model_name, "temperature": self.temperature}

    def chat_model(self) -> ChatOpenAI:
        if self._chat is None:
            self._chat = ChatOpenAI(
                base_url=self.base_url,
                model=self.model_name,
                api_key=self.api_key,
                timeout=self.timeout,
                max_retries=self.max_retries,
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_new_tokens,
            )
        return self._chat

    def _messages(self, prompt: str, system_prompt: str | None) -> list[BaseMessage]:
        messages: list[BaseMessage] = [SystemMessage(system_prompt)] if system_prompt else []
        messages.append(HumanMessage(prompt))
        return messages

    def _pieces(self, prompt: str, stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        messages = self._messages(prompt, kwargs.pop("system_prompt", self.system_prompt))
        params: dict[str, Any] = {}
        for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("max_new_tokens", "max_tokens")):
            if ours in kwargs:
                params[theirs] = kwargs[ours]
        try:
            for chunk in self.chat_model().stream(messages, stop=stop, **params):
                text = chunk.content if isinstance(chunk.content, str) else chunk.text
                if text:
                    yield text
        except BackendUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one explained sentence
            raise self._explain(exc) from exc

    @property
    def context_window(self) -> int:
        """Servers do not say how long their context is: a common size is assumed."""
        return DEFAULT_CONTEXT_WINDOW

    def count_tokens(self, text: str) -> int:
        """An estimate: the server's tokenizer is not here."""
        return estimate_tokens(text) if text else 0

    def get_num_tokens(self, text: str) -> int:
        # LangChain's default would fetch GPT-2's tokenizer from the hub.
        return self.count_tokens(text)

    def _explain(self, exc: Exception) -> BackendUnavailable:
        return explain_failure(exc, self.base_url, self.model_name, self.timeout, self._known_models)

    def _known_models(self) -> list[str]:
        try:
            return self.available_models()
        except BackendUnavailable:
            return []

    def available_models(self) -> list[str]:
        """Model ids the server lists (GET /models); BackendUnavailable when it does not answer."""
        client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0)
        try:
            return [m.id for m in client.models.list()]
        except Exception as exc:  # noqa: BLE001
            raise self._explain(exc) if not isinstance(exc, openai.NotFoundError) else BackendUnavailable(
                f"The model server at {self.base_url} does not list models; "
                f"check that DOCCHAT_OPENAI_BASE_URL is an OpenAI-compatible /v1 endpoint."
            ) from exc


def explain_failure(
    exc: Exception, base_url: str, model_name: str, timeout: float | None,
    known_models: Callable[[], list[str]] = lambda: [],
) -> BackendUnavailable:
    """One sentence, with the fix, for a failed request to an OpenAI-compatible server."""
    where = f"The model server at {base_url}"
    if isinstance(exc, openai.APITimeoutError):
        msg = (f"{where} did not answer within {timeout or 0:g} s; check that it is running and "
               f"not overloaded, or raise DOCCHAT_OPENAI_TIMEOUT.")
    elif isinstance(exc, openai.APIConnectionError):
        msg = (f"{where} cannot be reached; start the server or fix DOCCHAT_OPENAI_BASE_URL "
               f"(it should end in /v1).")
    elif isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        msg = f"{where} refused the API key; set DOCCHAT_OPENAI_API_KEY to a key it accepts."
    elif isinstance(exc, openai.NotFoundError):
        known = known_models()
        hint = f" It serves: {', '.join(known)}." if known else ""
        msg = (f"{where} has no model named {model_name!r} (or the URL is not an OpenAI-style "
               f"/v1 endpoint); fix DOCCHAT_OPENAI_MODEL or DOCCHAT_OPENAI_BASE_URL.{hint}")
    elif isinstance(exc, openai.APIStatusError):
        msg = (f"{where} answered with an error (HTTP {exc.status_code}: {_short(exc.message)}); "
               f"check the server's log and DOCCHAT_OPENAI_MODEL.")
    else:
        msg = (f"{where} answered with something that is not an OpenAI-compatible reply "
               f"({type(exc).__name__}: {_short(str(exc))}); check DOCCHAT_OPENAI_BASE_URL points "
               f"at an OpenAI-compatible /v1 endpoint.")
    logger.warning("OpenAI-compatible backend failed: %s", msg)
    logger.debug("Details of the backend failure", exc_info=exc)
    return BackendUnavailable(msg)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
