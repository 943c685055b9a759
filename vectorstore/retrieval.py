"""Search results and rank fusion, shared by the CLI and the chat chain."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    source: str
    page: int | None
    text: str
    score: float
    sha256: str
    chunk_index: int
    heading: str = ""  # heading path of the passage ("" when the document has none); last: positional callers
    ocr: bool = False  # the passage was read by text recognition (a scan or a picture)

    def to_json(self) -> dict:
        out = asdict(self)
        shown = ("source", "page", "heading", "text", "score", "chunk_id") + (("ocr",) if self.ocr else ())
        return {k: out[k] for k in shown}


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60,
                           weights: list[float] | None = None) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum w / (k + rank), w = 1 unless weighted.
    k=60 as in Cormack et al. (2009)."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, cid in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
