"""The embedded chat model: a GGUF file run by llama-cpp-python, as a LangChain ``LLM``.

The prompt is sent as the user message of a chat (Qwen2.5 instruct needs its chat template,
which llama-cpp-python reads from the GGUF metadata), optionally after a system message.
The ``Llama`` object loads once per process per (file, n_ctx, threads, batch) and is shared by every
instance; a lock serialises generation because a llama.cpp context is not thread-safe.
Consecutive prompts that share a prefix reuse its evaluated tokens (llama-cpp-python keeps the
KV cache of the last prompt), so a fixed system prompt is evaluated once.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from pydantic import Field

from .errors import ModelSetupError
from .gguf_models import SETUP_HINT, verify_file
from .streaming import PieceStreamingLLM

logger = logging.getLogger(__name__)


class PromptTooLong(ValueError):
    """The prompt does not fit the model's context window."""


def machine_cores() -> int:
    """Cores this process may run on (respects CPU affinity / container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- one loaded model per process ------------------------------------------------------------

@dataclass
class SharedLlama:
    llama: Any  # llama_cpp.Llama
    generation_lock: threading.Lock = field(default_factory=threading.Lock)


_LOADED: dict[tuple, SharedLlama] = {}
_LOADING_LOCK = threading.Lock()


def shared_llama(
    model_path: str,
    n_ctx: int,
    n_threads: int,
    n_batch: int,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
) -> SharedLlama:
    """The loaded model for this key, loading (and verifying) it on first use only."""
    key = (str(Path(model_path).expanduser().resolve()), n_ctx, n_threads, n_batch)
    shared = _LOADED.get(key)
    if shared is not None:
        return shared
    with _LOADING_LOCK:
        if key not in _LOADED:
            _LOADED[key] = SharedLlama(_load(key[0], n_ctx, n_threads, n_batch, expected_sha256, expected_size))
        return _LOADED[key]


def _load(path: str, n_ctx: int, n_threads: int, n_batch: int, sha256: str | None, size: int | None) -> Any:
    if sha256:
        verify_file(path, sha256, size)
    elif not Path(path).is_file():
        raise ModelSetupError(f"The chat model file {path} is missing; {SETUP_HINT} to install it.")
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelSetupError(f"llama-cpp-python is not installed ({exc}); {SETUP_HINT} to build it.") from exc
    logger.info("Loading GGUF model %s (n_ctx=%d, threads=%d, batch=%d)", path, n_ctx, n_threads, n_batch)
    try:
        return Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_batch=n_batch,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:  # llama.cpp rejects a truncated / non-GGUF file
        raise ModelSetupError(
            f"The chat model file {path} could not be loaded ({exc}); delete it and {SETUP_HINT} again."
        ) from exc


def unload_all() -> None:
    """Close and forget every loaded model (tests, switching models, process exit)."""
    with _LOADING_LOCK:
        for shared in _LOADED.values():
            shared.llama.close()
        _LOADED.clear()


# Closed while the interpreter is still whole: llama.cpp's own __del__ at shutdown runs after its
# C bindings are gone and prints a TypeError traceback for every model still loaded.
atexit.register(unload_all)


# --- the LangChain LLM -----------------------------------------------------------------------

class GGUFChat(PieceStreamingLLM):
    """A GGUF chat model run in-process by llama.cpp.

    ``invoke(prompt)`` sends ``prompt`` as the user turn; ``system_prompt`` (if set) goes first.
    Per-call overrides: ``temperature``, ``top_p``, ``max_new_tokens``, ``system_prompt``.
    """

    model_path: str
    expected_sha256: str | None = None
    expected_size: int | None = None
    n_ctx: int = 4096
    n_threads: int = Field(default_factory=machine_cores)
    n_batch: int = 512
    temperature: float = 0.1  # 0 = greedy
    top_p: float = 0.8
    max_new_tokens: int = 512
    repeat_penalty: float = 1.05
    system_prompt: str | None = None

    @property
    def _llm_type(self) -> str:
        return "gguf-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": Path(self.model_path).name,
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
        }

    def shared(self) -> SharedLlama:
        """The process-wide loaded model (loads on first use)."""
        return shared_llama(
            self.model_path, self.n_ctx, self.n_threads, self.n_batch, self.expected_sha256, self.expected_size
        )

    def load(self) -> "GGUFChat":
        """Load now (e.g. at server start) rather than on the first question."""
        self.shared()
        return self

    def _messages(self, prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
        messages = []
        if system_prompt:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": prompt})
        return messages

    def _pieces(self, prompt: str, stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        """Text pieces of the answer, generated under the model's lock."""
        shared = self.shared()
        request = dict(
            messages=self._messages(prompt, kwargs.get("system_prompt", self.system_prompt)),
            temperature=kwargs.get("temperature", self.temperature),
            top_p=kwargs.get("top_p", self.top_p),
            max_tokens=kwargs.get("max_new_tokens", self.max_new_tokens),
            repeat_penalty=kwargs.get("repeat_penalty", self.repeat_penalty),
            stop=list(stop or []),
            stream=True,
        )
        with shared.generation_lock:
            try:
                for chunk in shared.llama.create_chat_completion(**request):
                    text = chunk["choices"][0]["delta"].get("content")
                    if text:
                        yield text
            except ValueError as exc:
                if "exceed context window" in str(exc):
                    raise PromptTooLong(
                        f"The question and its context are too long for the model ({exc}); "
                        f"ask a shorter question or raise DOCCHAT_GGUF_CTX."
                    ) from exc
                raise
