"""The structure-aware SentenceChunker and sentence splitting: properties (hypothesis) and examples."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document

from loaders.chunker import SentenceChunker, common_heading, render_units
from loaders.sentences import cut_long_span, sentence_spans, split_sentences

SHA = "0" * 64

# --- generated documents -------------------------------------------------------------------

_WORDS = ["劳动者", "用人单位", "合同", "工资", "the", "contract", "Mr.", "U.S.", "3.5", "e.g.",
          "权利", "“引号", "”", "（括号", "）", "，", "、", "Employee", "pays", " "]
_ENDS = ["。", "！", "？", "；", "……", "…", ". ", "! ", "? ", "。”", "！』", "\n", "\n\n", ""]


@st.composite
def block_texts(draw) -> str:
    sentences = draw(st.lists(
        st.tuples(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12), st.sampled_from(_ENDS)),
        min_size=1, max_size=8,
    ))
    return "".join("".join(words) + end for words, end in sentences)


@st.composite
def files(draw) -> list[Document]:
    """Blocks of one file: text, heading and row blocks with heading paths, pages
    non-decreasing (or no pages at all)."""
    paged = draw(st.booleans())
    page, blocks = 1, []
    for position in range(draw(st.integers(1, 8))):
        if paged and draw(st.booleans()):
            page += draw(st.integers(1, 2))
        kind = draw(st.sampled_from(["text", "text", "row", "heading"]))
        text = (draw(block_texts()) if kind == "text"
                else "; ".join(f"列{i}: {draw(st.text(min_size=1, max_size=30))}" for i in range(3)) if kind == "row"
                else draw(st.sampled_from(["第一章 总则", "第二章 劳动合同", "Scope"])))
        metadata = {"source": "a.pdf", "sha256": SHA, "format": "pdf", "position": position, "kind": kind}
        heading = draw(st.sampled_from(["", "法", "法 › 第一章", "法 › 第一章 › 第一条", "法 › 第二章"]))
        if heading:
            metadata["heading"] = heading
        if paged:
            metadata["page"] = page
        blocks.append(Document(page_content=text, metadata=metadata))
    return blocks


chunkers = st.builds(
    lambda n, k_frac, max_chars, budget, pack: SentenceChunker(n, min(n - 1, int(k_frac * n)), max_chars,
                                                               budget, pack),
    st.integers(1, 8), st.floats(0, 0.99), st.integers(5, 60), st.integers(5, 400), st.booleans(),
)


def _stripped(text: str) -> str:
    return "".join(text.split())


# --- properties ----------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.one_of(block_texts(), st.text()))
def test_sentence_spans_cover_the_text_in_order(text):
    spans = sentence_spans(text)
    cursor = 0
    for start, end in spans:
        assert cursor <= start < end <= len(text)
        assert text[cursor:start].strip() == ""  # only whitespace between sentences
        assert text[start:end] == text[start:end].strip()
        cursor = end
    assert text[cursor:].strip() == ""


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=400), st.integers(1, 50))
def test_cut_long_span_respects_max_chars_and_loses_nothing(text, max_chars):
    pieces = cut_long_span(text, (0, len(text)), max_chars)
    assert all(0 < end - start <= max_chars for start, end in pieces)
    assert _stripped("".join(text[a:b] for a, b in pieces)) == _stripped(text)


@settings(max_examples=150, deadline=None)
@given(files(), chunkers)
def test_no_text_lost_and_overlap_only_between_sentence_windows(blocks, chunker):
    units = chunker.units(blocks)
    plan = chunker.plan(blocks)
    # Dropping the units a chunk repeats from the one before (the overlap: at most K units,
    # the previous chunk's last ones) reproduces the unit sequence exactly.
    rebuilt: list = []
    seen: set = set()
    previous: list = []
    for window in plan:
        repeated = [u for u in window if u in seen]
        assert window[:len(repeated)] == repeated  # only at the start
        if repeated:
            assert len(repeated) <= chunker.overlap and repeated == previous[-len(repeated):]
        rebuilt.extend(window[len(repeated):])
        seen.update(window)
        previous = window
    assert rebuilt == units
    assert _stripped("".join(b.page_content[u.start:u.end] for u in units for b in [blocks[u.block]])) \
        == _stripped("".join(b.page_content for b in blocks))


@settings(max_examples=150, deadline=None)
@given(files(), chunkers)
def test_chunks_budget_pages_rows_headings_and_metadata(blocks, chunker):
    plan = chunker.plan(blocks)
    documents = chunker.split(blocks)
    assert len(documents) == len(plan)
    for index, (units, document) in enumerate(zip(plan, documents)):
        pages = {u.page for u in units}
        assert len(pages) == 1  # never spans two pages
        assert document.metadata.get("page") == pages.pop()
        assert document.metadata["chunk_index"] == index
        assert document.metadata["position"] == blocks[units[0].block].metadata["position"]
        assert document.metadata["sha256"] == SHA and document.metadata["source"] == "a.pdf"
        assert None not in document.metadata.values()
        assert document.metadata["heading"] == common_heading(
            [blocks[u.block].metadata.get("heading", "") for u in units])
        # Over the budget only when one unit (a row, a long sentence, after its headings) is.
        if len(document.page_content) > chunker.chunk_chars:
            assert sum(u.kind != "heading" for u in units) <= 1
        for unit in units:
            text = blocks[unit.block].page_content[unit.start:unit.end]
            assert text in document.page_content
            if unit.kind == "row":
                assert text == blocks[unit.block].page_content  # a row is never split or cut
            else:
                assert len(text) <= chunker.max_chars
        assert document.page_content == render_units(blocks, units)
    assert chunker.split(blocks) == documents  # deterministic


@settings(max_examples=100, deadline=None)
@given(files())
def test_a_section_that_fits_the_budget_is_never_cut(blocks):
    chunker = SentenceChunker(2, 1, 300, chunk_chars=10_000)
    plan = chunker.plan(blocks)
    # Everything fits: each block with a heading path is whole in one chunk.
    for block_index in range(len(blocks)):
        if not blocks[block_index].metadata.get("heading"):
            continue
        holding = [w for w in plan if any(u.block == block_index for u in w)]
        assert len(holding) <= 1


# --- examples ------------------------------------------------------------------------------

def test_chinese_quotes_and_clause_marks():
    text = "他说：“你好。”然后走了。她问：“为什么？”『好吧！』是的；还有……以及…好的。"
    assert split_sentences(text) == [
        "他说：“你好。”", "然后走了。", "她问：“为什么？”", "『好吧！』", "是的；", "还有……", "以及…", "好的。",
    ]


def test_semicolons_inside_quotes_do_not_split():
    assert split_sentences("他答：“甲；乙；丙。”丁；戊") == ["他答：“甲；乙；丙。”", "丁；", "戊"]


def test_english_abbreviations_and_numbers():
    text = "Mr. Smith went to the U.S. in 2020. He paid 3.5 dollars, e.g. a coffee. Dr. Who? Yes! Approx. 5 km."
    assert split_sentences(text) == [
        "Mr. Smith went to the U.S. in 2020.", "He paid 3.5 dollars, e.g. a coffee.", "Dr. Who?", "Yes!",
        "Approx. 5 km.",
    ]


def test_newlines_are_hard_boundaries():
    text = "第一章 总则\n第一条 为了保护劳动者的合法权益，制定本法。\n（一）本款；\n（二）下款"
    assert split_sentences(text) == ["第一章 总则", "第一条 为了保护劳动者的合法权益，制定本法。", "（一）本款；", "（二）下款"]


def test_huge_sentence_is_cut_at_a_comma():
    text = "甲" * 30 + "，" + "乙" * 30 + "。"
    pieces = [text[a:b] for a, b in cut_long_span(text, (0, len(text)), 40)]
    assert pieces == ["甲" * 30 + "，", "乙" * 30 + "。"]


def test_chunks_keep_text_verbatim_and_metadata():
    blocks = [
        Document(page_content="第一条 甲。乙。丙。", metadata={"source": "a.docx", "sha256": SHA, "format": "docx",
                                                          "position": 0, "kind": "text", "title": "规则"}),
        Document(page_content="姓名: 张三; 部门: 人事", metadata={"source": "a.docx", "sha256": SHA, "format": "docx",
                                                             "position": 1, "kind": "row", "title": "规则"}),
    ]
    # No heading path: no structure to keep whole, so sentence windows (2 sharing 1).
    chunks = SentenceChunker(sentences_per_chunk=2, overlap=1, max_chars=100).split(blocks)
    assert [c.page_content for c in chunks] == ["第一条 甲。乙。", "乙。丙。", "丙。\n姓名: 张三; 部门: 人事"]
    assert [c.metadata["position"] for c in chunks] == [0, 0, 0]
    assert chunks[0].metadata == {"source": "a.docx", "sha256": SHA, "format": "docx", "title": "规则",
                                  "heading": "", "chunk_index": 0, "position": 0}


def test_units_with_a_heading_path_are_kept_whole_packed_or_alone():
    blocks = [
        Document(page_content="第一条 甲。乙。丙。", metadata={"sha256": SHA, "position": 0, "kind": "text",
                                                          "heading": "规则 › 第一条"}),
        Document(page_content="姓名: 张三; 部门: 人事", metadata={"sha256": SHA, "position": 1, "kind": "row",
                                                             "heading": "规则 › 表"}),
    ]
    # Within the budget, both sections share one chunk under their common path.
    packed = SentenceChunker(2, 1, 100, chunk_chars=100, pack=True).split(blocks)
    assert [(c.page_content, c.metadata["heading"]) for c in packed] == [
        ("第一条 甲。乙。丙。\n姓名: 张三; 部门: 人事", "规则")]
    # Without packing (the default), each section is a chunk of its own.
    alone = SentenceChunker(2, 1, 100, chunk_chars=100, pack=False).split(blocks)
    assert [(c.page_content, c.metadata["heading"]) for c in alone] == [
        ("第一条 甲。乙。丙。", "规则 › 第一条"), ("姓名: 张三; 部门: 人事", "规则 › 表")]
    # Over the budget of 8 characters: the article is cut into sentence windows, the row stays whole.
    cut = SentenceChunker(2, 1, 100, chunk_chars=8).split(blocks)
    assert [c.page_content for c in cut] == ["第一条 甲。乙。", "乙。丙。", "姓名: 张三; 部门: 人事"]


def test_pages_are_never_mixed():
    blocks = [Document(page_content=f"第{p}页。一。二。", metadata={"sha256": SHA, "page": p, "position": p, "kind": "text"})
              for p in (1, 2)]
    chunks = SentenceChunker(4, 1, 100).split(blocks)
    assert [(c.metadata["page"], c.page_content) for c in chunks] == [(1, "第1页。一。二。"), (2, "第2页。一。二。")]


@pytest.mark.parametrize("n,k", [(0, 0), (3, 3), (3, -1), (2, 5)])
def test_invalid_sizes_are_rejected(n, k):
    with pytest.raises(ValueError):
        SentenceChunker(n, k, 100)
    with pytest.raises(ValueError):
        SentenceChunker(3, 1, 100, chunk_chars=0)


def test_blocks_of_two_files_are_rejected():
    blocks = [Document(page_content="甲。", metadata={"sha256": "a"}), Document(page_content="乙。", metadata={"sha256": "b"})]
    with pytest.raises(ValueError):
        SentenceChunker().split(blocks)


def test_no_text_gives_no_chunks():
    assert SentenceChunker().split([Document(page_content="  \n ", metadata={"sha256": SHA})]) == []


@pytest.mark.shared
def test_real_statutes_split_into_clean_sentences(shared_eval):
    path = shared_eval / "laws_subset.jsonl"
    records = [json.loads(line) for line in path.open(encoding="utf-8")][:300]
    for record in records:
        sentences = split_sentences(record["text"])
        assert _stripped("".join(sentences)) == _stripped(record["text"])
        for sentence in sentences:
            # every sentence ends at an end mark, a clause mark, a colon before a list, or a line end
            assert not sentence.startswith(("”", "」", "』", "）", "。", "；"))


@pytest.mark.shared
def test_markdown_rules_file_headings_stay_apart(shared_corpus):
    path = shared_corpus / "zh_procuratorate_rules.md"
    sentences = split_sentences(path.read_text(encoding="utf-8"))
    assert "## 第一章 总 则" in sentences
    assert any(s.startswith("第一条 为了保障和规范人民检察院依法履行行政诉讼监督职责") and s.endswith("制定本规则。")
               for s in sentences)
