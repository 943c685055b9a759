"""Replica benchmark (not a test): N app replicas sharing PostgreSQL, a Chroma server and one
OpenAI-compatible model server (llama-cpp-python's, the 0.5B GGUF), as docs/DEPLOY.md's third
set-up. Every server is started here, on 127.0.0.1, exactly as the tests start them
(tests/servers.py, tests/pg_server.py); each replica is a process of its own with its own
DOCCHAT_HOME running DocChat's objects (tests/replica.py: ``DocChat.from_settings()``, the
page's ChatSession path for answers).

Measured:
1. index-to-visible: a new document is ingested through one replica; the moment that replica
   reports it indexed, every other replica searches for it (hybrid, as chat retrieves), again
   until it is found; the latency is the finding reply's time minus the indexing reply's time.
   Also: how often the very first search found it.
2. answers per minute: --replicas x --sessions chat sessions (threads, each a browser tab), each
   asking --questions questions in turn about the sample documents (data/), all at once; and
   the same questions from 1 replica x 1 session as the baseline. Answers are capped at
   --max-new-tokens. The model server answers one request at a time (llama.cpp), so this is
   the throughput of one model server shared by every replica.

    .venv/bin/python -m bench.replica_bench [--replicas 2] [--sessions 4] [--questions 2]
        [--visible-docs 6] [--max-new-tokens 64] [--out FILE]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.common import (REPO, RESULTS, command_line, finish_facts, latency_summary,  # noqa: E402
                          machine_facts, write_json)

sys.path.insert(0, str(REPO / "tests"))
from pg_server import PostgresServer, postgres_bin  # noqa: E402
from replica import Replica  # noqa: E402
from servers import MODEL_ALIAS, running_chroma_server, running_llama_server, small_model  # noqa: E402

DEFAULT_OUT = RESULTS / "replica_bench.json"
KB = "bench"
# Questions the sample documents (data/) answer; sessions take them in turn.
QUESTIONS = [
    "报销要在多少天内提交？",
    "How many characters must a password have?",
    "试用期最长多久？",
    "一线城市住宿标准每晚多少钱？",
    "What must I do if my laptop is stolen?",
    "会议室怎么预订？",
    "How long must passwords be?",
    "笔记本电脑丢失后多久内要报告？",
]


def visible_latencies(replicas: list[Replica], docs: int, folder: Path) -> dict:
    """Each new document through replica i % N; every other replica searches until it sees it."""
    latencies, first_try = [], 0
    for i in range(docs):
        code = f"ZX{i:03d}QK"
        doc = folder / f"notice_{i}.txt"
        doc.write_text(f"通知{code}：第{i}号工位的网络检修安排在周{i % 5 + 1}下午。", encoding="utf-8")
        writer = replicas[i % len(replicas)]
        indexed = writer.send("ingest", kb=KB, paths=[str(doc)])
        [result] = writer.reply(indexed)
        assert result["status"] == "indexed", result
        reported = indexed.result()["done_at"]
        for reader in replicas:
            if reader is writer:
                continue
            tries = 0
            while True:
                tries += 1
                sent = reader.send("search", kb=KB, query=f"通知{code}网络检修", k=3)
                if any(h["source"] == doc.name for h in reader.reply(sent)):
                    latencies.append(sent.result()["done_at"] - reported)
                    first_try += tries == 1
                    break
    return {"documents": docs, "pairs": len(latencies), "found_on_first_search": first_try,
            "latency_s": latency_summary(latencies)}


def chat_run(replicas: list[Replica], sessions: int, questions: int) -> dict:
    """``sessions`` threads per replica, each asking ``questions`` questions in turn."""
    answers, errors, lock = [], [], threading.Lock()

    def session(rep: Replica, n: int) -> None:
        for q in range(questions):
            question = QUESTIONS[(n * questions + q) % len(QUESTIONS)]
            try:
                reply = rep.call("ask", kb=KB, question=question)
            except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                with lock:
                    errors.append(f"{rep.name}: {exc}")
                continue
            with lock:
                answers.append({**reply, "question": question})

    threads = [threading.Thread(target=session, args=(rep, r * sessions + s))
               for r, rep in enumerate(replicas) for s in range(sessions)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    timings = lambda key: [a["timings"][key] for a in answers if key in a["timings"]]  # noqa: E731
    return {
        "replicas": len(replicas), "sessions_per_replica": sessions, "questions_per_session": questions,
        "answers": len(answers), "errors": errors, "wall_s": round(wall, 1),
        "answers_per_min": round(len(answers) / wall * 60, 2) if wall else None,
        "refused": sum(a["refused"] for a in answers),
        "answered_without_sources": sum(1 for a in answers if not a["refused"] and not a["sources"]),
        "refused_questions": sorted(a["question"] for a in answers if a["refused"]),
        "queue_wait_s": latency_summary(timings("queue_wait_s")),
        "first_token_s": latency_summary(timings("first_token_s")),
        "answer_s": latency_summary(timings("total_s")),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--sessions", type=int, default=4, help="chat sessions per replica")
    ap.add_argument("--questions", type=int, default=2, help="questions per session")
    ap.add_argument("--visible-docs", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    facts = machine_facts()
    bindir = postgres_bin()
    if bindir is None:
        sys.exit("needs Debian's postgresql package (scripts/setup.sh installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="replica-bench-"))
    pg = PostgresServer(bindir).start()
    replicas: list[Replica] = []
    try:
        with running_chroma_server(tmp / "chroma", tmp / "chroma.log") as chroma_url, \
                running_llama_server(small_model(), tmp / "llama.log") as llama_url:
            env = {"DOCCHAT_DATABASE_URL": pg.new_database(), "DOCCHAT_CHROMA_URL": chroma_url,
                   "DOCCHAT_LLM": "openai", "DOCCHAT_OPENAI_BASE_URL": llama_url,
                   "DOCCHAT_OPENAI_MODEL": MODEL_ALIAS, "DOCCHAT_OPENAI_TIMEOUT": "900",
                   "DOCCHAT_TEMPERATURE": "0", "DOCCHAT_MAX_NEW_TOKENS": str(args.max_new_tokens)}
            started = time.monotonic()
            for i in range(args.replicas):
                replicas.append(Replica(f"r{i}", tmp / f"home-{i}", env, tmp / f"r{i}.log"))
            start_s = (time.monotonic() - started) / args.replicas
            replicas[0].call("ingest", kb=KB, paths=[str(REPO / "data")])
            docs = tmp / "docs"
            docs.mkdir()
            visible = visible_latencies(replicas, args.visible_docs, docs)
            baseline = chat_run(replicas[:1], 1, args.questions)
            shared = chat_run(replicas, args.sessions, args.questions)
            checks = [rep.call("check", kb=KB) for rep in replicas]
    finally:
        for rep in replicas:
            rep.close()
        pg.stop()
    out = {
        "machine": finish_facts(facts), "command": command_line("bench.replica_bench", argv),
        "model": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf via llama_cpp.server (--interrupt_requests False)",
        "max_new_tokens": args.max_new_tokens, "replica_start_s": round(start_s, 1),
        "index_to_visible": visible, "chat_baseline": baseline, "chat": shared,
        "speedup_answers_per_min": (round(shared["answers_per_min"] / baseline["answers_per_min"], 2)
                                    if baseline["answers_per_min"] else None),
        "consistent_on_every_replica": all(c["ok"] for c in checks),
    }
    write_json(args.out, out)
    lat = visible["latency_s"]
    print(f"index-to-visible ({visible['pairs']} replica pairs): p50 {lat.get('p50_ms')} ms, max {lat.get('max_ms')} ms, "
          f"found on the first search {visible['found_on_first_search']}/{visible['pairs']}")
    for name, run in (("1 x 1", baseline), (f"{args.replicas} x {args.sessions}", shared)):
        print(f"replicas x sessions {name}: {run['answers']} answers in {run['wall_s']} s = "
              f"{run['answers_per_min']} answers/min, errors {len(run['errors'])}, refused {run['refused']}, "
              f"first token p50 {run['first_token_s'].get('p50_ms')} ms, answer p50 {run['answer_s'].get('p50_ms')} ms")
    print(f"consistent on every replica: {out['consistent_on_every_replica']}; written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
