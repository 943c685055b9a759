"""Document structure end to end, on real generated files: headings and numbered articles from
DOCX, PDF, Markdown and HTML; PDF tables as row records with their header; the structure-aware
chunker keeping an article whole; the heading path in chunk metadata and in search hits."""
from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from langchain_core.documents import Document
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from conftest import require_shared
from kb_helpers import config
from loaders import SentenceChunker, load_file
from loaders.formats.pdf_layout import table_rows
from loaders.structure import numbered
from vectorstore import KnowledgeBase
from vectorstore.retrievers import HybridRetriever

pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
LAW = "中华人民共和国劳动合同法"
CH4 = "第四章 劳动合同的解除和终止"
ART39 = ("第三十九条 劳动者有下列情形之一的，用人单位可以解除劳动合同：\n（一）在试用期间被证明不符合录用条件的；\n"
         "（二）严重违反用人单位的规章制度的；\n（三）严重失职，营私舞弊，给用人单位造成重大损害的；\n"
         "（四）被依法追究刑事责任的。")
ART40 = "第四十条 有下列情形之一的，用人单位提前三十日以书面形式通知劳动者本人或者额外支付劳动者一个月工资后，可以解除劳动合同。"


def make_law_docx(path: Path) -> Path:
    doc = DocxDocument()
    doc.add_heading(LAW, level=0)
    doc.add_heading("第一章 总则", level=1)
    doc.add_paragraph("第一条 为了完善劳动合同制度，明确劳动合同双方当事人的权利和义务，制定本法。")
    doc.add_heading(CH4, level=1)
    doc.add_paragraph("第三十六条 用人单位与劳动者协商一致，可以解除劳动合同。")
    doc.add_paragraph(ART39)
    doc.add_paragraph(ART40)
    # A heading by outline level only (no heading style), as some templates write it.
    outlined = doc.add_paragraph("第五章 特别规定")
    ppr = outlined._p.get_or_add_pPr()
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "0")
    ppr.append(level)
    doc.add_paragraph("第一节 集体合同")  # numbered, plain style: found from the words
    doc.add_paragraph("第五十一条 企业职工一方与用人单位通过平等协商，可以就劳动报酬、工作时间等事项订立集体合同。")
    doc.save(path)
    return path


def by_text(docs, start: str) -> Document:
    return next(d for d in docs if d.page_content.startswith(start))


# --- structure detection ------------------------------------------------------------------

def test_docx_headings_and_numbered_articles_give_heading_paths(tmp_path):
    docs = load_file(make_law_docx(tmp_path / "law.docx"))
    headings = [(d.page_content, d.metadata["level"]) for d in docs if d.metadata["kind"] == "heading"]
    assert headings == [(LAW, 1), ("第一章 总则", 2), (CH4, 2), ("第五章 特别规定", 2), ("第一节 集体合同", 3)]
    assert by_text(docs, "第三十九条").metadata["heading"] == f"{LAW} › {CH4} › 第三十九条"
    assert by_text(docs, "第四十条").metadata["heading"] == f"{LAW} › {CH4} › 第四十条"
    assert by_text(docs, "第五十一条").metadata["heading"] == f"{LAW} › 第五章 特别规定 › 第一节 集体合同 › 第五十一条"
    # The items of an article stay inside it: not headings, not blocks of their own.
    assert by_text(docs, "第三十九条").page_content == ART39


def make_law_pdf(path: Path) -> Path:
    """A statute set like a printed one: title 20 pt, chapter 15 pt, articles 10.5 pt."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    y = 780
    for size, text in [(20, LAW), (15, CH4), (10.5, "第三十六条 用人单位与劳动者协商一致，可以解除劳动合同。"),
                       (10.5, "第三十七条 劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同。"),
                       (10.5, "劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。"),
                       (15, "第五章 特别规定"), (10.5, "第五十一条 企业职工一方与用人单位可以订立集体合同。")]:
        pdf.setFont("STSong-Light", size)
        pdf.drawString(72, y, text)
        y -= size * 2.2
    pdf.showPage()
    pdf.setFont("STSong-Light", 10.5)
    pdf.drawString(72, 780, "第五十二条 企业职工一方与用人单位可以订立专项集体合同。")
    pdf.save()
    return path


def test_pdf_headings_by_font_size_and_articles_by_number(tmp_path):
    docs = load_file(make_law_pdf(tmp_path / "law.pdf"))
    headings = [(d.page_content, d.metadata["level"]) for d in docs if d.metadata["kind"] == "heading"]
    assert headings == [(LAW, 1), (CH4, 2), ("第五章 特别规定", 2)]
    art37 = by_text(docs, "第三十七条")
    # The article's second paragraph stays with it; the next article is a block of its own.
    assert "试用期内提前三日" in art37.page_content
    assert art37.metadata["heading"] == f"{LAW} › {CH4} › 第三十七条"
    assert art37.metadata["page"] == 1
    # The path carries over the page break.
    art52 = by_text(docs, "第五十二条")
    assert art52.metadata["page"] == 2
    assert art52.metadata["heading"] == f"{LAW} › 第五章 特别规定 › 第五十二条"


def test_markdown_and_html_headings(tmp_path):
    md = tmp_path / "rules.md"
    md.write_text("# 员工手册\n\n## 第二章 休假\n第十条 年假为十五天。\n\n第十一条 病假需提供证明。\n", encoding="utf-8")
    docs = load_file(md)
    assert by_text(docs, "第十一条").metadata["heading"] == "员工手册 › 第二章 休假 › 第十一条"
    html = tmp_path / "policy.html"
    html.write_text("<html><body><h1>Travel policy</h1><h2>Hotels</h2><p>Up to 600 per night.</p>"
                    "<h2>Meals</h2><p>Up to 100 per day.</p></body></html>", encoding="utf-8")
    docs = load_file(html)
    assert by_text(docs, "Up to 100").metadata["heading"] == "Travel policy › Meals"
    assert by_text(docs, "Meals").metadata == {**by_text(docs, "Meals").metadata, "kind": "heading", "level": 2}


@pytest.mark.parametrize("line,expected", [
    ("第三十九条 劳动者有下列情形之一的", (24, "第三十九条", True)),
    ("第三十九条规定的情形", None),  # a reference at a wrapped line's start, not an article
    ("第二编 物权", (20, "第二编 物权", False)),
    ("第一分编 通则", (21, "第一分编 通则", False)),
    ("一、主要财务数据", (26, "一、主要财务数据", False)),
    ("（一）主要会计数据和财务指标", (27, "（一）主要会计数据和财务指标", False)),
    ("（一）在试用期间被证明不符合录用条件的；", None),  # an item: it ends like a sentence
    ("Article 5", (24, "Article 5", False)),
    ("Article 5. Members shall respect the rules.", (24, "Article 5", True)),
    ("§ 12. Definitions", (25, "§ 12. Definitions", False)),
    ("1.2 Scope", (28, "1.2 Scope", False)),
    ("1. Install the package", None),
])
def test_numbering_in_chinese_and_english(line, expected):
    assert numbered(line) == expected


def test_numbered_items_inside_an_article_are_not_headings():
    assert numbered("（一）主要会计数据", inside_unit=True) is None
    assert numbered("第二章 总则", inside_unit=True) == (22, "第二章 总则", False)


# --- the structure-aware chunker ------------------------------------------------------------

def test_an_article_is_kept_whole_and_its_chunk_carries_the_path(tmp_path):
    docs = load_file(make_law_docx(tmp_path / "law.docx"))
    # 2 sentences per chunk would cut article 39 (five lines) by the old rule; it fits the
    # budget, so it stays whole, and alone (the next article does not fit beside it).
    chunks = SentenceChunker(sentences_per_chunk=2, overlap=1, max_chars=300, chunk_chars=150).split(docs)
    art39 = [c for c in chunks if "第三十九条" in c.page_content]
    assert len(art39) == 1 and art39[0].page_content == ART39
    assert art39[0].metadata["heading"] == f"{LAW} › {CH4} › 第三十九条"
    assert all("heading" in c.metadata for c in chunks)
    # A chunk never straddles two chapters.
    assert not any("第一条" in c.page_content and "第三十六条" in c.page_content for c in chunks)
    # Packed, with a larger budget, short neighbouring articles share a chunk under their chapter.
    wide = SentenceChunker(chunk_chars=2000, pack=True).split(docs)
    ch4 = next(c for c in wide if "第三十六条" in c.page_content)
    assert "第四十条" in ch4.page_content and ch4.metadata["heading"] == f"{LAW} › {CH4}"
    assert ch4.page_content.startswith(CH4)  # the chapter heading leads its articles


def test_an_article_over_the_budget_is_split_by_sentences_and_rows_are_never_cut():
    sha = "1" * 64
    long_article = "第九条 " + "".join(f"第{i}句规定了一项具体的义务。" for i in range(1, 31))
    row = "项目: 营业收入（元）; 本报告期: " + "4,755,785.11 " * 20
    blocks = [Document(page_content=t, metadata={"sha256": sha, "position": i, "kind": k, "heading": h})
              for i, (t, k, h) in enumerate([(long_article, "text", "法 › 第九条"), (row, "row", "法 › 表")])]
    chunker = SentenceChunker(sentences_per_chunk=5, overlap=1, max_chars=300, chunk_chars=120)
    chunks = chunker.split(blocks)
    pieces = [c for c in chunks if c.metadata["heading"] == "法 › 第九条"]
    assert len(pieces) > 1 and all(len(c.page_content) <= 120 for c in pieces)
    assert all(c.page_content.count("。") <= 5 for c in pieces)
    assert [c.page_content for c in chunks if c.metadata["heading"] == "法 › 表"] == [row]


# --- PDF tables -----------------------------------------------------------------------------

def make_table_pdf(path: Path) -> Path:
    body = ParagraphStyle("body", fontName="STSong-Light", fontSize=10.5, leading=16)
    grid = TableStyle([("FONT", (0, 0), (-1, -1), "STSong-Light", 10),
                       ("GRID", (0, 0), (-1, -1), 0.5, colors.black)])
    story = [Paragraph("公司本报告期主要会计数据如下表所示，单位为人民币元。", body), Spacer(1, 12),
             Table([["项目", "本报告期", "上年同期", "增减"],
                    ["营业收入（元）", "4,755,785.11", "5,699,227.63", "-16.55%"],
                    ["归属于上市公司股东的净利润（元）", "-8,326,151.63", "-3,588,271.49", "-132.04%"]], style=grid),
             Spacer(1, 12),
             Table([["2018", "4,755,785.11"], ["2017", "5,699,227.63"]], style=grid),  # no header row
             Spacer(1, 12), Paragraph("公司第一季度报告未经审计。", body)]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def test_pdf_table_rows_carry_their_header_and_are_not_read_twice(tmp_path):
    docs = load_file(make_table_pdf(tmp_path / "report.pdf"))
    rows = [d.page_content for d in docs if d.metadata["kind"] == "row"]
    assert "项目: 营业收入（元）; 本报告期: 4,755,785.11; 上年同期: 5,699,227.63; 增减: -16.55%" in rows
    assert ("项目: 归属于上市公司股东的净利润（元）; 本报告期: -8,326,151.63; 上年同期: -3,588,271.49; "
            "增减: -132.04%") in rows
    assert "2018; 4,755,785.11" in rows and "2017; 5,699,227.63" in rows  # no header: cells joined
    prose = "\n".join(d.page_content for d in docs if d.metadata["kind"] == "text")
    assert "主要会计数据如下表所示" in prose and "公司第一季度报告未经审计。" in prose
    assert "5,699,227.63" not in prose  # the table's text is in its rows only
    assert all(d.metadata["page"] == 1 for d in docs)
    order = [d.page_content for d in docs]
    assert order.index(next(r for r in rows if r.startswith("项目: 营业收入"))) < \
        order.index(next(t for t in order if "未经审计" in t))  # rows where the table stands


def test_table_rows_with_a_two_row_header_and_merged_cells():
    cells = [["项目", "本报告期", None, "上年同期"],  # None: covered by the cell on its left
             ["", "金额", "占比", "金额"],
             ["营业收入", "100", "50%", "90"]]
    assert table_rows(cells) == ["项目; 本报告期 金额; 本报告期 占比; 上年同期 金额",
                                 "项目: 营业收入; 本报告期 金额: 100; 本报告期 占比: 50%; 上年同期 金额: 90"]


def test_key_value_table_keeps_its_first_row_as_header_only_once():
    cells = [["姓名", "部门"], ["张三", "财务部"], ["李四", "技术部"]]
    assert table_rows(cells) == ["姓名; 部门", "姓名: 张三; 部门: 财务部", "姓名: 李四; 部门: 技术部"]


@pytest.mark.shared
def test_quarterly_report_table_row_has_figures_and_header():
    path = require_shared("corpus", "zh_quarterly_report_22p.pdf")
    docs = load_file(path)
    rows = [d for d in docs if d.metadata["kind"] == "row" and d.metadata["page"] == 3
            and "营业收入" in d.page_content and "4,755,785.11" in d.page_content]
    assert rows, "no row with 营业收入 and its figure on page 3"
    row = rows[0].page_content
    assert "5,699,227.63" in row and "-16.55%" in row
    assert "本报告期" in row and "上年同期" in row  # the column names travel with the figures


# --- through the knowledge base -------------------------------------------------------------

def test_heading_path_reaches_catalog_and_search_hits(tmp_path):
    kb = KnowledgeBase("laws", config(tmp_path / "home"))
    try:
        assert kb.ingest([make_law_docx(tmp_path / "劳动合同法.docx")])[0].status == "indexed"
        hits = kb.search("劳动者严重违反用人单位的规章制度，单位能解除合同吗？", k=5)
        hit = next(h for h in hits if "第三十九条" in h.text)
        assert hit.heading.startswith(f"{LAW} › {CH4}")
        assert hit.text.startswith(CH4) or hit.text.startswith("第三")  # the verbatim passage, no path
        assert LAW not in hit.text
        stored = kb.catalog.chunk_texts([hit.chunk_id])[hit.chunk_id]
        assert stored.heading == hit.heading
        # The path is indexed with the text: the law's name finds its articles by keyword.
        assert kb.search("劳动合同法", k=3, mode="keyword")
        docs = HybridRetriever(kb=kb, min_score=None).invoke("用人单位可以解除劳动合同的情形")
        assert all("heading" in d.metadata for d in docs) and any(d.metadata["heading"] for d in docs)
    finally:
        kb.close()
