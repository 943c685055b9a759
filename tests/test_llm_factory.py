"""make_llm(settings, **overrides): each DOCCHAT_LLM value builds the right backend."""
from __future__ import annotations

import pytest

from docchat.settings import Settings, get_settings
from llm.errors import ModelSetupError
from llm.factory import UnknownBackend, make_llm
from llm.gguf_models import MODELS, assemble_model


@pytest.fixture
def settings() -> Settings:
    # The real model cache (assembled by `make setup`), everything else at its defaults.
    return Settings(_env_file=None, home=get_settings().home)


def test_gguf_builds_the_embedded_model_from_settings(settings):
    from llm.gguf import GGUFChat

    assemble_model("0.5b", settings.models_dir)
    llm = make_llm(settings, gguf_model="0.5b", temperature=0.0, max_new_tokens=8, gguf_threads=2)
    assert isinstance(llm, GGUFChat)
    assert llm.model_path == str(MODELS["0.5b"].path_in(settings.models_dir))
    assert (llm.temperature, llm.max_new_tokens, llm.n_threads, llm.n_ctx) == (0.0, 8, 2, settings.gguf_ctx)
    assert llm.expected_sha256 == MODELS["0.5b"].sha256
    assert "paris" in llm.invoke("What is the capital of France? Answer in one word.").lower()


def test_gguf_default_is_the_15b_model(settings):
    assemble_model("1.5b", settings.models_dir)
    assert make_llm(settings).model_path.endswith(MODELS["1.5b"].file_name)


def test_gguf_with_an_empty_model_cache_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCCHAT_MODELS_DIR", raising=False)  # the tests' shared cache
    settings = Settings(_env_file=None, home=tmp_path)
    with pytest.raises(ModelSetupError, match="make setup"):
        make_llm(settings, llm="gguf")


def test_openai_builds_the_compatible_client_from_settings(tmp_path):
    from llm.openai_compat import OpenAICompatChat

    settings = Settings(
        _env_file=None, home=tmp_path, llm="openai", openai_base_url="http://10.0.0.5:9000/v1",
        openai_model="qwen", openai_api_key="k", openai_timeout=7, openai_max_retries=1,
    )
    llm = make_llm(settings, temperature=0.3)
    assert isinstance(llm, OpenAICompatChat)
    assert (llm.base_url, llm.model_name, llm.api_key, llm.timeout, llm.max_retries, llm.temperature) == (
        "http://10.0.0.5:9000/v1", "qwen", "k", 7, 1, 0.3
    )


def test_chatglm2_builds_the_chatglm_wrapper(tmp_path, chatglm_tiny):
    import llm.chatglm as chatglm
    settings = Settings(_env_file=None, home=tmp_path, llm="chatglm2", chatglm_path=chatglm_tiny)
    llm = make_llm(settings, max_new_tokens=4, temperature=0.0)
    assert isinstance(llm, chatglm.ChatGLM2)
    assert (llm.model_path, llm.device, llm.max_new_tokens) == (str(chatglm_tiny), "cpu", 4)


def test_chatglm2_without_a_folder_names_the_setting(tmp_path):
    settings = Settings(_env_file=None, home=tmp_path, llm="chatglm2")
    with pytest.raises(ModelSetupError, match="DOCCHAT_CHATGLM_PATH"):
        make_llm(settings)


def test_unknown_backend_is_a_clear_error(tmp_path):
    settings = Settings(_env_file=None, home=tmp_path)
    with pytest.raises(UnknownBackend, match=r"'llama'.*DOCCHAT_LLM.*gguf, chatglm2, openai"):
        make_llm(settings, llm="llama")


def test_unknown_override_is_refused(tmp_path):
    with pytest.raises(TypeError, match="tempreature"):
        make_llm(Settings(_env_file=None, home=tmp_path), tempreature=0)


def test_settings_may_be_any_object_with_the_fields():
    from types import SimpleNamespace

    from llm.openai_compat import OpenAICompatChat

    llm = make_llm(SimpleNamespace(llm="openai", openai_model="m"))
    assert isinstance(llm, OpenAICompatChat) and llm.model_name == "m"
