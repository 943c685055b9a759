"""Render ../shared/eval/laws_subset.jsonl as real files: one DOCX and one PDF per law.

The full corpus (laws_full.jsonl.gz) renders the same way, one document per law *version*
(`by_version=True`: records grouped by the law part of their id, so 中华人民共和国仲裁法 and
中华人民共和国仲裁法@2017-09-01 are two documents), and may ask for DOCX only.

Each document has the law's title as its heading, chapter and section headings where they
change, and each article as one paragraph "第X条 text" (line breaks inside an article kept).
The PDF uses reportlab's built-in CID font STSong-Light, so no font file is needed.

Output is byte-reproducible: reportlab runs with `invariant=True` (fixed dates and ids), and
the DOCX zip is rewritten with fixed timestamps and fixed core properties. Files land in a cache
folder keyed by the input's sha256 and RENDER_VERSION, under bench.common.bench_cache_root()
($DOCCHAT_BENCH_CACHE, else $DOCCHAT_HOME/bench-cache, else ~/.cache/docchat-bench), never
inside the repository.

    .venv/bin/python -m bench.render_laws [--laws N] [--source JSONL] [--out DIR]
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
LAWS_JSONL = Path(os.environ.get("DOCCHAT_SHARED", REPO.parent / "shared")) / "eval" / "laws_subset.jsonl"
RENDER_VERSION = 1  # bump when the layout changes, so old caches are not reused
FORMATS = ("docx", "pdf")
CJK_FONT = "STSong-Light"
FIXED_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


@dataclass(frozen=True)
class Line:
    kind: str  # "title" | "chapter" | "section" | "article"
    text: str


@dataclass(frozen=True)
class RenderedLaw:
    law: str
    articles: int
    chars: int  # characters of article text, as in the eval README
    pdf_pages: int
    files: dict[str, str]  # format -> path


def load_laws(path: Path = LAWS_JSONL, by_version: bool = False) -> dict[str, list[dict]]:
    """Article records grouped by law, laws and articles in file order (.jsonl or .jsonl.gz).
    by_version: grouped by the law part of the id instead (one group per law version)."""
    laws: dict[str, list[dict]] = {}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                key = record["id"].split("#", 1)[0] if by_version else record["law"]
                laws.setdefault(key, []).append(record)
    return laws


def shortest_laws(laws: dict[str, list[dict]], count: int) -> list[str]:
    """The `count` laws with the least text (ties by name): a quick run is quick."""
    by_size = sorted(laws, key=lambda law: (sum(len(r["text"]) for r in laws[law]), law))
    chosen = set(by_size[:count])
    return [law for law in laws if law in chosen]  # keep file order


def outline(law: str, records: list[dict]) -> list[Line]:
    title = law.replace("@", " ") if "@" in law else law  # "仲裁法@2017-09-01" -> "仲裁法 2017-09-01"
    lines, chapter, section = [Line("title", title)], "", ""
    for record in records:
        if record["chapter"] and record["chapter"] != chapter:
            chapter, section = record["chapter"], ""
            lines.append(Line("chapter", chapter))
        if record["section"] and record["section"] != section:
            section = record["section"]
            lines.append(Line("section", section))
        lines.append(Line("article", f"{record['article_no']} {record['text'].strip()}"))
    return lines


# --- DOCX ------------------------------------------------------------------------------------
def write_docx(law: str, lines: list[Line], path: Path) -> None:
    from docx import Document

    document = Document()
    props = document.core_properties
    props.title, props.author, props.last_modified_by = law, "DocChat bench", "DocChat bench"
    props.created = props.modified = FIXED_TIME.replace(tzinfo=None)
    props.revision = 1
    heading_level = {"title": 0, "chapter": 1, "section": 2}
    for line in lines:
        if line.kind == "article":
            document.add_paragraph(line.text)  # "\n" inside becomes a line break
        else:
            document.add_heading(line.text, level=heading_level[line.kind])
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(_zip_with_fixed_times(buffer.getvalue()))


def _zip_with_fixed_times(data: bytes) -> bytes:
    """python-docx stamps each zip entry with the current time; rewrite with a fixed one."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------------------
def write_pdf(law: str, lines: list[Line], path: Path) -> int:
    """Write the PDF; returns its page count."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = _pdf_styles()
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=law, author="DocChat bench",
                            creator="DocChat bench", invariant=True)
    story = [Paragraph(escape(line.text).replace("\n", "<br/>"), styles[line.kind]) for line in lines]
    doc.build(story)
    return doc.page


def _pdf_styles() -> dict:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    # wordWrap="CJK": Chinese has no spaces, so lines may break between any two characters.
    body = ParagraphStyle("article", fontName=CJK_FONT, fontSize=10.5, leading=16,
                          wordWrap="CJK", spaceAfter=4)
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=1, spaceAfter=12),
        "chapter": ParagraphStyle("chapter", parent=body, fontSize=14, leading=20, alignment=1,
                                  spaceBefore=8, spaceAfter=6),
        "section": ParagraphStyle("section", parent=body, fontSize=12, leading=18, alignment=1, spaceAfter=4),
        "article": body,
    }


# --- cache -----------------------------------------------------------------------------------
def default_cache_root() -> Path:
    from bench.common import bench_cache_root

    return bench_cache_root()


def render_laws(law_names: list[str] | None = None, *, source: Path = LAWS_JSONL,
                cache_root: Path | None = None, formats: tuple[str, ...] = FORMATS,
                by_version: bool = False) -> list[RenderedLaw]:
    """The given formats of each law (all laws when `law_names` is None), rendered once and
    cached. pdf_pages is 0 when no PDF was asked for (and none is cached)."""
    laws = load_laws(source, by_version=by_version)
    names = list(laws) if law_names is None else law_names
    key = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    folder = (cache_root or default_cache_root()) / f"laws-{key}-v{RENDER_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    return [_render_one(law, laws[law], folder, formats) for law in names]


def _render_one(law: str, records: list[dict], folder: Path, formats: tuple[str, ...] = FORMATS) -> RenderedLaw:
    stem = law_index_name(law)
    manifest = folder / f"{stem}.json"
    if manifest.is_file():
        cached = RenderedLaw(**json.loads(manifest.read_text(encoding="utf-8")))
        if set(formats) <= set(cached.files) and all(Path(p).is_file() for p in cached.files.values()):
            return cached
    lines = outline(law, records)
    files = {fmt: folder / f"{stem}.{fmt}" for fmt in FORMATS if fmt in formats}
    # Write to temporary names first: an interrupted render never leaves a half file cached.
    pages = 0
    if "docx" in files:
        tmp_docx = files["docx"].with_suffix(".docx.tmp")
        write_docx(law, lines, tmp_docx)
        os.replace(tmp_docx, files["docx"])
    if "pdf" in files:
        tmp_pdf = files["pdf"].with_suffix(".pdf.tmp")
        pages = write_pdf(law, lines, tmp_pdf)
        os.replace(tmp_pdf, files["pdf"])
    rendered = RenderedLaw(law, len(records), sum(len(r["text"]) for r in records), pages,
                           {fmt: str(p) for fmt, p in files.items()})
    manifest.write_text(json.dumps(asdict(rendered), ensure_ascii=False), encoding="utf-8")
    return rendered


def law_index_name(law: str) -> str:
    """File stem: the law's name without the common prefix (still unique in the subset)."""
    return law.removeprefix("中华人民共和国") or law


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", type=int, default=None, help="only the N shortest laws")
    parser.add_argument("--source", type=Path, default=LAWS_JSONL, help="law articles (.jsonl)")
    parser.add_argument("--out", type=Path, default=None, help="cache root (default: see module doc)")
    args = parser.parse_args(argv)
    laws = load_laws(args.source)
    names = shortest_laws(laws, args.laws) if args.laws else None
    for item in render_laws(names, source=args.source, cache_root=args.out):
        print(f"{item.pdf_pages:>4} pages  {item.articles:>5} articles  {item.files['pdf']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
