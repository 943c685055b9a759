"""Hostile files of issue 17, generated (never stored): a DOCX whose document.xml is a huge
run of plain XML (within every zip limit, compression ratio about 9), and a tiny XLSX that
declares 1,048,576 x 16,384 cells. Used by tests/test_hostile.py and bench/hostile_files.py."""
from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

from docx import Document as DocxDocument
from openpyxl import Workbook

WORDS = ("budget travel hotel receipt approval manager meeting office policy claim invoice "
         "laptop password badge visitor printer contract leave holiday salary review").split()
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _rewrite_member(path: Path, member: str, data: bytes | None = None, writer=None) -> None:
    """Replace one member of a zip container (a Word or Excel file) in place."""
    source = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename == member:
                if writer is not None:
                    with zout.open(member, "w", force_zip64=True) as fh:
                        writer(fh)
                else:
                    zout.writestr(member, data)
            else:
                zout.writestr(item, zin.read(item.filename))
    path.write_bytes(out.getvalue())


def big_xml_docx(path: Path, xml_mb: float, seed: int = 17) -> Path:
    """A DOCX whose word/document.xml is about ``xml_mb`` MB of plain paragraphs of varied words
    (compresses about 9 times, like the 16 MB / 150 MB file of the issue)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = DocxDocument()
    doc.add_paragraph("placeholder")
    doc.save(str(path))
    rng = random.Random(seed)
    target = int(xml_mb * 1024 * 1024)

    def write(fh):
        fh.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 f'<w:document xmlns:w="{W_NS}"><w:body>'.encode())
        written, n = 0, 0
        while written < target:
            n += 1
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16)))
            para = f"<w:p><w:r><w:t>Item {n}: the {words}.</w:t></w:r></w:p>".encode()
            fh.write(para)
            written += len(para)
        fh.write(b"<w:sectPr/></w:body></w:document>")

    _rewrite_member(path, "word/document.xml", writer=write)
    return path


def huge_dimension_xlsx(path: Path) -> Path:
    """A couple of KB of XLSX whose sheet declares A1:XFD1048576 (every cell of a sheet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.append(["question", "answer"])
    ws.append(["Where is the printer?", "Second floor."])
    ws["XFD1048576"] = "end"
    wb.save(str(path))
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    # Keep the two real rows and the declaration; drop the far cell so the file stays tiny.
    head, _, _ = sheet.partition("<sheetData>")
    rows = sheet[sheet.index("<sheetData>"):sheet.index("</sheetData>") + len("</sheetData>")]
    rows = rows.split('<row r="1048576"')[0] + "</sheetData>" if '<row r="1048576"' in rows else rows
    tail = sheet[sheet.index("</sheetData>") + len("</sheetData>"):]
    if "<dimension" in head:
        import re
        head = re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:XFD1048576"/>', head)
    _rewrite_member(path, "xl/worksheets/sheet1.xml", (head + rows + tail).encode())
    return path
