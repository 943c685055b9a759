"""The OpenAI-compatible backend against real servers on 127.0.0.1, no mocks:
llama-cpp-python's own `python -m llama_cpp.server` serving the 0.5B GGUF, a port with nothing
listening, and a plain HTTP server that answers garbage."""
from __future__ import annotations

import http.server
import threading
import time

import pytest

import llama_cpp.server  # noqa: F401,E402  (installed by `make setup`; a missing server is a failure)

from servers import free_port  # noqa: E402  (the server itself: the llama_server fixture, servers.py)
from llm.openai_compat import BackendUnavailable, OpenAICompatChat  # noqa: E402

FAST = dict(temperature=0.0, max_new_tokens=24, timeout=120.0, max_retries=0)


def test_invoke_answers_english_and_chinese(llama_server):
    llm = OpenAICompatChat(base_url=llama_server, model_name="qwen-0.5b", **FAST)
    assert "paris" in llm.invoke("What is the capital of France? Answer in one word.").lower()
    assert "北京" in llm.invoke("中国的首都是哪个城市？请用一个词回答。")


def test_stream_gives_text_pieces_that_join_to_the_answer(llama_server):
    llm = OpenAICompatChat(base_url=llama_server, model_name="qwen-0.5b", **FAST)
    question = "用一句话介绍一下长城。"
    llm.invoke(question)  # same cached-prompt state for both answers below (see test_llm_gguf)
    pieces = list(llm.stream(question))
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == llm.invoke(question)


def test_two_answers_streamed_at_once_both_come_whole(llama_server):
    """Replicas share one model server: a second question must not cut the first answer off
    (llama.cpp's default --interrupt_requests does; servers.py turns it off, as DEPLOY.md says)."""
    llm = OpenAICompatChat(base_url=llama_server, model_name="qwen-0.5b", **FAST)
    questions = ["Name three colours of the rainbow.", "用一句话介绍一下黄河。"]
    alone = [llm.invoke(q) for q in questions]
    together: dict[int, str] = {}

    def stream(i: int) -> None:
        try:
            together[i] = "".join(llm.stream(questions[i]))
        except Exception as exc:  # noqa: BLE001 - shown by the assertion below
            together[i] = f"{type(exc).__name__}: {exc}"

    first = threading.Thread(target=stream, args=(0,))
    first.start()
    time.sleep(0.5)  # the first answer is streaming when the second question arrives
    stream(1)
    first.join()
    assert [together[0], together[1]] == alone


def test_stop_sequence_is_passed_to_the_server(llama_server):
    llm = OpenAICompatChat(base_url=llama_server, model_name="qwen-0.5b", **FAST)
    answer = llm.invoke("Count from 1 to 10, separated by commas.", stop=["5"])
    assert answer and "5" not in answer


def test_server_lists_its_model(llama_server):
    llm = OpenAICompatChat(base_url=llama_server, model_name="qwen-0.5b", **FAST)
    assert "qwen-0.5b" in llm.available_models()


def test_unknown_model_name_on_a_single_model_llama_server(llama_server):
    # llama_cpp.server serves its one model whatever name is asked for (it falls back to its
    # default alias), so a wrong name still answers there; servers that reject it (vLLM,
    # Ollama: HTTP 404) get the BackendUnavailable sentence checked in the garbage test below.
    llm = OpenAICompatChat(base_url=llama_server, model_name="no-such-model", **FAST)
    assert "no-such-model" not in llm.available_models()
    assert "paris" in llm.invoke("What is the capital of France? Answer in one word.").lower()


def test_nothing_listening_gives_a_quick_clear_error():
    llm = OpenAICompatChat(base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=3, max_retries=0)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"cannot be reached.*DOCCHAT_OPENAI_BASE_URL"):
        llm.invoke("hello")
    with pytest.raises(BackendUnavailable, match=r"cannot be reached"):
        list(llm.stream("hello"))
    assert time.monotonic() - started < 10


class _GarbageHandler(http.server.BaseHTTPRequestHandler):
    """A web server that is not an OpenAI server: 404 for unknown paths, HTML for the rest."""

    def do_POST(self):  # noqa: N802
        if self.path.startswith("/v1/"):
            body = b"<html><body>Welcome to the intranet</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
        else:
            body = b'{"error": {"message": "The model `x` does not exist."}}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def garbage_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GarbageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_garbage_answers_give_one_clear_sentence(garbage_server):
    llm = OpenAICompatChat(base_url=f"{garbage_server}/v1", timeout=5, max_retries=0)
    with pytest.raises(BackendUnavailable, match=r"not an OpenAI-compatible reply"):
        llm.invoke("hello")
    with pytest.raises(BackendUnavailable, match=r"not an OpenAI-compatible reply"):
        list(llm.stream("hello"))


def test_http_404_names_the_model_setting(garbage_server):
    llm = OpenAICompatChat(base_url=f"{garbage_server}/other", model_name="x", timeout=5, max_retries=0)
    with pytest.raises(BackendUnavailable, match=r"no model named 'x'.*DOCCHAT_OPENAI_MODEL"):
        llm.invoke("hello")
