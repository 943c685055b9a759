"""The ingest's writer thread (vectorstore/write_pipeline.py) on real files, Chroma and the real
embedding model: files stay all-or-nothing when a write fails while the next file embeds, a
crash in the middle is repaired, and progress reaches the caller on its own thread."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kb_helpers import assert_consistent, config, write_txt
from test_kb_processes import INGEST, kill_9_while_pending
from vectorstore import KnowledgeBase

# The processes' ingest, each file its own write (so one is written while the next embeds).
INGEST_FILE_BY_FILE = INGEST.replace("from vectorstore import KnowledgeBase\n",
                                     "from vectorstore import KnowledgeBase\n"
                                     "import vectorstore.kb; vectorstore.kb.WRITE_BATCH_SECONDS = 0.0\n")


def _notes(folder: Path, count: int, sentences: int = 6) -> list[Path]:
    return [write_txt(folder / f"note{i}.txt",
                      [f"第{i}号通知第{j}项：{i}号楼的{j}号会议室在周{j % 5 + 1}开放。" for j in range(sentences)])
            for i in range(count)]


class _EmbeddingGate:
    """Wraps the model: says when a text holding ``tag`` starts to embed, and holds that call
    until ``release`` is set (so a write can fail while that file is being embedded)."""

    def __init__(self, inner, tag: str):
        self.inner, self.tag = inner, tag
        self.started, self.release = threading.Event(), threading.Event()

    def embed_documents(self, texts):
        if any(self.tag in t for t in texts) and not self.started.is_set():
            self.started.set()
            assert self.release.wait(60), "the failing write never happened"
        return self.inner.embed_documents(texts)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_failed_write_while_the_next_file_embeds_keeps_every_file_whole(tmp_path, monkeypatch):
    import vectorstore.kb as kb_module
    monkeypatch.setattr(kb_module, "WRITE_BATCH_SECONDS", 0.0)  # one write per file
    files = _notes(tmp_path / "docs", 3)
    home = tmp_path / "home"
    kb = KnowledgeBase("default", config(home))
    gate = _EmbeddingGate(kb.preparer.embeddings, "第2号通知")
    kb.preparer.embeddings = gate
    add, failed_while_embedding = kb.store.add, []

    def add_failing_for_note1(name, ids, *rest):
        texts = rest[1]
        if any("第1号通知" in t for t in texts):
            assert gate.started.wait(60), "note2 never started embedding"
            failed_while_embedding.append(not gate.release.is_set())
            gate.release.set()
            raise OSError(28, "No space left on device")
        return add(name, ids, *rest)

    monkeypatch.setattr(kb.store, "add", add_failing_for_note1)
    with pytest.raises(OSError, match="No space left"):
        kb.ingest(files)
    assert failed_while_embedding == [True]
    # note0 was written whole; note1's write failed half-way (a pending row, never searchable);
    # note2, embedding at the time, was never handed to the writer.
    assert [f.name for f in kb.files()] == ["note0.txt"]
    assert [f.name for f in kb.catalog.pending_files()] == ["note1.txt"]
    assert all(h.source == "note0.txt" for h in kb.search("1号楼的会议室", k=5))
    kb.close()

    monkeypatch.undo()  # the disk has room again (the Chroma store object is shared per folder)
    reopened = KnowledgeBase("default", config(home))  # repair: rolls note1 back and finishes it
    assert_consistent(reopened)
    assert sorted(f.name for f in reopened.files()) == ["note0.txt", "note1.txt"]
    results = reopened.ingest(files)
    assert [r.status for r in results] == ["unchanged", "unchanged", "indexed"]
    assert_consistent(reopened)
    assert reopened.search("第2号通知第3项", k=1, mode="keyword")[0].source == "note2.txt"
    reopened.close()


def test_progress_is_reported_on_the_callers_thread_and_every_file_finishes(tmp_path, monkeypatch):
    import vectorstore.kb as kb_module
    monkeypatch.setattr(kb_module, "WRITE_BATCH_SECONDS", 0.0)
    files = _notes(tmp_path / "docs", 4)
    kb = KnowledgeBase("default", config(tmp_path / "home"))
    seen: list[tuple[str, str, str]] = []
    results = kb.ingest(files, progress=lambda name, stage, _f: seen.append(
        (name, stage, threading.current_thread().name)))
    assert [r.status for r in results] == ["indexed"] * 4
    assert {thread for *_, thread in seen} == {threading.current_thread().name}
    assert sorted(name for name, stage, _ in seen if stage == "done") == [f.name for f in files]
    assert_consistent(kb)
    kb.close()


@pytest.mark.slow
def test_kill_9_while_one_file_is_written_and_the_next_embeds_is_repaired(tmp_path):
    home = tmp_path / "home"
    files = [write_txt(tmp_path / "docs" / f"part{i}.txt",
                       [f"第{i}部分第{j}条：编号{j}的设备每{j % 12 + 1}个月检修一次。" for j in range(300)])
             for i in range(6)]
    kill_9_while_pending(INGEST_FILE_BY_FILE, home, files)
    reopened = KnowledgeBase("default", config(home))  # repair() runs here
    assert_consistent(reopened)
    done = sorted(f.name for f in reopened.files())
    assert done and set(done) <= {f.name for f in files}
    results = reopened.ingest(files)  # the rest comes in; nothing is stored twice
    assert sorted(r.status for r in results if r.file in done) == ["unchanged"] * len(done)
    assert_consistent(reopened)
    assert sorted(f.name for f in reopened.files()) == [f.name for f in files]
    hits = reopened.search("第5部分第299条", k=3, mode="keyword")
    assert hits and "第5部分第299条" in hits[0].text
    reopened.close()
