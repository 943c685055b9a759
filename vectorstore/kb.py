"""KnowledgeBase: the front of one knowledge base; files in, searchable chunks out.

It holds the catalog, the keyword index and the parts it shares with the app (embedder, Chroma
store, writer lock: kb_parts.py), keeps the chunking settings, and runs the jobs users ask for:
ingest, sync, delete, reindex, list and search. The work itself is done by the ingest stages
(ingest.py: hash, parse, chunk, embed, tokenise, outside the lock) and the writer (kb_writer.py:
the short locked write, removal and crash repair).
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Iterable, Sequence

from common.user_error import UserError
import loaders
from loaders import SentenceChunker

from .catalog import Catalog, ChunkRecord, ChunkSettings, FileRecord
from .chroma_store import ChromaStore, collection_name
from .database import Database
from .faq_index import TABLE_FORMATS, FaqIndex
from .ingest import FilePreparer, KnownFile, PreparedFile, Progress, file_sha256, iter_files
from .kb_config import CHUNK_SENTENCES_RANGE, KBConfig
from .kb_parts import KBParts, shared_database, writer_locks
from .kb_writer import KBWriter
from .keyword import KeywordIndex, use_jieba_cache
from .results import IngestResult
from .retrieval import Hit
from .write_pipeline import WritePipeline

log = logging.getLogger(__name__)

# Chunks gathered from several files before one Chroma write (see KnowledgeBase.ingest), and
# the longest a prepared file waits for that write: a killed ingest loses at most this much work.
WRITE_BATCH_CHUNKS = 2000
WRITE_BATCH_SECONDS = 30.0
# Batches prepared and waiting for the writer thread while it writes one (write_pipeline.py).
WRITE_BATCHES_WAITING = 1

# Question vectors a knowledge base keeps (embed_query): enough for the turns in flight.
QUERY_VECTORS_KEPT = 32


class KnowledgeBaseError(UserError, RuntimeError):
    """A problem with a knowledge base the user can fix: KnowledgeBaseError(en, zh)."""


def kb_folder(home: Path, name: str) -> Path:
    return home / "kb" / collection_name(name, "data")


def open_catalog(home: Path, name: str, database: Database | None = None) -> Catalog:
    """The catalog of knowledge base ``name``: its rows in the shared database, or its SQLite
    file under ``home``."""
    if database is not None:
        return Catalog(database=database, kb=name)
    return Catalog(kb_folder(home, name) / "catalog.sqlite3")


class KnowledgeBase:
    CHUNK_SENTENCES_RANGE = CHUNK_SENTENCES_RANGE  # for the page's inputs (kb_config.py)

    def __init__(self, name: str, config: KBConfig, *, parts: KBParts | None = None, embeddings=None,
                 read_only: bool = False):
        """``parts``: the embedder, store and lock shared with the other knowledge bases of the
        app (docchat/app.py); without them it builds its own (``embeddings`` given or made)."""
        name = name.strip()
        if not name or len(name) > 100 or any(c in name for c in "/\\\x00"):
            raise KnowledgeBaseError(
                f"'{name}' is not a usable knowledge-base name (1-100 characters, no slashes).",
                f"“{name}”不能用作知识库名称（1-100 个字符，不含斜杠）。",
            )
        self.name, self.config = name, config
        self.folder = kb_folder(config.home, name)
        parts = parts or KBParts.for_config(config, embeddings)
        self.catalog = open_catalog(config.home, name, parts.database)
        use_jieba_cache(config.home / "cache")  # not /tmp: all state stays under DOCCHAT_HOME
        # The keyword index is this home's own copy, even when the catalog is shared: it follows
        # the catalog's generation (KBWriter.follow_generation).
        self.keyword_index = KeywordIndex(self.folder / "keyword")
        self.store, self.embeddings = parts.store, parts.embeddings
        self.queries_first = parts.queries_first
        self.embedding_tag = getattr(self.embeddings, "name", config.embedding)
        self.collection = collection_name(name, self.embedding_tag)
        self.lock = parts.lock
        self.writer = KBWriter(self.catalog, self.store, self.collection, self.lock, self.keyword_index,
                               self.folder, parts.local_lock)
        self.preparer = FilePreparer(config, self.embeddings, self.queries_first, self._current_chunker)
        self._check_embedding()
        # Chunking is a setting of each knowledge base (kept in its catalog, so every process
        # uses it); the configured values are only the defaults of a new one.
        if self.catalog.chunk_settings() is None:
            default = ChunkSettings(config.chunk_sentences, config.chunk_overlap)
            self.check_chunking(default.sentences, default.overlap)
            self.catalog.init_chunk_settings(default)
        self.chunker = self._chunker_for(self.chunk_settings())
        # A read-only open (docchat list, search, ask) never repairs: finishing a crashed
        # import re-embeds (it cost `docchat list` 26-35 s). It reports the repair as pending,
        # and the next writer (ingest, the page) does it.
        self.read_only = read_only
        # Its FAQ pairs and their question vectors, kept current with the catalog: one per
        # object, so every chat session on it shares them (chains/faq.py).
        self.faq_index = FaqIndex(self)
        self._query_vectors: dict[str, list[float]] = {}  # question -> vector (embed_query)
        self._query_vectors_lock = threading.Lock()
        self._ready_files: tuple[int, dict[str, FileRecord]] | None = None  # (generation, files)
        self._ready_lock = threading.Lock()
        self.pending_repair = self.needs_repair() if read_only else False
        if not read_only:
            self.repair()

    # --- chunking settings (per knowledge base) ---------------------------------------------
    @staticmethod
    def check_chunking(sentences: int, overlap: int) -> None:
        low, high = CHUNK_SENTENCES_RANGE
        if not low <= sentences <= high:
            raise KnowledgeBaseError(
                f"Sentences per chunk must be between {low} and {high} (got {sentences}).",
                f"每段句数必须在 {low} 到 {high} 之间（现在是 {sentences}）。",
            )
        if not 0 <= overlap < sentences:
            raise KnowledgeBaseError(
                f"The overlap must be at least 0 and smaller than the sentences per chunk "
                f"({sentences}); it is {overlap}.",
                f"重叠句数必须不小于 0，且小于每段句数（{sentences}）；现在是 {overlap}。",
            )

    def chunk_settings(self) -> ChunkSettings:
        """What every ingest into this knowledge base uses now, in any process."""
        return self.catalog.chunk_settings()

    def files_to_reindex(self) -> list[FileRecord]:
        """Stored files cut with other settings than the current ones, or by an older version of
        the loaders (loaders.LOADER_VERSION), whose originals are still there to be cut again (a
        re-index keeps the others as they are)."""
        # Read at call time (not imported by value): the one source, which tests may lower.
        return [r for r in self.catalog.files_cut_otherwise(self.chunk_settings(), loaders.LOADER_VERSION)
                if Path(r.path).is_file()]

    def reindex_pending(self) -> bool:
        """Some stored files are still cut the old way: with other chunking, or by older loaders."""
        return bool(self.files_to_reindex())

    def set_chunking(self, sentences: int, overlap: int) -> bool:
        """New chunking for this knowledge base: later ingests use it at once (in every
        process), stored files on the next ``reindex()``. Returns whether one is now pending."""
        sentences, overlap = int(sentences), int(overlap)
        self.check_chunking(sentences, overlap)
        self.catalog.set_chunk_settings(ChunkSettings(sentences, overlap))
        return self.reindex_pending()

    def _chunker_for(self, cs: ChunkSettings) -> SentenceChunker:
        return SentenceChunker(sentences_per_chunk=cs.sentences, overlap=cs.overlap,
                               max_chars=self.config.chunk_max_chars, chunk_chars=self.config.chunk_chars,
                               pack=self.config.chunk_pack)

    def _current_chunker(self) -> SentenceChunker:
        """The chunker for the settings stored now (another process may have changed them)."""
        cs, chunker = self.chunk_settings(), self.chunker
        if (chunker.sentences_per_chunk, chunker.overlap) != (cs.sentences, cs.overlap):
            chunker = self.chunker = self._chunker_for(cs)
        return chunker

    # --- consistency ------------------------------------------------------------------------
    def _check_embedding(self) -> None:
        built_with = self.catalog.get_meta("embedding")
        if built_with is None:
            self.catalog.set_meta("embedding", self.embedding_tag)
            self.catalog.set_meta("name", self.name)
        elif built_with != self.embedding_tag:
            raise KnowledgeBaseError(
                f"Knowledge base '{self.name}' was built with the embedding model '{built_with}', "
                f"not '{self.embedding_tag}'. Switch the setting back, or re-index it "
                f"(docchat reindex --kb {self.name}).",
                f"知识库“{self.name}”是用嵌入模型“{built_with}”建立的，而不是“{self.embedding_tag}”。"
                f"请改回原设置，或重建索引（docchat reindex --kb {self.name}）。",
            )

    # --- the writer's jobs (kb_writer.py) ---------------------------------------------------
    def needs_repair(self) -> bool:
        return self.writer.needs_repair()

    def repair(self) -> None:
        """Roll back writes a crash interrupted, finish them if the file is still there, and
        bring the keyword index up to date. Cheap when there is nothing to do."""
        self.writer.repair(lambda path, name: self.ingest_file(path, display_name=name))

    def refresh_keyword_index(self) -> None:
        self.writer.refresh_keyword_index()

    def erase_traces(self) -> None:
        self.writer.erase_traces()

    def _remove(self, sha256: str) -> None:
        self.writer.remove(sha256)

    # --- ingest ----------------------------------------------------------------------------
    def ingest(self, paths: Iterable[Path | KnownFile], progress: Progress | None = None, *,
               faq: bool = False) -> list[IngestResult]:
        """Files and folders; one result per file, in order. One bad file never stops the batch.
        A KnownFile (an upload the page already hashed and size-checked) is not hashed again.

        Embedded files are written to Chroma together, about ``WRITE_BATCH_CHUNKS`` chunks at a
        time: one large write costs half of many small ones; a batch is handed to the writer after
        ``WRITE_BATCH_SECONDS`` at the latest, so a killed ingest loses little finished work. The
        writes (keyword tokens, Chroma, catalog) run in one writer thread while the next files are
        parsed and embedded (write_pipeline.py). Each file is still all-or-nothing (every file of
        a write is ``pending`` until it is done).
        ``faq``: the tables among them are trusted FAQ lists (an admin's choice; see mark_faq)."""
        results: list[IngestResult | None] = []
        waiting: list[tuple[int, PreparedFile]] = []
        skipped: list[Path] = []
        oldest = 0.0  # when the first file of the waiting batch was ready
        pipeline = WritePipeline(self._write, progress, depth=WRITE_BATCHES_WAITING)
        try:
            try:
                for path in iter_files(paths, skipped):
                    pipeline.check()  # the writer's reports, and its error if a write failed
                    outcome = self._prepare_or_result(path, None, progress)
                    if isinstance(outcome, IngestResult):
                        results.append(outcome)
                        continue
                    results.append(None)
                    oldest = oldest if waiting else time.monotonic()
                    waiting.append((len(results) - 1, outcome))
                    if (sum(len(p.ids) for _, p in waiting) >= WRITE_BATCH_CHUNKS
                            or time.monotonic() - oldest >= WRITE_BATCH_SECONDS):
                        pipeline.submit(waiting)
                        waiting = []
                pipeline.submit(waiting)
            finally:
                written = pipeline.close()  # what was handed over is written, even on an error
            for slot, result in written.items():
                results[slot] = result
        finally:
            self.refresh_keyword_index()
        for path in skipped:  # said, not silently passed over
            results.append(IngestResult(path.name + ("/" if path.is_dir() else ""), "skipped",
                                        error_code="hidden",
                                        error="hidden or temporary (its name starts with '.' or '~$'); "
                                              "rename it to add it",
                                        error_zh="隐藏或临时文件（名称以“.”或“~$”开头）；如需加入，请重命名"))
        return self.mark_faq([r for r in results if r is not None], faq)

    def ingest_file(self, path: Path, display_name: str | None = None,
                    progress: Progress | None = None, *, faq: bool = False) -> IngestResult:
        outcome = self._prepare_or_result(Path(path), display_name, progress)
        if not isinstance(outcome, IngestResult):
            outcome = self._write([outcome], progress)[0]
        return self.mark_faq([outcome], faq)[0]

    def mark_faq(self, results: list[IngestResult], faq: bool) -> list[IngestResult]:
        """Marks the stored tables among ``results`` as trusted FAQ lists when ``faq``. Only
        marked tables answer verbatim (chains/faq.py); a mark is never set by content alone,
        and stays until the file is deleted or replaced by a changed version."""
        if not faq:
            return results
        trusted = self.catalog.faq_shas()
        for res in results:
            rec = self.catalog.file(res.sha256) if res.sha256 and res.status != "error" else None
            if rec is None:
                continue
            if rec.format not in TABLE_FORMATS:
                res.warn("It is not a table, so it was stored as an ordinary document, not as an FAQ list.",
                         "它不是表格，已作为普通文档收录，而不是常见问题表。")
                continue
            if rec.sha256 not in trusted:
                with self.lock.hold():
                    self.catalog.set_faq(rec.sha256, True)
            res.faq = True
        return results

    def _prepare_or_result(self, path: Path | KnownFile, display_name: str | None,
                           progress: Progress | None, *, again: bool = False) -> "IngestResult | PreparedFile":
        """Everything but the write, outside the lock; or the file's final result (unchanged,
        duplicate, or a plain-language error). ``again``: prepare it even if it is stored."""
        return self.preparer.prepare_or_result(path, display_name, progress,
                                               None if again else self.writer.known_as)

    def _write(self, batch: list[PreparedFile], progress: Progress | None) -> list[IngestResult]:
        """Keyword tokens (outside the lock), then the locked all-or-nothing write per file."""
        self.preparer.tokenize(batch)
        return self.writer.write(batch, progress)

    # --- sync, delete, list ------------------------------------------------------------------
    def sync(self, folder: Path, progress: Progress | None = None, *,
             faq: bool = False) -> list[IngestResult]:
        """Make the knowledge base mirror a folder: add new files, re-index changed ones, remove
        files that are gone (a removed file whose twin is still there is re-pointed, not lost)."""
        folder = Path(folder).resolve()
        results = self.ingest([folder], progress=progress, faq=faq)
        present = {str(p.resolve()) for p in iter_files([folder])}
        prefix = str(folder) + os.sep
        gone = [r for r in self.catalog.ready_files()
                if r.path.startswith(prefix) and r.path not in present]
        if gone:
            with self.lock.hold():
                for rec in gone:
                    twin = next((p for p in sorted(present) if Path(p).is_file()
                                 and os.path.getsize(p) == rec.size and file_sha256(Path(p)) == rec.sha256), None)
                    if twin:
                        self.catalog.move_file(rec.sha256, twin, Path(twin).name)
                    else:
                        self._remove(rec.sha256)
                        results.append(IngestResult(rec.name, "deleted", chunks=rec.chunks,
                                                    pages=rec.pages, sha256=rec.sha256))
                if any(r.status == "deleted" for r in results):
                    self.erase_traces()
            self.refresh_keyword_index()
        return results

    def delete(self, name_or_sha: str) -> list[IngestResult]:
        """Remove a document by file name (every file of that name) or by sha256 (or a prefix
        of at least 8 characters), and erase it: vectors, text, Chroma's log, the uploaded copy
        and cached artefacts (see erase_traces).

        A name whose content was also uploaded under another name (reported ``duplicate``)
        leaves the content to that other name: only the name goes. By sha256, all names go."""
        recs = self.catalog.files_named(name_or_sha)
        by_name = bool(recs) or bool(self.catalog.aliases_named(name_or_sha))
        if not by_name and len(name_or_sha) >= 8:
            recs = [r for r in self.catalog.ready_files() if r.sha256.startswith(name_or_sha.lower())]
        out, erased = [], False
        with self.lock.hold():
            for rec in recs:
                others = [(p, n) for p, n in self.catalog.aliases(rec.sha256)
                          if p != rec.path and n != rec.name and Path(p).is_file()] if by_name else []
                if others:
                    path, name = others[0]
                    self.catalog.remove_alias(rec.sha256, path)
                    self.catalog.move_file(rec.sha256, path, name)
                    self.store.bump_generation()
                    res = IngestResult(rec.name, "deleted", pages=rec.pages, sha256=rec.sha256)
                    res.warn(f"Its content stays in the knowledge base as {name}, which was uploaded "
                             f"with the same content.",
                             f"其内容仍以 {name} 的名义保留在知识库中（该文件内容相同）。")
                    out.append(res)
                else:
                    for path, _ in self.catalog.aliases(rec.sha256):
                        self._discard_upload(path)
                    self._remove(rec.sha256)
                    erased = True
                    out.append(IngestResult(rec.name, "deleted", chunks=rec.chunks, pages=rec.pages,
                                            sha256=rec.sha256))
                self._discard_upload(rec.path)
            if by_name:
                for sha, path in self.catalog.aliases_named(name_or_sha):
                    # Only this other name goes; the content stays with the name it is stored as.
                    self.catalog.remove_alias(sha, path)
                    self._discard_upload(path)
                    if not recs:
                        out.append(IngestResult(name_or_sha, "deleted", sha256=sha))
            if erased:
                self.erase_traces()
        if out:
            self.refresh_keyword_index()
        return out

    def _discard_upload(self, path: str) -> None:
        """The copy the page saved under <home>/uploads, never a user's own file elsewhere."""
        uploads = (self.config.home / "uploads").resolve()
        target = Path(path)
        try:
            if target.resolve().is_relative_to(uploads) and target.is_file():
                target.unlink()
        except OSError:
            log.warning("could not remove the uploaded copy %s", path, exc_info=True)

    def reindex(self, progress: Progress | None = None,
                names: Iterable[str] | None = None) -> list[IngestResult]:
        """Re-chunk and re-embed every file still on disk (or only the documents ``names``) with
        this knowledge base's current chunking. Each file is prepared while its old version stays
        searchable, then swapped in one short locked write; a file that cannot be read now is
        kept as it was."""
        wanted = None if names is None else set(names)
        results = []
        for rec in self.catalog.ready_files():
            if wanted is not None and rec.name not in wanted:
                continue
            path = Path(rec.path)
            if not path.is_file():
                results.append(IngestResult(rec.name, "error", error_code="missing",
                                            error=f"{rec.name}: the original file is gone; kept as it was.",
                                            error_zh=f"{rec.name}：原文件已不存在，保留原索引。"))
                continue
            outcome = self._prepare_or_result(path, rec.name, progress, again=True)
            if isinstance(outcome, IngestResult):  # unreadable now: the stored version stays
                results.append(outcome)
                continue
            with self.lock.hold():
                if self.catalog.file(rec.sha256) is None:
                    continue  # deleted while it was being prepared: leave it deleted
                self._remove(rec.sha256)
                results.append(self._write([outcome], progress)[0])
        self.refresh_keyword_index()
        return results

    def files(self) -> list[FileRecord]:
        return self.catalog.ready_files()

    def file_chunks(self, sha256: str) -> list[ChunkRecord]:
        """The chunks of one ready file in document order ([] when it is not in the base).
        Chunk ids are "<sha256>:<index>", index 0 .. chunks-1 (used by summaries and FAQ mode)."""
        rec = self.catalog.file(sha256)
        if rec is None or rec.state != "ready":
            return []
        found = self.catalog.chunk_texts([f"{sha256}:{i}" for i in range(rec.chunks)])
        return sorted(found.values(), key=lambda c: c.idx)

    def stats(self) -> dict:
        return {"files": len(self.catalog.ready_files()), "chunks": self.catalog.chunk_count(),
                "embedding": self.embedding_tag}

    # --- retrieval: candidates for the retriever (vectorstore/retrievers.py fuses them) ---------
    def ready(self, sources: Sequence[str] | None = None) -> dict[str, FileRecord]:
        """The searchable files by sha256 (only those named in ``sources``, when given): taken
        once per question and shared by its dense and keyword searches. The catalog's file list
        is read again only when its generation moved (every committed change, in any process,
        bumps it), so a question costs one row read, not a scan of every file."""
        # Another process (a replica on another machine, with a shared database) may have
        # changed the catalog since the last question: this home's keyword index catches up
        # first (or is emptied). One small read when nothing changed.
        self.writer.follow_generation()
        generation = self.catalog.generation
        with self._ready_lock:
            cached = self._ready_files
        if cached is None or cached[0] != generation:
            cached = (generation, {r.sha256: r for r in self.catalog.ready_files()})
            with self._ready_lock:
                self._ready_files = cached
        if sources:
            wanted = set(sources)
            return {sha: r for sha, r in cached[1].items() if r.name in wanted}
        return dict(cached[1])

    def embed_query(self, text: str) -> list[float]:
        """The question's vector. One question is embedded once: the FAQ match and the dense
        search of a turn share it (the last few questions' vectors are kept)."""
        with self._query_vectors_lock:
            vector = self._query_vectors.get(text)
        if vector is None:
            with self.queries_first.search():
                vector = self.embeddings.embed_query(text)
            with self._query_vectors_lock:
                self._query_vectors[text] = vector
                while len(self._query_vectors) > QUERY_VECTORS_KEPT:
                    self._query_vectors.pop(next(iter(self._query_vectors)))
        return vector

    def dense_ranked(self, vector: list[float], pool: int = 20, sources: Sequence[str] | None = None,
                     ready: dict[str, FileRecord] | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``pool`` chunks nearest to ``vector``, best first.
        Ids only: the texts of the few that are shown are read afterwards (``hits``)."""
        ready = self.ready(sources) if ready is None else ready
        if not ready:
            return []
        where = {"sha256": {"$in": sorted(ready)}} if sources else None
        # Over-fetch: pending or deleted files' rows are filtered out here (ids are "<sha256>:<n>").
        rows = self.store.query(self.collection, vector, pool + 20, where=where)
        return [(cid, sim) for cid, sim in rows if cid.split(":", 1)[0] in ready][:pool]

    def keyword_ranked(self, query: str, pool: int = 20, sources: Sequence[str] | None = None,
                       ready: dict[str, FileRecord] | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the ``pool`` chunks with the best score for the query's
        words, best first."""
        ready = self.ready(sources) if ready is None else ready
        if not ready or not query.strip():
            return []
        found = self.keyword_index.search(query, pool + 50)
        return [(cid, score) for cid, score in found if cid.split(":", 1)[0] in ready][:pool]

    def dense(self, vector: list[float], pool: int = 20, sources: Sequence[str] | None = None,
              ready: dict[str, FileRecord] | None = None) -> list[Hit]:
        """The ``pool`` chunks nearest to ``vector`` (cosine similarity), best first."""
        ready = self.ready(sources) if ready is None else ready
        return self.hits(self.dense_ranked(vector, pool, sources, ready), ready=ready)[0]

    def keyword(self, query: str, pool: int = 20, sources: Sequence[str] | None = None,
                ready: dict[str, FileRecord] | None = None) -> list[Hit]:
        """The ``pool`` chunks with the best BM25 score for the query's words, best first."""
        ready = self.ready(sources) if ready is None else ready
        return self.hits(self.keyword_ranked(query, pool, sources, ready), ready=ready)[0]

    def chunks(self, ids: Iterable[str]) -> dict[str, ChunkRecord]:
        """The stored chunks of these ids (missing ones left out)."""
        return self.catalog.chunk_texts(list(ids))

    def hits(self, *rankings: list[tuple[str, float]], ready: dict[str, FileRecord]) -> list[list[Hit]]:
        """Each ranking's (chunk id, score) as Hits, with one catalog read for all their texts."""
        texts = self.chunks({cid for ranked in rankings for cid, _ in ranked})
        out = []
        for ranked in rankings:
            hits = []
            for cid, score in ranked:
                chunk = texts.get(cid)
                if chunk is None or chunk.sha256 not in ready:
                    continue
                hits.append(Hit(cid, ready[chunk.sha256].name, chunk.page, chunk.text, round(score, 6),
                                chunk.sha256, chunk.idx, chunk.heading, chunk.ocr))
            out.append(hits)
        return out

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               sources: list[str] | None = None, pool: int | None = None) -> list[Hit]:
        """Top-k chunks for a query: ``dense``, ``keyword`` or ``hybrid``. A shorthand: hybrid
        is the retriever's fusion (HybridRetriever without its relevance floor)."""
        if mode not in ("dense", "keyword", "hybrid"):
            raise ValueError(f"unknown search mode {mode!r}")
        pool = pool or max(4 * k, 20)
        if not query.strip():
            return []
        if mode == "hybrid":
            from .retrievers import HybridRetriever
            return HybridRetriever(kb=self, k=k, sources=sources, pool=pool, min_score=None).retrieve_hits(query)
        ready = self.ready(sources)
        if not ready:
            return []
        if mode == "dense":
            return self.dense(self.embed_query(query), pool, sources, ready)[:k]
        return self.keyword(query, pool, sources, ready)[:k]

    def close(self) -> None:
        self.catalog.close()


# --- several named knowledge bases ------------------------------------------------------------
def list_knowledge_bases(home: Path, database: Database | None = None) -> list[str]:
    """The knowledge bases of this home (its SQLite catalogs), or of the shared database."""
    if database is not None:
        return Catalog.names_in(database)
    names = []
    root = home / "kb"
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            db = folder / "catalog.sqlite3"
            if db.is_file():
                cat = Catalog(db)
                try:
                    names.append(cat.get_meta("name") or folder.name)
                finally:
                    cat.close()
    return names


def delete_knowledge_base(name: str, config: KBConfig, parts: KBParts | None = None) -> bool:
    folder = kb_folder(config.home, name)
    database = parts.database if parts else shared_database(config.database_url)
    if not (name in Catalog.names_in(database) if database else folder.exists()):
        return False
    # No embedding model is needed to delete: only the store and the lock.
    store = parts.store if parts else ChromaStore.for_home(config.home, config.chroma_url)
    lock = parts.lock if parts else writer_locks(config, database)[1]
    with lock.hold():
        cat = open_catalog(config.home, name, database)
        try:
            tag = cat.get_meta("embedding") or config.embedding
            # Its uploaded copies go with it (never a user's own files elsewhere).
            uploads = (config.home / "uploads").resolve()
            for rec in cat.ready_files() + cat.pending_files():
                paths = [rec.path] + [p for p, _ in cat.aliases(rec.sha256)]
                for path in map(Path, paths):
                    if path.resolve().is_relative_to(uploads) and path.is_file():
                        path.unlink()
            if database is not None:
                cat.remove_all()
                cat.checkpoint()
        finally:
            cat.close()
        store.drop_collection(collection_name(name, tag))
        store.bump_generation()
        store.purge()
        shutil.rmtree(folder, ignore_errors=database is not None)  # no local copy on this replica: fine
    return True
