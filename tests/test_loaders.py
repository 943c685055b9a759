"""Loaders on files generated here with the real libraries (reportlab, python-docx, ...)."""
from __future__ import annotations

import hashlib
import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from docx import Document as DocxDocument
from openpyxl import Workbook
from pptx import Presentation
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from loaders import SUPPORTED_FORMATS, LoadError, detect_format, load_file
from loaders.blocks import normalise_text

pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))


# ---------- helpers that build real files ----------

def make_pdf(path: Path, pages: list[list[str]], font: str = "STSong-Light") -> Path:
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        pdf.setFont(font, 14)
        y = 780
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 24
        pdf.showPage()
    pdf.save()
    return path


def encrypt_pdf(source: Path, target: Path, user: str, owner: str = "owner-secret") -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user, owner_password=owner)
    with target.open("wb") as out:
        writer.write(out)
    return target


def make_docx(path: Path) -> Path:
    doc = DocxDocument()
    doc.core_properties.title = "员工手册"
    doc.sections[0].header.paragraphs[0].text = "Acme Corp confidential"
    doc.sections[0].footer.paragraphs[0].text = "Page footer text"
    doc.add_heading("第一章 总则", level=1)
    doc.add_paragraph("本手册适用于全体员工。")
    doc.add_paragraph("Annual leave is 15 days", style="List Bullet")
    doc.add_paragraph("Sick leave needs a note", style="List Bullet")
    table = doc.add_table(rows=3, cols=3)
    for r, row in enumerate([["Name", "Department", "Phone"],
                             ["Alice", "Finance", "1234"],
                             ["Bob", "IT", "5678"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    doc.add_paragraph("Closing paragraph after the table.")
    doc.save(path)
    return path


def texts(docs) -> list[str]:
    return [d.page_content for d in docs]


def joined(docs) -> str:
    return "\n".join(texts(docs))


def assert_contract(docs, path: Path, fmt: str) -> None:
    """The block metadata promised in loaders/CONTRACT.md."""
    assert docs, "load_file must never return an empty list"
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    for i, doc in enumerate(docs):
        meta = doc.metadata
        assert doc.page_content.strip() == doc.page_content and doc.page_content
        assert meta["source"] == path.name
        assert meta["sha256"] == sha
        assert meta["format"] == fmt
        assert meta["position"] == i
        assert meta["kind"] in ("text", "row", "heading")
        assert isinstance(meta.get("heading", ""), str) and meta.get("heading") != ""
        assert ("level" in meta) == (meta["kind"] == "heading")
        assert all(isinstance(v, (str, int, float, bool)) for v in meta.values())
        if "page" in meta:
            assert isinstance(meta["page"], int) and meta["page"] >= 1


# ---------- PDF ----------

def test_chinese_pdf_gives_one_block_per_page_with_page_numbers(tmp_path):
    path = make_pdf(tmp_path / "handbook.pdf", [["第一页：员工手册", "年假为十五天。"],
                                                 ["第二页：报销制度", "差旅费用需在三十天内报销。"]])
    docs = load_file(path)
    assert_contract(docs, path, "pdf")
    assert [d.metadata["page"] for d in docs] == [1, 2]
    flat = ["".join(t.split()) for t in texts(docs)]
    assert "第一页：员工手册" in flat[0] and "年假为十五天。" in flat[0]
    assert "差旅费用需在三十天内报销。" in flat[1] and "员工手册" not in flat[1]
    assert "\x00" not in joined(docs)


def test_running_heads_and_page_numbers_are_dropped_and_the_body_kept(tmp_path):
    """A report's running head ("…季度报告全文" with the page number glued on) and its page
    numbers recur on every page; left in, they become chunks that match every question about the
    company and outrank the page that answers it."""
    topics = ["营业收入", "净利润", "总资产", "股东人数", "重大诉讼"]
    pages = [["东北电气发展股份有限公司 2018 年第一季度报告全文" + str(n), f"{topic}情况说明",
              f"本季度{topic}的变化主要来自{'一二三四五'[n - 1]}号生产线。", f"公司对{topic}另有附注。", f"- {n} -"]
             for n, topic in enumerate(topics, start=1)]
    docs = load_file(make_pdf(tmp_path / "report.pdf", pages))
    text = "\n".join(d.page_content for d in docs if d.metadata["kind"] != "heading")
    assert "季度报告全文" not in text and "- 3 -" not in text
    # What the head says is kept once, as the title every passage's heading path starts with.
    assert docs[0].page_content == "东北电气发展股份有限公司 2018 年第一季度报告全文"
    assert all(d.metadata["heading"].startswith("东北电气发展股份有限公司 2018 年第一季度报告全文") for d in docs)
    for topic in topics:
        assert f"{topic}情况说明" in text and f"公司对{topic}另有附注。" in text
    # Two pages are too few to tell a running head from a title.
    short = load_file(make_pdf(tmp_path / "short.pdf", pages[:2]))
    assert any("季度报告全文" in d.page_content for d in short)


def test_pdf_without_text_layer_is_reported_as_scanned(tmp_path):
    path = tmp_path / "scan.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.rect(100, 100, 300, 400, fill=1)
    pdf.showPage()
    pdf.save()
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "scanned"
    assert "no text layer" in str(err.value) and "scan.pdf" in str(err.value)
    assert "扫描件" in err.value.message("zh") and "OCR" in err.value.message("zh")


def test_pdf_needing_a_user_password_is_reported(tmp_path):
    plain = make_pdf(tmp_path / "plain.pdf", [["Secret salaries"]], font="Helvetica")
    locked = encrypt_pdf(plain, tmp_path / "locked.pdf", user="s3cret")
    with pytest.raises(LoadError) as err:
        load_file(locked)
    assert err.value.code == "password"
    assert "password" in str(err.value) and "密码" in err.value.message("zh")


def test_pdf_encrypted_with_empty_user_password_opens(tmp_path):
    plain = make_pdf(tmp_path / "plain.pdf", [["Copy protected but readable"]], font="Helvetica")
    restricted = encrypt_pdf(plain, tmp_path / "restricted.pdf", user="")
    assert PdfReader(restricted).is_encrypted
    assert "Copy protected but readable" in joined(load_file(restricted))


def test_broken_pdf_is_corrupt_not_a_crash(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer\n%%EOF")
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "corrupt"


def test_cjk_text_normalisation():
    assert normalise_text("东\x00北\x00电\x00气") == "东北电气"
    assert normalise_text("⼀年\u3000 \t两次") == "一年 两次"          # Kangxi radical, spaces
    assert normalise_text("第1部分：通用要求（征求意见稿）") == "第1部分：通用要求（征求意见稿）"
    assert normalise_text("a\n\n\n\nb  c\n") == "a\n\nb c"


# ---------- Word, PowerPoint, Excel ----------

def test_docx_keeps_document_order_and_whole_table_rows(tmp_path):
    path = make_docx(tmp_path / "handbook.docx")
    docs = load_file(path)
    assert_contract(docs, path, "docx")
    body = texts(docs)
    order = [body.index(t) for t in ("Acme Corp confidential", "第一章 总则", "本手册适用于全体员工。",
                                     "- Annual leave is 15 days", "- Sick leave needs a note",
                                     "Name; Department; Phone",
                                     "Name: Alice; Department: Finance; Phone: 1234",
                                     "Name: Bob; Department: IT; Phone: 5678",
                                     "Closing paragraph after the table.", "Page footer text")]
    assert order == sorted(order)
    rows = [d for d in docs if d.metadata["kind"] == "row"]
    assert len(rows) == 3 and all("page" not in d.metadata for d in docs)
    assert docs[0].metadata["title"] == "员工手册"


def test_pptx_slide_by_slide_with_tables(tmp_path):
    deck = Presentation()
    for title in ("季度目标", "Budget"):
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        slide.shapes.title.text = title
    table = deck.slides[1].shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Item", (0, 1): "Cost", (1, 0): "Laptops", (1, 1): "9000"}.items():
        table.cell(r, c).text = value
    path = tmp_path / "deck.pptx"
    deck.save(path)
    docs = load_file(path)
    assert_contract(docs, path, "pptx")
    by_text = {d.page_content: d.metadata for d in docs}
    assert by_text["季度目标"]["page"] == 1
    assert by_text["Budget"]["page"] == 2
    assert by_text["Item: Laptops; Cost: 9000"] == {**by_text["Item: Laptops; Cost: 9000"], "page": 2, "kind": "row"}


def test_xlsx_rows_carry_header_and_sheet(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "Staff"
    ws.append(["Staff list 2024"])
    ws.append(["姓名", "部门", "入职日期"])
    ws.append(["张三", "财务部", "2021-03-01"])
    ws.append([None, None, None])
    ws.append(["李四", "技术部", 2019])
    wb.create_sheet("Budget").append(["Item", "Amount"])
    wb["Budget"].append(["Rent", 1200.5])
    path = tmp_path / "staff.xlsx"
    wb.save(path)
    docs = load_file(path)
    assert_contract(docs, path, "xlsx")
    by_text = {d.page_content: d.metadata for d in docs}
    assert by_text["[Staff] Staff list 2024"]["kind"] == "text"
    # The title above the table travels with each row as its caption.
    assert by_text["[Staff · Staff list 2024] 姓名: 张三; 部门: 财务部; 入职日期: 2021-03-01"]["kind"] == "row"
    assert "[Staff · Staff list 2024] 姓名: 李四; 部门: 技术部; 入职日期: 2019" in by_text
    assert by_text["[Budget] Item: Rent; Amount: 1200.5"]["page"] == 2


def test_a_sheet_with_two_same_shaped_tables_keeps_each_rows_period(tmp_path):
    """Financial sheets stack this period's table over last year's, each under a title row:
    the rows must say which table they are from, or "Zone NA; Sales: 12138" reads as this year's."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Segments"
    for period, sales in (("January–June 2023", (12553, 9467)), ("January–June 2022", (12138, 9283))):
        ws.append(["In millions of CHF", None, None, period])
        ws.append([None, "Sales", "Trading operating profit", "Depreciation"])
        ws.append(["Zone NA", sales[0], 2632, -337])
        ws.append(["Zone EUR", sales[1], 1373, -414])
        ws.append([])
        ws.append(["(a) Inter-segment sales are not significant."])
    # A band of periods over a fuller header row: the band is the caption, the lower row the header.
    other = wb.create_sheet("Other")
    other.append(["In millions of CHF", "January–June 2023", None, "January–June 2022"])
    other.append([None, "Goodwill", "Intangibles", "Goodwill", "Intangibles"])
    other.append(["Zone NA", 0, -9, 0, -285])
    path = tmp_path / "segments.xlsx"
    wb.save(path)
    texts = [d.page_content for d in load_file(path)]
    assert "[Segments · In millions of CHF January–June 2023] Zone NA; Sales: 12553; Trading operating profit: 2632; Depreciation: -337" in texts
    assert "[Segments · In millions of CHF January–June 2022] Zone NA; Sales: 12138; Trading operating profit: 2632; Depreciation: -337" in texts
    assert "[Segments] (a) Inter-segment sales are not significant." in texts
    assert ("[Other · In millions of CHF January–June 2023 January–June 2022] Zone NA; Goodwill: 0; Intangibles: -9; "
            "Goodwill: 0; Intangibles: -285") in texts


# ---------- text formats and encodings ----------

def test_gb18030_text_is_decoded(tmp_path):
    text = "汉语，又称中文。\n\n主条目：汉语方言。鿿𠀀"
    path = tmp_path / "zh.txt"
    path.write_bytes(text.encode("gb18030"))
    docs = load_file(path)
    assert_contract(docs, path, "txt")
    assert texts(docs) == ["汉语，又称中文。", "主条目：汉语方言。鿿𠀀"]


def test_gbk_without_suffix_and_utf8_bom_markdown(tmp_path):
    gbk = tmp_path / "notes"
    gbk.write_bytes("请假需提前三天申请。".encode("gbk"))
    assert joined(load_file(gbk)) == "请假需提前三天申请。"
    md = tmp_path / "readme.md"
    md.write_bytes("\ufeff# 标题\n\n<!-- hidden note -->正文".encode("utf-8"))
    docs = load_file(md)
    assert texts(docs) == ["# 标题", "正文"] and docs[0].metadata["title"] == "标题"


def test_utf16_csv_rows_with_header(tmp_path):
    path = tmp_path / "cups.csv"
    path.write_text("Team,City,Cups\nBlues,\"St. Louis, MO\",1\n枫叶队,Toronto,13\n", encoding="utf-16")
    docs = load_file(path)
    assert_contract(docs, path, "csv")
    assert texts(docs) == ["Team; City; Cups", "Team: Blues; City: St. Louis, MO; Cups: 1",
                           "Team: 枫叶队; City: Toronto; Cups: 13"]
    assert {d.metadata["kind"] for d in docs} == {"row"}


def test_html_drops_scripts_and_styles(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>政策</title><style>.x{color:red}</style></head><body>"
                    "<script>var tracker = 'GoogleAnalyticsObject';</script>"
                    "<p>Hello <b>world</b>.</p><noscript>Enable JS</noscript><div>第二段</div>"
                    "<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Basic</td><td>10</td></tr></table>"
                    "</body></html>", encoding="utf-8")
    docs = load_file(path)
    assert_contract(docs, path, "html")
    body = joined(docs)
    assert "Hello world." in texts(docs) and "第二段" in texts(docs)
    assert "Plan: Basic; Price: 10" in texts(docs)
    assert "GoogleAnalyticsObject" not in body and "color:red" not in body and "Enable JS" not in body
    assert docs[0].metadata["title"] == "政策"


def test_html_in_gb18030_without_declared_charset(tmp_path):
    path = tmp_path / "sina.html"
    path.write_bytes("<html><body><p>马兴瑞，中国航天科技集团公司总经理</p></body></html>".encode("gb18030"))
    assert "马兴瑞，中国航天科技集团公司总经理" in texts(load_file(path))


def test_eml_headers_body_and_attachment_names(tmp_path):
    msg = EmailMessage()
    msg["Subject"] = "会议纪要 Meeting notes"
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg.set_content("The budget was approved.\n\n预算已批准。")
    msg.add_attachment(b"x,y\n", maintype="text", subtype="csv", filename="budget.csv")
    path = tmp_path / "notes.eml"
    path.write_bytes(bytes(msg))
    docs = load_file(path)
    assert_contract(docs, path, "eml")
    body = joined(docs)
    assert "Subject: 会议纪要 Meeting notes" in body
    assert "The budget was approved." in body and "预算已批准。" in body
    assert "budget.csv" in body


def test_rtf(tmp_path):
    path = tmp_path / "memo.rtf"
    path.write_bytes(rb"{\rtf1\ansi\ansicpg1252 {\b Memo}\par Caf\'e9 opens at nine.\par}")
    assert texts(load_file(path)) == ["Memo", "Café opens at nine."]


# ---------- detection by content ----------

def test_mislabelled_pdf_named_docx_is_read_as_pdf(tmp_path):
    real = make_pdf(tmp_path / "real.pdf", [["Quarterly results"]], font="Helvetica")
    fake = tmp_path / "report.docx"
    fake.write_bytes(real.read_bytes())
    assert detect_format(fake) == "pdf"
    docs = load_file(fake)
    assert docs[0].metadata["format"] == "pdf" and "Quarterly results" in joined(docs)


def test_docx_named_txt_is_read_as_docx(tmp_path):
    real = make_docx(tmp_path / "real.docx")
    fake = tmp_path / "notes.txt"
    fake.write_bytes(real.read_bytes())
    assert detect_format(fake) == "docx"
    assert "Name: Alice; Department: Finance; Phone: 1234" in texts(load_file(fake))


def test_unknown_binary_is_unsupported(tmp_path):
    path = tmp_path / "picture.pdf"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)  # a program, not a picture
    assert detect_format(path) is None
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "unsupported" and "picture.pdf" in err.value.message("zh")


def test_supported_formats_are_the_contract_formats():
    assert set(SUPPORTED_FORMATS) == {"pdf", "docx", "doc", "pptx", "xlsx", "xls", "csv", "html",
                                      "md", "txt", "eml", "epub", "rtf", "odt", "image"}


# ---------- guards ----------

def test_zip_bomb_is_refused_before_parsing(tmp_path):
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b" " * (64 * 1024 * 1024))  # 64 MB -> ~64 KB
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "zip_bomb"
    assert "bomb.docx" in str(err.value) and "解压" in err.value.message("zh")


def test_unzipped_size_limit(tmp_path):
    path = make_docx(tmp_path / "normal.docx")
    assert load_file(path)
    with pytest.raises(LoadError) as err:
        load_file(path, max_unzipped_bytes=10_000)
    assert err.value.code == "zip_bomb"


def test_file_over_max_bytes_is_too_large(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("x" * 5000)
    with pytest.raises(LoadError) as err:
        load_file(path, max_bytes=1000)
    assert err.value.code == "too_large" and "big.txt" in str(err.value)
    assert len(load_file(path, max_bytes=10_000)) == 1


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  ", "\ufeff\n".encode("utf-8")])
def test_empty_file_is_an_error_not_an_empty_list(tmp_path, content):
    path = tmp_path / "blank.txt"
    path.write_bytes(content)
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "empty"


def test_docx_with_no_text_is_empty(tmp_path):
    path = tmp_path / "blank.docx"
    DocxDocument().save(path)
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "empty"


def test_load_error_messages():
    err = LoadError("password", "English text", "中文说明", file="a.pdf")
    assert str(err) == "English text" and err.message("zh") == "中文说明" and err.message("en") == "English text"
    assert err.code == "password" and err.file == "a.pdf"
    with pytest.raises(ValueError):
        LoadError("nonsense", "x", "y")


def test_damaged_docx_is_corrupt(tmp_path):
    path = tmp_path / "damaged.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<w:document>not closed")
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "corrupt" and "damaged.docx" in str(err.value)


def test_time_limit_turns_a_slow_file_into_a_clean_error(tmp_path):
    path = make_pdf(tmp_path / "slow.pdf", [["page one"], ["page two"]], font="Helvetica")
    with pytest.raises(LoadError) as err:
        load_file(path, time_limit_s=-1)  # already past the deadline at the first page
    assert err.value.code == "corrupt"
    assert len(load_file(path)) == 2


def test_pdf_lines_wrapped_by_the_page_width_are_joined_back(tmp_path):
    """pypdf returns a line break wherever the page ran out of width; the chunker treats line
    breaks as hard boundaries, so a wrapped sentence must come back whole."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("b", fontName="STSong-Light", fontSize=11, leading=16, wordWrap="CJK")
    sentence = "出差住宿费标准：一线城市每人每晚不超过六百元，其他城市每人每晚不超过四百元，超出部分由员工自行承担并不予报销。"
    path = tmp_path / "wrapped.pdf"
    SimpleDocTemplate(str(path), pagesize=A4).build(
        [Paragraph("第五条 " + sentence, style), Paragraph("第六条 伙食补助每人每天一百元。", style)])
    assert "\n" in PdfReader(str(path)).pages[0].extract_text().split("第六条")[0].strip()  # it did wrap
    text = joined(load_file(path))
    assert "第五条 " + sentence in text
    assert "\n第六条" in text  # the next article still starts its own line
