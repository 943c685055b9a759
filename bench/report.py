"""Builds docs/BENCHMARKS.md and its charts from the JSON in bench/results/ (never typed numbers).

For each benchmark: its latest table, the command that produced it, the machine and the date;
PNG charts (matplotlib, Agg): ingest time vs corpus size, search latency vs store size, and
recall of each retrieval set-up. A benchmark whose JSON is missing is listed as not run.

    .venv/bin/python -m bench.report [--results bench/results] [--out docs/BENCHMARKS.md] [--img docs/img]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from bench.common import RESULTS, REPO

DEFAULT_OUT = REPO / "docs" / "BENCHMARKS.md"
DEFAULT_IMG = REPO / "docs" / "img"
MAIN_SETUPS = ("dense", "keyword", "hybrid", "hybrid+expand1")


# --- helpers -------------------------------------------------------------------------------------
def load(results: Path, name: str) -> dict | None:
    path = results / name
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def fmt(value, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def goal_cell(goal: dict | None, unit: str = "") -> str:
    if not goal or goal.get("met") is None:
        return "not measured"
    return ("met" if goal["met"] else "**missed**") + f" (goal <= {fmt(goal['max'], 0)}{unit})"


def provenance(data: dict, module: str) -> str:
    """Command, machine and date of one results file, in two lines of markdown."""
    command = data.get("command")
    if not command and isinstance(data.get("command_line"), list):
        command = " ".join([".venv/bin/python", "-m", module, *data["command_line"]])
    m = data.get("machine") or {}
    cores = m.get("cores") or m.get("cpu_count")
    ram = m.get("ram_gb") or m.get("mem_gb")
    load = m.get("loadavg_at_start") or m.get("load_average")
    parts = [m.get("cpu"), f"{cores} cores" if cores else None, f"{ram} GB RAM" if ram else None,
             f"Python {m['python']}" if m.get("python") else None,
             f"commit {m['git_commit'][:10]}" if m.get("git_commit") else None,
             f"load average at start {', '.join(f'{x:.1f}' for x in load)}" if load else None]
    machine = ", ".join(p for p in parts if p) or "not recorded"
    return (f"Command: `{command or 'not recorded'}`  \n"
            f"Machine: {machine}  \nDate: {m.get('date') or 'not recorded'}")


# --- charts --------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "svg.hashsalt": "docchat"})
    return plt


def chart_ingest(scale: dict, path: Path) -> Path:
    plt = _plt()
    rows = scale["ingest"]
    labels = [f"{name}\n{r['files']} files, {r['chars']:,} chars\n{r['chunks']:,} chunks" for name, r in rows.items()]
    groups = ["parse", "chunk", "embed", "write", "other"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bottom = [0.0] * len(rows)
    for group in groups:
        values = [r["stages_s"].get(group, 0.0) for r in rows.values()]
        ax.bar(labels, values, bottom=bottom, label=group, width=0.5)
        bottom = [b + v for b, v in zip(bottom, values)]
    floors = [(x, r["floor_s"]) for x, r in enumerate(rows.values()) if r.get("floor_s")]
    if floors:
        ax.scatter([x for x, _ in floors], [f for _, f in floors], marker="_", s=1500, color="black", zorder=3,
                   label="pure embedding (floor)")
    for x, (r, top) in enumerate(zip(rows.values(), bottom)):
        ratio = f", x{r['ratio_total_to_floor']:.2f} floor" if r.get("ratio_total_to_floor") else ""
        ax.annotate(f"{r['total_s']:.0f} s{ratio}", (x, top), ha="center", va="bottom")
    goal = scale.get("goals", {}).get("full_ingest_s", {}).get("max")
    if goal:
        ax.axhline(goal, color="red", linestyle="--", linewidth=1, label=f"goal, full corpus: {goal:.0f} s")
    ax.set_ylabel("seconds")
    ax.set_title(f"Ingest time vs corpus size ({scale.get('embedding', '')}, {scale['machine'].get('cores')} cores)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def chart_latency(scale: dict, path: Path) -> Path:
    plt = _plt()
    stores = scale["stores"]
    chunks = [r["chunks"] for r in stores.values()]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
        ax.plot(chunks, [r["search"][key] for r in stores.values()], style, label=f"search {key[:3]}")
    ax.plot(chunks, [r["parts"]["dense"]["p95_ms"] for r in stores.values()], "x:", label="dense part p95")
    ax.plot(chunks, [r["parts"]["keyword"]["p95_ms"] for r in stores.values()], "+:", label="keyword part p95")
    goal = scale.get("goals", {}).get("search_p95_ms_250k", {}).get("max")
    if goal:
        ax.axhline(goal, color="red", linestyle="--", linewidth=1, label=f"goal p95 at 250k: {goal:.0f} ms")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the store")
    ax.set_ylabel("milliseconds")
    ax.set_title("Search latency (HybridRetriever, k=5) vs store size")
    for x, name in zip(chunks, stores):
        ax.annotate(name, (x, 0), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    ttft = [(r["chunks"], [run["first_token_s"] for run in r["ttft"]["runs"] if run["first_token_s"] is not None])
            for r in stores.values() if r.get("ttft")]
    if ttft:
        for x, values in ttft:
            ax2.plot([x] * len(values), values, "o", color="tab:blue", alpha=0.7)
        ax2.plot([x for x, v in ttft if v], [sorted(v)[len(v) // 2] for _, v in ttft if v], "-", color="tab:blue",
                 label="median")
        model = next(r["ttft"] for r in stores.values() if r.get("ttft"))
        ax2.set_title(f"Search + first token ({model['backend']} {model['model']})")
        ax2.set_xscale("log")
        ax2.set_xlabel("chunks in the store")
        ax2.set_ylabel("seconds")
        ax2.set_ylim(bottom=0)
        ax2.legend(fontsize=7)
    else:
        ax2.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def chart_recall(rag: dict | None, baseline: dict | None, path: Path) -> Path | None:
    bars: list[tuple[str, float, float]] = []
    if rag and rag.get("setups"):
        for name, row in rag["setups"].items():
            m = row["summary"]["all"]
            bars.append((f"DocChat {name}", m["recall@5"], m["mrr@10"]))
    if baseline:
        for pipeline, rows in baseline["pipelines"].items():
            for fmt_name, row in rows.items():
                if row.get("recall@5") is not None:
                    who = "LangChain naive" if pipeline == "langchain" else "DocChat"
                    bars.append((f"{who} ({fmt_name}, baseline run)", row["recall@5"], row["mrr@10"]))
    if not bars:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(bars) + 1.2))
    y = list(range(len(bars)))
    ax.barh([v - 0.2 for v in y], [b[1] for b in bars], height=0.4, label="recall@5")
    ax.barh([v + 0.2 for v in y], [b[2] for b in bars], height=0.4, label="MRR@10")
    for v, (_, recall, mrr) in zip(y, bars):
        ax.annotate(f"{recall:.2f}", (recall, v - 0.2), xytext=(2, 0), textcoords="offset points", va="center", fontsize=6)
        ax.annotate(f"{mrr:.2f}", (mrr, v + 0.2), xytext=(2, 0), textcoords="offset points", va="center", fontsize=6)
    ax.set_yticks(y, [b[0] for b in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    ax.set_title("Retrieval quality on the dev questions, by set-up")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


# --- sections ------------------------------------------------------------------------------------
def section_scale(scale: dict | None, img: Path, out_dir: Path) -> list[str]:
    lines = ["## Scale: full corpus, 250,000 chunks, memory", ""]
    if not scale:
        return lines + ["Not run yet (`.venv/bin/python -m bench.scale_bench`).", ""]
    goals = scale.get("goals", {})
    lines += [provenance(scale, "bench.scale_bench"), ""]
    lines += ["### Ingest", "",
              "Each corpus into a fresh store with the default embedding; seconds. parse = hash + load_file; "
              "chunk = SentenceChunker; embed = embed_documents; write = jieba tokens + Chroma + catalog + "
              "BM25 rebuild; other = open, locks, bookkeeping. Floor = pure embedding time (the pipeline's "
              f"embed calls replayed, share {fmt(scale['inputs'].get('floor_sample'), 2)} of them, scaled by characters).", ""]
    rows = []
    for name, r in scale["ingest"].items():
        s = r["stages_s"]
        rows.append([name, fmt(r["files"]), fmt(r["chars"]), fmt(r["chunks"]), fmt(r["total_s"]),
                     fmt(s["parse"]), fmt(s["chunk"]), fmt(s["embed"]), fmt(s["write"]), fmt(s["other"]),
                     fmt(r["floor_s"]), fmt(r["ratio_total_to_floor"], 2), fmt(r["chunks_per_s"]),
                     fmt(r["disk_mb_per_1000_chunks"], 2)])
    lines += [table(["corpus", "files", "chars", "chunks", "total s", "parse", "chunk", "embed", "write", "other",
                     "floor s", "total / floor", "chunks/s", "disk MB / 1,000 chunks"], rows), ""]
    lines += [f"Goal, full-corpus ingest: {fmt(goals.get('full_ingest_s', {}).get('value'))} s, "
              f"{goal_cell(goals.get('full_ingest_s'), ' s')}. Model load and warm-up "
              f"({fmt(scale.get('model_load_and_warmup_s'), 2)} s) and jieba's dictionary "
              f"({fmt(scale.get('jieba_init_s'), 2)} s) are paid once per process, before the timed run.", ""]
    chart = chart_ingest(scale, img / "ingest_vs_size.png")
    lines += [f"![Ingest time vs corpus size]({os.path.relpath(chart, out_dir)})", ""]

    lines += ["### Search latency by store size", "",
              "Search = `HybridRetriever(kb, k=5).retrieve_hits`, the chat's retrieval (dense + BM25, RRF, "
              "relevance floor), each store opened cold in a fresh process; first query (index load) apart, "
              "then 3 warm-up queries, then the timed passes. Dense, keyword and query-embedding parts timed "
              "alone. + first token = ChatSession.stream (a new conversation's first question) until the "
              "model's first token (median).", ""]
    rows = []
    for name, r in scale["stores"].items():
        s, p = r["search"], r["parts"]
        ttft = r.get("ttft", {})
        rows.append([name, fmt(r["chunks"]), fmt(r["disk_bytes"] / 2**20, 0), fmt(r["disk_mb_per_1000_chunks"], 2),
                     fmt(r["open_s"], 2), fmt(r["first_query_ms"], 0), fmt(s["n"]), fmt(s["p50_ms"]), fmt(s["p95_ms"]),
                     fmt(s["p99_ms"]), fmt(p["dense"]["p95_ms"]), fmt(p["keyword"]["p95_ms"]),
                     fmt(p["embed_query"]["p50_ms"]), fmt(r.get("recall@5"), 3) + ("*" if name == "synthetic" else ""),
                     fmt(r.get("rss_after_search_mb"), 0),
                     fmt(ttft.get("median_s"), 2)])
    lines += [table(["store", "chunks", "disk MB", "MB / 1,000 chunks", "open s", "first query ms", "queries",
                     "p50 ms", "p95 ms", "p99 ms", "dense p95", "keyword p95", "query embed p50", "recall@5",
                     "process RSS MB", "+ first token s"], rows), ""]
    if "synthetic" in scale["stores"]:
        lines += ["\\* recall@5 on the synthetic store is a stress figure: its synthetic chunks are recombined "
                  "halves of real ones, so near-duplicates of the relevant passages compete with them.", ""]
    g = goals.get("search_p95_ms_250k", {})
    lines += [f"Goal, search p95 at 250,000 chunks: {fmt(g.get('value'))} ms, {goal_cell(g, ' ms')}.", ""]
    ttft_stores = [(n, r["ttft"]) for n, r in scale["stores"].items() if r.get("ttft")]
    if ttft_stores:
        t = ttft_stores[0][1]
        lines += [f"Search + first token: {t['backend']} model {t['model']}, temperature 0, "
                  f"{t['max_new_tokens']} new tokens at most, model load {fmt(t['load_s'], 2)} s (not counted); "
                  "per question (s): " + "; ".join(
                      f"{n}: " + ", ".join(fmt(run['first_token_s'], 2) for run in tt["runs"]) for n, tt in ttft_stores)
                  + ". Different questions per store, so llama.cpp's prompt cache cannot reuse a context.", ""]
    if scale.get("synthetic"):
        syn = scale["synthetic"]
        built = ("reused from the bench cache (built in " + fmt(syn.get("build_s")) + " s at " + str(syn.get("built_at")) + ")"
                 if syn.get("cached") else f"built in this run in {fmt(syn.get('build_s'))} s")
        lines += [f"The {fmt(syn['chunks'])}-chunk store: {fmt(syn['real_chunks'])} real chunks and "
                  f"{fmt(syn['synthetic_chunks'])} synthetic ones, {built}. How: {syn.get('method', '')}", ""]
    chart = chart_latency(scale, img / "latency_vs_size.png")
    lines += [f"![Latency vs store size]({os.path.relpath(chart, out_dir)})", ""]

    if scale.get("app", {}).get("error"):
        lines += ["### App memory", "", f"Not measured in this run: {scale['app']['error']}", ""]
    elif scale.get("app"):
        a = scale["app"]
        g = goals.get("app_rss_mb", {})
        lines += ["### App memory", "",
                  table(["method", "store", "chunks", "model", "RSS, page loaded MB", "peak RSS MB", "answer s"],
                        [[a["method"], a["store"], fmt(a["chunks"]), f"{a.get('backend')} {a.get('model')}",
                          fmt(a.get("rss_page_loaded_mb"), 0), fmt(a.get("peak_rss_mb"), 0), fmt(a.get("answer_s"))]]),
                  "", f"Goal, app RSS with the default model loaded: {fmt(g.get('value'), 0)} MB, {goal_cell(g, ' MB')} "
                  "(peak = VmHWM of the app process after one answer).", ""]
    return lines


def section_baseline(base: dict | None) -> list[str]:
    lines = ["## Baseline: a naive LangChain pipeline, same embedding, same run", ""]
    if not base:
        return lines + ["Not run yet (`.venv/bin/python -m bench.baseline_bench`).", ""]
    lines += [provenance(base, "bench.baseline_bench"), ""]
    lines += [f"- DocChat: {base['setups']['docchat']}", f"- LangChain: {base['setups']['langchain']}", "",
              f"{base['inputs']['questions']} answerable dev questions; {len(base['inputs']['laws'])} laws, "
              f"{fmt(base['inputs']['chars'])} characters, {fmt(base['inputs']['pdf_pages'])} PDF pages.", ""]
    rows = []
    for name, per_format in base["pipelines"].items():
        for fmt_name, r in per_format.items():
            rows.append([name, fmt_name, fmt(r["chunks"]), fmt(r["total_s"]), fmt(r["pages_per_s"]),
                         fmt(r["chars_per_s"]), fmt(r["recall@5"], 3), fmt(r["hit@5"], 3), fmt(r["mrr@10"], 3),
                         fmt(r["top5_chars_mean"])])
    lines += [table(["pipeline", "format", "chunks", "ingest s", "pages/s", "chars/s", "recall@5", "hit@5", "MRR@10",
                     "chars in top 5"], rows), ""]
    rows = [[fmt_name, fmt(r["pages_per_s"], 2), fmt(r["recall@5"], 2), fmt(r["mrr@10"], 2)]
            for fmt_name, r in base["ratios_ours_over_baseline"].items()]
    lines += ["Ratios, DocChat / baseline (above 1: DocChat faster or better):", "",
              table(["format", "ingest throughput", "recall@5", "MRR@10"], rows), ""]
    return lines


def section_load(load_data: dict | None) -> list[str]:
    lines = ["## Load: concurrent chat sessions in one process", ""]
    if not load_data:
        return lines + ["Not run yet (`.venv/bin/python -m bench.load_bench`).", ""]
    lines += [provenance(load_data, "bench.load_bench"), ""]
    llm = load_data.get("llm", {})
    lines += [f"Through `{load_data.get('code_path', 'ChatSession')}`, one process, one shared model "
              f"({llm.get('backend')} {llm.get('model')}, at most {llm.get('max_new_tokens')} new tokens, "
              f"temperature {llm.get('temperature')}); store: {load_data.get('store', 'n/a')}.", ""]
    rows = []
    for name, r in load_data.get("runs", {}).items():
        rows.append([name, fmt(r.get("sessions")), fmt(r.get("questions_per_session")), fmt(r.get("answers")),
                     fmt(r.get("errors")), fmt(r.get("answers_per_min"), 2), fmt(r.get("queue_wait_p95_s")),
                     fmt(r.get("answer_p95_s")), fmt(r.get("refused")),
                     f"{fmt(r.get('answered_without_sources'))} ({fmt(r.get('without_sources_at_token_cap'))} cut at the cap)",
                     fmt(r.get("wall_s"))])
    lines += [table(["run", "sessions", "questions each", "answers", "errors (goal 0)", "answers/min",
                     "queue wait p95 s", "answer time p95 s", "refused", "non-refused without sources (goal 0)",
                     "wall s"], rows), "",
              "Answer time = from asking to the last token, queue wait included. An answer cut at the token cap "
              "may lose the citation its last sentence would carry; the app's own cap is 512 tokens.", ""]
    ingest = load_data.get("runs", {}).get("ingest_while_chatting", {}).get("ingest")
    if ingest:
        lines += [f"Ingest while chatting: {fmt(ingest.get('files'))} files, {fmt(ingest.get('chunks'))} chunks in "
                  f"{fmt(ingest.get('seconds'))} s; statuses {ingest.get('statuses')}; knowledge base consistent "
                  f"with a fresh re-ingest: **{fmt(ingest.get('consistent'))}** ({ingest.get('consistency_detail', '')}).", ""]
    return lines


def section_search(search: dict | None) -> list[str]:
    lines = ["## Search: where a question's time goes, and what HNSW's search_ef costs in recall", ""]
    if not search:
        return lines + ["Not run yet (`.venv/bin/python -m bench.search_bench`).", ""]
    lines += [provenance(search, "bench.search_bench"), ""]
    load_avg = search.get("loadavg_before")
    lines += [f"Store of {fmt(search.get('chunks'))} chunks ({search['store'].get('home')}); "
              f"{fmt(search.get('queries'))} questions x {fmt(search.get('repeats'))}; load average at the start "
              f"{fmt(load_avg[0] if load_avg else None, 2)}. Each stage is timed alone; \"search\" is "
              f"HybridRetriever(k=5) with the question's vector already made.", ""]
    rows = [[name, fmt(r.get("p50_ms"), 2), fmt(r.get("p95_ms"), 2)] for name, r in search["stages"].items()]
    lines += [table(["stage", "p50 ms", "p95 ms"], rows), ""]
    goal = search.get("goal", {})
    lines += [f"Goal: search p95 <= {fmt(goal.get('search_p95_ms'))} ms: "
              f"{'met' if goal.get('met') else '**missed**'}.", ""]
    rows = [[r["ef_search"], fmt(r["recall@10"], 4), fmt(next((v for k, v in r.items() if k.startswith("recall@")
                                                            and k != "recall@10"), None), 4),
             fmt(r["query"].get("p50_ms"), 2), fmt(r["query"].get("p95_ms"), 2)] for r in search.get("hnsw", [])]
    lines += ["HNSW top-50 against the exact cosine top-50 (every stored vector), per `hnsw:search_ef`:", "",
              table(["search_ef", "recall@10", "recall@50", "query p50 ms", "query p95 ms"], rows), ""]
    return lines


def section_ingest(ing: dict | None) -> list[str]:
    corpus = (ing or {}).get("corpus", "subset")
    lines = [f"## Ingest pipeline vs embedding floor (law {corpus}, "
             f"{', '.join(f.upper() for f in (ing or {}).get('inputs', {}).get('formats', ['docx', 'pdf']))})", ""]
    if not ing:
        return lines + ["Not run yet (`.venv/bin/python -m bench.ingest_bench`).", ""]
    lines += [provenance(ing, "bench.ingest_bench"), ""]
    rows = []
    for pipeline, run in ing["pipelines"].items():
        for fmt_name, r in run["rows"].items():
            rows.append([pipeline, fmt_name, fmt(r["files"]), fmt(r["pages"]), fmt(r["chunks"]), fmt(r["total_s"], 2),
                         fmt(r["floor_s"], 2), fmt(r["ratio_total_to_floor"], 2), fmt(r["pages_per_s"]),
                         fmt(r["chunks_per_s"]), fmt(run.get("peak_rss_mb"), 0)])
    lines += [table(["pipeline", "format", "files", "pages", "chunks", "total s", "floor s", "total / floor",
                     "pages/s", "chunks/s", "peak RSS MB"], rows), ""]
    if ing.get("goal_ratio"):
        lines += [f"Goal: total / floor <= {ing['goal_ratio']} for DocChat.", ""]
    return lines


def section_rag(rag: dict | None) -> list[str]:
    lines = ["## Retrieval quality by set-up (law subset, dev questions)", ""]
    if not rag:
        return lines + ["Not run yet (`.venv/bin/python -m bench.eval_rag`).", ""]
    lines += [provenance(rag, "bench.eval_rag"), ""]
    kb = rag.get("kb", {})
    lines += [f"{fmt(rag.get('questions_answerable'))} answerable questions; store of {fmt(kb.get('chunks'))} chunks "
              f"({kb.get('embedding', '')}).", ""]
    rows = []
    for name, row in rag.get("setups", {}).items():
        s = row["summary"]
        bare = s.get("followup bare", {})
        rows.append([name, fmt(s["all"]["recall@5"], 3), fmt(s["all"]["hit@5"], 3), fmt(s["all"]["mrr@10"], 3),
                     fmt(s.get("followup+history", {}).get("recall@5"), 3), fmt(bare.get("recall@5"), 3),
                     fmt(s.get("followup rewritten", {}).get("recall@5"), 3),
                     fmt(s.get("standalone", {}).get("recall@5"), 3), fmt(s.get("topic switch", {}).get("recall@5"), 3),
                     fmt(row.get("ms_per_query"))])
    lines += [table(["set-up", "recall@5", "hit@5", "MRR@10", "follow-up + history recall@5",
                     "follow-up bare recall@5", "follow-up rewritten recall@5", "standalone recall@5",
                     "topic switch recall@5", "ms/query"], rows), ""]
    switches = rag.get("topic_switches") or {}
    if switches.get("n"):
        lines += [f"Topic switch: each standalone question asked after a turn about another law; "
                  f"{switches['treated_as_follow_up']} of {switches['n']} were taken for follow-ups and merged "
                  f"with that turn (rewrite model {rag.get('rewrite_model')}). Follow-ups rewritten: what the chat "
                  f"chain's rewriter made of each follow-up and its history.", ""]
    guess = rag.get("setups", {}).get("hybrid+guess")
    if guess:
        lines += [f"hybrid+guess: the chat chain's own search (k=5, so MRR counts ranks 1-5); {guess.get('weak')} "
                  f"searches were weak and repeated in the documents' wording, {fmt(guess.get('guess_s_median'), 2)} s "
                  f"median model time each.", ""]
    floor = rag.get("floor", {})
    if floor.get("cut_share"):
        lines += ["Relevance floor " + ", ".join(f"{k} {v}" for k, v in floor.get("chosen", {}).items()) +
                  "; share of questions cut to nothing: " +
                  ", ".join(f"{k} {fmt(v, 3)}" for k, v in floor["cut_share"].items()) + ".", ""]
    return lines


def section_answers(results: Path) -> list[str]:
    """One table row per eval_answers*.json (make bench runs the 0.5B model; a 1.5B run, the
    app's default, is kept in its own file)."""
    lines = ["## Answer quality with the embedded models (law subset, dev questions)", ""]
    files = sorted(results.glob("eval_answers*.json"))
    if not files:
        return lines + ["Not run yet (`.venv/bin/python -m bench.eval_answers`).", ""]
    rows = []
    for path in files:
        data = load(results, path.name)
        if not data:
            continue
        s = data.get("summary", {})
        lines += [f"{path.name}: " + provenance(data, "bench.eval_answers").replace("  \n", "; "), ""]
        runs = [("DocChat", s)] + ([("naive LangChain", data["baseline"]["summary"])] if data.get("baseline") else [])
        for pipeline, s in runs:
            rows.append([pipeline, data.get("model"), fmt(s.get("answerable")), fmt(s.get("unanswerable")),
                         fmt(s.get("key_fact"), 3), fmt(s.get("key_fact_followup"), 3),
                         fmt(s.get("refused_answerable"), 3), fmt(s.get("refusal_unanswerable"), 3),
                         fmt(s.get("cited_relevant"), 3), fmt(s.get("evidence_s_median"), 2),
                         fmt(s.get("first_token_s_median")), fmt(data.get("complete", True)), path.name])
    lines += [table(["pipeline", "model", "answerable", "unanswerable", "key fact", "key fact (follow-ups)",
                     "refused (answerable)", "refusal on unanswerable (goal >= 0.9)",
                     "cited passage relevant (goal >= 0.9)", "evidence s (median)",
                     "first token s (median, answered)", "complete", "file"], rows), "",
              "The naive LangChain pipeline (bench/eval_docs.py's, same model, same embedding) answers the same "
              "items in the same run; a follow-up is asked alone there, its refusals are found by their wording, "
              "and its sources are the 4 passages it was given. Evidence: seconds from asking until the passages "
              "the answer uses can be shown.", "",
              "Key fact: the reference answer's numbers (or its most specific words) appear in the answer. "
              "Cited passage relevant: among answered items, a shown source contains a relevant article. "
              "Automatic proxies; each file keeps every answer for reading.", ""]
    return lines


def section_prompt_budget(data: dict | None) -> list[str]:
    """What the first answer token waits for, per lever (bench/prompt_budget.py)."""
    lines = ["## First answer token: the prompt's prefill, lever by lever (law dev questions)", ""]
    if not data:
        return lines + ["Not run yet (`.venv/bin/python -m bench.prompt_budget`).", ""]
    lines += [provenance(data, "bench.prompt_budget"), "",
              f"Model {data['model']}, {data['questions']} questions; prefill speed measured in this run: "
              f"{data['prefill_tokens_per_s']} tokens/s; retrieval median {data['retrieve_s_median']} s. "
              f"Floor of the first token = new prompt tokens / prefill speed + retrieval "
              f"(goal <= {data['goal_first_token_s']} s).", ""]
    def chars(value) -> str:
        return "whole" if not value else " / ".join(map(str, value)) + " by rank" if isinstance(value, list) else str(value)

    rows = [[r["k"], chars(r["passage_chars"]), fmt(r["prompt_tokens_median"], 0), fmt(r["new_tokens_median"], 0),
             fmt(r["first_token_floor_s"]), fmt(r["key_fact_in_prompt"], 2), "yes" if r["meets_goal"] else "no"]
            for r in data["rows"]]
    lines += [table(["passages (k)", "chars per passage", "prompt tokens (median)", "new tokens (median)",
                     "first-token floor s", "key fact still in the prompt", "meets goal"], rows), "",
              "New tokens: what llama.cpp must read after reusing the previous prompt's common prefix (the "
              "fixed instructions). Key fact still in the prompt: the share of answerable questions whose "
              "reference numbers or words are in the passages the model gets, a quality guard that needs "
              "no generation.", ""]
    return lines


def section_docs(results: Path) -> list[str]:
    """Real documents (../shared/corpus) and their dev questions: DocChat against the naive
    LangChain pipeline with the same model in the same run (bench/eval_docs.py); one block per
    eval_docs*.json (a run of DocChat alone is kept beside the last full one)."""
    lines = ["## Answers about real documents: DocChat vs a naive LangChain pipeline, same model, same run", ""]
    runs = [d for d in (load(results, f.name) for f in sorted(results.glob("eval_docs*.json"))) if d and d.get("pipelines")]
    if not runs:
        return lines + ["Not run yet (`.venv/bin/python -m bench.eval_docs`).", ""]
    for docs in runs:
        lines += _docs_run(docs)
    return lines


def _docs_run(docs: dict) -> list[str]:
    lines = [provenance(docs, "bench.eval_docs"), "",
              f"{docs.get('files')} corpus files in one knowledge base; model {docs.get('model')}, "
              f"{docs.get('max_new_tokens')} new tokens at most; questions: {docs.get('questions')}.", ""]
    goals = {"key_facts": ">= 0.70", "right_file_cited": ">= 0.90", "refused_answerable": "<= 0.10",
             "refused_unanswerable": ">= 0.90", "withdrawn_after_shown": "= 0"}
    keys = ["key_facts", "right_file_cited", "refused_answerable", "refused_unanswerable",
            "withdrawn_after_shown", "first_text_s_median"]
    rows = []
    for name, result in docs["pipelines"].items():
        s = result["summary"]
        table_kf = s.get("by_type", {}).get("table", {}).get("key_facts")
        rows.append([name, *[fmt(s.get(k), 3) for k in keys], fmt(table_kf, 3), fmt(result["ingest"].get("seconds"))])
    head = [f"{k.replace('_', ' ')}" + (f" (goal {goals[k]})" if k in goals else "") for k in keys]
    lines += [table(["pipeline", *head, "table questions key facts (goal >= 0.70)", "ingest s"], rows), ""]
    types = sorted({t for r in docs["pipelines"].values() for t in r["summary"].get("by_type", {})})
    rows = [[name, *[fmt(r["summary"]["by_type"].get(t, {}).get("key_facts",
                                                                 r["summary"]["by_type"].get(t, {}).get("refused")), 3)
                     for t in types]] for name, r in docs["pipelines"].items()]
    lines += ["Per question type (key facts stated; for unanswerable: refused):", "",
              table(["pipeline", *types], rows), "",
              "Key facts: every must_contain string (or an alternative spelling) is in the answer. First text: "
              "seconds until the first checked sentence is shown (DocChat) or the first token (baseline), "
              "on the machine and load shown above.", ""]
    return lines


def section_llm(llm: dict | None) -> list[str]:
    lines = ["## Embedded chat models (GGUF, llama.cpp)", ""]
    if not llm:
        return lines + ["Not run yet (`.venv/bin/python -m bench.bench_llm`).", ""]
    lines += [provenance(llm, "bench.bench_llm"), ""]
    rows = [[r["model"], fmt(r["threads"]), fmt(r["prompt_tokens_user"]), fmt(r["load_s"], 2),
             fmt(r["cold"]["ttft_s"], 2), fmt(r["cold"]["tokens_per_s"]), fmt(r["warm_same_prefix"]["ttft_s"], 2),
             fmt(r["peak_rss_mb"], 0)] for r in llm.get("runs", [])]
    lines += [table(["model", "threads", "prompt tokens", "load s", "cold TTFT s", "tokens/s",
                     "TTFT, same prefix s", "peak RSS MB"], rows), ""]
    return lines


def section_chunking(results: Path) -> list[str]:
    lines = ["## Chunking: sentences per chunk x embedding model", ""]
    files = sorted(results.glob("eval_chunking*.json"))
    if not files:
        return lines + ["Not run yet (`.venv/bin/python -m bench.eval_chunking`).", ""]
    for path in files:
        data = load(results, path.name)
        if not data:
            continue
        lines += [f"### {path.name}", "", provenance(data, "bench.eval_chunking"), "",
                  f"{fmt(data.get('questions'))} questions, {fmt(data.get('articles'))} articles, "
                  f"{len(data.get('laws', []))} laws.", ""]
        budget = next((k for k in (data.get("rows") or [{}])[0] if k.startswith("recall@") and "chars" in k), None)
        rows = [[r["model"], r["N"], r["K"], fmt(r["chunks"]), fmt(r["mean_chunk_chars"]), fmt(r["recall@5"], 3),
                 fmt(r["hit@5"], 3), fmt(r["mrr@10"], 3), fmt(r.get(budget), 3) if budget else "n/a"]
                for r in data.get("rows", [])]
        lines += [table(["model", "N", "K", "chunks", "mean chars", "recall@5", "hit@5", "MRR@10",
                         budget or "recall at budget"], rows), ""]
    return lines


def section_preview(prev: dict | None) -> list[str]:
    lines = ["## Source preview: time to show a cited PDF page", ""]
    if not prev:
        return lines + ["Not run yet (`.venv/bin/python -m bench.preview_bench`).", ""]
    lines += [provenance(prev, "bench.preview_bench"), "",
              f"From a click on \"View source\" to the page image ready: open, render at scale {prev['scale']}, "
              "locate the passage from the page's character boxes, highlight, PNG. Real passages (the loader's "
              f"chunks) of real PDFs. The first preview of a process adds imports: {fmt(prev['first_call_ms'], 0)} ms.", ""]
    rows = [[r["file"], f"{r['found']}/{r['passages']}", fmt(r["time_to_show"].get("p50_ms"), 0),
             fmt(r["time_to_show"].get("p95_ms"), 0), fmt(r["time_to_show"].get("max_ms"), 0),
             fmt(r["render_only"].get("p50_ms"), 0), fmt(r["png_kb_median"], 0)] for r in prev["runs"]]
    return lines + [table(["file", "located", "p50 ms", "p95 ms", "max ms", "render only p50 ms", "PNG KB"], rows), ""]


def section_cold_start(cold: dict | None) -> list[str]:
    lines = ["## Cold start: `make run` until the page is ready and the first answer is in", ""]
    if not cold:
        return lines + ["Not run yet (`.venv/bin/python -m bench.cold_start_bench`).", ""]
    lines += [provenance(cold, "bench.cold_start_bench"), "",
              f"Question: {cold.get('question')}. Seconds from the start of `make run` (setup's fast path, the "
              "sample documents synced, the server started), the page in headless Chromium.", ""]
    rows = [[r["run"], fmt(r.get("health_s")), fmt(r.get("page_ready_s")), fmt(r.get("models_loading_shown")),
             fmt(r.get("evidence_s")), fmt(r.get("first_text_s")), fmt(r.get("answer_s")),
             (r.get("answer_head") or "").replace("\n", " ").replace("|", "/")[:80]] for r in cold.get("runs", [])]
    lines += [table(["run", "health s", "page ready s (goal <= 20)", "page said models loading", "evidence s",
                     "first text s", "answer s (goal <= 40)", "answer"], rows), ""]
    return lines


def section_run_all(run: dict | None) -> list[str]:
    if not run:
        return []
    lines = ["## The last `make bench`", "", provenance(run, "bench.run_all"), ""]
    rows = [[b["module"], b["exit_code"], fmt(b["seconds"] / 60, 1)] for b in run.get("benchmarks", [])]
    lines += [table(["benchmark", "exit code", "minutes"], rows), "",
              f"Total: {fmt(run.get('total_s', 0) / 60, 1)} minutes.", ""]
    return lines


def goals_summary(scale, load_data, ing) -> list[str]:
    rows = []
    if scale:
        for g in scale.get("goals", {}).values():
            rows.append([g["text"], fmt(g.get("value")), "met" if g.get("met") else ("not measured" if g.get("met") is None else "**missed**")])
    if load_data:
        for name, r in load_data.get("runs", {}).items():
            rows.append([f"load ({name}): errors = 0", fmt(r.get("errors")),
                         "met" if r.get("errors") == 0 else "**missed**"])
            rows.append([f"load ({name}): every non-refused answer carries sources",
                         fmt(r.get("answered_without_sources")) + " without",
                         "met" if r.get("answered_without_sources") == 0 else "**missed**"])
        ingest = load_data.get("runs", {}).get("ingest_while_chatting", {}).get("ingest")
        if ingest:
            rows.append(["load: knowledge base consistent after ingest while chatting", fmt(ingest.get("consistent")),
                         "met" if ingest.get("consistent") else "**missed**"])
    if ing and ing.get("pipelines", {}).get("docchat"):
        ratio = ing["pipelines"]["docchat"]["rows"].get("all", next(iter(ing["pipelines"]["docchat"]["rows"].values())))
        rows.append([f"ingest total / embedding floor <= {ing.get('goal_ratio')}", fmt(ratio["ratio_total_to_floor"], 2),
                     "met" if ratio["ratio_total_to_floor"] <= ing.get("goal_ratio", 0) else "**missed**"])
    if not rows:
        return []
    return ["## Goals of issue 6 (wave 1)", "", table(["goal", "measured", "status"], rows), ""]


CHARTS = ("ingest_vs_size.png", "latency_vs_size.png", "recall_by_setup.png")


def build(results: Path = RESULTS, out: Path = DEFAULT_OUT, img: Path = DEFAULT_IMG) -> Path:
    img.mkdir(parents=True, exist_ok=True)
    for name in CHARTS:  # a chart whose data is gone must not outlive it
        (img / name).unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    scale, base, load_data = load(results, "scale_bench.json"), load(results, "baseline_bench.json"), load(results, "load_bench.json")
    ing, rag, llm = load(results, "ingest_bench.json"), load(results, "eval_rag.json"), load(results, "bench_llm.json")
    run = load(results, "run_all.json")
    lines = ["# Benchmarks", "",
             "Generated by `bench/report.py` from the JSON files in `bench/results/`; every figure below comes "
             "from a run, with the command, machine and date of that run. Reproduce everything with "
             "`make bench` (with `../shared` beside the checkout). On a shared machine the load average "
             "at the start of each run is shown: a high one means slower figures.", ""]
    from bench.goals import section as goals_section
    lines += goals_section(results, load)
    lines += goals_summary(scale, load_data, ing)
    lines += section_scale(scale, img, out.parent)
    lines += section_baseline(base)
    lines += section_load(load_data)
    lines += section_rag(rag)
    chart = chart_recall(rag, base, img / "recall_by_setup.png")
    if chart:
        lines += [f"![Recall by retrieval set-up]({os.path.relpath(chart, out.parent)})", ""]
    lines += section_answers(results)
    lines += section_prompt_budget(load(results, "prompt_budget.json"))
    lines += section_docs(results)
    lines += section_ingest(ing)
    lines += section_search(load(results, "search_bench.json"))
    lines += section_llm(llm)
    lines += section_chunking(results)
    lines += section_preview(load(results, "preview_bench.json"))
    lines += section_cold_start(load(results, "cold_start_bench.json"))
    lines += section_run_all(run)
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--img", type=Path, default=None, help="chart folder (default: img/ beside --out)")
    args = parser.parse_args(argv)
    out = build(args.results, args.out, args.img or args.out.parent / "img")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
