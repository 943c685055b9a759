"""Runs an ingest with per-file progress on screen and shows each file's result in plain words."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from vectorstore import IngestResult

from .i18n import t
from .safety import safe_markdown

_STAGES = ("reading", "parsing", "ocr", "embedding", "saving", "done")


def _stage(stage: str, lang: str) -> str:
    return t(f"stage_{stage}", lang) if stage in _STAGES else stage


def progress_reporter(lang: str) -> Callable[[str, str, float], None]:
    """A KnowledgeBase progress callback that draws one progress bar per file."""
    bars: dict[str, object] = {}

    def report(name: str, stage: str, fraction: float) -> None:
        if name not in bars:
            bars[name] = st.progress(0.0, text=t("working_on", lang, name=name))
        bars[name].progress(min(max(fraction, 0.0), 1.0), text=f"{name}: {_stage(stage, lang)}")

    return report


def show_result(result: IngestResult, lang: str) -> None:
    line = safe_markdown(f"**{result.file}**: {result.describe(lang)}")
    if result.status == "error":
        st.error(line, icon="⚠️")
    elif result.status in ("indexed", "updated", "deleted"):
        st.success(line, icon="✅")
    else:
        st.info(line, icon="ℹ️")


def run_batch(label: str, work: Callable[[Callable], list[IngestResult]], lang: str) -> list[IngestResult]:
    """A whole-folder job (sync, re-index) under one status box with a bar per file."""
    with st.status(label, expanded=True) as status:
        results = work(progress_reporter(lang))
        status.update(state="complete", expanded=False)
    return results
