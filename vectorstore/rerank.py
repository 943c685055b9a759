"""Optional cross-encoder reranker, loaded from a local folder (off by default).

No package ships reranker weights, so a reranker is only used when the user gives the path of
a cross-encoder checkpoint on this machine (a sentence-transformers ``CrossEncoder`` folder, or
a plain transformers sequence-classification folder with one output: config.json, the weights
and the tokenizer files). Nothing is ever downloaded: the folder is opened with
``local_files_only=True`` and remote code is refused.

Public API::

    make_reranker(path: str | os.PathLike | None) -> CrossEncoderReranker | None
        None / "" -> None (reranking off); a usable folder -> a reranker (loaded by each
        call: the app object keeps one); anything else -> RerankerError with a plain message in English
        and Chinese (``err.message("zh")``).

    CrossEncoderReranker(path, *, batch_size=16)
        .score(query, texts) -> list[float]          one relevance score per text
        .rerank(query, hits, top_k=None) -> list[Hit]
            the hits sorted by the cross-encoder's score, best first (ties keep their order);
            each returned Hit's ``score`` is the reranker's score.

``vectorstore.retrievers.HybridRetriever(reranker=...)`` reorders its fused candidate pool
(``rerank_pool`` candidates) with it before the top-k cut.
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from common.user_error import UserError

from .retrieval import Hit


class RerankerError(UserError, ValueError):
    """The reranker folder cannot be used; the message says why: RerankerError(en, zh)."""


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise RerankerError(
            f"Reranker folder not found: {folder}. Give the path of a cross-encoder model folder "
            f"on this computer, or leave the reranker setting empty to switch reranking off.",
            f"找不到重排序模型文件夹：{folder}。请填写本机上交叉编码器（cross-encoder）模型文件夹的路径，"
            f"或将重排序设置留空以关闭重排序。",
        )
    if not folder.is_dir():
        raise RerankerError(
            f"The reranker path {folder} is a file; it must be the model's folder.",
            f"重排序模型路径 {folder} 是一个文件，应填写模型所在的文件夹。",
        )
    if not (folder / "config.json").is_file():
        raise RerankerError(
            f"{folder} is not a cross-encoder model folder (it has no config.json).",
            f"{folder} 不是交叉编码器模型文件夹（缺少 config.json）。",
        )


def _load(folder: Path) -> Any:
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as exc:  # a broken installation, not the user's folder
        raise RerankerError(
            f"sentence-transformers is not installed ({exc}); reinstall DocChat's requirements.",
            f"未安装 sentence-transformers（{exc}）；请重新安装 DocChat 的依赖。",
        ) from exc
    try:
        model = CrossEncoder(str(folder), device="cpu", local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # a half-copied or foreign folder: say which one
        raise RerankerError(
            f"The reranker in {folder} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}).",
            f"无法加载 {folder} 中的重排序模型（{type(exc).__name__}）。",
        ) from exc
    labels = getattr(model, "num_labels", 1)
    if labels != 1:
        raise RerankerError(
            f"The model in {folder} gives {labels} scores per passage; a reranker gives one.",
            f"{folder} 中的模型对每段文字输出 {labels} 个分数，重排序模型应只输出一个分数。",
        )
    return model


class CrossEncoderReranker:
    """A local cross-encoder that scores (question, passage) pairs. Each object loads the model:
    the app object (docchat/app.py) makes one and shares it with every chat session."""

    def __init__(self, path: str | os.PathLike[str], *, batch_size: int = 16):
        folder = Path(path).expanduser().resolve()
        _check_folder(folder)
        self._model, self._lock = _load(folder), threading.Lock()
        self.path = folder
        self.name = folder.name
        self.batch_size = batch_size

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """Relevance of each text to the query (higher is better)."""
        if not texts:
            return []
        pairs = [(query, text) for text in texts]
        with self._lock:  # one forward pass at a time per model
            scores = self._model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in scores]

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        """The hits by the cross-encoder's score, best first; ``score`` set to that score."""
        scores = self.score(query, [h.text for h in hits])
        order = sorted(range(len(hits)), key=lambda i: -scores[i])  # stable: ties keep fusion order
        ranked = [replace(hits[i], score=round(scores[i], 6)) for i in order]
        return ranked if top_k is None else ranked[:top_k]

    def __repr__(self) -> str:
        return f"CrossEncoderReranker(path={str(self.path)!r})"


def make_reranker(path: str | os.PathLike[str] | None) -> CrossEncoderReranker | None:
    """The reranker for a settings value: None or an empty string switches reranking off."""
    if path is None or not str(path).strip():
        return None
    return CrossEncoderReranker(str(path).strip())
