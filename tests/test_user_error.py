"""Error wording lives in one place: every error a user can fix is a UserError carrying its own
sentence in both languages, and describe(error, lang) is what the page and the CLI both show."""
from __future__ import annotations

import pytest

from chains.conversations import ConversationNotFound
from chains.summarize import DocumentNotFound
from common.user_error import UNEXPECTED, UserError, describe
from docchat.accounts import AccountError
from docchat.kb_access import AccessDenied
from llm.errors import BackendUnavailable, ModelSetupError
from llm.factory import UnknownBackend
from llm.gguf import PromptTooLong
from loaders import LoadError
from vectorstore import KnowledgeBaseError, WriterBusy
from vectorstore.embeddings import EmbeddingModelError
from vectorstore.parse_worker import WorkLimitExceeded
from vectorstore.rerank import RerankerError


@pytest.mark.parametrize("error", [
    LoadError.of("password", "budget.xlsx"),
    WorkLimitExceeded.timeout("big.docx", 60),
    KnowledgeBaseError("The name is taken.", "名称已被使用。"),
    WriterBusy("busy"),
    RerankerError("No reranker in /x.", "/x 中没有重排序模型。"),
    EmbeddingModelError("no embedding model given", "未指定嵌入模型"),
    ModelSetupError("The chat model file /m.gguf is missing; run make setup"),
    UnknownBackend("'llama' is not a backend (DOCCHAT_LLM)"),
    BackendUnavailable("no answer from http://127.0.0.1:9/v1"),
    PromptTooLong("prompt of 9000 tokens, context 4096"),
    ConversationNotFound("abc123"),
    AccountError("两次输入的密码不一致。", "The two passwords differ."),
    AccessDenied("hr", change=True),
], ids=lambda e: type(e).__name__)
def test_every_user_error_says_itself_in_both_languages(error):
    assert isinstance(error, UserError)
    en, zh = describe(error, "en"), describe(error, "zh")
    assert en and zh and en != zh
    assert any("\u4e00" <= c <= "\u9fff" for c in zh)
    assert not any("\u4e00" <= c <= "\u9fff" for c in en)
    assert en == error.message("en") and zh == error.message("zh-CN")


def test_a_fixed_wording_keeps_the_technical_detail_for_the_log():
    err = ModelSetupError("The chat model file /m.gguf is missing; run make setup")
    assert str(err) == "The chat model file /m.gguf is missing; run make setup"  # the log's line
    assert describe(err, "en").startswith("The language model could not start: The chat model file /m.gguf")
    assert describe(err, "zh").startswith("语言模型无法启动：The chat model file /m.gguf is missing; run make setup.")
    too_long = PromptTooLong("prompt of 9000 tokens, context 4096")
    assert "9000" in str(too_long) and "9000" not in describe(too_long, "en")
    assert "Shorten the question" in describe(too_long, "en")


def test_anything_else_is_an_unexpected_problem_without_its_details():
    err = ZeroDivisionError("division by zero in chains/x.py")
    assert describe(err, "en") == UNEXPECTED["en"] and describe(err, "zh") == UNEXPECTED["zh"]
    assert issubclass(DocumentNotFound, UserError)  # a KnowledgeBaseError

