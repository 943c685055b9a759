"""Keyword (BM25) index over jieba tokens, persisted beside the catalog.

bm25s (a maintained BM25 library on sparse matrices) does the scoring; we only tokenise and
keep the index in step with the catalog. The index is derived state: it is rebuilt from the
catalog's stored tokens after a write batch (never per query) and tagged with the catalog
generation it reflects, so any process can tell whether its copy is current.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import unicodedata
from pathlib import Path

import bm25s
import jieba
import numpy as np

jieba.setLogLevel(logging.WARNING)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
log = logging.getLogger(__name__)

# Words that carry no retrieval signal in either language (kept short on purpose: BM25's idf
# already discounts common words; this only removes the particles that dominate short queries).
STOPWORDS = frozenset(
    "的 了 是 在 和 与 或 及 等 也 就 都 而 对 被 把 让 给 吗 呢 吧 啊 呀 么 什么 怎么 怎样 如何 哪些 "
    "我 你 他 她 它 我们 你们 他们 这 那 这个 那个 有 没有 不 可以 能 会 要 还 又 an a the of to in "
    "is are was were be and or for on at by with what how which who does do can".split()
)
_WORD = re.compile(r"\w", re.UNICODE)
_ARTICLE_NO = re.compile(r"第\s*(\d{1,4})\s*条")
_CN_DIGITS = "零一二三四五六七八九"


def _chinese_number(n: int) -> str:
    """12 -> 十二, 39 -> 三十九, 105 -> 一百零五: the numerals used in Chinese article numbers."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _CN_DIGITS[n // 10] + "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if rest == 0 else ("零" + _chinese_number(rest) if rest < 10 else
                                     ("一" + _chinese_number(rest) if rest < 20 else _chinese_number(rest)))
        return _CN_DIGITS[n // 100] + "百" + tail
    return str(n)


def use_jieba_cache(folder: Path) -> None:
    """jieba keeps its dictionary cache in the system temp folder unless told otherwise: keep it
    under DOCCHAT_HOME with the rest of our state. Only before jieba's first use in a process."""
    if getattr(jieba.dt, "initialized", False) or jieba.dt.tmp_dir:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: jieba then works without a cache file
    jieba.dt.tmp_dir = str(folder)


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lower-cased, without punctuation and stop words.

    "第39条" is rewritten to "第三十九条" first, because documents write article numbers in
    Chinese numerals while people type Arabic ones.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _ARTICLE_NO.sub(lambda m: f"第{_chinese_number(int(m.group(1)))}条", text)
    tokens = []
    for tok in jieba.cut_for_search(text):
        tok = tok.strip().lower()
        if tok and _WORD.search(tok) and tok not in STOPWORDS:
            tokens.append(tok)
    return tokens


class KeywordIndex:
    """BM25 over the ready chunks of one knowledge base."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()
        self._loaded_generation: int | None = None
        self._bm25: bm25s.BM25 | None = None
        self._ids: list[str] = []

    # --- building (writer, under the writer lock) -----------------------------------------
    def rebuild(self, rows: list[tuple[str, str]], generation: int) -> None:
        """Rebuild from (chunk id, tab-joined tokens) and persist atomically (temp dir + rename)."""
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        ids = [cid for cid, _ in rows]
        corpus = [toks.split("\t") if toks else [] for _, toks in rows]
        if ids:
            bm25 = bm25s.BM25()
            # An empty token list breaks bm25s' vocabulary; a placeholder keeps row numbers aligned.
            bm25.index([toks or ["\u0000"] for toks in corpus], show_progress=False)
            bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
        (tmp / "generation").write_text(str(generation), encoding="utf-8")
        old = self.folder.with_name(self.folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(old)
        tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)
        with self._lock:
            self._loaded_generation = None  # force reload on next search

    def stored_generation(self) -> int | None:
        try:
            return int((self.folder / "generation").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # --- searching (any process) ---------------------------------------------------------
    def _ensure_loaded(self) -> None:
        gen = self.stored_generation()
        if gen is not None and gen == self._loaded_generation:
            return
        if gen is None:
            self._bm25, self._ids, self._loaded_generation = None, [], None
            return
        self._ids = json.loads((self.folder / "ids.json").read_text(encoding="utf-8"))
        self._bm25 = (
            bm25s.BM25.load(str(self.folder / "bm25"), show_progress=False) if self._ids else None
        )
        self._loaded_generation = gen

    def ids(self) -> list[str]:
        """The chunk ids the stored index holds (the consistency check compares them)."""
        with self._lock:
            self._ensure_loaded()
            return list(self._ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score) with a positive score."""
        tokens = tokenize(query)
        with self._lock:
            self._ensure_loaded()
            if not self._bm25 or not tokens:
                return []
            vocab = self._bm25.vocab_dict
            known = [t for t in tokens if t in vocab]
            if not known:
                return []
            k = min(k, len(self._ids))
            docs, scores = self._bm25.retrieve([known], k=k, show_progress=False, n_threads=1)
        out = []
        for row, score in zip(np.asarray(docs)[0], np.asarray(scores)[0]):
            if score > 0:
                out.append((self._ids[int(row)], float(score)))
        return out
