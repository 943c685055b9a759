"""Other users' chats keep working while a large upload is indexed.

The real parts, shared the way the web app shares them (one KnowledgeBase object per process,
st.cache_resource): one thread ingests a large real document (law text from ../shared/eval in a DOCX, laid out
as bench/render_laws.py does), while other threads keep asking the chat's retriever questions about the
sample documents already indexed. Every answer must be right while the upload runs, and no
question may wait for the upload to end.

Nothing here asserts wall-clock limits: the machine may be busy. The search times are only
compared with the ingest running beside them (a search that waited for the ingest would take
about as long as the ingest itself).
"""
from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import pytest

from kb_helpers import assert_consistent, config, copy_samples, write_docx
from vectorstore import KnowledgeBase
from vectorstore.retrievers import HybridRetriever

# (question, the sample file that must come first)
QUESTIONS = [
    ("出差住宿费每晚不超过多少钱？", "expense_policy_zh.pdf"),
    ("How long must passwords be?", "it_security_policy_en.pdf"),
    ("新员工试用期是多长时间？", "employee_handbook_zh.docx"),
]
BIG_DOC_CHARS = 60_000  # about 400 passages: long enough to index for many searches


def _big_law_docx(source: Path, dest: Path) -> Path:
    """One DOCX with the shortest laws of ../shared/eval (about BIG_DOC_CHARS of text), laid out
    as bench/render_laws.py does: the law's title, its chapters, one paragraph per article."""
    laws: dict[str, list[dict]] = {}
    with source.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                laws.setdefault(record["law"], []).append(record)
    paragraphs, chars = [], 0
    for law in sorted(laws, key=lambda name: sum(len(r["text"]) for r in laws[name])):
        paragraphs.append(law)
        chapter = ""
        for record in laws[law]:
            if record["chapter"] and record["chapter"] != chapter:
                chapter = record["chapter"]
                paragraphs.append(chapter)
            paragraphs.append(f"{record['article_no']} {record['text'].strip()}")
            chars += len(record["text"])
        if chars >= BIG_DOC_CHARS:
            break
    return write_docx(dest, paragraphs)


def _ask(retriever: HybridRetriever, question: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    hits = retriever.retrieve_hits(question)
    return time.perf_counter() - start, [h.source for h in hits]


@pytest.mark.slow
@pytest.mark.shared
def test_searches_stay_right_and_prompt_while_a_large_document_is_indexed(tmp_path, shared_eval):
    kb = KnowledgeBase("default", config(tmp_path / "home"))  # one object, as the app shares it
    kb.ingest([copy_samples(tmp_path / "docs")])
    big = _big_law_docx(shared_eval / "laws_subset.jsonl", tmp_path / "upload" / "laws.docx")
    retriever = HybridRetriever(kb=kb, k=3)  # what the chat chain asks

    idle = []
    for _ in range(3):
        for question, expected in QUESTIONS:
            seconds, sources = _ask(retriever, question)
            assert sources and sources[0] == expected, (question, sources)
            idle.append(seconds)

    ingesting = threading.Event()
    finished = threading.Event()
    during: list[tuple[float, float, float]] = []  # (start, end, seconds)
    wrong: list[tuple[str, list[str]]] = []
    errors: list[BaseException] = []
    outcome = {}

    def upload() -> None:
        try:
            ingesting.set()
            start = time.perf_counter()
            # What the knowledge-base page does per uploaded file, then once per upload.
            outcome["result"] = kb.ingest_file(big)
            kb.refresh_keyword_index()
            outcome["window"] = (start, time.perf_counter())
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)
        finally:
            finished.set()

    def user(offset: int) -> None:
        ingesting.wait()
        turn = offset
        try:
            while not finished.is_set():
                question, expected = QUESTIONS[turn % len(QUESTIONS)]
                turn += 1
                start = time.perf_counter()
                seconds, sources = _ask(retriever, question)
                during.append((start, start + seconds, seconds))
                if not sources or sources[0] != expected:
                    wrong.append((question, sources))
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=upload)] + [threading.Thread(target=user, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=1800)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    assert not errors, errors

    result = outcome["result"]
    assert result.status == "indexed" and result.chunks > 200, result
    begin, end = outcome["window"]
    ingest_s = end - begin
    inside = [s for start, stop, s in during if start >= begin and stop <= end]
    print(f"\ningest {ingest_s:.1f} s, {result.chunks} passages; searches: idle max "
          f"{max(idle):.3f} s median {statistics.median(idle):.3f} s; during the ingest "
          f"n={len(inside)} max {max(inside, default=0):.3f} s median "
          f"{statistics.median(inside) if inside else 0:.3f} s")

    assert not wrong, f"wrong answers while indexing: {wrong[:3]}"
    # Questions kept being answered all through the upload, not once it was over ...
    assert len(inside) >= 10, f"only {len(inside)} searches finished during a {ingest_s:.1f} s ingest"
    # ... and none of them waited for it: each took a small part of the ingest's time.
    assert max(inside) < ingest_s / 5, (max(inside), ingest_s)

    # The upload itself is whole and searchable, and the stores agree.
    law_hits = retriever.retrieve_hits("反家庭暴力法所称家庭暴力是指什么？")
    assert law_hits and law_hits[0].source == "laws.docx"
    for question, expected in QUESTIONS:
        assert _ask(retriever, question)[1][0] == expected
    assert_consistent(kb)
