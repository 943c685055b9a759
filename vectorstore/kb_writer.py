"""The writer of one knowledge base: every change to its stores, under the writer lock.

A write is short and all-or-nothing per file: catalog row ``pending`` -> Chroma vectors -> chunk
rows -> ``ready``. Only ``ready`` files are ever searched, and a ``pending`` row found under the
lock is a crashed write that ``repair()`` rolls back (and finishes, when the file is still
there). The keyword index is rebuilt from the catalog after a batch, so it never holds a
half-written file either.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from .catalog import Catalog, ChunkRecord, FileRecord, now
from .chroma_store import ChromaStore
from .ingest import PreparedFile, Progress
from .keyword import KeywordIndex
from .lock import AdvisoryLock, WriterLock
from .results import IngestResult

log = logging.getLogger(__name__)


class KBWriter:
    def __init__(self, catalog: Catalog, store: ChromaStore, collection: str, lock: WriterLock | AdvisoryLock,
                 keyword: KeywordIndex, folder: Path, local_lock: WriterLock | None = None):
        """``lock``: the writer lock of the shared stores; ``local_lock``: the lock of this
        home's keyword index (the same lock, unless the catalog is in a shared database)."""
        self.catalog, self.store, self.collection = catalog, store, collection
        self.lock, self.keyword, self.folder = lock, keyword, folder
        self.local_lock = local_lock or lock

    # --- write ---------------------------------------------------------------------------------
    def known_as(self, sha: str, path: str) -> IngestResult | None:
        """The result for content already stored (unchanged, moved or a duplicate), or None."""
        rec = self.catalog.file(sha)
        if not rec or rec.state != "ready":
            return None
        name = Path(path).name
        if rec.path == path:
            return IngestResult(name, "unchanged", chunks=rec.chunks, pages=rec.pages, sha256=sha)
        if not Path(rec.path).exists() and rec.name == name:
            # The same file, moved: follow it rather than calling it a duplicate of itself.
            with self.lock.hold():
                self.catalog.move_file(sha, path, name)
            return IngestResult(name, "unchanged", chunks=rec.chunks, pages=rec.pages, sha256=sha)
        if Path(path).is_file():
            # The user was told it is "already in the knowledge base": remember this name, so
            # deleting the other one keeps the content for it (see KnowledgeBase.delete).
            self.catalog.add_alias(sha, path, name)
        return IngestResult(name, "duplicate", chunks=rec.chunks, pages=rec.pages, sha256=sha,
                            duplicate_of=rec.name)

    def write(self, batch: list[PreparedFile], progress: Progress | None) -> list[IngestResult]:
        """One locked write for several prepared files; each file is all-or-nothing."""
        report = progress or (lambda *_: None)
        results: dict[int, IngestResult] = {}
        fresh: list[tuple[int, PreparedFile, list[FileRecord]]] = []
        with self.lock.hold():
            taken: dict[str, str] = {}
            for i, p in enumerate(batch):
                # Re-checked under the lock: another process, or an earlier file of this
                # batch, may hold the same content by now.
                known = self.known_as(p.sha, p.path)
                if known or p.sha in taken:
                    if not known:  # the same content as an earlier file of this batch: its name
                        self.catalog.add_alias(p.sha, p.path, p.name)  # is kept, as known_as does
                    results[i] = known or IngestResult(p.name, "duplicate", chunks=len(p.ids), pages=p.pages,
                                                       sha256=p.sha, duplicate_of=taken[p.sha])
                    continue
                taken[p.sha] = p.name
                superseded = [r for r in self.catalog.files_at_path(p.path) if r.sha256 != p.sha]
                fresh.append((i, p, superseded))
            if fresh:
                with self.catalog.transaction():
                    for _, p, _ in fresh:
                        self.catalog.begin_file(FileRecord(p.sha, p.name, p.path, p.format, p.size,
                                                           p.pages, len(p.ids), now(), "pending",
                                                           p.chunking, p.loader_version))
                self.store.add(self.collection, [c for _, p, _ in fresh for c in p.ids],
                               [v for _, p, _ in fresh for v in p.vectors],
                               [t for _, p, _ in fresh for t in p.texts],
                               [m for _, p, _ in fresh for m in p.metadatas])
                with self.catalog.transaction():
                    for _, p, _ in fresh:
                        self.catalog.add_chunks(
                            ChunkRecord(cid, p.sha, n, meta.get("page"), text, tok, meta.get("heading", ""),
                                        bool(meta.get("ocr")))
                            for n, (cid, meta, text, tok) in enumerate(zip(p.ids, p.metadatas, p.texts, p.tokens)))
                for i, p, superseded in fresh:
                    # Another document of this name from elsewhere: both are kept (a folder may
                    # hold two readme.txt), never silently replaced; the user is told.
                    namesakes = [r for r in self.catalog.files_named(p.name)
                                 if r.path != p.path and r.sha256 != p.sha]
                    self.catalog.commit_file(p.sha)
                    for old in superseded:
                        self.remove(old.sha256)
                    results[i] = IngestResult(p.name, "updated" if superseded else "indexed",
                                              chunks=len(p.ids), pages=p.pages, sha256=p.sha)
                    for en, zh in p.warnings:
                        results[i].warn(en, zh)
                    if namesakes:
                        results[i].warn(
                            f"Another document is also named {p.name} ({namesakes[0].path}); both are "
                            f"kept. Deleting by this name removes both: use the sha256 "
                            f"{p.sha[:12]} to remove only this one.",
                            f"知识库中已有另一个同名文件 {p.name}（{namesakes[0].path}），两者都已保留。"
                            f"按文件名删除会同时删除两者；只删除这一个请用 sha256 {p.sha[:12]}。")
                    report(p.name, "done", 1.0)
                self.store.bump_generation()
                if any(superseded for _, _, superseded in fresh):
                    self.erase_traces()  # a replaced version is erased like a deleted one
        return [results[i] for i in range(len(batch))]

    # --- remove --------------------------------------------------------------------------------
    def remove(self, sha256: str) -> None:
        """Under the writer lock. Hidden first (pending), then vectors, then rows, so a crash
        at any point leaves either the whole file or a pending row that repair() removes."""
        rec = self.catalog.file(sha256)
        if rec and rec.state == "ready":
            self.catalog.begin_file(rec)
        self.store.delete_file(self.collection, sha256)
        self.catalog.remove_file(sha256)
        self.store.bump_generation()

    def erase_traces(self) -> None:
        """Under the writer lock, after deletes: what deleted documents left behind is erased.
        The catalog overwrites deleted rows (secure_delete) and empties its write-ahead log; the
        FAQ caches of contents no longer stored go; Chroma's log and free pages are purged
        (ChromaStore.purge). The keyword index is rebuilt from the catalog by the caller."""
        self.catalog.checkpoint()
        live = self.catalog.ready_shas() | {r.sha256 for r in self.catalog.pending_files()}
        faq_cache = self.folder / "faq"
        if faq_cache.is_dir():
            for cached in faq_cache.glob("*.npz"):
                if cached.name.split(".", 1)[0] not in live:
                    cached.unlink(missing_ok=True)
        self.store.purge()

    # --- repair --------------------------------------------------------------------------------
    def needs_repair(self) -> bool:
        """A crashed write to roll back or finish, or a keyword index behind the catalog (a new,
        empty knowledge base has none yet, and needs none)."""
        if self.catalog.pending_files():
            return True
        stored = self.keyword.stored_generation()
        return stored != self.catalog.generation and (stored is not None or bool(self.catalog.ready_shas()))

    def repair(self, finish: Callable[[Path, str], object]) -> None:
        """Roll back writes a crash interrupted, ``finish(path, name)`` them if the file is still
        there, and bring the keyword index up to date. Cheap when there is nothing to do."""
        if not self.needs_repair():
            return
        to_finish = []
        with self.lock.try_hold() as free:
            if not free:
                # A writer is at work: its pending file is in flight, not crashed, and it
                # rebuilds the keyword index when its batch ends. Nothing to repair.
                return
            for rec in self.catalog.pending_files():
                log.warning("rolling back an interrupted import of %s", rec.name)
                self.remove(rec.sha256)
                if Path(rec.path).is_file():
                    to_finish.append((Path(rec.path), rec.name))
            self.drop_superseded()
        for path, name in to_finish:
            finish(path, name)
        self.refresh_keyword_index()

    def drop_superseded(self) -> None:
        """A crash between indexing a changed file and removing its old version leaves two
        ready versions at one path: keep the newest."""
        by_path: dict[str, list[FileRecord]] = {}
        for rec in self.catalog.ready_files():
            by_path.setdefault(rec.path, []).append(rec)
        for recs in by_path.values():
            for old in sorted(recs, key=lambda r: r.added_at)[:-1]:
                self.remove(old.sha256)

    def refresh_keyword_index(self) -> None:
        """Rebuild this home's keyword index from the catalog if it is behind. The generation
        and the chunks are read in one snapshot, so the index holds exactly what the
        generation it is tagged with counts, even while another machine writes."""
        with self.local_lock.hold():
            if self.keyword.stored_generation() != self.catalog.generation:
                gen, rows = self.catalog.ready_chunks_at_generation()
                self.keyword.rebuild(rows, gen)

    def follow_generation(self) -> None:
        """Before a question, with a shared catalog (PostgreSQL): catch up with what another
        machine changed (one small read when nothing did). A new, empty knowledge base needs no
        index. A question never waits for a rebuild already running in this home: it uses the
        index as it is. With the catalog in this home, its own writers keep the index current
        after each ingest, as before (a question during an ingest does not rebuild it)."""
        if not self.catalog.shared:
            return
        stored = self.keyword.stored_generation()
        if stored == self.catalog.generation or (stored is None and not self.catalog.ready_shas()):
            return
        with self.local_lock.try_hold() as free:
            if free:
                self.refresh_keyword_index()
