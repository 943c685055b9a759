"""One place that turns settings into a LangChain LLM: ``make_llm(settings, **overrides)``.

``settings`` is duck-typed (``llm/`` imports nothing of ours): any object with the attributes of
``docchat.settings.Settings`` that matter here. ``overrides`` use the same names and win over
the settings, e.g. ``make_llm(settings, llm="gguf", gguf_model="0.5b", temperature=0)``.
Each backend's module is imported only when chosen, so torch is never loaded for GGUF.
"""
from __future__ import annotations

from typing import Any, Callable

from langchain_core.language_models.llms import LLM

BACKENDS = ("gguf", "chatglm2", "openai")
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


class UnknownBackend(ValueError):
    """DOCCHAT_LLM names no backend we have."""


def make_llm(settings: Any, **overrides: Any) -> LLM:
    """The LLM the settings (plus overrides) ask for. Raises UnknownBackend, ModelSetupError."""
    unknown = set(overrides) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"make_llm got unknown override(s): {', '.join(sorted(unknown))}")

    def value(name: str) -> Any:
        if name in overrides:
            return overrides[name]
        return getattr(settings, name, _DEFAULTS[name])

    backend = str(value("llm")).strip().lower()
    builder = _BUILDERS.get(backend)
    if builder is None:
        raise UnknownBackend(
            f"Unknown language model backend {backend!r}; set DOCCHAT_LLM to one of: {', '.join(BACKENDS)}."
        )
    return builder(value)


def _gguf(value: Callable[[str], Any]) -> LLM:
    from .errors import ModelSetupError
    from .gguf import GGUFChat, machine_cores
    from .gguf_models import packaged_model, verified_model_path

    if value("models_dir") is None:
        raise ModelSetupError("No model folder is configured (settings.models_dir); run `make setup`.")
    model = packaged_model(value("gguf_model"))
    # Checked now (cheap once verified) so a missing or damaged file fails here, not mid-answer.
    path = verified_model_path(model.name, value("models_dir"))
    return GGUFChat(
        model_path=str(path),
        expected_sha256=model.sha256,
        expected_size=model.size,
        n_ctx=value("gguf_ctx"),
        n_threads=value("gguf_threads") or machine_cores(),
        temperature=value("temperature"),
        top_p=value("top_p"),
        max_new_tokens=value("max_new_tokens"),
        system_prompt=value("system_prompt"),
    )


def _chatglm2(value: Callable[[str], Any]) -> LLM:
    from .errors import ModelSetupError

    if not value("chatglm_path"):
        raise ModelSetupError(
            "DOCCHAT_LLM=chatglm2 needs the ChatGLM2 model folder; set DOCCHAT_CHATGLM_PATH to it."
        )
    from .chatglm import ChatGLM2

    return ChatGLM2(
        model_path=str(value("chatglm_path")),
        device=value("chatglm_device"),
        quantize=value("chatglm_quantize"),
        temperature=value("temperature"),
        top_p=value("top_p"),
        max_new_tokens=value("max_new_tokens"),
    )


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


_BUILDERS: dict[str, Callable[[Callable[[str], Any]], LLM]] = {
    "gguf": _gguf,
    "chatglm2": _chatglm2,
    "openai": _openai,
}
