"""OCR of scans and pictures: real files, the real RapidOCR models shipped in its wheel, no mocks.

OCR costs about 4-7 s per scanned page on 2 cores, so the scan is read once per test module."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document as DocxDocument
from PIL import Image, ImageDraw, ImageFont

from conftest import REPO, require_shared
from loaders import LoadError, SentenceChunker, detect_format, load_file

SCAN = "zh_scanned_customs_penalty.pdf"


def _manifest() -> dict:
    corpus = require_shared("corpus", "manifest.jsonl").parent
    lines = (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return {e["file"]: e for e in (json.loads(line) for line in lines if line.strip())}


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _missing(strings: list[str], docs) -> list[str]:
    text = _squeeze("\n".join(d.page_content for d in docs))
    return [s for s in strings if _squeeze(s) not in text]


def _boxes_ok(boxes: str) -> bool:
    parsed = json.loads(boxes)
    return bool(parsed) and all(len(b) == 5 and 0 <= b[0] <= b[2] <= 1 and 0 <= b[1] <= b[3] <= 1
                                and b[4] > 0 for b in parsed)


@pytest.fixture(scope="module")
def scan_read():
    """The 3-page scan (no text layer) read once: (documents, progress calls)."""
    path = require_shared("corpus", SCAN)
    calls: list[tuple[int, int]] = []
    docs = load_file(path, progress=lambda done, total: calls.append((done, total)))
    return docs, calls


@pytest.mark.shared
def test_scanned_pdf_is_read_by_ocr(scan_read):
    docs, calls = scan_read
    assert not _missing(_manifest()[SCAN]["ocr_must_contain"], docs)
    assert {d.metadata["page"] for d in docs} == {1, 2, 3}
    assert all(d.metadata["ocr"] is True and d.metadata["format"] == "pdf" for d in docs)
    assert all(_boxes_ok(d.metadata["boxes"]) for d in docs)
    assert docs.ocr_pages == 3 and docs.warnings == []
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    # Chunks keep the mark and the boxes of just the lines they hold (for a page preview).
    chunks = SentenceChunker().split(list(docs))
    assert chunks and all(c.metadata["ocr"] is True for c in chunks)
    for chunk in chunks:
        boxes = json.loads(chunk.metadata["boxes"])
        assert _boxes_ok(chunk.metadata["boxes"])
        assert sum(b[4] for b in boxes) == len(_squeeze(chunk.page_content))


@pytest.mark.shared
def test_ocr_page_limit_keeps_what_was_read_and_says_how_much(tmp_path):
    path = require_shared("corpus", SCAN)
    docs = load_file(path, ocr_max_pages=1)
    assert {d.metadata["page"] for d in docs} == {1} and "行政处罚决定书" in docs[0].page_content
    [(en, zh)] = docs.warnings
    assert "OCR read 1 of 3 pages" in en and "3 页中的 1 页" in zh


@pytest.mark.shared
def test_scan_with_ocr_turned_off_is_refused_clearly():
    path = require_shared("corpus", SCAN)
    with pytest.raises(LoadError) as err:
        load_file(path, ocr_max_pages=0)
    assert err.value.code == "scanned" and "turned off" in str(err.value)
    for message in (err.value.message("en"), err.value.message("zh")):
        assert message.count(SCAN) == 1  # the file named once, not twice


def test_picture_without_text_is_refused_clearly(tmp_path):
    path = tmp_path / "blank photo.png"
    Image.new("RGB", (800, 600), (200, 220, 240)).save(path)
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "scanned"
    assert "没有识别出任何文字" in err.value.message("zh") and "no readable text" in err.value.message("en")
    for message in (err.value.message("en"), err.value.message("zh")):
        assert message.count("blank photo.png") == 1
    assert "请先用 OCR 软件处理" not in err.value.message("zh")  # the old refusal is gone


def _cjk_font() -> str | None:
    """A font file that has Chinese glyphs (fonts-wqy-microhei, Noto CJK...), or None."""
    if not shutil.which("fc-list"):
        return None
    out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True).stdout
    files = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
    return next((f for f in sorted(files) if Path(f).is_file()), None)


def _latin_font() -> str:
    for candidate in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if Path(candidate).is_file():
            return candidate
    pytest.skip("no TrueType font installed to draw test text with (apt-get install fonts-dejavu-core)")


def _draw(lines: list[str], font_path: str, size=(1000, 360)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(font_path, 40)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * 90), line, fill="black", font=font)
    return image


def test_picture_files_are_read_by_ocr(tmp_path):
    cjk = _cjk_font()
    # Chinese and English when a CJK font is installed; English alone otherwise (still real OCR).
    lines = ["报销须在三十日内提交", "Invoices are due in 30 days"] if cjk else \
            ["Invoices are due in 30 days", "Travel needs approval first"]
    page = _draw(lines, cjk or _latin_font())
    png = tmp_path / "notice.png"
    page.save(png)
    assert detect_format(png) == "image"
    docs = load_file(png)
    assert not _missing(lines, docs), [d.page_content for d in docs]
    assert docs[0].metadata["format"] == "image" and docs[0].metadata["page"] == 1
    assert docs[0].metadata["ocr"] is True and _boxes_ok(docs[0].metadata["boxes"])
    # Where on the picture: the first line's box is in the top half, at the left.
    x0, y0, x1, y1, _ = json.loads(docs[0].metadata["boxes"])[0]
    assert x0 < 0.2 and y1 < 0.5

    # A two-page TIFF (a fax) gives one page each.
    second = _draw(["Page two says hello"], _latin_font())
    tiff = tmp_path / "fax.tif"
    page.save(tiff, save_all=True, append_images=[second])
    docs = load_file(tiff)
    assert {d.metadata["page"] for d in docs} == {1, 2}
    assert not _missing(["Page two says hello"], [d for d in docs if d.metadata["page"] == 2])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF"])
def test_picture_formats_are_detected_by_content(tmp_path, fmt):
    path = tmp_path / "picture.dat"  # no telling suffix: the bytes decide
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buf, fmt)
    path.write_bytes(buf.getvalue())
    assert detect_format(path) == "image"


@pytest.mark.shared
@pytest.mark.parametrize("name", ["zh_ocr_test.docx", "zh_ocr_test.pptx"])
def test_pictures_inside_office_files_are_read(name):
    path = require_shared("corpus", name)
    entry = _manifest()[name]
    docs = load_file(path)
    assert not _missing(entry["must_contain"], docs)  # the ordinary text is still there
    ocr = [d for d in docs if d.metadata.get("ocr")]
    assert ocr and not _missing(entry["ocr_must_contain"], ocr)
    # The picture's text comes where the picture is: after the text before it.
    assert ocr[0].metadata["position"] > 0
    if name.endswith(".pptx"):
        assert ocr[0].metadata["page"] == 1 and _boxes_ok(ocr[0].metadata["boxes"])


def test_generated_docx_picture_text_stands_where_the_picture_is(tmp_path):
    picture = tmp_path / "sign.png"
    _draw(["Fire exit on level 2"], _latin_font(), size=(900, 140)).save(picture)
    doc = DocxDocument()
    doc.add_paragraph("Before the picture.")
    doc.add_picture(str(picture))
    doc.add_paragraph("After the picture.")
    path = tmp_path / "notice.docx"
    doc.save(str(path))
    docs = load_file(path)
    texts = [d.page_content for d in docs]
    at = next(i for i, t in enumerate(texts) if "Fire exit" in t)
    assert texts[at - 1] == "Before the picture." and texts[at + 1] == "After the picture."
    assert docs[at].metadata["ocr"] is True and "ocr" not in docs[0].metadata


def test_ocr_uses_the_models_shipped_in_the_package_and_no_network(tmp_path):
    """The engine loads the ONNX files inside the rapidocr wheel; with every network connection
    refused in a fresh process, OCR still works (nothing is downloaded at run time)."""
    picture = tmp_path / "word.png"
    _draw(["Offline works"], _latin_font(), size=(700, 140)).save(picture)
    script = f"""
import socket
def refuse(*args, **kwargs):
    raise OSError("network is off in this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
from pathlib import Path
import rapidocr
from loaders import ocr
lines = ocr.ocr_image(Path({str(picture)!r}).read_bytes())
package = Path(rapidocr.__file__).resolve().parent
cfg = ocr.engine().cfg
for task in (cfg.Det, cfg.Rec):
    assert Path(task.model_path).resolve().is_relative_to(package), task.model_path
    assert Path(task.model_path).is_file()
print(" ".join(line.text for line in lines))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Offline works" in out.stdout


@pytest.mark.shared
def test_knowledge_base_ingests_a_scan_with_ocr_progress_and_the_limit_warning(tmp_path):
    """The app's path: parse worker process, OCR progress as stage "ocr", the page limit from
    KBConfig, a warning on the result, and chunks marked `ocr` in Chroma."""
    from kb_helpers import config
    from vectorstore import KnowledgeBase

    scan = tmp_path / "docs" / SCAN
    scan.parent.mkdir()
    shutil.copy(require_shared("corpus", SCAN), scan)
    kb = KnowledgeBase("default", config(tmp_path / "home", ocr_max_pages=1))
    stages: list[tuple[str, float]] = []
    [result] = kb.ingest([scan], progress=lambda name, stage, fraction: stages.append((stage, fraction)))
    assert result.status == "indexed" and result.chunks > 0, result.describe("en")
    assert "OCR read 1 of 3 pages" in result.describe("en") and "文字识别" in result.describe("zh")
    ocr = [f for stage, f in stages if stage == "ocr"]
    assert ocr and ocr == sorted(ocr) and ocr[-1] > ocr[0]
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions)  # the bar never goes back
    ids = kb.store.ids_of_file(kb.collection, result.sha256)
    metadatas = kb.store.collection(kb.collection).get(ids=ids, include=["metadatas"])["metadatas"]
    assert metadatas and all(m["ocr"] is True and m["page"] == 1 for m in metadatas)
    hits = kb.search("行政处罚决定书 当事人", k=1)
    assert hits and hits[0].source == SCAN and hits[0].page == 1
    assert hits[0].ocr and hits[0].to_json()["ocr"] is True  # citations can say it was read by OCR
    from chains.conversations import Source
    assert Source.of(hits[0]).ocr  # and a stored conversation keeps saying so


def test_a_long_screenshot_is_read_in_tiles_without_losing_or_doubling_lines(tmp_path):
    """RapidOCR alone would shrink a 600 x 6000 picture to a third: small text unreadable."""
    font = ImageFont.truetype(_latin_font(), 22)
    image = Image.new("RGB", (600, 6000), "white")
    draw = ImageDraw.Draw(image)
    lines = {50: "First message of the day", 890: "Second one across a seam", 5900: "Last message here"}
    for y, text in lines.items():
        draw.text((20, y - 11), text, fill="black", font=font)
    path = tmp_path / "chat.png"
    image.save(path)
    [doc] = load_file(path)
    assert doc.page_content.split("\n\n") == list(lines.values()) or \
        [line for line in doc.page_content.split("\n") if line] == list(lines.values()), doc.page_content
    ys = [(b[1] + b[3]) / 2 for b in json.loads(doc.metadata["boxes"])]
    assert len(ys) == 3 and all(abs(y * 6000 - at) < 30 for y, at in zip(ys, lines))


def test_a_picture_declaring_gigapixels_is_refused_before_decoding(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path = tmp_path / "huge.png"  # 300 bytes that claim 20000 x 20000 pixels
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert err.value.code == "too_large" and "20000 × 20000 px" in err.value.message("zh")


def test_pdf_mixing_text_pages_and_a_scanned_page_keeps_page_order(tmp_path):
    from reportlab.pdfgen import canvas

    picture = tmp_path / "scan.png"
    _draw(["Second page is a scan"], _latin_font(), size=(1000, 140)).save(picture)
    path = tmp_path / "mixed.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 750, "The first page has a real text layer with several words.")
    pdf.showPage()
    pdf.drawImage(str(picture), 72, 600, width=450, height=63)
    pdf.showPage()
    pdf.drawString(72, 750, "The third page has a real text layer as well, and more words.")
    pdf.showPage()
    pdf.save()
    docs = load_file(path)
    assert [d.metadata["page"] for d in docs] == [1, 2, 3]
    assert [d.metadata.get("ocr", False) for d in docs] == [False, True, False]
    assert "Second page is a scan" in docs[1].page_content and docs.ocr_pages == 1
