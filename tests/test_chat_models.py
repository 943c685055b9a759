"""The chat models (BaseChatModel) on real parts, beyond LangChain's standard suites
(test_standard_chat_models.py): the same answers as the text LLMs and the official ChatGLM2 code,
exact prompt-token counts, how messages map onto ChatGLM2's rounds, the factory, and failures
explained in one sentence."""
from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from docchat.settings import Settings, get_settings
from servers import MODEL_ALIAS, free_port
from llm.chatglm import ChatGLM2
from llm.chatglm_chat import ChatGLM2ChatModel, query_and_history
from llm.errors import BackendUnavailable, ModelSetupError
from llm.factory import make_chat_model
from llm.gguf import GGUFChat
from llm.gguf_chat import GGUFChatModel
from llm.gguf_models import MODELS, assemble_model
from llm.openai_chat import OpenAICompatChatModel

QUESTION = "What is the capital of France? Answer in one word."


@pytest.fixture(scope="module")
def gguf_path() -> str:
    return str(assemble_model("0.5b", get_settings().models_dir))


@pytest.fixture(scope="module")
def gguf_chat(gguf_path) -> GGUFChatModel:
    model = MODELS["0.5b"]
    return GGUFChatModel(model_path=gguf_path, expected_sha256=model.sha256, expected_size=model.size,
                         n_ctx=1024, temperature=0.0, max_tokens=24)


# --- GGUF -----------------------------------------------------------------------------------------

def test_gguf_chat_answers_like_the_text_llm(gguf_chat, gguf_path):
    llm = GGUFChat(model_path=gguf_path, n_ctx=1024, temperature=0.0, max_new_tokens=24, system_prompt="Be brief.")
    messages = [SystemMessage("Be brief."), HumanMessage(QUESTION)]
    answer = gguf_chat.invoke(messages)
    assert "paris" in answer.content.lower()
    assert answer.content == llm.invoke(QUESTION)
    assert gguf_chat.llm.shared() is llm.shared()  # one loaded model for both


def test_gguf_chat_usage_counts_like_llama_cpp(gguf_chat):
    question = "用一句话介绍一下长城。"
    messages = [SystemMessage("Be brief."), HumanMessage(question)]
    # llama.cpp's own count of the same request, not streamed, is the reference. Asked once
    # before, so both answers start from the same cached prompt (see test_llm_gguf): the same text.
    gguf_chat.invoke(messages)
    reference = gguf_chat.llm.shared().llama.create_chat_completion(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}],
        max_tokens=24, temperature=0.0, top_p=0.8, repeat_penalty=1.05)
    streamed = None
    for chunk in gguf_chat.stream(messages):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed.content == reference["choices"][0]["message"]["content"]
    usage = streamed.usage_metadata
    assert usage["input_tokens"] == reference["usage"]["prompt_tokens"]
    assert usage["output_tokens"] == reference["usage"]["completion_tokens"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert streamed.response_metadata["finish_reason"] == reference["choices"][0]["finish_reason"]


def test_gguf_chat_stop_sequence_from_the_call_and_the_field(gguf_chat):
    question = "Count from 1 to 10, separated by commas."
    assert "5" not in gguf_chat.invoke(question, stop=["5"]).content
    with_field = gguf_chat.model_copy(update={"stop": ["5"]})
    answer = with_field.invoke(question)
    assert answer.content and "5" not in answer.content
    assert with_field._get_ls_params(stop=["9"])["ls_stop"] == ["5", "9"]


def test_gguf_chat_refuses_pictures_instead_of_ignoring_them(gguf_chat):
    picture = HumanMessage(content=[{"type": "text", "text": "What is this?"},
                                    {"type": "image", "url": "https://example.com/a.png"}])
    with pytest.raises(ValueError, match="text only"):
        gguf_chat.invoke([picture])


def test_chat_models_count_tokens_like_their_llms(gguf_chat, chatglm_tiny):
    text = "出差住宿费每晚最多报销多少？ How long must passwords be?"
    assert gguf_chat.count_tokens(text) == len(gguf_chat.llm.shared().llama.tokenize(text.encode(), add_bos=False))
    assert gguf_chat.get_num_tokens(text) == gguf_chat.count_tokens(text)
    assert gguf_chat.context_window == 1024
    glm = ChatGLM2ChatModel(model_path=str(chatglm_tiny))
    assert glm.count_tokens(text) == len(glm.llm.tokenizer.encode_text(text)) > 0
    assert glm.context_window == 2048  # max_length 8192, but the tiny checkpoint is built for 2048


# --- ChatGLM2 -------------------------------------------------------------------------------------

def test_messages_map_onto_chatglm_rounds():
    query, history = query_and_history([
        SystemMessage("Answer briefly."), HumanMessage("q1"), HumanMessage("q1b"), AIMessage("a1"),
        AIMessage("a1b"), HumanMessage("q2"), AIMessage("a2"), ToolMessage("tool says 3", tool_call_id="t"),
    ])
    assert history == [("q1\n\nq1b", "a1\n\na1b"), ("q2", "a2")]
    assert query == "Answer briefly.\n\ntool says 3"
    with pytest.raises(ValueError, match="last message must be the user's"):
        query_and_history([HumanMessage("q"), AIMessage("a")])


def test_chatglm_chat_matches_the_official_chat_with_history(chatglm_tiny):
    cases = json.loads((chatglm_tiny / "reference_outputs.json").read_text(encoding="utf-8"))["cases"]
    model = ChatGLM2ChatModel(model_path=str(chatglm_tiny), temperature=0.0, max_tokens=24)
    assert any(case["history"] for case in cases)
    for case in cases:
        messages = []
        for question, answer in case["history"]:
            messages += [HumanMessage(question), AIMessage(answer)]
        reply = model.invoke([*messages, HumanMessage(case["query"])])
        assert reply.content == case["chat_response"]
        assert reply.usage_metadata["input_tokens"] == len(case["input_ids"])
        assert 0 < reply.usage_metadata["output_tokens"] <= 24


def test_chatglm_chat_streams_the_same_text_and_usage_once(chatglm_tiny):
    model = ChatGLM2ChatModel(model_path=str(chatglm_tiny), temperature=0.0, max_tokens=12)
    chunks = list(model.stream("你好"))
    assert len(chunks) > 2
    assert [c.usage_metadata is not None for c in chunks].count(True) == 1  # only the last
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.content == model.invoke("你好").content
    assert full.usage_metadata["output_tokens"] == 12 and full.response_metadata["finish_reason"] == "length"
    assert model.llm.model is ChatGLM2(model_path=str(chatglm_tiny)).model  # weights loaded once


# --- OpenAI-compatible ------------------------------------------------------------------------------

def test_openai_chat_answers_with_usage_from_a_real_server(llama_server):
    model = OpenAICompatChatModel(base_url=llama_server, model=MODEL_ALIAS, api_key="not-needed",
                                  temperature=0.0, max_tokens=24)
    reply = model.invoke([SystemMessage("Be brief."), HumanMessage(QUESTION)])
    assert "paris" in reply.content.lower()
    assert reply.usage_metadata["input_tokens"] > 0 and reply.usage_metadata["output_tokens"] > 0
    assert model.count_tokens("长城") == 2 and model.context_window == 4096


def test_openai_chat_with_nothing_listening_says_what_to_fix():
    model = OpenAICompatChatModel(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m",
                                  api_key="k", timeout=3, max_retries=0)
    with pytest.raises(BackendUnavailable, match=r"cannot be reached.*DOCCHAT_OPENAI_BASE_URL"):
        model.invoke("hello")
    with pytest.raises(BackendUnavailable, match=r"cannot be reached"):
        list(model.stream("hello"))


# --- the factory ------------------------------------------------------------------------------------

def test_factory_builds_each_chat_model_from_the_same_settings(tmp_path, chatglm_tiny, gguf_path):
    settings = Settings(_env_file=None, home=get_settings().home)
    gguf = make_chat_model(settings, gguf_model="0.5b", temperature=0.0, max_new_tokens=8, gguf_threads=2)
    assert isinstance(gguf, GGUFChatModel)
    assert (gguf.model_path, gguf.max_tokens, gguf.n_threads, gguf.n_ctx) == (gguf_path, 8, 2, settings.gguf_ctx)
    assert gguf.expected_sha256 == MODELS["0.5b"].sha256

    glm = make_chat_model(Settings(_env_file=None, home=tmp_path, llm="chatglm2", chatglm_path=chatglm_tiny),
                          max_new_tokens=4, temperature=0.0)
    assert isinstance(glm, ChatGLM2ChatModel) and glm.max_tokens == 4
    reply = glm.invoke("你好")
    assert reply.content and reply.usage_metadata["output_tokens"] > 0

    remote = make_chat_model(Settings(
        _env_file=None, home=tmp_path, llm="openai", openai_base_url="http://10.0.0.5:9000/v1",
        openai_model="qwen", openai_api_key="k", openai_timeout=7, openai_max_retries=1,
    ), temperature=0.3)
    assert isinstance(remote, OpenAICompatChatModel)
    assert (remote.openai_api_base, remote.model_name, remote.openai_api_key.get_secret_value(),
            remote.request_timeout, remote.max_retries, remote.temperature) == (
        "http://10.0.0.5:9000/v1", "qwen", "k", 7, 1, 0.3)


def test_factory_errors_are_the_llm_factorys(tmp_path):
    with pytest.raises(ModelSetupError, match="DOCCHAT_CHATGLM_PATH"):
        make_chat_model(Settings(_env_file=None, home=tmp_path, llm="chatglm2"))
    with pytest.raises(TypeError, match="SystemMessage"):
        make_chat_model(Settings(_env_file=None, home=tmp_path), system_prompt="Be brief.")
