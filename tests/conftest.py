"""Shared test fixtures. Tests that read ../shared skip with a reason when it is absent,
unless DOCCHAT_REQUIRE_SHARED=1 (set by .ci/run), where a missing ../shared is a failure."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from pg_server import postgres_server, postgres_url  # noqa: F401  (a real PostgreSQL, one per session)
from servers import chroma_server, llama_server  # noqa: F401  (session fixtures: real servers)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]

# Tests use throw-away state folders but the model cache that `make setup` filled.
if "DOCCHAT_MODELS_DIR" not in os.environ:
    from docchat.settings import Settings
    os.environ["DOCCHAT_MODELS_DIR"] = str(Settings().models_dir)
SHARED = Path(os.environ.get("DOCCHAT_SHARED", REPO.parent / "shared"))


def require_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip (fail under CI) when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"needs {path} (the shared test data beside the checkout); not present here"
        if os.environ.get("DOCCHAT_REQUIRE_SHARED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def shared_corpus() -> Path:
    return require_shared("corpus")


@pytest.fixture
def shared_eval() -> Path:
    return require_shared("eval")


@pytest.fixture
def chatglm_tiny() -> Path:
    return require_shared("fixtures", "chatglm2-tiny")
