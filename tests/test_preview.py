"""Source previews with real files: a PDF page rendered with the cited passage highlighted (pixel
checks against where the passage really is), and a DOCX passage shown among its neighbours.

The generated PDFs put a known passage at a known place, across a line break (the loader's text
joins lines, the page breaks them), in English and in Chinese (reportlab's built-in CID font
STSong-Light). The corpus report is checked against pdfplumber's own text positions."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from docx import Document as DocxDocument
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from chains.conversations import Source
from conftest import require_shared
from kb_helpers import SAMPLE_DATA, config
from loaders.preview import find_passage, passage_in_context, render_pdf_page, squeeze
from vectorstore import KnowledgeBase
from vectorstore.preview import chunk_address, preview_source

SCALE = 2.0
LEFT, TOP, SIZE, LEADING = 72, 90, 12, 20  # points; TOP: the first baseline below the top edge
EN_LINES = [
    "Section 1. General provisions for the office network.",
    "All staff must lock their screens when they leave the desk.",
    "Passwords must be at least twelve characters long and",
    "must be changed every ninety days by the account holder.",
    "Visitors are given guest network access for one day only.",
    "Lost badges are reported to the front desk within one hour.",
    "Printers on the third floor are serviced every Monday.",
]
ZH_LINES = [
    "第一章 总则",
    "第一条 为规范公司差旅费用管理，制定本办法。",
    "第二条 出差人员应当乘坐经济舱或二等座，",
    "一线城市住宿费每人每晚不超过六百元。",
    "第三条 本办法由财务部负责解释。",
    "第四条 本办法自发布之日起施行。",
]


def _write_pdf(path: Path, lines: list[str], font: str) -> Path:
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont(font, SIZE)
    for i, line in enumerate(lines):
        c.drawString(LEFT, A4[1] - TOP - i * LEADING, line)
    c.showPage()
    c.save()
    return path


def _line_box(lines: list[str], i: int, font: str) -> tuple[float, float, float, float]:
    """Line i's ink box in image pixels (x0, y0, x1, y1), from where it was drawn."""
    baseline = TOP + i * LEADING
    width = pdfmetrics.stringWidth(lines[i], font, SIZE)
    return (LEFT * SCALE, (baseline - SIZE * 0.8) * SCALE,
            (LEFT + width) * SCALE, (baseline + SIZE * 0.2) * SCALE)


def _highlight_mask(png: bytes) -> np.ndarray:
    """Pixels under the yellow highlight: white, grey and black text have R = G = B, highlighted
    ones have much less blue than red and green."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r - b > 40) & (g - b > 30)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    assert len(xs), "nothing is highlighted"
    return xs.min(), ys.min(), xs.max(), ys.max()


def _covered(mask: np.ndarray, box) -> float:
    """Share of the box's pixels that are highlighted."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return float(mask[y0:y1, x0:x1].mean())


def _assert_highlights(png: bytes, passage_boxes: list, far_boxes: list) -> None:
    mask = _highlight_mask(png)
    for box in passage_boxes:
        assert _covered(mask, box) > 0.9, f"the passage at {box} is not highlighted"
    for box in far_boxes:
        assert _covered(mask, box) == 0, f"text outside the passage at {box} is highlighted"
    # Nothing far from the passage: the highlight's bounding box hugs the passage's lines.
    hx0, hy0, hx1, hy1 = _bbox(mask)
    px0 = min(b[0] for b in passage_boxes)
    py0 = min(b[1] for b in passage_boxes)
    px1 = max(b[2] for b in passage_boxes)
    py1 = max(b[3] for b in passage_boxes)
    # One pixel either way is the rasteriser rounding a box edge (a line top at 240.8 filled from
    # pixel 241 on one machine, 240 on another), not a highlight in the wrong place.
    assert px0 - 12 <= hx0 <= px0 + 1 and px1 - 1 <= hx1 <= px1 + 12
    assert py0 - 12 <= hy0 <= py0 + 1 and py1 - 1 <= hy1 <= py1 + 12


def test_pdf_page_highlights_an_english_passage_across_a_line_break(tmp_path):
    pdf = _write_pdf(tmp_path / "policy.pdf", EN_LINES, "Helvetica")
    # As the loader gives it: the two page lines joined into one, spacing of its own.
    passage = "Passwords must be at least twelve characters  long and must be changed every\nninety days by the account holder."
    png, boxes = render_pdf_page(pdf, 1, passage, scale=SCALE)
    assert Image.open(io.BytesIO(png)).size == (round(A4[0] * SCALE), round(A4[1] * SCALE))
    assert len(boxes) == 2  # one rectangle per line
    _assert_highlights(png, [_line_box(EN_LINES, 2, "Helvetica"), _line_box(EN_LINES, 3, "Helvetica")],
                       [_line_box(EN_LINES, i, "Helvetica") for i in (0, 1, 4, 5, 6)])


def test_pdf_page_highlights_a_chinese_passage(tmp_path):
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = _write_pdf(tmp_path / "差旅.pdf", ZH_LINES, "STSong-Light")
    # pypdf's way with some CJK fonts: NULs between glyphs; and the lines joined without a break.
    passage = "第二条\x00出差人员应当乘坐经济舱或二等座，一线城市住宿费每人每晚不超过六百元。"
    png, boxes = render_pdf_page(pdf, 1, passage, scale=SCALE)
    assert len(boxes) == 2
    _assert_highlights(png, [_line_box(ZH_LINES, 2, "STSong-Light"), _line_box(ZH_LINES, 3, "STSong-Light")],
                       [_line_box(ZH_LINES, i, "STSong-Light") for i in (0, 1, 4, 5)])


def test_a_passage_not_on_the_page_highlights_nothing(tmp_path):
    pdf = _write_pdf(tmp_path / "policy.pdf", EN_LINES, "Helvetica")
    png, boxes = render_pdf_page(pdf, 1, "The canteen opens at seven and closes at nine in the evening.",
                                 scale=SCALE)
    assert boxes == [] and not _highlight_mask(png).any()
    with pytest.raises(ValueError):
        render_pdf_page(pdf, 2, "Passwords", scale=SCALE)
    with pytest.raises(FileNotFoundError):
        render_pdf_page(tmp_path / "gone.pdf", 1, "Passwords")


def test_ocr_boxes_are_drawn_as_given(tmp_path):
    """A scanned page has no characters to match: its chunk's OCR line boxes are drawn."""
    pdf = _write_pdf(tmp_path / "scan.pdf", EN_LINES, "Helvetica")
    png, boxes = render_pdf_page(pdf, 1, "anything", scale=1.0, ocr_boxes="[[0.1,0.5,0.6,0.55,30]]")
    width, height = Image.open(io.BytesIO(png)).size
    assert boxes == [(int(0.1 * width), int(0.5 * height), int(0.6 * width + 0.5), int(0.55 * height + 0.5))]
    mask = _highlight_mask(png)
    assert _covered(mask, (0.15 * width, 0.51 * height, 0.55 * width, 0.54 * height)) > 0.9
    assert not mask[: int(0.45 * height)].any()


def test_matching_ignores_spacing_and_folds_odd_characters():
    page = squeeze("第 一 条  为保障劳动者的\n合法权益，制定本法。")
    # Kangxi radical ⼀ (U+2F00) for 一 and a full-width comma: NFKC makes them the page's.
    found = find_passage(page, "第⼀条为保障劳动者的合法权益,制定本法")
    assert "".join(page[i] for i in found) == squeeze("第一条为保障劳动者的合法权益，制定本法")
    # A table row as the loader writes it ("column: value; ...") still finds its cells.
    row_page = squeeze("项目 本报告期 上年同期\n营业收入（元） 4,755,785.11 5,699,227.63 -16.55%")
    row = find_passage(row_page, "营业收入（元）; 本报告期: 4,755,785.11; 上年同期: 5,699,227.63")
    got = "".join(row_page[i] for i in row)
    assert "营业收入" in got and "4,755,785.11" in got and "5,699,227.63" in got
    assert find_passage(row_page, "完全无关的一句话，页面上没有。") == []


@pytest.mark.shared
def test_corpus_chinese_report_page_highlights_its_passage():
    pdfplumber = pytest.importorskip("pdfplumber")
    path = require_shared("corpus", "zh_quarterly_report_22p.pdf")
    passage = ("公司报告期不存在将根据《公开发行证券的公司信息披露解释性公告第 1 号——非经常性损益》"
               "定义、列举的非经常性损益项目界定为经常性损益的项目的情形。")
    png, boxes = render_pdf_page(path, 3, passage, scale=SCALE)
    assert len(boxes) == 2  # the sentence runs over two lines of the page
    with pdfplumber.open(path) as pdf:  # where pdfminer (not pdfium) says the text is
        page = pdf.pages[2]
        first = page.search("公司报告期不存在将根据")[0]
        last = page.search("项目界定为经常性损益的项目的情形")[0]
        header = page.search("第二节")[0]
    to_px = lambda m: (m["x0"] * SCALE, m["top"] * SCALE, m["x1"] * SCALE, m["bottom"] * SCALE)  # noqa: E731
    mask = _highlight_mask(png)
    assert _covered(mask, to_px(first)) > 0.9 and _covered(mask, to_px(last)) > 0.9
    assert _covered(mask, to_px(header)) == 0
    assert _bbox(mask)[1] >= to_px(first)[1] - 12  # nothing above the passage


def test_passage_in_context_drops_what_neighbours_repeat():
    texts = ["A one. A two.", "A two. B one. B two.", "B two. C one."]
    assert passage_in_context(texts, 1) == [("A one.", False), ("A two. B one. B two.", True), ("C one.", False)]
    assert passage_in_context(texts, 0) == [("A one. A two.", True), ("B one. B two.\nC one.", False)]
    assert passage_in_context(["只有一段。"], 0) == [("只有一段。", True)]
    long_before = "\n".join(f"Line {i} of the earlier part." for i in range(100))
    shown = passage_in_context([long_before, "The passage."], 1, max_chars=200)
    assert shown[0][0].startswith("… Line") and len(shown[0][0]) <= 205 and shown[1] == ("The passage.", True)


# --- through the knowledge base (real ingest, real embedding model) ----------------------------

def _handbook(path: Path) -> Path:
    doc = DocxDocument()
    doc.add_heading("员工手册", level=1)
    doc.add_heading("第一章 入职", level=2)
    for i in range(1, 9):
        doc.add_paragraph(f"入职规定第{i}项：新员工须在第{i}个工作日前完成第{i}项入职手续。")
    doc.add_heading("第二章 考勤", level=2)
    for i in range(1, 9):
        doc.add_paragraph(f"考勤规定第{i}项：员工每月第{i}次迟到须书面说明原因。")
    doc.save(str(path))
    return path


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    docs = tmp_path_factory.mktemp("docs")
    _handbook(docs / "handbook.docx")
    (docs / "it_security_policy_en.pdf").write_bytes((SAMPLE_DATA / "it_security_policy_en.pdf").read_bytes())
    kb = KnowledgeBase("default", config(tmp_path_factory.mktemp("home")))
    results = kb.ingest([docs])
    assert {r.status for r in results} == {"indexed"}, results
    yield kb
    kb.close()


def _hit(kb, query: str, name: str):
    return next(h for h in kb.search(query, k=8) if h.source == name)


def test_docx_passage_is_shown_among_its_neighbours_with_heading(kb):
    from ui.preview import context_html

    hit = _hit(kb, "员工每月第5次迟到须书面说明原因", "handbook.docx")
    assert hit.chunk_index > 0  # it has a neighbour before it
    for source in (hit, Source.of(hit)):  # as answered, and as stored with the conversation
        p = preview_source(kb, source)
        assert p.kind == "text" and p.png == b"" and p.name == "handbook.docx"
        assert "考勤" in p.heading
        marked = [text for text, is_passage in p.segments if is_passage]
        assert marked == [hit.text]
        context = "".join(text for text, is_passage in p.segments if not is_passage)
        assert context, "no neighbouring text"
        # Every sentence of the file shows once: neighbours' overlap with the passage is cut.
        shown = squeeze("".join(text for text, _ in p.segments))
        for i in range(1, 9):
            sentence = squeeze(f"考勤规定第{i}项：员工每月第{i}次迟到须书面说明原因。")
            assert shown.count(sentence) <= 1
    html = context_html(p.segments)
    assert html.count("<mark") == 1 and "员工每月第5次迟到须书面说明原因" in html.split("<mark")[1]
    assert "<script>" not in context_html([("<script>alert(1)</script>", True)])


def test_pdf_source_through_the_knowledge_base(kb):
    hit = _hit(kb, "How long must passwords be?", "it_security_policy_en.pdf")
    sha, index = chunk_address(Source.of(hit))
    assert (sha, index) == (hit.sha256, hit.chunk_index)
    p = preview_source(kb, Source.of(hit))
    assert p.kind == "page" and p.page == hit.page and p.boxes, "the passage was not located"
    assert _highlight_mask(p.png).any()


def test_missing_original_and_deleted_document(kb, tmp_path):
    hit = _hit(kb, "员工每月第3次迟到须书面说明原因", "handbook.docx")
    pdf_hit = _hit(kb, "How long must passwords be?", "it_security_policy_en.pdf")
    original = Path(kb.catalog.file(pdf_hit.sha256).path)
    moved = tmp_path / original.name
    original.rename(moved)
    try:  # the file left its folder: the text the knowledge base kept, and a plain note
        p = preview_source(kb, pdf_hit)
        assert p.file_missing and p.kind == "text" and p.segments
    finally:
        moved.rename(original)
    kb.delete("handbook.docx")
    p = preview_source(kb, Source.of(hit))
    assert p.kind == "gone" and p.segments == [(hit.text, True)]


@pytest.mark.shared
def test_scanned_page_is_highlighted_from_its_ocr_boxes(tmp_path):
    """A scan has no characters: the OCR line boxes stored with the chunk at ingest are drawn."""
    scan = require_shared("corpus", "zh_scanned_customs_penalty.pdf")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / scan.name).write_bytes(scan.read_bytes())
    kb = KnowledgeBase("default", config(tmp_path / "home"))
    try:
        assert kb.ingest([docs])[0].status == "indexed"
        hit = next(h for h in kb.search("哈尔滨电气国际工程有限责任公司 行政处罚", k=5, mode="keyword")
                   if "哈尔滨电气国际工程有限责任公司" in h.text)
        p = preview_source(kb, Source.of(hit))
        assert p.kind == "page" and p.page == hit.page and p.boxes
        mask = _highlight_mask(p.png)
        for box in p.boxes:
            inner = (box[0] + 3, box[1] + 3, box[2] - 3, box[3] - 3)
            assert _covered(mask, inner) > 0.5  # scanned ink is not pure black or white
        assert mask.mean() < 0.5  # the lines of the chunk, not the whole page
        if os.environ.get("DOCCHAT_PREVIEW_SAVE"):  # to look at it
            Path(os.environ["DOCCHAT_PREVIEW_SAVE"]).write_bytes(p.png)
    finally:
        kb.close()


def test_a_huge_page_is_drawn_within_the_pixel_cap(tmp_path):
    from loaders.preview import MAX_PIXELS

    pdf = tmp_path / "poster.pdf"
    c = canvas.Canvas(str(pdf), pagesize=(14400, 14400))  # 200 x 200 inches, PDF's largest page
    c.setFont("Helvetica", 400)
    c.drawString(1000, 7000, "Fire exits must stay clear.")
    c.showPage()
    c.save()
    png, boxes = render_pdf_page(pdf, 1, "Fire exits must stay clear.", scale=1.5)
    width, height = Image.open(io.BytesIO(png)).size
    assert width * height <= MAX_PIXELS and len(boxes) == 1


def test_preview_bench_smoke(tmp_path):
    """bench/preview_bench.py runs and writes its report (the figures are not judged here)."""
    import json

    from bench import preview_bench

    out = tmp_path / "preview_bench.json"
    assert preview_bench.main(["--per-file", "2", "--data-only", "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["runs"] and all(r["found"] == r["passages"] > 0 for r in report["runs"])
    assert {"cpu", "cores", "date"} <= report["machine"].keys()
