"""FAQ pairs of a knowledge base: (question, answer) rows of its CSV / XLSX / XLS files.

A table is an FAQ when an admin marked it so at ingest (``docchat ingest --faq``, the checkbox
on the knowledge-base page; ``Catalog.faq_shas``) and its header row has a question column and
an answer column (names such
as 问题 / 问 / 提问 / question / q and 答案 / 回答 / 答 / answer / a; see ``QUESTION_COLUMNS``
and ``ANSWER_COLUMNS``). Each data row with both cells filled is one ``FaqPair``.

Where the pairs come from. The loaders turn each table row into one ``row`` block rendered as
"column: value; column: value" under its header (the header row itself as "name; name"), and
the chunker never cuts a row and joins the rows of a chunk with a newline. So the pairs are
read back from the catalog's chunks of the ready table files: no separate store to keep in
step, and the pairs are exactly what the knowledge base holds. A deleted file's pairs are gone
and a re-ingested file's pairs are replaced as soon as the catalog says so, in every process:
the pair list is rebuilt whenever the catalog generation changes (one SQLite read per query to
check it). Chunks of one page overlap by a few rows; the overlap is recognised and skipped.

Question vectors (the knowledge base's own embedding model) are cached per file content
(sha256) in memory and on disk under ``<kb folder>/faq/``, written atomically, so a new process
(the CLI) does not re-embed an FAQ list; caches of files no longer in the base are pruned.

Public API::

    FaqPair(question, answer, source, sha256, page, row, text, chunk_id, chunk_index)
        page: sheet number (XLSX/XLS) or None (CSV); row: 1-based data row under the header
        (the header row is not counted; rows with an empty question or answer still count);
        text: the row as stored ("问题: …; 答案: …"); chunk_id: first chunk that holds it.
    FaqIndex(kb)
        .pairs(sources=None) -> list[FaqPair]
        .search(query, k=3, sources=None) -> list[tuple[FaqPair, float]]  (cosine, best first)
    column_role(name) -> "question" | "answer" | None
    pairs_from_chunks(chunks, source, sha256) -> list[FaqPair]
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Sequence

import numpy as np

from .catalog import ChunkRecord

log = logging.getLogger(__name__)

TABLE_FORMATS = frozenset({"csv", "xlsx", "xls"})

# Header names (compared lower-cased, without spaces and trailing colons / question marks).
QUESTION_COLUMNS = frozenset({
    "问题", "问", "提问", "问句", "常见问题", "问题描述", "问题内容", "标准问题", "用户问题", "咨询问题",
    "question", "questions", "q", "query", "faq", "faqquestion", "问题(question)",
})
ANSWER_COLUMNS = frozenset({
    "答案", "回答", "答", "答复", "解答", "回复", "标准答案", "参考答案", "答案内容", "处理办法", "解决办法",
    "answer", "answers", "a", "reply", "response", "faqanswer", "答案(answer)",
})

_SHEET_PREFIX = re.compile(r"^\[[^\]\n]*\] ")


def _normal_name(name: str) -> str:
    return re.sub(r"\s+", "", name).lower().rstrip(":：?？")


def column_role(name: str) -> str | None:
    """'question', 'answer' or None for a header cell."""
    key = _normal_name(name)
    if key in QUESTION_COLUMNS:
        return "question"
    if key in ANSWER_COLUMNS:
        return "answer"
    return None


@dataclass(frozen=True)
class FaqPair:
    question: str
    answer: str
    source: str
    sha256: str
    page: int | None
    row: int
    text: str
    chunk_id: str
    chunk_index: int


# --- pairs from a file's chunks ----------------------------------------------------------------
def _page_lines(chunks: Sequence[ChunkRecord]) -> list[tuple[str, ChunkRecord]]:
    """The distinct lines of one page's chunks in order: consecutive chunks share their last /
    first lines (the chunk overlap), which are taken once."""
    out: list[tuple[str, ChunkRecord]] = []
    previous: list[str] = []
    for chunk in chunks:
        lines = chunk.text.split("\n")
        shared = 0
        for size in range(min(len(previous), len(lines)), 0, -1):
            if previous[-size:] == lines[:size]:
                shared = size
                break
        out.extend((line, chunk) for line in lines[shared:])
        previous = lines
    return out


def _header(line: str) -> tuple[str, list[str], int, int] | None:
    """(sheet prefix, column names, question column, answer column) when the line is an FAQ
    header row ("问题; 答案"), else None."""
    prefixes = [""]
    match = _SHEET_PREFIX.match(line)
    if match:
        prefixes.insert(0, match.group(0))
    for prefix in prefixes:
        if not line.startswith(prefix):
            continue
        names = line[len(prefix):].split("; ")
        roles = [column_role(n) for n in names]
        if "question" in roles and "answer" in roles:
            return prefix, names, roles.index("question"), roles.index("answer")
    return None


def _cells(line: str, names: list[str]) -> dict[int, str]:
    """Column index -> value of a row rendered as "name: value; name: value" (render_row)."""
    wanted = sorted({n for n in names if n}, key=len, reverse=True)
    if not wanted:
        return {}
    marker = re.compile("(?:^|; )(" + "|".join(re.escape(n) for n in wanted) + "): ")
    found: list[tuple[int, int, int]] = []  # (column, value start, marker start)
    last_column = -1
    for m in marker.finditer(line):
        # Columns appear in header order; a later name inside a value is not a new cell.
        candidates = [i for i, n in enumerate(names) if n == m.group(1) and i > last_column]
        if not candidates:
            continue
        last_column = candidates[0]
        found.append((last_column, m.end(), m.start()))
    cells = {}
    for n, (column, start, _) in enumerate(found):
        end = found[n + 1][2] if n + 1 < len(found) else len(line)
        cells[column] = line[start:end].strip()
    return cells


def pairs_from_chunks(chunks: Sequence[ChunkRecord], source: str, sha256: str) -> list[FaqPair]:
    """The FAQ pairs of one table file, from its chunks (any order)."""
    pairs: list[FaqPair] = []
    ordered = sorted(chunks, key=lambda c: c.idx)
    for page, same_page in groupby(ordered, key=lambda c: c.page):
        header = None
        row = 0
        for line, chunk in _page_lines(list(same_page)):
            if header is None:
                header = _header(line)
                continue
            prefix, names, q_col, a_col = header
            if not line.startswith(prefix):
                continue
            row += 1
            cells = _cells(line[len(prefix):], names)
            question, answer = cells.get(q_col, ""), cells.get(a_col, "")
            if question and answer:
                pairs.append(FaqPair(question, answer, source, sha256, page, row, line[len(prefix):],
                                     chunk.id, chunk.idx))
    return pairs


# --- the index ---------------------------------------------------------------------------------
def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or not len(matrix):
        return matrix.reshape(0, 0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class FaqIndex:
    """The FAQ pairs of a KnowledgeBase and their question vectors, kept current with it."""

    def __init__(self, kb, cache_dir: Path | None = None):
        self.kb = kb
        self.embeddings = kb.embeddings
        tag = re.sub(r"[^A-Za-z0-9_.-]", "_", str(getattr(kb, "embedding_tag", "model")))
        self.cache_dir = cache_dir or Path(kb.folder) / "faq"
        self._tag = tag
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._pairs: list[FaqPair] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._vectors: dict[str, tuple[list[str], np.ndarray]] = {}  # sha -> (questions, unit rows)

    # --- public ---------------------------------------------------------------------------
    def pairs(self, sources: Sequence[str] | None = None) -> list[FaqPair]:
        pairs, _ = self._current()
        return [p for p in pairs if not sources or p.source in set(sources)]

    def search(self, query: str, k: int = 3,
               sources: Sequence[str] | None = None) -> list[tuple[FaqPair, float]]:
        """The k stored questions closest to the query (cosine similarity), best first."""
        pairs, matrix = self._current()
        if not query.strip() or not pairs:
            return []
        keep = np.array([not sources or p.source in set(sources) for p in pairs])
        if not keep.any():
            return []
        # The knowledge base's vector of the question: the turn's dense search shares it.
        embed = getattr(self.kb, "embed_query", self.embeddings.embed_query)
        vector = _unit_rows(np.array([embed(query)]))[0]
        scores = matrix @ vector
        scores[~keep] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [(pairs[i], round(float(scores[i]), 6)) for i in order if np.isfinite(scores[i])]

    # --- keeping up with the catalog ---------------------------------------------------------
    def _current(self) -> tuple[list[FaqPair], np.ndarray]:
        generation = self.kb.catalog.generation
        with self._lock:
            if generation != self._generation:
                self._rebuild()
                self._generation = generation
            return self._pairs, self._matrix

    def _rebuild(self) -> None:
        pairs: list[FaqPair] = []
        blocks: list[np.ndarray] = []
        live: set[str] = set()
        # Only tables an admin marked as FAQ lists answer verbatim; any other question/answer
        # table is an ordinary document (an uploaded CSV must not override the real policy).
        trusted = self.kb.catalog.faq_shas()
        for rec in self.kb.catalog.ready_files():
            if rec.format not in TABLE_FORMATS or rec.sha256 not in trusted:
                continue
            file_pairs = pairs_from_chunks(self.kb.file_chunks(rec.sha256), rec.name, rec.sha256)
            if not file_pairs:
                continue
            live.add(rec.sha256)
            pairs.extend(file_pairs)
            blocks.append(self._question_vectors(rec.sha256, [p.question for p in file_pairs]))
        self._vectors = {sha: v for sha, v in self._vectors.items() if sha in live}
        self._prune_disk(live)
        self._pairs = pairs
        self._matrix = np.vstack(blocks) if blocks else np.zeros((0, 0), dtype=np.float32)

    def _question_vectors(self, sha256: str, questions: list[str]) -> np.ndarray:
        cached = self._vectors.get(sha256) or self._load(sha256)
        if cached is not None and cached[0] == questions:
            self._vectors[sha256] = cached
            return cached[1]
        vectors = _unit_rows(np.array(self.embeddings.embed_documents(questions)))
        self._vectors[sha256] = (questions, vectors)
        self._save(sha256, questions, vectors)
        return vectors

    def _cache_file(self, sha256: str) -> Path:
        return self.cache_dir / f"{sha256}.{self._tag}.npz"

    def _load(self, sha256: str) -> tuple[list[str], np.ndarray] | None:
        path = self._cache_file(sha256)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return [str(q) for q in data["questions"]], np.asarray(data["vectors"], dtype=np.float32)
        except (OSError, ValueError, KeyError):  # a damaged cache is rebuilt, never trusted
            log.warning("ignoring the unreadable FAQ cache %s", path)
            return None

    def _save(self, sha256: str, questions: list[str], vectors: np.ndarray) -> None:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".tmp")
        except OSError:  # a read-only folder only costs re-embedding next time
            log.warning("could not write the FAQ cache in %s", self.cache_dir, exc_info=True)
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, questions=np.array(questions, dtype=str), vectors=vectors)
            os.replace(tmp, self._cache_file(sha256))  # atomic: readers see all of it or none
        except OSError:
            log.warning("could not write the FAQ cache in %s", self.cache_dir, exc_info=True)
            Path(tmp).unlink(missing_ok=True)

    def _prune_disk(self, live: set[str]) -> None:
        if not self.cache_dir.is_dir():
            return
        for path in self.cache_dir.glob("*.npz"):
            if path.name.split(".", 1)[0] not in live:
                try:
                    path.unlink()
                except OSError:
                    pass
