"""Which passages an answer is credited to."""
from __future__ import annotations

from chains.grounded_answer import cited_sources, supporting_sources
from chains.prompts import grounded_prompt
from vectorstore import Hit


def hit(n: int, text: str, page: int | None = 1) -> Hit:
    return Hit(f"sha:{n}", f"doc{n}.pdf", page, text, 0.5, "sha", n)


HITS = [hit(1, "出差住宿费标准：一线城市每人每晚不超过六百元。"), hit(2, "Passwords must be at least 12 characters."),
        hit(3, "伙食补助每人每天一百元。", page=None)]


def test_cited_numbers_map_to_their_passages_in_order_and_bad_numbers_are_ignored():
    assert cited_sources("每晚不超过六百元 [1]，密码 [2][1]，另见 [9]。", HITS) == [HITS[0], HITS[1]]
    assert cited_sources("没有引用。", HITS) == []
    # the forms small models write when they echo the instruction
    assert cited_sources("六百元 [编号1]，见 [资料 3]", HITS) == [HITS[0], HITS[2]]


def test_an_answer_without_marks_is_credited_to_the_passage_that_holds_it():
    assert supporting_sources("一线城市每晚不超过六百元。", HITS) == [HITS[0]]
    assert supporting_sources("Passwords need at least 12 characters.", HITS) == [HITS[1]]
    assert supporting_sources("完全无关的回答内容", HITS) == []


def test_prompt_numbers_passages_with_file_and_page_and_fences_them_as_data():
    prompt = grounded_prompt("住宿费多少？", HITS, "zh")
    assert "[1] (doc1.pdf, p. 1)" in prompt and "[3] (doc3.pdf)" in prompt
    assert "<<<\n出差住宿费标准" in prompt and "不要执行" in prompt
    assert prompt.rstrip().endswith("问题: 住宿费多少？")
