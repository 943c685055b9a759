"""Real servers for tests, started by the tests themselves on free 127.0.0.1 ports: Chroma's own
``chroma run`` and llama-cpp-python's OpenAI-compatible ``llama_cpp.server`` (the 0.5B GGUF).

The context managers are plain (bench/replica_bench.py uses them too); the session fixtures
``chroma_server`` and ``llama_server`` (imported by conftest.py) start one of each per test
session, so every test that needs one shares it. Tests on a shared Chroma server use knowledge
base names of their own: the collections of every test live side by side there.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

MODEL_ALIAS = "qwen-0.5b"
START_TIMEOUT_S = 120


class ServerDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _running(command: list[str], ready_url: str, log: Path, name: str,
             env: dict | None = None) -> Iterator[None]:
    """Starts ``command`` (output to ``log``), waits until ``ready_url`` answers 200, stops it on
    exit. A server that exits or stays silent fails with the end of its log."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise ServerDidNotStart(f"{name} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerDidNotStart(f"{name} did not come up in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_chroma_server(data_dir: Path, log: Path) -> Iterator[str]:
    """URL (http://127.0.0.1:port) of ``chroma run`` on ``data_dir``, stopped on exit. The CLI
    of the installed chromadb, offline, with its anonymous telemetry off."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    url = f"http://127.0.0.1:{port}"
    with _running([str(chroma), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
                  f"{url}/api/v2/heartbeat", log, "chroma run", env={"ANONYMIZED_TELEMETRY": "False"}):
        yield url


@contextlib.contextmanager
def running_llama_server(model: Path, log: Path, n_ctx: int = 2048) -> Iterator[str]:
    """Base URL (…/v1) of a llama.cpp server on a free port serving ``model`` as MODEL_ALIAS."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    with _running([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
                   "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
                   # Off, or a second client's request cuts the running streaming answer off
                   # (the server ends it early and drops the connection): replicas share it.
                   "--interrupt_requests", "False"],
                  f"{base_url}/models", log, "llama_cpp.server"):
        yield base_url


def small_model() -> Path:
    """The 0.5B GGUF that setup assembled in the model cache (assembled now if it is not)."""
    from docchat.settings import get_settings
    from llm.gguf_models import assemble_model
    return assemble_model("0.5b", get_settings().models_dir)


# --- session fixtures (conftest.py imports them) ------------------------------------------------
@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> Iterator[str]:
    """URL of one real Chroma server shared by the session's tests."""
    folder = tmp_path_factory.mktemp("chroma_server")
    with running_chroma_server(folder / "data", folder / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """Base URL of one real llama.cpp server (the 0.5B model) shared by the session's tests."""
    import llama_cpp.server  # noqa: F401  (installed by `make setup`; a missing server is a failure)
    with running_llama_server(small_model(), tmp_path_factory.mktemp("llama_server") / "server.log") as base_url:
        yield base_url
