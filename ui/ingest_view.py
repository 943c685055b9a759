"""Runs an ingest with per-file progress on screen and shows each file's result in plain words."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import streamlit as st

from vectorstore import IngestResult, KnowledgeBase

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


def ingest_one(kb: KnowledgeBase, path: Path, name: str, lang: str,
               position: tuple[int, int] | None = None, faq: bool = False) -> IngestResult:
    """Progress while the file is worked on; then the box goes, and the caller shows the result.
    ``position``: (this file's number, files in the upload), shown when there are several.
    The caller refreshes the keyword index once the whole upload is done."""
    slot = st.empty()
    label = (t("working_on_n", lang, name=name, i=position[0], n=position[1])
             if position and position[1] > 1 else t("working_on", lang, name=name))
    with slot.status(label, expanded=True):
        result = kb.ingest_file(path, display_name=name, progress=progress_reporter(lang), faq=faq)
    slot.empty()
    return result


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
