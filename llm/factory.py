"""One place that turns settings into a LangChain model: ``make_llm(settings, **overrides)`` for
the text LLM, ``make_chat_model(settings, **overrides)`` for the same backend as a chat model
(``BaseChatModel``: messages in, an ``AIMessage`` with token usage out).

``settings`` is duck-typed (``llm/`` imports nothing of ours): any object with the attributes of
``docchat.settings.Settings`` that matter here. ``overrides`` use the same names and win over
the settings, e.g. ``make_llm(settings, llm="gguf", gguf_model="0.5b", temperature=0)``.
Each backend's module is imported only when chosen, so torch is never loaded for GGUF.
"""
from __future__ import annotations

from typing import Any, Callable

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.llms import LLM

from .backends import BACKENDS
from .errors import ModelSetupError

_DEFAULTS: dict[str, Any] = {
    "llm": "gguf",
    "gguf_model": "1.5b",
    "gguf_threads": None,
    "gguf_ctx": 4096,
    "chatglm_path": None,
    "chatglm_device": "cpu",
    "chatglm_quantize": "none",
    "openai_base_url": "http://127.0.0.1:8000/v1",
    "openai_model": "local-model",
    "openai_api_key": "not-needed",
    "openai_timeout": 60.0,
    "openai_max_retries": 2,
    "temperature": 0.1,
    "top_p": 0.8,
    "max_new_tokens": 512,
    "models_dir": None,
    "system_prompt": None,  # not a setting; callers (chains) may pass one
}


class UnknownBackend(ModelSetupError, ValueError):
    """DOCCHAT_LLM names no backend we have."""


def make_llm(settings: Any, **overrides: Any) -> LLM:
    """The LLM the settings (plus overrides) ask for. Raises UnknownBackend, ModelSetupError."""
    backend, value = _resolve(settings, overrides, "make_llm")
    return _BUILDERS[backend](value)


def make_chat_model(settings: Any, **overrides: Any) -> BaseChatModel:
    """The chat model the settings (plus overrides) ask for: the same backend, model file and
    sampling as ``make_llm``. A system prompt goes in the messages (a SystemMessage), so the
    ``system_prompt`` override is refused here. Raises UnknownBackend, ModelSetupError."""
    if "system_prompt" in overrides:
        raise TypeError("make_chat_model takes no system_prompt: pass a SystemMessage with the messages")
    backend, value = _resolve(settings, overrides, "make_chat_model")
    return _CHAT_BUILDERS[backend](value)


def _resolve(settings: Any, overrides: dict[str, Any], caller: str) -> tuple[str, Callable[[str], Any]]:
    unknown = set(overrides) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"{caller} got unknown override(s): {', '.join(sorted(unknown))}")

    def value(name: str) -> Any:
        if name in overrides:
            return overrides[name]
        return getattr(settings, name, _DEFAULTS[name])

    backend = str(value("llm")).strip().lower()
    if backend not in BACKENDS:
        raise UnknownBackend(
            f"Unknown language model backend {backend!r}; set DOCCHAT_LLM to one of: {', '.join(BACKENDS)}."
        )
    return backend, value


def _gguf_file(value: Callable[[str], Any]) -> dict[str, Any]:
    """The verified model file and how llama.cpp runs it (shared by the LLM and the chat model)."""
    from .gguf import machine_cores
    from .gguf_models import packaged_model, verified_model_path

    if value("models_dir") is None:
        raise ModelSetupError("No model folder is configured (settings.models_dir); run `make setup`.")
    model = packaged_model(value("gguf_model"))
    # Checked now (cheap once verified) so a missing or damaged file fails here, not mid-answer.
    path = verified_model_path(model.name, value("models_dir"))
    return dict(
        model_path=str(path),
        expected_sha256=model.sha256,
        expected_size=model.size,
        n_ctx=value("gguf_ctx"),
        n_threads=value("gguf_threads") or machine_cores(),
        temperature=value("temperature"),
        top_p=value("top_p"),
    )


def _chatglm2_folder(value: Callable[[str], Any]) -> dict[str, Any]:

    if not value("chatglm_path"):
        raise ModelSetupError(
            "DOCCHAT_LLM=chatglm2 needs the ChatGLM2 model folder; set DOCCHAT_CHATGLM_PATH to it."
        )
    return dict(
        model_path=str(value("chatglm_path")),
        device=value("chatglm_device"),
        quantize=value("chatglm_quantize"),
        temperature=value("temperature"),
        top_p=value("top_p"),
    )


def _gguf(value: Callable[[str], Any]) -> LLM:
    from .gguf import GGUFChat

    return GGUFChat(**_gguf_file(value), max_new_tokens=value("max_new_tokens"), system_prompt=value("system_prompt"))


def _chatglm2(value: Callable[[str], Any]) -> LLM:
    folder = _chatglm2_folder(value)
    from .chatglm import ChatGLM2

    return ChatGLM2(**folder, max_new_tokens=value("max_new_tokens"))


def _openai(value: Callable[[str], Any]) -> LLM:
    from .openai_compat import OpenAICompatChat

    return OpenAICompatChat(
        base_url=value("openai_base_url"),
        model_name=value("openai_model"),
        api_key=value("openai_api_key"),
        timeout=value("openai_timeout"),
        max_retries=value("openai_max_retries"),
        temperature=value("temperature"),
        top_p=value("top_p"),
        max_new_tokens=value("max_new_tokens"),
        system_prompt=value("system_prompt"),
    )


def _gguf_chat(value: Callable[[str], Any]) -> BaseChatModel:
    from .gguf_chat import GGUFChatModel

    return GGUFChatModel(**_gguf_file(value), max_tokens=value("max_new_tokens"))


def _chatglm2_chat(value: Callable[[str], Any]) -> BaseChatModel:
    folder = _chatglm2_folder(value)
    from .chatglm_chat import ChatGLM2ChatModel

    return ChatGLM2ChatModel(**folder, max_tokens=value("max_new_tokens"))


def _openai_chat(value: Callable[[str], Any]) -> BaseChatModel:
    from .openai_chat import OpenAICompatChatModel

    return OpenAICompatChatModel(
        base_url=value("openai_base_url"),
        model=value("openai_model"),
        api_key=value("openai_api_key"),
        timeout=value("openai_timeout"),
        max_retries=value("openai_max_retries"),
        temperature=value("temperature"),
        top_p=value("top_p"),
        max_tokens=value("max_new_tokens"),
    )


_BUILDERS: dict[str, Callable[[Callable[[str], Any]], LLM]] = {
    "gguf": _gguf,
    "chatglm2": _chatglm2,
    "openai": _openai,
}
_CHAT_BUILDERS: dict[str, Callable[[Callable[[str], Any]], BaseChatModel]] = {
    "gguf": _gguf_chat,
    "chatglm2": _chatglm2_chat,
    "openai": _openai_chat,
}
