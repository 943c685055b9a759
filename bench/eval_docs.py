"""Benchmark (not a test): answers about real documents, DocChat against a naive LangChain
pipeline with the same model, in the same run.

Documents: every file of ../shared/corpus (real-world PDFs, Word, spreadsheets, scans, ...) in
one knowledge base, so a question must find its file among 32. Questions:
../shared/eval/docs_questions_dev.jsonl (tables, paraphrases, cross-language questions,
follow-ups, unanswerable items), each with `must_contain` key strings and their `alternatives`.

  docchat    KnowledgeBase.ingest of the corpus -> chains.chat_session.ChatSession (the web
             page's path: follow-up rewrite, hybrid retrieval with the relevance floor, the
             checked stream). A follow-up is asked in a session seeded with its history questions.
  langchain  what a LangChain tutorial does: pypdf page text / python-docx paragraphs (our
             loaders for the other formats, which a tutorial would take from langchain_community,
             not installed here) -> RecursiveCharacterTextSplitter(500, 0) -> Chroma (same
             embedding) -> similarity_search k=4 -> a plain "answer from this context" prompt ->
             the same model. Its sources are the 4 passages it was given.

Scores (automatic):
- key facts stated: every `must_contain` string (or one of its alternatives) is in the answer,
  thousands separators and spaces ignored; a refusal states none;
- right file cited: among answered answerable items, one of the shown sources is the item's file;
- refused: answerable items refused (lower is better), unanswerable items refused (higher);
- shown then withdrawn: answers whose final text does not begin with everything streamed.

    .venv/bin/python -m bench.eval_docs [--model 1.5b] [--limit N] [--pipelines docchat,langchain]
"""
from __future__ import annotations

import argparse
import json
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

SHARED = Path(os.environ.get("DOCCHAT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPUS = SHARED / "corpus"
QUESTIONS = SHARED / "eval" / "docs_questions_dev.jsonl"
DEFAULT_OUT = RESULTS / "eval_docs.json"
BASELINE_PROMPT = ("Use the following context to answer the question. If you don't know the answer, "
                   "say that you don't know.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:")
_REFUSAL = re.compile(r"don'?t know|do not know|cannot (answer|find)|not (mentioned|provided|found|stated)|"
                      r"不知道|无法回答|没有提到|未提及|没有找到|没有相关|没有提供", re.IGNORECASE)
TYPES = ("table", "fact", "paraphrase", "crosslang", "followup", "unanswerable")


def squeeze(text: str) -> str:
    return re.sub(r"(?<=\d)[,，](?=\d)|\s+", "", text).lower()


def key_facts_stated(answer: str, item: dict) -> bool:
    text = squeeze(answer)
    alternatives = item.get("alternatives") or [[] for _ in item["must_contain"]]
    return all(any(squeeze(s) in text for s in [must, *alts])
               for must, alts in zip(item["must_contain"], alternatives))


def corpus_files(only: set[str] | None = None) -> list[Path]:
    """Every document of the corpus (or only the named ones)."""
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name not in ("README.md", "manifest.jsonl")
                  and (only is None or p.name in only))


def run_docchat(llm, home: Path, files: list[Path], k: int):
    from chains.chat_session import ChatSession
    from chains.grounded_answer import Answer
    from vectorstore import KBConfig, KnowledgeBase

    started = time.perf_counter()
    kb = KnowledgeBase("docs", KBConfig(home=home))
    results = kb.ingest(files)
    ingest = {"seconds": round(time.perf_counter() - started, 1), "chunks": sum(r.chunks for r in results),
              "statuses": {r.file: r.status for r in results}}

    def ask(item: dict) -> dict:
        history = [(turn["question"], "") for turn in item.get("history", [])]
        session = ChatSession(kb, llm, store=None, k=k, history=history, faq=False)
        answer, streamed = Answer(item["question"]), ""
        for piece in session.stream(item["question"], answer):
            streamed += piece
        return {"answer": answer.text, "refused": answer.refused, "timings": answer.timings,
                "withdrawn_after_shown": not answer.text.startswith(streamed.strip()),
                "standalone": answer.standalone_question, "dropped": answer.dropped,
                "withdrawn_figures": answer.withdrawn,
                "sources": [{"source": h.source, "page": h.page, "text": h.text[:300]} for h in answer.sources]}

    return ingest, ask, kb.close


def naive_documents(paths: list[Path]):
    from bench.ingest_bench import naive_load
    from langchain_core.documents import Document
    from loaders import LoadError, load_file

    docs = []
    for path in paths:
        try:
            if path.suffix in (".pdf", ".docx"):
                docs += [d for d in naive_load(str(path)) if d.page_content.strip()]
            else:
                blocks = load_file(path)
                docs.append(Document(page_content="\n".join(b.page_content for b in blocks),
                                     metadata={"source": str(path)}))
        except (LoadError, Exception):  # noqa: BLE001 - a tutorial pipeline skips what it cannot read
            continue
    return docs


def run_langchain(llm, home: Path, files: list[Path], k: int, embeddings, text_chars: int | None = 300):
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started = time.perf_counter()
    chunks = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=0).split_documents(
        naive_documents(files))
    store = Chroma.from_documents(chunks, embedding=embeddings, persist_directory=str(home / "chroma-naive"))
    ingest = {"seconds": round(time.perf_counter() - started, 1), "chunks": len(chunks)}

    def ask(item: dict) -> dict:
        start = time.perf_counter()
        docs = store.similarity_search(item["question"], k=4)
        prompt = BASELINE_PROMPT.format(context="\n\n".join(d.page_content for d in docs), question=item["question"])
        text, first = "", None
        for piece in llm.stream(prompt):
            first = first if first is not None else time.perf_counter() - start
            text += piece
        return {"answer": text.strip(), "refused": bool(_REFUSAL.search(text)),
                "timings": {"first_token_s": first or 0.0, "total_s": time.perf_counter() - start},
                "withdrawn_after_shown": False,
                "sources": [{"source": Path(d.metadata.get("source", "")).name, "page": d.metadata.get("page"),
                             "text": d.page_content[:text_chars]} for d in docs]}

    return ingest, ask, lambda: None


def score(item: dict, got: dict) -> dict:
    row = {"qid": item["qid"], "type": item["type"], "question": item["question"], **got}
    if item["type"] != "unanswerable":
        row["key_facts"] = (not got["refused"]) and key_facts_stated(got["answer"], item)
        row["right_file"] = any(s["source"] == item["file"] for s in got["sources"])
    return row


def summarise(rows: list[dict]) -> dict:
    def mean(values):
        values = list(values)
        return round(sum(values) / len(values), 3) if values else None

    answerable = [r for r in rows if r["type"] != "unanswerable"]
    answered = [r for r in answerable if not r["refused"]]
    firsts = sorted(r["timings"].get("first_shown_s", r["timings"].get("first_token_s", 0))
                    for r in rows if not r["refused"])
    out = {
        "items": len(rows), "answerable": len(answerable),
        "key_facts": mean(float(r["key_facts"]) for r in answerable),
        "right_file_cited": mean(float(r["right_file"]) for r in answered),
        "refused_answerable": mean(float(r["refused"]) for r in answerable),
        "refused_unanswerable": mean(float(r["refused"]) for r in rows if r["type"] == "unanswerable"),
        "withdrawn_after_shown": sum(r["withdrawn_after_shown"] for r in rows),
        "first_text_s_median": firsts[len(firsts) // 2] if firsts else None,
        "by_type": {},
    }
    for kind in TYPES:
        of_kind = [r for r in rows if r["type"] == kind]
        if of_kind and kind != "unanswerable":
            out["by_type"][kind] = {"n": len(of_kind), "key_facts": mean(float(r["key_facts"]) for r in of_kind)}
        elif of_kind:
            out["by_type"][kind] = {"n": len(of_kind), "refused": mean(float(r["refused"]) for r in of_kind)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="1.5b", help="embedded GGUF model (default: the app's default)")
    parser.add_argument("--pipelines", default="langchain,docchat")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--types", default="", help="only these question types, comma-separated (e.g. table,fact)")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--question-files-only", action="store_true",
                        help="ingest only the files the chosen questions are about (a quick run)")
    args = parser.parse_args(argv)
    if not QUESTIONS.is_file():
        print(f"eval_docs: {QUESTIONS} is missing (../shared beside the checkout)", file=sys.stderr)
        return 2

    from docchat.settings import get_settings
    from llm.factory import make_llm
    from vectorstore.embeddings import make_embeddings

    items = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.types:
        items = [i for i in items if i["type"] in set(args.types.split(","))]
    items = items[: args.limit]
    files = corpus_files({i["file"] for i in items if i.get("file")} if args.question_files_only else None)
    llm = make_llm(get_settings(), llm="gguf", gguf_model=args.model, temperature=0.0,
                   max_new_tokens=args.max_new_tokens)
    machine = machine_facts()
    report = {"benchmark": "eval_docs", "command": command_line("bench.eval_docs", argv), "model": args.model,
              "k": args.k, "max_new_tokens": args.max_new_tokens, "questions": str(QUESTIONS.name),
              "files": len(files), "machine": machine, "pipelines": {}}
    home = Path(tempfile.mkdtemp(prefix="docchat-eval-docs-"))
    try:
        for name in [p.strip() for p in args.pipelines.split(",") if p.strip()]:
            if name == "docchat":
                ingest, ask, close = run_docchat(llm, home, files, args.k)
            else:
                ingest, ask, close = run_langchain(llm, home, files, 4, make_embeddings(get_settings().embedding))
            rows = []
            for n, item in enumerate(items, 1):
                row = score(item, ask(item))
                rows.append(row)
                print(f"[{name} {n}/{len(items)}] {item['qid']} {item['type']:<12} refused={row['refused']!s:<5} "
                      f"key_facts={row.get('key_facts', '-')!s:<5} right_file={row.get('right_file', '-')!s:<5} "
                      f"{row['timings'].get('total_s', 0):.1f}s  {row['answer'][:70]!r}", flush=True)
            close()
            report["pipelines"][name] = {"ingest": ingest, "summary": summarise(rows), "items": rows}
            write_json(args.out, report)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    report["machine"] = finish_facts(dict(machine))
    write_json(args.out, report)
    print_table(report)
    print(f"wrote {args.out}")
    return 0


def print_table(report: dict) -> None:
    keys = ("key_facts", "right_file_cited", "refused_answerable", "refused_unanswerable",
            "withdrawn_after_shown", "first_text_s_median")
    print(f"\nreal documents, model {report['model']}")
    print(f"{'pipeline':<10} " + " ".join(f"{k:>22}" for k in keys))
    for name, result in report["pipelines"].items():
        s = result["summary"]
        print(f"{name:<10} " + " ".join(f"{'-' if s[k] is None else s[k]:>22}" for k in keys))
        print("           by type: " + ", ".join(f"{t} {v}" for t, v in s["by_type"].items()))


if __name__ == "__main__":
    sys.exit(main())
