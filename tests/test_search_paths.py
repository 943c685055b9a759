"""The question's search on a small real store: Chroma asked for ids only, the catalog's file
list read once per change (not per question), dense and keyword searched at the same time. Each
gives the same results as the plain way: Chroma's own texts and metadata, a fresh read of the
catalog, one search after the other."""
from __future__ import annotations

import subprocess
import sys

import pytest

from kb_helpers import config, copy_samples, write_txt
from test_kb_processes import INGEST
from vectorstore import KnowledgeBase
from vectorstore.retrievers import DEFAULT_POOL, HybridRetriever

QUESTIONS = ["How long must passwords be?", "年假有几天？", "差旅报销需要哪些票据", "parking fee per day",
             "What is the capital of France?", "第三条"]


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search-paths")
    kb = KnowledgeBase("default", config(tmp / "home"))
    kb.ingest([copy_samples(tmp / "docs")])
    yield kb
    kb.close()


def plain_dense(kb, vector, pool):
    """The search as it was: texts and metadata from Chroma, a fresh catalog read."""
    ready = {r.sha256: r for r in kb.catalog.ready_files()}
    res = kb.store.collection(kb.collection).query(query_embeddings=[vector], n_results=pool + 20,
                                                   include=["documents", "metadatas", "distances"])
    rows = [(cid, round(1.0 - d, 6), doc, meta["sha256"])
            for cid, d, doc, meta in zip(res["ids"][0], res["distances"][0], res["documents"][0],
                                         res["metadatas"][0]) if meta["sha256"] in ready]
    return [(cid, score, doc, ready[sha].name) for cid, score, doc, sha in rows[:pool]]


def test_dense_by_ids_gives_what_chroma_with_its_texts_gave(kb):
    for question in QUESTIONS:
        vector = kb.embed_query(question)
        got = [(h.chunk_id, h.score, h.text, h.source) for h in kb.dense(vector, DEFAULT_POOL)]
        assert got == plain_dense(kb, vector, DEFAULT_POOL), question


def test_searching_dense_and_keyword_at_once_gives_the_same_passages(kb):
    for question in QUESTIONS:
        for mode in ("hybrid", "dense", "keyword"):
            at_once = HybridRetriever(kb=kb, k=5, mode=mode, concurrent=True).retrieve_hits(question)
            one_by_one = HybridRetriever(kb=kb, k=5, mode=mode, concurrent=False).retrieve_hits(question)
            assert at_once == one_by_one, (question, mode)
    assert HybridRetriever(kb=kb, k=5).retrieve_hits("How long must passwords be?")  # not all empty


def test_the_file_list_follows_another_process_and_this_ones_changes(tmp_path):
    home = tmp_path / "home"
    kb = KnowledgeBase("default", config(home))
    first = write_txt(tmp_path / "docs" / "canteen.txt", ["The canteen opens at 7 and closes at 19."])
    kb.ingest([first])
    assert kb.search("When does the canteen open?", k=1)[0].source == "canteen.txt"
    assert set(kb.ready()) == {f.sha256 for f in kb.files()}
    # Another process adds a file: this one, already open, finds it at its next question.
    second = write_txt(tmp_path / "docs" / "gym.txt", ["The gym on floor 3 is free for staff on Fridays."])
    out = subprocess.run([sys.executable, "-c", INGEST, str(home), str(second)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert kb.search("Is the gym free on Fridays?", k=1)[0].source == "gym.txt"
    assert kb.ready(["gym.txt"]).keys() == {f.sha256 for f in kb.files() if f.name == "gym.txt"}
    # This process deletes one: it is gone from the next question's results at once.
    kb.delete("canteen.txt")
    assert all(h.source != "canteen.txt" for h in kb.search("When does the canteen open?", k=5))
    assert {r.name for r in kb.ready().values()} == {"gym.txt"}
    kb.close()
