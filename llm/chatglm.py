"""ChatGLM2 as a LangChain LLM, on transformers' own GLM architecture (no remote code).

``llm.invoke(question, history=[(q, a), ...])`` behaves like the official ``model.chat``: same
prompt, same decoding, same post-processing. The weights load once per process per
(folder, device, quantize) and are shared by every instance; a lock serialises generation.
No conversation state lives here: callers pass ``history`` on each call.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import torch
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk
from pydantic import Field, field_validator, model_validator

from common.loaded_once import LoadedOnce

from .chatglm_loader import ChatGLM2Release, load_release
from .chatglm_tokenizer import RESPONSE_REPLACEMENTS, ChatGLM2Tokenizer, build_prompt, process_response

logger = logging.getLogger(__name__)

History = Sequence[tuple[str, str]]
_CALL_OVERRIDES = ("temperature", "top_p", "max_new_tokens", "max_length")


# --- one loaded model per process ------------------------------------------------------------

@dataclass
class _SharedModel:
    release: ChatGLM2Release
    # Generation mutates no weights, but one forward at a time keeps memory bounded and
    # the per-step KV caches of two requests from competing for the same device.
    generation_lock: threading.Lock = field(default_factory=threading.Lock)


# One loaded checkpoint per folder, device and quantisation in a process: the text LLM and the
# chat model of an app, the LLMs of two temperatures and LangChain's standard suites (which build
# ChatGLM2ChatModel from its parameters alone) share its weights (common/loaded_once.py).
_MODELS: LoadedOnce[_SharedModel] = LoadedOnce("ChatGLM2 models")


def _shared_model(model_path: str, device: str, quantize: str) -> _SharedModel:
    """The loaded model for this key, loading it on first use (never twice, even across threads)."""
    key = (str(Path(model_path).expanduser().resolve()), device, quantize)

    def load() -> _SharedModel:
        logger.info("Loading ChatGLM2 from %s on %s (quantize=%s)", *key)
        return _SharedModel(load_release(key[0], device=device, quantize=quantize))

    return _MODELS.get(key, load)


# --- prompt budget ---------------------------------------------------------------------------

def fit_prompt_ids(tokenizer: ChatGLM2Tokenizer, query: str, history: History, budget: int) -> list[int]:
    """Input ids of the prompt for ``query`` and ``history`` in at most ``budget`` tokens.

    The oldest history rounds go first; the question is never dropped. Only when the question
    alone is over budget is it cut from the left (its start): in a retrieval prompt the actual
    question sits at the end, after the context, so the end is what must survive.
    """
    rounds = list(history)
    while True:
        ids = tokenizer.encode_prompt(build_prompt(query, rounds))
        if len(ids) <= budget:
            if len(rounds) < len(history):
                logger.info("Dropped %d oldest history rounds to fit the context", len(history) - len(rounds))
            return ids
        if not rounds:
            break
        rounds.pop(0)

    def fits(start: int) -> bool:
        return len(tokenizer.encode_prompt(build_prompt(query[start:]))) <= budget

    if not fits(len(query)):
        raise ValueError(
            f"max_new_tokens leaves only {budget} prompt tokens, too few for even an empty question; "
            "lower max_new_tokens or raise max_length."
        )
    low, high = 0, len(query)  # smallest start that fits, by bisection (token count falls with start)
    while low < high:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle + 1
    logger.warning(
        "The question is %d characters too long for the %d-token prompt budget; cut from its start",
        low, budget,
    )
    return tokenizer.encode_prompt(build_prompt(query[low:]))


# --- token generation ------------------------------------------------------------------------

def generate_token_ids(
    release: ChatGLM2Release,
    input_ids: list[int],
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
) -> Iterator[int]:
    """New token ids one at a time, with a KV cache; ends after an end-of-answer id.

    temperature <= 0 is greedy (the same ids as ``generate(do_sample=False)``); otherwise
    temperature then top-p sampling, as the official ``chat``'s ``generate`` call does.
    """
    from transformers import DynamicCache

    model, device = release.model, release.device
    cache = DynamicCache(config=model.config)
    step_input = torch.tensor([input_ids], device=device)
    for _ in range(max_new_tokens):
        # Per step, not around the generator: inference mode is thread-local and must not leak
        # into the caller's code between yields.
        with torch.inference_mode():
            output = model(input_ids=step_input, past_key_values=cache, use_cache=True, logits_to_keep=1)
            logits = output.logits[0, -1].float()
            next_id = _choose_next_token(logits, temperature, top_p)
        yield next_id
        if next_id in release.eos_token_ids:
            return
        step_input = torch.tensor([[next_id]], device=device)


def _choose_next_token(logits: torch.Tensor, temperature: float, top_p: float) -> int:
    # The official chat's InvalidScoreLogitsProcessor: a broken (nan/inf) step picks token 5
    # instead of crashing the sampler.
    if torch.isnan(logits).any() or torch.isinf(logits).any():
        logits = torch.zeros_like(logits)
        logits[5] = 5e4
    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / temperature
    if top_p < 1.0:
        sorted_logits, sorted_indices = torch.sort(logits, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - top_p)
        remove[-1] = False  # keep at least the most likely token
        logits = logits.masked_fill(remove.scatter(0, sorted_indices, remove), float("-inf"))
    return int(torch.multinomial(logits.softmax(dim=-1), num_samples=1))


# --- text streaming with stop sequences --------------------------------------------------------

def _held_back_length(text: str, patterns: Sequence[str]) -> int:
    """How many trailing characters could still become a stop string or a replaced string (or
    are an unfinished multi-byte character), so must not be shown yet."""
    held = len(text) - len(text.rstrip("\ufffd"))
    for pattern in patterns:
        for length in range(min(len(pattern) - 1, len(text)), 0, -1):
            if text.endswith(pattern[:length]):
                held = max(held, length)
                break
    return held


def stream_response_text(
    token_ids: Iterator[int], tokenizer: ChatGLM2Tokenizer, stop: Sequence[str] | None = None
) -> Iterator[str]:
    """Pieces of the post-processed response; their concatenation is the final response.

    Each step re-decodes the whole answer (as the official ``stream_chat`` does), so SentencePiece
    spacing and the official post-processing apply exactly; only text that can no longer change
    is emitted. Stops at the first stop string, which is left out.
    """
    stop = [s for s in (stop or []) if s]
    held_patterns = [*stop, *RESPONSE_REPLACEMENTS]
    generated: list[int] = []
    emitted = ""
    text = ""
    for token_id in token_ids:
        generated.append(token_id)
        text = process_response(tokenizer.decode(generated))
        stop_at = min((text.find(s) for s in stop if s in text), default=-1)
        if stop_at >= 0:
            text = text[:stop_at]
            break
        ready = text[: len(text) - _held_back_length(text, held_patterns)]
        if ready.startswith(emitted) and len(ready) > len(emitted):
            yield ready[len(emitted):]
            emitted = ready
    # Closing a generator stops the token loop too: no tokens are generated past a stop string.
    if hasattr(token_ids, "close"):
        token_ids.close()
    if not text.startswith(emitted):  # the decoder revised text already shown: keep what was shown
        logger.warning("Streamed text diverged from the final decode; the stream keeps what it showed")
        text = emitted
    # LangChain's stream() needs at least one chunk, so an empty answer yields one empty piece.
    if len(text) > len(emitted) or not emitted:
        yield text[len(emitted):]


# --- the LangChain LLM -------------------------------------------------------------------------

class ChatGLM2(LLM):
    """ChatGLM2 from a local release folder, without executing code from that folder.

    ``history`` (a list of (question, answer) pairs) may be passed to ``invoke``/``stream``;
    the model keeps no conversation of its own.
    """

    model_path: str
    device: str = "cpu"
    # Defaults are the official chat()'s.
    temperature: float = Field(default=0.8, ge=0.0)
    top_p: float = Field(default=0.8, gt=0.0, le=1.0)
    max_new_tokens: int = Field(default=512, ge=1)
    max_length: int = Field(default=8192, ge=2)
    quantize: Literal["none", "int8"] = "none"

    @field_validator("model_path", mode="before")
    @classmethod
    def _path_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    @model_validator(mode="after")
    def _load_model_now(self) -> "ChatGLM2":
        # Fail at construction with a clear ModelSetupError rather than on the first question.
        _shared_model(self.model_path, self.device, self.quantize)
        return self

    @property
    def _llm_type(self) -> str:
        return "chatglm2"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path, "device": self.device, "quantize": self.quantize,
            "temperature": self.temperature, "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens, "max_length": self.max_length,
        }

    @property
    def _shared(self) -> _SharedModel:
        return _shared_model(self.model_path, self.device, self.quantize)

    @property
    def model(self) -> torch.nn.Module:
        """The process-wide GlmForCausalLM (the same object for every instance on this folder)."""
        return self._shared.release.model

    @property
    def tokenizer(self) -> ChatGLM2Tokenizer:
        return self._shared.release.tokenizer

    def prompt_ids(self, query: str, history: History | None = None, **overrides: Any) -> list[int]:
        """The model input ids a call with these arguments would use, after the context budget."""
        settings = self._settings(overrides)
        return fit_prompt_ids(self.tokenizer, query, _checked_history(history), self._prompt_budget(settings))

    @property
    def context_window(self) -> int:
        """Tokens the model sees at once (prompt and answer): max_length, at most what the
        checkpoint was built for."""
        return self._context_length(self._settings({}))

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in ChatGLM2's own SentencePiece vocabulary."""
        return len(self.tokenizer.encode_text(text)) if text else 0

    def get_num_tokens(self, text: str) -> int:
        # LangChain's default would fetch GPT-2's tokenizer from the hub.
        return self.count_tokens(text)

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        history: History | None = None,
        **kwargs: Any,
    ) -> str:
        return "".join(chunk.text for chunk in self._stream(prompt, stop, run_manager, history=history, **kwargs))

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        history: History | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for piece in self.answer_pieces(prompt, history, stop, **kwargs):
            chunk = GenerationChunk(text=piece)
            if run_manager and piece:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

    def answer_pieces(
        self, query: str, history: History | None, stop: list[str] | None = None,
        usage: dict[str, Any] | None = None, **overrides: Any,
    ) -> Iterator[str]:
        """Pieces of the answer to ``query`` after ``history``: the one generation loop of the
        LLM and of the chat model (``chatglm_chat.py``). When the answer is complete, ``usage``
        (if given) gets input_tokens, output_tokens and finish_reason ("stop" or "length")."""
        settings = self._settings(overrides)
        shared = self._shared
        input_ids = fit_prompt_ids(
            shared.release.tokenizer, query, _checked_history(history), self._prompt_budget(settings)
        )
        max_new_tokens = min(settings["max_new_tokens"], self._context_length(settings) - len(input_ids))
        generated: list[int] = []

        def counted(token_ids: Iterator[int]) -> Iterator[int]:
            for token_id in token_ids:
                generated.append(token_id)
                yield token_id

        with shared.generation_lock:
            token_ids = generate_token_ids(
                shared.release, input_ids, max_new_tokens, settings["temperature"], settings["top_p"]
            )
            yield from stream_response_text(counted(token_ids), shared.release.tokenizer, stop)
        if usage is not None:
            ended = bool(generated) and generated[-1] in shared.release.eos_token_ids
            usage.update(
                input_tokens=len(input_ids),
                output_tokens=len(generated),
                finish_reason="length" if len(generated) >= max_new_tokens and not ended else "stop",
            )

    def _settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Field values, with per-call overrides (e.g. ``invoke(q, temperature=0)``)."""
        unknown = set(overrides) - set(_CALL_OVERRIDES)
        if unknown:
            logger.debug("ChatGLM2 ignores call arguments %s", sorted(unknown))
        return {name: overrides.get(name, getattr(self, name)) for name in _CALL_OVERRIDES}

    def _context_length(self, settings: dict[str, Any]) -> int:
        return min(int(settings["max_length"]), self._shared.release.seq_length)

    def _prompt_budget(self, settings: dict[str, Any]) -> int:
        return self._context_length(settings) - int(settings["max_new_tokens"])


def _checked_history(history: Any) -> list[tuple[str, str]]:
    """History as (question, answer) string pairs; anything else is a caller bug, said plainly."""
    if history is None:
        return []
    checked = []
    for turn in history:
        if not (isinstance(turn, (tuple, list)) and len(turn) == 2 and all(isinstance(t, str) for t in turn)):
            raise ValueError(f"history must be a list of (question, answer) string pairs, got {turn!r}")
        checked.append((turn[0], turn[1]))
    return checked
