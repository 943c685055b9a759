"""Stateless app replicas (issue 16): app processes with different DOCCHAT_HOMEs that share one
database (PostgreSQL), one Chroma server (`chroma run`) and one model server (llama-cpp-python's
OpenAI-compatible server), all real and started by the tests (tests/servers.py).

Each replica is a separate process running DocChat's own objects (tests/replica.py): it builds
``DocChat.from_settings()`` from its environment and keeps it, as a running web page does.
"""
from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest

from kb_helpers import REPO, write_txt
from replica import Replica
from servers import MODEL_ALIAS

pytestmark = pytest.mark.slow

POLICY = REPO / "data" / "expense_policy_zh.pdf"


def _kb_name() -> str:
    """Every test writes a knowledge base of its own: the servers are shared by the session."""
    return f"replicas-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def replica_env(chroma_server, llama_server, postgres_server) -> dict[str, str]:
    """What makes a replica stateless: the three servers, nothing shared on its own disk."""
    return {
        "DOCCHAT_CHROMA_URL": chroma_server,
        "DOCCHAT_DATABASE_URL": postgres_server.new_database(),
        "DOCCHAT_LLM": "openai",
        "DOCCHAT_OPENAI_BASE_URL": llama_server,
        "DOCCHAT_OPENAI_MODEL": MODEL_ALIAS,
        "DOCCHAT_OPENAI_TIMEOUT": "300",
        "DOCCHAT_TEMPERATURE": "0",
        "DOCCHAT_MAX_NEW_TOKENS": "96",
    }


@pytest.fixture(scope="module")
def replicas(replica_env, tmp_path_factory):
    """Replicas A and B, started once for the module (each loads the embedding model)."""
    root = tmp_path_factory.mktemp("replicas")
    started = []
    try:
        for name in ("a", "b"):
            started.append(Replica(name, root / f"home-{name}", replica_env, root / f"{name}.log"))
        yield started
    finally:
        for rep in started:
            rep.close()


def _sources(hits: list[dict]) -> set[str]:
    return {h["source"] for h in hits}


def test_a_document_indexed_through_a_is_searched_and_answered_on_b_at_once(replicas, tmp_path):
    a, b = replicas
    kb = _kb_name()
    doc = shutil.copy(POLICY, tmp_path / POLICY.name)
    [result] = a.call("ingest", kb=kb, paths=[str(doc)])
    assert result["status"] == "indexed" and result["chunks"] > 0
    # B's very next requests, with no waiting: the shared catalog says the file is ready, its
    # vectors are on the Chroma server, and B's own keyword index follows the shared generation.
    assert POLICY.name in b.call("files", kb=kb)
    assert POLICY.name in _sources(b.call("search", kb=kb, query="报销申请要在多少天内提交", k=3))
    assert POLICY.name in _sources(b.call("search", kb=kb, query="报销 提交 期限", k=3, mode="keyword"))
    question = "报销要在多少天内提交？"
    answer = b.call("ask", kb=kb, question=question, keep=True)
    # Streamed from the model server, grounded and cited: the passage it stands on is shown.
    assert answer["pieces"] > 1 and not answer["refused"], answer
    assert answer["answer"].strip() and "[1]" in answer["answer"], answer
    assert [s["source"] for s in answer["sources"]] and {s["source"] for s in answer["sources"]} == {POLICY.name}
    # The conversation is in the shared database: a tab that lands on A next finds it there.
    assert a.call("turns", conversation=answer["conversation"]) == [question]
    for rep in (a, b):
        assert rep.call("check", kb=kb)["ok"]


def test_a_sign_in_on_one_replica_holds_on_the_other(replicas):
    a, b = replicas
    name = f"user-{uuid.uuid4().hex[:6]}"
    token = a.call("sign_in", name=name, password="correct horse battery")
    assert b.call("signed_in_as", token=token) == name
    assert b.call("signed_in_as", token="not-a-token") is None


def test_concurrent_ingests_from_both_replicas(replicas, tmp_path):
    a, b = replicas
    kb = _kb_name()
    docs_a = [write_txt(tmp_path / "a" / f"a{i}.txt", [f"甲{i}号规定：第{j}项考核在{j % 28 + 1}日内公布。"
                                                     for j in range(150)]) for i in range(3)]
    docs_b = [write_txt(tmp_path / "b" / f"b{i}.txt", [f"乙{i}号规定：第{j}项报销在{j % 28 + 1}日内办理。"
                                                     for j in range(150)]) for i in range(3)]
    both = write_txt(tmp_path / "shared.txt", ["两个副本都会导入这份文件：共享条款。"])
    # Both requests are out before either reply is read: the two writes overlap.
    sent_a = a.send("ingest", kb=kb, paths=[*map(str, docs_a), str(both)])
    sent_b = b.send("ingest", kb=kb, paths=[*map(str, docs_b), str(both)])
    results_a, results_b = a.reply(sent_a), b.reply(sent_b)
    assert [r["status"] for r in results_a[:3]] == ["indexed"] * 3
    assert [r["status"] for r in results_b[:3]] == ["indexed"] * 3
    # The overlapping file is stored once: one replica indexed it, the other found it there.
    assert sorted([results_a[3]["status"], results_b[3]["status"]]) in (["duplicate", "indexed"],
                                                                         ["indexed", "unchanged"])
    expected = {p.name for p in [*docs_a, *docs_b, both]}
    for rep in (a, b):
        assert set(rep.call("files", kb=kb)) == expected
        report = rep.call("check", kb=kb)
        assert report["ok"] and report["catalog_chunks"] == report["chroma_rows"] == report["keyword_rows"], report
    for rep, tag in ((a, "乙2号"), (b, "甲2号")):  # each finds what the other wrote
        assert any(tag in h["text"] for h in rep.call("search", kb=kb, query=f"{tag}规定第149项", k=3))


def test_a_delete_on_one_replica_is_seen_by_the_other(replicas, tmp_path):
    a, b = replicas
    kb = _kb_name()
    keep = write_txt(tmp_path / "keep.txt", ["差旅住宿标准：一线城市每晚不超过六百元。"])
    gone = write_txt(tmp_path / "gone.txt", ["保密条款：离职员工须在三日内归还门禁卡和笔记本电脑。"])
    a.call("ingest", kb=kb, paths=[str(keep), str(gone)])
    assert "gone.txt" in _sources(b.call("search", kb=kb, query="离职 归还 门禁卡", k=3))
    [deleted] = a.call("delete", kb=kb, name="gone.txt")
    assert deleted["status"] == "deleted"
    # B's next search, at once: neither its dense nor its keyword side finds the deleted file.
    for mode in ("hybrid", "dense", "keyword"):
        assert "gone.txt" not in _sources(b.call("search", kb=kb, query="离职 归还 门禁卡", k=5, mode=mode))
    assert b.call("files", kb=kb) == ["keep.txt"]
    for rep in (a, b):
        report = rep.call("check", kb=kb)
        assert report["ok"] and report["chroma_rows"] == report["catalog_chunks"], report


def test_kill_9_of_one_replica_mid_write(replicas, replica_env, tmp_path):
    """A replica killed inside its write leaves a pending file; the other can still write (the
    lock died with the killed one's database session), and after repair all stores agree."""
    _, b = replicas
    kb = _kb_name()
    lines = 800  # a write long enough to be caught inside, short enough to embed twice
    victim = Replica("victim", tmp_path / "home-victim", replica_env, tmp_path / "victim.log")
    caught = None
    try:
        for attempt in range(3):  # a write that slips between two looks is simply tried again
            big = write_txt(tmp_path / f"big{attempt}.txt",
                            [f"考核第{i}条规定：员工编号{i}的年度考核结果应当在{i % 28 + 1}日内公布。"
                             for i in range(lines)])
            ingest = victim.send("ingest", kb=kb, paths=[str(big)])
            while not ingest.done():
                if big.name in b.call("pending", kb=kb):
                    victim.kill9()
                    caught = big.name
                    break
                time.sleep(0.02)
            if caught:
                break
    finally:
        victim.close()
    assert caught, "never caught the victim inside its write; cannot test the crash"
    small = write_txt(tmp_path / "small.txt", ["加班规定：加班须提前一天申请。"])
    assert [r["status"] for r in b.call("ingest", kb=kb, paths=[str(small)])] == ["indexed"]
    b.call("repair", kb=kb)  # rolls the killed write back and finishes it: the file is still there
    assert caught in b.call("files", kb=kb) and "small.txt" in b.call("files", kb=kb)
    report = b.call("check", kb=kb)
    assert report["ok"] and report["catalog_chunks"] == report["chroma_rows"] == report["keyword_rows"], report
    hits = b.call("search", kb=kb, query=f"考核第{lines - 1}条", k=3, mode="keyword")
    assert hits and str(lines - 1) in hits[0]["text"]
    # The killed replica's home, started again, agrees with the shared stores too.
    again = Replica("victim-again", tmp_path / "home-victim", replica_env, tmp_path / "victim.log")
    try:
        assert again.call("check", kb=kb)["ok"]
    finally:
        again.close()
