"""What an ingest or delete reports back, per file, in both of the users' languages."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IngestResult:
    file: str
    status: str  # indexed | unchanged | duplicate | updated | deleted | skipped | error
    chunks: int = 0
    pages: int | None = None
    error: str | None = None
    error_zh: str | None = None
    error_code: str | None = None
    duplicate_of: str | None = None
    sha256: str | None = None
    # Stored, but not all of it or not as asked (a cap applied, a name shared): one sentence.
    warning: str | None = None
    warning_zh: str | None = None
    faq: bool = False  # a table an admin marked as a trusted FAQ list

    def warn(self, en: str, zh: str) -> "IngestResult":
        self.warning = f"{self.warning} {en}" if self.warning else en
        self.warning_zh = f"{self.warning_zh}{zh}" if self.warning_zh else zh
        return self

    def to_json(self) -> dict:
        return {"file": self.file, "status": self.status, "chunks": self.chunks,
                "pages": self.pages, "error": self.error,
                **({"duplicate_of": self.duplicate_of} if self.duplicate_of else {}),
                **({"warning": self.warning} if self.warning else {}),
                **({"faq": True} if self.faq else {})}

    def describe(self, lang: str = "en") -> str:
        """One plain sentence for a non-technical user (and the warning, when there is one)."""
        base = self._describe(lang)
        warning = self.warning_zh if lang.startswith("zh") else self.warning
        return f"{base}。{warning}" if warning and lang.startswith("zh") else (
            f"{base}. {warning}" if warning else base)

    def _describe(self, lang: str) -> str:
        zh = lang.startswith("zh")
        if self.status in ("indexed", "updated"):
            return (f"已收录，{self.chunks} 个段落" if zh else f"indexed, {self.chunks} passages")
        if self.status == "unchanged":
            return "已在知识库中，内容未变" if zh else "already in the knowledge base, unchanged"
        if self.status == "duplicate":
            return (f"已在知识库中（文件名为 {self.duplicate_of}）" if zh
                    else f"already in the knowledge base as {self.duplicate_of}")
        if self.status == "deleted":
            return "已从知识库删除" if zh else "removed from the knowledge base"
        if self.status == "skipped":
            return (f"未读取：{self.error_zh or self.error}" if zh else f"not read: {self.error}")
        return (f"无法读取：{self.error_zh or self.error}" if zh else f"could not read: {self.error}")
