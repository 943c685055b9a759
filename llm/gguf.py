"""The embedded chat model: a GGUF file run by llama-cpp-python, as a LangChain ``LLM``.

The prompt is sent as the user message of a chat (Qwen2.5 instruct needs its chat template,
which llama-cpp-python reads from the GGUF metadata), optionally after a system message.
The ``Llama`` object loads once per process per (file, n_ctx, threads, batch) and is shared by every
instance; a lock serialises generation because a llama.cpp context is not thread-safe.
Consecutive prompts that share a prefix reuse its evaluated tokens (llama-cpp-python keeps the
KV cache of the last prompt), so a fixed system prompt is evaluated once.
``chat_pieces`` is the one generation loop: ``GGUFChat`` (text in, text out) and the chat model
``ChatGGUF`` (messages in, see ``gguf_chat.py``) both stream through it.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

from pydantic import Field

from common.loaded_once import LoadedOnce
from common.user_error import UserError

from .errors import ModelSetupError
from .gguf_models import SETUP_HINT, verify_file
from .streaming import PieceStreamingLLM

logger = logging.getLogger(__name__)


class PromptTooLong(UserError, ValueError):
    """The prompt does not fit the model's context window (the detail, with the token counts,
    goes to the log; the user is told what to shorten)."""

    EN = ("The question and its excerpts are too long for the model. Shorten the question or lower "
          "“Excerpts read for each answer” in the advanced settings.")
    ZH = "问题或参考原文太长，模型无法处理。请缩短问题，或在“高级设置”中减少“每次回答参考的原文片段数”。"


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
    _formatter: Any = None  # the GGUF's chat template, for counting prompt tokens
    # Set while a generation runs: llama.cpp's abort callback ends even a prompt's prefill (which
    # takes seconds on a CPU and yields nothing to check between) as soon as it is set.
    abort_when: threading.Event | None = None
    _abort_callback: Any = None

    def __post_init__(self) -> None:
        ctx = getattr(getattr(self.llama, "_ctx", None), "ctx", None)
        if ctx is None:
            return
        import llama_cpp

        def aborted(_data) -> bool:
            return self.abort_when is not None and self.abort_when.is_set()

        self._abort_callback = llama_cpp.ggml_abort_callback(aborted)  # kept: ctypes needs it alive
        llama_cpp.llama_set_abort_callback(ctx, self._abort_callback, None)

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Tokens of the prompt ``create_chat_completion`` builds from ``messages``: the same
        template (the GGUF's own) and the same tokenisation. llama.cpp's stream reports no usage."""
        llama = self.llama
        template = llama.metadata.get("tokenizer.chat_template")
        if llama.chat_format != "chat_template.default" or not template:
            # Another chat format: count the contents (a floor; the role markers add a few).
            return sum(len(llama.tokenize(m["content"].encode("utf-8"), add_bos=False)) for m in messages)
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text_of(token_id: int) -> str:
                return llama._model.token_get_text(token_id) if token_id != -1 else ""

            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=text_of(llama.token_eos()), bos_token=text_of(llama.token_bos())
            )
        prompt = self._formatter(messages=messages).prompt
        return len(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))


# One loaded llama.cpp model per file and context settings in a process, with its generation
# lock: the app's text LLM and chat model on the same weights, the LLMs of two temperatures, and
# the objects LangChain's standard suites build from model_path alone all share it, so 1.1 GB of
# weights is in memory once and one answer runs at a time (common/loaded_once.py).
_MODELS: LoadedOnce[SharedLlama] = LoadedOnce("GGUF models")


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
    return _MODELS.get(key, lambda: SharedLlama(_load(key[0], n_ctx, n_threads, n_batch, expected_sha256,
                                                      expected_size)))


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
    for shared in _MODELS.drain():
        shared.llama.close()


# Closed while the interpreter is still whole: llama.cpp's own __del__ at shutdown runs after its
# C bindings are gone and prints a TypeError traceback for every model still loaded.
atexit.register(unload_all)


# --- the LangChain LLM -----------------------------------------------------------------------

class GGUFChat(PieceStreamingLLM):
    """A GGUF chat model run in-process by llama.cpp.

    ``invoke(prompt)`` sends ``prompt`` as the user turn; ``system_prompt`` (if set) goes first.
    Per-call overrides: ``temperature``, ``top_p``, ``max_new_tokens``, ``system_prompt``, and
    ``cancel`` (a threading.Event that stops the generation, prefill included, once set).
    """

    supports_cancel: ClassVar[bool] = True
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

    @property
    def context_window(self) -> int:
        """Tokens the model sees at once: prompt and answer together."""
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own vocabulary (llama.cpp's tokenizer)."""
        if not text:
            return 0
        return len(self.shared().llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def get_num_tokens(self, text: str) -> int:
        # LangChain's default would fetch GPT-2's tokenizer from the hub.
        return self.count_tokens(text)

    def _messages(self, prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
        messages = []
        if system_prompt:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": prompt})
        return messages

    def _pieces(self, prompt: str, stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        messages = self._messages(prompt, kwargs.pop("system_prompt", self.system_prompt))
        return self.chat_pieces(messages, stop, **kwargs)

    def chat_pieces(
        self, messages: list[dict[str, str]], stop: list[str] | None, usage: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Iterator[str]:
        """Text pieces of the answer to a chat (OpenAI-style role/content dicts), generated under
        the model's lock. When the answer is complete, ``usage`` (if given) gets input_tokens,
        output_tokens and finish_reason ("stop" or "length"). ``cancel`` (a threading.Event):
        once set, from any thread, the generation ends at once, in the prompt's prefill too."""
        cancel = kwargs.pop("cancel", None)
        shared = self.shared()
        request = dict(
            messages=messages,
            temperature=kwargs.get("temperature", self.temperature),
            top_p=kwargs.get("top_p", self.top_p),
            max_tokens=kwargs.get("max_new_tokens", self.max_new_tokens),
            repeat_penalty=kwargs.get("repeat_penalty", self.repeat_penalty),
            stop=list(stop or []),
            stream=True,
        )
        pieces: list[str] = []
        finish_reason = None
        with shared.generation_lock:
            shared.abort_when = cancel
            try:
                for chunk in shared.llama.create_chat_completion(**request):
                    choice = chunk["choices"][0]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    text = choice["delta"].get("content")
                    if text:
                        pieces.append(text)
                        yield text
            except ValueError as exc:
                if "exceed context window" in str(exc):
                    raise PromptTooLong(
                        f"The question and its context are too long for the model ({exc}); "
                        f"ask a shorter question or raise DOCCHAT_GGUF_CTX."
                    ) from exc
                raise
            except RuntimeError:
                # llama_decode returned "aborted": the stop asked for. llama.cpp kept only the
                # tokens it finished, so the next prompt starts from a consistent state.
                if cancel is None or not cancel.is_set():
                    raise
                if not pieces:
                    yield ""  # LangChain's stream() takes a stream without any chunk for an error
                return
            finally:
                shared.abort_when = None
        if usage is not None:
            # The answer's tokens are counted from its text: llama.cpp's stream does not report
            # them (the same count except where a stop string cut a token).
            usage.update(
                input_tokens=shared.prompt_tokens(messages),
                output_tokens=self.count_tokens("".join(pieces)),
                finish_reason=finish_reason or "stop",
            )
