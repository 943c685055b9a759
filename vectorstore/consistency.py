"""Do the three stores of a knowledge base agree? Chroma rows = keyword rows = catalog chunks.

The catalog says which files are in (only ``ready`` ones count); Chroma holds their vectors and
the keyword index their BM25 rows. After any crash and repair, on any replica, the three must
hold exactly the same chunk ids. ``docchat check`` prints this report; the tests assert it.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Consistency:
    kb: str
    catalog_chunks: int
    chroma_rows: int
    keyword_rows: int
    pending: list[str] = field(default_factory=list)  # files a write left half-done
    missing_in_chroma: list[str] = field(default_factory=list)  # catalog chunks without a vector
    extra_in_chroma: list[str] = field(default_factory=list)  # vectors of no ready file
    keyword_differs: list[str] = field(default_factory=list)  # in one of catalog / keyword only
    catalog_generation: int = 0
    keyword_generation: int | None = None

    @property
    def ok(self) -> bool:
        return not (self.pending or self.missing_in_chroma or self.extra_in_chroma or self.keyword_differs)

    def to_json(self) -> dict:
        return {"kb": self.kb, "ok": self.ok, "catalog_chunks": self.catalog_chunks,
                "chroma_rows": self.chroma_rows, "keyword_rows": self.keyword_rows,
                "pending": self.pending, "missing_in_chroma": len(self.missing_in_chroma),
                "extra_in_chroma": len(self.extra_in_chroma), "keyword_differs": len(self.keyword_differs),
                "catalog_generation": self.catalog_generation, "keyword_generation": self.keyword_generation}

    def describe(self, lang: str = "en") -> str:
        counts = (f"catalog {self.catalog_chunks}, Chroma {self.chroma_rows}, keyword {self.keyword_rows}"
                  if lang != "zh" else
                  f"目录 {self.catalog_chunks}，Chroma {self.chroma_rows}，关键词 {self.keyword_rows}")
        if self.ok:
            return (f"'{self.kb}' is consistent: {counts} passages."
                    if lang != "zh" else f"知识库“{self.kb}”一致：{counts} 个段落。")
        # (how many, English, Chinese) of each kind of disagreement found
        kinds = [(len(self.pending), "interrupted import(s)", "个中断的导入"),
                 (len(self.missing_in_chroma), "passage(s) without a vector", "个段落缺少向量"),
                 (len(self.extra_in_chroma), "vector(s) of no stored document", "个向量不属于任何已收录文档"),
                 (len(self.keyword_differs), "passage(s) differing in the keyword index", "个段落在关键词索引中不一致")]
        found = [(n, en, zh) for n, en, zh in kinds if n]
        # Interrupted imports and the keyword index are repaired by the next import; vectors lost
        # or left over in Chroma by re-indexing the documents.
        vectors = bool(self.missing_in_chroma or self.extra_in_chroma)
        if lang == "zh":
            fix = f"请重建索引（docchat reindex --kb {self.kb}）" if vectors else \
                "下一次导入（docchat ingest 或网页上传）会自动修复"
            return f"知识库“{self.kb}”不一致（{counts}）：{'；'.join(f'{n} {zh}' for n, _, zh in found)}。{fix}。"
        fix = (f"Re-index it (docchat reindex --kb {self.kb})" if vectors else
               "The next import (docchat ingest or an upload on the page) repairs it")
        return f"'{self.kb}' is not consistent ({counts}): {'; '.join(f'{n} {en}' for n, en, _ in found)}. {fix}."


def check(kb) -> Consistency:
    """Compares the chunk ids of the catalog's ready files, Chroma's rows and the keyword index
    of one KnowledgeBase. The keyword index first catches up with the catalog's generation, as
    before any search (a replica's copy is derived state that follows the shared catalog);
    nothing else is changed."""
    kb.writer.follow_generation()
    catalog_ids = {cid for cid, _ in kb.catalog.chunks_of_ready_files()}
    chroma_ids = set(kb.store.ids(kb.collection))
    keyword_ids = set(kb.keyword_index.ids())
    return Consistency(
        kb=kb.name, catalog_chunks=len(catalog_ids), chroma_rows=len(chroma_ids), keyword_rows=len(keyword_ids),
        pending=[r.name for r in kb.catalog.pending_files()],
        missing_in_chroma=sorted(catalog_ids - chroma_ids), extra_in_chroma=sorted(chroma_ids - catalog_ids),
        keyword_differs=sorted(catalog_ids ^ keyword_ids),
        catalog_generation=kb.catalog.generation, keyword_generation=kb.keyword_index.stored_generation())
