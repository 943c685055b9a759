"""Dense vectors in Chroma: a local persistent folder, or a Chroma server (``chroma_url``).

We always pass our own embeddings (never Chroma's default embedding function, which would try to
download a model). A local Chroma client keeps its vector index in memory, so it does not see
another process's writes: every write bumps a shared generation counter, and a client that sees
a newer generation reopens before reading or writing (writing from a stale client is what
corrupts a shared folder).
"""
from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.api.client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

from common.loaded_once import LoadedOnce

log = logging.getLogger(__name__)


# A new collection's settings. hnsw:search_ef 200 instead of Chroma's 100: on the full law
# corpus's store (13k chunks; bench/search_bench.py) the top 50 of the index held 0.94 of the
# exact top 50 at 100 and 0.98 at 200 (top 10: 0.98 -> 0.996), at no measurable cost in time
# (3.6 vs 3.4 ms p50 on 2 busy cores). An existing collection keeps the value it was made with.
COLLECTION_METADATA = {"hnsw:space": "cosine", "hnsw:search_ef": 200}


def collection_name(kb_name: str, embedding_tag: str) -> str:
    """Chroma wants 3-512 chars of [a-zA-Z0-9._-]; knowledge-base names may be Chinese."""
    readable = re.sub(r"[^a-zA-Z0-9_-]+", "-", kb_name).strip("-_")[:40]
    digest = hashlib.sha1(kb_name.encode("utf-8")).hexdigest()[:10]
    tag = re.sub(r"[^a-zA-Z0-9_-]+", "-", embedding_tag).strip("-_")[:40] or "emb"
    return f"kb-{readable + '-' if readable else ''}{digest}-{tag}"


# One ChromaStore per location in a process. chromadb itself keeps one client system per
# folder per process (SharedSystemClient), and a store that sees another process's write clears
# that process-wide cache: a second ChromaStore on the same folder would pull the client out
# from under the first one's running query. So it is kept outside the app object: it mirrors a
# process-wide fact of chromadb, not a choice of ours (common/loaded_once.py).
_BY_LOCATION: LoadedOnce["ChromaStore"] = LoadedOnce("Chroma stores")


class ChromaStore:
    @classmethod
    def for_home(cls, home: Path, url: str | None = None) -> "ChromaStore":
        """The store of a DocChat home (its ``chroma`` folder) or of a Chroma server."""
        return _BY_LOCATION.get((str(home), url), lambda: cls(
            local_dir=None if url else home / "chroma", url=url,
            generation_file=None if url else home / "chroma.generation"))

    def __init__(self, *, local_dir: Path | None = None, url: str | None = None,
                 generation_file: Path | None = None):
        if not local_dir and not url:
            raise ValueError("ChromaStore needs a local folder or a server URL")
        self.local_dir, self.url = local_dir, url
        self.generation_file = generation_file
        self._client: Any = None
        self._seen_generation: int | None = None
        self._lock = threading.RLock()
        self._collections: dict[str, Any] = {}  # name -> collection of the client below
        self._collections_of: Any = None

    # --- client lifecycle ---------------------------------------------------------------
    def _read_generation(self) -> int:
        if not self.generation_file:
            return 0
        try:
            return int(self.generation_file.read_text())
        except (OSError, ValueError):
            return 0

    def bump_generation(self) -> None:
        """Called by the writer (under the writer lock) after each committed write."""
        if not self.generation_file:
            return
        # Under the client lock: a reader thread of this process must not see the new number
        # before _seen_generation does, or it would reopen the client under a running query.
        with self._lock:
            gen = self._read_generation() + 1
            tmp = self.generation_file.with_suffix(".tmp")
            tmp.write_text(str(gen))
            tmp.replace(self.generation_file)
            self._seen_generation = gen

    def client(self):
        with self._lock:
            gen = self._read_generation()
            if self._client is not None and (self.url or gen == self._seen_generation):
                return self._client
            settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if self.url:
                parsed = urlparse(self.url)
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https", settings=settings,
                )
            else:
                if self._client is not None:
                    # Another process wrote: drop the cached in-memory index and reopen.
                    SharedSystemClient.clear_system_cache()
                self.local_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self.local_dir), settings=settings)
            self._seen_generation = gen
            return self._client

    def collection(self, name: str):
        """The collection, made on first use. A local client's collection objects are kept
        until the client is reopened (asking Chroma for one cost about 0.5 ms per question);
        another process's change, a dropped collection included, bumps the generation, which
        reopens the client."""
        with self._lock:
            client = self.client()
            if self.url:
                return self._get_or_create(client, name)
            if self._collections_of is not client:
                self._collections, self._collections_of = {}, client
            if name not in self._collections:
                self._collections[name] = self._get_or_create(client, name)
            return self._collections[name]

    @staticmethod
    def _get_or_create(client, name: str):
        return client.get_or_create_collection(name=name, embedding_function=None, metadata=COLLECTION_METADATA)

    def drop_collection(self, name: str) -> None:
        with self._lock:
            self._collections.pop(name, None)
        try:
            self.client().delete_collection(name)
        except Exception:  # noqa: BLE001 - already gone is fine
            log.debug("collection %s was not there", name)

    # --- data -----------------------------------------------------------------------------
    def add(self, name: str, ids: list[str], embeddings: list[list[float]], texts: list[str],
            metadatas: list[dict]) -> None:
        """Upsert (not add): rows an interrupted delete left behind are simply overwritten.
        As few calls as the client allows: each call costs far more than its rows."""
        col = self.collection(name)
        batch_size = self.client().get_max_batch_size()
        for start in range(0, len(ids), batch_size):
            end = start + batch_size
            col.upsert(ids=ids[start:end], embeddings=embeddings[start:end],
                       documents=texts[start:end], metadatas=metadatas[start:end])

    def delete_file(self, name: str, sha256: str) -> None:
        self.collection(name).delete(where={"sha256": sha256})

    def purge(self) -> None:
        """After deletes, under the writer lock: erase what Chroma's log and free pages still
        hold of deleted rows (a local folder; a Chroma server keeps its own log).

        This is ``chroma vacuum`` (Chroma's documented maintenance: drop the log records every
        segment of their collection has persisted past, then VACUUM), plus one step it lacks:
        the vector segment persists only every ``sync_threshold`` (1000) records, so a recent
        write's records stay in the log, text included. Of those, the ones the metadata segment
        has applied and a later DELETE removed lose their metadata (text, file name): the vector
        segment replays only vectors. FTS5 'optimize' then drops deleted terms from the
        full-text index, and VACUUM rewrites the file without free pages."""
        if self.url or not self.local_dir:
            return
        db_file = self.local_dir / "chroma.sqlite3"
        if not db_file.is_file():
            return
        with self._lock:
            con = sqlite3.connect(str(db_file), timeout=60, isolation_level=None)
            try:
                con.execute("BEGIN IMMEDIATE")
                floors = con.execute(
                    "SELECT s.collection, s.scope, COALESCE(m.seq_id, -1) FROM segments s "
                    "LEFT JOIN max_seq_id m ON m.segment_id = s.id").fetchall()
                by_collection: dict[str, dict[str, int]] = {}
                for collection, scope, seq in floors:
                    by_collection.setdefault(collection, {})[scope] = int(seq)
                for collection, seqs in by_collection.items():
                    topic = con.execute("SELECT topic FROM embeddings_queue WHERE topic LIKE ? LIMIT 1",
                                        (f"%/{collection}",)).fetchone()
                    if topic is None:
                        continue
                    if min(seqs.values()) >= 0:
                        con.execute("DELETE FROM embeddings_queue WHERE topic = ? AND seq_id < ?",
                                    (topic[0], min(seqs.values())))
                    applied = seqs.get("METADATA", -1)
                    con.execute(
                        "UPDATE embeddings_queue SET metadata = NULL WHERE topic = ? AND operation != 3 "
                        "AND metadata IS NOT NULL AND seq_id <= ? AND EXISTS (SELECT 1 FROM "
                        "embeddings_queue d WHERE d.topic = embeddings_queue.topic AND d.id = "
                        "embeddings_queue.id AND d.operation = 3 AND d.seq_id > embeddings_queue.seq_id)",
                        (topic[0], applied))
                con.execute("COMMIT")
                try:
                    con.execute("INSERT INTO embedding_fulltext_search(embedding_fulltext_search) "
                                "VALUES ('optimize')")
                except sqlite3.OperationalError:
                    log.debug("no full-text index to optimise", exc_info=True)
                con.execute("VACUUM")
            except sqlite3.OperationalError:
                # Busy past the timeout (a long query elsewhere): the next delete tries again.
                log.warning("could not purge Chroma's log in %s", db_file, exc_info=True)
                if con.in_transaction:
                    con.execute("ROLLBACK")
            finally:
                con.close()

    def count(self, name: str) -> int:
        return self.collection(name).count()

    def ids(self, name: str) -> list[str]:
        """Every row id of a collection (the consistency check compares them)."""
        return self.collection(name).get(include=[])["ids"]

    def ids_of_file(self, name: str, sha256: str) -> list[str]:
        return self.collection(name).get(where={"sha256": sha256}, include=[])["ids"]

    def query(self, name: str, embedding: list[float], n: int,
              where: dict | None = None) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the ``n`` nearest rows, best first. Ids only: reading
        each row's text and metadata from Chroma cost more than the index search itself (the
        catalog gives the texts of the few hits that are shown)."""
        res = self.collection(name).query(query_embeddings=[embedding], n_results=n, where=where,
                                          include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0])]
