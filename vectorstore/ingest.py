"""Ingest stages: one file turned into a PreparedFile (everything but the locked write).

stat and size check -> hash -> (the caller says if the content is already stored) -> parse (in
a worker process with a memory and a time limit) -> chunk -> embed (a slice at a time, searches
first); the keyword tokens are made at write time (``FilePreparer.tokenize``, in the ingest's
writer thread while the next file embeds: write_pipeline.py). Each stage runs inside
``FilePreparer.timer(stage)``, a no-op by default, so a benchmark times the stages by passing a
clock instead of patching this module.
"""
from __future__ import annotations

import hashlib
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable

import loaders
from loaders import LoadError, SentenceChunker, load_file, with_heading

from .catalog import ChunkSettings
from .kb_config import KBConfig
from .keyword import tokenize
from .parse_worker import WorkLimitExceeded, parse_in_worker
from .queries_first import QueriesFirst
from .results import IngestResult

log = logging.getLogger(__name__)

Progress = Callable[[str, str, float], None]  # (file name, stage, fraction of this file done)
KnownAs = Callable[[str, str], "IngestResult | None"]  # (sha256, path) -> result when stored

# Share of a file's progress bar given to OCR (stage "ocr"): on a scan it is most of the work.
OCR_SHARE = 0.6

# An ingest embeds at most this many chunks per turn on the (process-wide, one-call-at-a-time)
# embedding model, and lets waiting searches go first between turns (queries_first.py).
INGEST_EMBED_SLICE = 8


@dataclass(frozen=True)
class KnownFile:
    """A file whose sha256 and size its caller already has: the page read, hashed and
    size-checked an upload in memory before saving it. Its ingest neither hashes nor size-checks
    it again, and the parser, the one reader of the saved copy, is handed the hash."""
    path: Path
    name: str
    sha256: str
    size: int


@dataclass
class PreparedFile:
    """A file parsed, chunked and embedded: everything but its keyword tokens and the locked write."""
    path: str
    name: str
    sha: str
    size: int
    format: str
    pages: int | None
    ids: list[str]
    texts: list[str]
    vectors: list[list[float]]
    metadatas: list[dict]
    indexed: list[str]  # each text with its heading path: what is embedded and keyword-indexed
    tokens: list[str] = field(default_factory=list)  # keyword tokens: FilePreparer.tokenize, at write
    chunking: str | None = None  # ChunkSettings.tag of the chunker used
    loader_version: int = 0  # loaders.LOADER_VERSION of the loaders and chunker used
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (en, zh): caps that applied


def cut_warning(unit_en: str, unit_zh: str, kept: int, total: int) -> tuple[str, str]:
    """A file indexed up to a cap: how much was left out, in both languages."""
    return (f"Only the first {kept:,} of its {total:,} {unit_en} were indexed (the limit per file); "
            f"the rest of the file cannot be searched. Split it to index all of it.",
            f"只收录了前 {kept:,} {unit_zh}（共 {total:,} {unit_zh}，已达每个文件的上限），"
            f"文件其余部分无法检索。如需全部收录，请拆分文件。")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_files(paths: Iterable[Path | KnownFile], skipped: list[Path] | None = None) -> list[Path | KnownFile]:
    """Files named, and files inside folders named (sorted; hidden and temp files skipped, and
    listed in ``skipped`` when given: a hidden folder once, not each file in it). A KnownFile
    passes through as it is."""
    out: list[Path | KnownFile] = []
    for path in paths:
        if isinstance(path, KnownFile):
            out.append(path)
            continue
        path = Path(path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                hidden = [i for i, p in enumerate(rel) if p.startswith((".", "~$"))]
                if not hidden:
                    if child.is_file():
                        out.append(child)
                elif skipped is not None and hidden[0] == len(rel) - 1:
                    skipped.append(child)  # the hidden entry itself, not what is inside it
        else:
            out.append(path)
    return out


def _no_timer(stage: str) -> ContextManager[Any]:
    return nullcontext()


class FilePreparer:
    """The stages of one file before its write, outside the writer lock."""

    def __init__(self, config: KBConfig, embeddings: Any, queries_first: QueriesFirst,
                 chunker: Callable[[], SentenceChunker]):
        self.config, self.embeddings, self.queries_first = config, embeddings, queries_first
        self.chunker = chunker  # the chunker for the settings stored now
        self.timer: Callable[[str], ContextManager[Any]] = _no_timer  # e.g. a benchmark's clock

    def prepare_or_result(self, path: Path | KnownFile, display_name: str | None, progress: Progress | None,
                          known_as: KnownAs | None) -> "IngestResult | PreparedFile":
        """Everything but the write; or the file's final result (unchanged, duplicate, or a
        plain-language error). ``known_as`` None: prepare it even if it is stored."""
        known = path if isinstance(path, KnownFile) else None
        path = Path(known.path if known else path).resolve()
        name = display_name or (known.name if known else path.name)
        try:
            return self.prepare(path, name, progress or (lambda *_: None), known_as, known)
        except (LoadError, WorkLimitExceeded) as err:
            log.info("could not load %s: %s", path, err)
            return IngestResult(name, "error", error=err.message("en"), error_zh=err.message("zh"),
                                error_code=err.code)
        except OSError as err:
            log.warning("could not read %s", path, exc_info=True)
            return IngestResult(name, "error", error_code="unreadable",
                                error=f"{name}: the file could not be opened ({err.strerror or err}).",
                                error_zh=f"{name}：无法打开该文件（{err.strerror or err}）。")

    def prepare(self, path: Path, name: str, report: Progress,
                known_as: KnownAs | None, known: KnownFile | None = None) -> "IngestResult | PreparedFile":
        config, timer = self.config, self.timer
        report(name, "reading", 0.0)
        started, limit_s = time.monotonic(), config.ingest_seconds_per_file
        if known is not None:  # checked and hashed by the caller, not again
            size, sha = known.size, known.sha256
        else:
            size = path.stat().st_size
            if size > config.max_file_bytes:
                # The loader refuses it with a clear message before reading it (no hashing of
                # a 10 GB file just to say no).
                load_file(path, max_bytes=config.max_file_bytes, max_unzipped_bytes=config.max_unzipped_bytes)
            with timer("hash"):
                sha = file_sha256(path)
        stored = known_as(sha, str(path)) if known_as else None
        if stored:
            return stored

        report(name, "parsing", 0.1)
        # In a worker process with a memory and a time limit (parse_worker): a small hostile
        # file cannot take the server down; its text arrives cut at max_chars_per_file.
        with timer("parse"):
            parsed = parse_in_worker(path, time_limit_s=max(1.0, limit_s - (time.monotonic() - started)),
                                     memory_bytes=config.parse_memory_bytes,
                                     max_chars=config.max_chars_per_file,
                                     max_bytes=None if known else config.max_file_bytes,
                                     sha256=sha,
                                     max_unzipped_bytes=config.max_unzipped_bytes,
                                     ocr_max_pages=config.ocr_max_pages,
                                     ocr_page_seconds=config.ocr_page_seconds,
                                     progress=lambda done, total: report(
                                         name, "ocr", 0.1 + OCR_SHARE * done / max(total, 1)))
        blocks, warnings = parsed.documents, list(getattr(parsed.documents, "warnings", ()))
        # OCR took most of the time and the bar; the rest of the work shares what is left.
        base = 0.1 + OCR_SHARE if getattr(parsed.documents, "ocr_pages", 0) else 0.2
        if parsed.total_chars > parsed.kept_chars:
            warnings.append(cut_warning("characters", "个字符", parsed.kept_chars, parsed.total_chars))
        for block in blocks:
            block.metadata["source"] = name
        chunker = self.chunker()
        with timer("chunk"):
            chunks = chunker.split(blocks)
        if not chunks:
            raise LoadError("empty", f"{name}: no text was found in this file.",
                            f"{name}：文件中没有找到文字。", file=name)
        if len(chunks) > config.max_passages_per_file:
            warnings.append(cut_warning("passages", "个段落", config.max_passages_per_file, len(chunks)))
            chunks = chunks[:config.max_passages_per_file]
        texts = [c.page_content for c in chunks]
        # Embedded and keyword-indexed with its heading path (the law, chapter and article it
        # belongs to); the stored text stays the verbatim passage.
        indexed = [with_heading(c.metadata.get("heading", ""), c.page_content) for c in chunks]

        report(name, "embedding", base)
        vectors: list[list[float]] = []
        step = max(1, min(config.batch_size, INGEST_EMBED_SLICE))
        for start in range(0, len(texts), step):
            if time.monotonic() - started > limit_s:
                # Out of time: keep what is embedded (and say how much), or refuse if nothing is.
                if not vectors:
                    raise WorkLimitExceeded.timeout(name, limit_s)
                warnings.append((
                    f"Indexing stopped at the limit of {limit_s:.0f} s per file: only the first "
                    f"{len(vectors):,} of {len(texts):,} passages were indexed; the rest of the file "
                    f"cannot be searched.",
                    f"已达到每个文件 {limit_s:.0f} 秒的处理上限，只收录了前 {len(vectors):,} 个段落"
                    f"（共 {len(texts):,} 个），文件其余部分无法检索。"))
                chunks, texts = chunks[:len(vectors)], texts[:len(vectors)]
                break
            self.queries_first.ingest_turn()  # searches waiting for the model go first
            vectors.extend(self.embeddings.embed_documents(indexed[start:start + step]))
            report(name, "embedding", base + (0.9 - base) * min(1.0, (start + step) / len(texts)))
        report(name, "saving", 0.9)
        return PreparedFile(
            path=str(path), name=name, sha=sha, size=size,
            format=blocks[0].metadata.get("format", ""),
            pages=max((c.metadata.get("page", 0) for c in chunks), default=0) or None,
            ids=[f"{sha}:{i}" for i in range(len(chunks))], texts=texts, vectors=vectors,
            metadatas=[{k: v for k, v in c.metadata.items() if v is not None} for c in chunks],
            indexed=indexed[:len(texts)],
            chunking=ChunkSettings(chunker.sentences_per_chunk, chunker.overlap).tag,
            loader_version=loaders.LOADER_VERSION,
            warnings=warnings,
        )

    def tokenize(self, files: list[PreparedFile]) -> None:
        """The keyword tokens of prepared files, where not made yet. Part of the write: an
        ingest makes them in its writer thread while the next file is embedded."""
        with self.timer("tokenize"):
            for p in files:
                if len(p.tokens) != len(p.indexed):
                    p.tokens = ["\t".join(tokenize(t)) for t in p.indexed]
