"""Knowledge-base page: upload, documents table, delete, re-index, refresh, manage bases."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from . import state
from .errors import friendly_errors
from .i18n import t
from .ingest_view import run_batch, show_result
from .safety import safe_filename
from .uploads import UPLOAD_TYPES, Upload, free_name, ingest_uploads, name_clash, upload_folder


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(n, 1) / 1024:.0f} KB"


def render() -> None:
    lang, kb_name = st.session_state.lang, st.session_state.kb_name
    st.header(t("kb_title", lang, kb=kb_name))
    _show_action_results(lang)
    writer = state.may_change(kb_name)  # with accounts: set per knowledge base by an admin
    with friendly_errors(lang):
        kb = state.get_kb(kb_name)
        if writer:
            _upload_section(kb, lang)
        else:
            st.caption(t("kb_read_only", lang))
        _documents_section(kb, lang, writer)
        if writer:
            _folder_section(kb, lang)
    if state.is_admin():
        _manage_section(lang, kb_name)


def _upload_section(kb, lang: str) -> None:
    s = state.settings()
    round_ = st.session_state.setdefault("upload_round", 0)
    files = st.file_uploader(
        t("upload_label", lang), type=UPLOAD_TYPES, accept_multiple_files=True,
        key=f"uploader_{round_}",
        help=t("upload_help", lang, formats=", ".join(UPLOAD_TYPES), mb=f"{s.max_file_mb:g}",
               n=s.max_files_per_upload))
    # Streamlit draws the picker's own words in English only: ours, in the page's language, beside it.
    st.caption(t("upload_hint", lang, mb=f"{s.max_file_mb:g}", n=s.max_files_per_upload))
    # An admin's choice per upload, never inferred from the columns (issue 17: answer hijacking).
    faq = st.checkbox(t("upload_faq", lang), key=f"upload_faq_{round_}", help=t("upload_faq_help", lang))
    if files and st.button(t("upload_button", lang), type="primary", key="upload_go"):
        notes, clashes = [], []
        if len(files) > s.max_files_per_upload:
            notes.append(("warning", t("too_many_files", lang, n=s.max_files_per_upload)))
            files = files[:s.max_files_per_upload]
        # Per file, in the order dropped: a message (refused here) or its place in the batch.
        slots: list = []
        batch: list[Upload] = []
        for f in files:
            name = safe_filename(f.name)
            if f.size > s.max_file_bytes:
                # The one size check, before anything is read or written (Streamlit's
                # maxUploadSize is the outer one); the knowledge base is told it was done.
                slots.append(("error", t("too_big", lang, name=name, size=f"{f.size / 1048576:.1f}",
                                          mb=f"{s.max_file_mb:g}")))
                continue
            upload = Upload.of(name, f.getvalue())  # read once, hashed once
            if name_clash(kb, upload) is not None or any(u.name == upload.name for u in batch):
                # Another document has this name: ask, never replace it silently (issue 17).
                clashes.append({"upload": upload, "faq": faq})
                continue
            slots.append(len(batch))
            batch.append(upload)
        results = _ingest_uploads(kb, batch, lang, faq) if batch else []
        messages = [results[slot] if isinstance(slot, int) else slot for slot in slots]
        if len(messages) > 1:
            messages.append(("summary", _summary(messages, lang)))
        st.session_state.upload_results = notes + messages
        st.session_state.upload_clashes = clashes
        st.session_state.upload_round = round_ + 1  # an empty uploader on the next run
        # A fresh page at once: the picker emptied (the button cannot be pressed twice), the
        # table and the sidebar showing the new documents, the results kept below the picker.
        st.rerun()
    _clash_section(kb, lang)
    # The last upload's results stay on screen until the next upload or delete.
    for item in st.session_state.get("upload_results", []):
        _show_upload_result(item, lang)


def _clash_section(kb, lang: str) -> None:
    """Uploads whose name another document already has: replace it, keep both, or skip."""
    clashes = st.session_state.get("upload_clashes") or []
    if not clashes:
        return
    item = clashes[0]
    name = item["upload"].name
    st.warning(t("name_clash", lang, name=name), icon="⚠️")
    replace, both, skip = st.columns(3)
    choice = ("replace" if replace.button(t("clash_replace", lang), key="clash_replace") else
              "both" if both.button(t("clash_keep_both", lang), key="clash_keep_both") else
              "skip" if skip.button(t("clash_skip", lang), key="clash_skip") else None)
    if choice is None:
        return
    results: list = []
    if choice != "skip":
        upload: Upload = item["upload"]
        old = name_clash(kb, upload)
        if choice == "both":
            upload = upload.renamed(free_name(kb, upload_folder(state.settings().uploads_dir, kb.name), name))
        result, = _ingest_uploads(kb, [upload], lang, item["faq"])
        results.append(result)
        if choice == "replace" and old is not None and result.status != "error" \
                and any(r.sha256 == old.sha256 for r in kb.files()):
            kb.delete(old.sha256)  # stored from another folder: the replacement takes its place
    st.session_state.upload_clashes = clashes[1:]
    st.session_state.upload_results = [*st.session_state.get("upload_results", []), *results]
    st.rerun()


def _ingest_uploads(kb, batch: list[Upload], lang: str, faq: bool) -> list:
    """All the files of an upload in one batched ingest, under one status box with a progress
    bar per file; one result per file, in order."""
    label = (t("working_on", lang, name=batch[0].name) if len(batch) == 1
             else t("working_on_files", lang, n=len(batch)))
    folder = upload_folder(state.settings().uploads_dir, kb.name)
    return run_batch(label, lambda report: ingest_uploads(kb, folder, batch, report, faq=faq), lang)


def _summary(messages: list, lang: str) -> str:
    results = [m for m in messages if not isinstance(m, tuple)]
    ok = sum(r.status in ("indexed", "updated") for r in results)
    same = sum(r.status in ("unchanged", "duplicate") for r in results)
    return t("upload_summary", lang, n=len(messages), ok=ok, same=same, bad=len(messages) - ok - same)


def _show_upload_result(item, lang: str) -> None:
    if isinstance(item, tuple):
        if item[0] == "summary":
            st.info(item[1], icon="📋")
        elif item[0] == "warning":
            st.warning(item[1], icon="⚠️")
        else:
            st.error(item[1], icon="⚠️")
    else:
        show_result(item, lang)


def _documents_section(kb, lang: str, writer: bool = True) -> None:
    files = kb.files()
    st.subheader(t("docs_title", lang, n=len(files)))
    if not files:
        st.caption(t("no_docs", lang))
        return
    st.dataframe(
        [{t("col_name", lang): f.name, t("col_pages", lang): str(f.pages) if f.pages else "—",
          t("col_passages", lang): f.chunks,
          t("col_added", lang): dt.datetime.fromtimestamp(f.added_at).strftime("%Y-%m-%d %H:%M"),
          t("col_size", lang): _size(f.size)} for f in files],
        hide_index=True, width="stretch")
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    names = sorted({f.name for f in files})
    chosen = left.selectbox(t("choose_doc", lang), names, key="doc_to_delete")
    if writer and middle.button(t("reindex_doc", lang), key="reindex_doc"):
        _done(run_batch(t("reindex_doc", lang),
                        lambda report: kb.reindex(progress=report, names=[chosen]), lang))
    if writer and right.button(t("delete_doc", lang), key="delete_doc"):
        st.session_state.confirm_delete_doc = (kb.name, chosen)
    if writer and st.session_state.get("confirm_delete_doc") == (kb.name, chosen):
        _confirm_delete(kb, chosen, lang)
    _download_button([f for f in files if f.name == chosen], lang)


def _confirm_delete(kb, name: str, lang: str) -> None:
    """Deleting a document is asked once more: it cannot be undone."""
    with st.container(border=True):
        st.warning(t("delete_doc_confirm", lang, name=name), icon="⚠️")
        yes, no = st.columns(2)
        if no.button(t("cancel", lang), key="delete_doc_no"):
            st.session_state.pop("confirm_delete_doc", None)
            st.rerun()
        if yes.button(t("delete_doc_yes", lang), key="delete_doc_yes", type="primary"):
            st.session_state.pop("confirm_delete_doc", None)
            removed = kb.delete(name)
            st.session_state.upload_results = []
            # A name whose content another upload shares says where the content stays.
            st.session_state.flash = "\n\n".join(
                t("deleted", lang, name=r.file) + (f" {r.warning_zh if lang == 'zh' else r.warning}" if r.warning else "")
                for r in removed)
            st.rerun()


def _download_button(records: list, lang: str) -> None:
    """The chosen document's original file, as it was added. Read only when clicked (a large
    file is not loaded on every run), and no rerun after the download."""
    path = next((Path(r.path) for r in records if Path(r.path).is_file()), None)
    if path is None:
        st.caption(t("download_missing", lang))
        return
    st.download_button(t("download_doc", lang), data=path.read_bytes, file_name=records[0].name,
                       mime="application/octet-stream", key="download_doc", on_click="ignore", icon="⬇️")


def _folder_section(kb, lang: str) -> None:
    data_dir = state.settings().data_dir
    pending = kb.reindex_pending()
    if pending:
        st.warning(t("reindex_pending_kb", lang), icon="🔄")
    left, right = st.columns(2)
    if left.button(t("sync", lang), help=t("sync_help", lang, folder=str(data_dir)), key="sync"):
        results = run_batch(t("sync", lang), lambda report: kb.sync(data_dir, progress=report), lang)
        changed = [r for r in results if r.status != "unchanged"]
        _done(changed or [("info", t("nothing_changed", lang))])
    if right.button(t("reindex", lang), key="reindex", type="primary" if pending else "secondary"):
        results = run_batch(t("reindex", lang), lambda report: kb.reindex(progress=report), lang)
        failed = [r for r in results if r.status == "error"]
        _done([*failed, ("success", t("reindex_done", lang, n=len(results) - len(failed)))])


def _done(items: list) -> None:
    """Shows an action's results on a fresh page: the table and the sidebar drawn again, so
    neither still shows the state from before the action."""
    st.session_state.upload_results = []
    st.session_state.action_results = items
    st.rerun()


def _show_action_results(lang: str) -> None:
    for item in st.session_state.pop("action_results", []):
        if isinstance(item, tuple):
            (st.success if item[0] == "success" else st.info)(item[1], icon="✅" if item[0] == "success" else "ℹ️")
        else:
            show_result(item, lang)


def _manage_section(lang: str, kb_name: str) -> None:
    with st.expander(t("manage_kbs", lang)):
        with st.form("create_kb", clear_on_submit=True, border=False):
            name = st.text_input(t("new_kb_name", lang), max_chars=100)
            if st.form_submit_button(t("create_kb", lang)) and name.strip():
                with friendly_errors(lang):
                    state.get_kb(name.strip())
                    st.session_state.switch_kb = name.strip()
                    st.session_state.flash = t("kb_created", lang, kb=name.strip())
                    st.rerun()
        sure = st.checkbox(t("delete_kb_confirm", lang, kb=kb_name), key=f"delete_kb_sure_{kb_name}")
        if st.button(t("delete_kb", lang), disabled=not sure, key="delete_kb"):
            with friendly_errors(lang):
                state.drop_knowledge_base(kb_name)
                st.session_state.switch_kb = state.settings().kb
                st.session_state.flash = t("kb_deleted", lang, kb=kb_name)
                st.rerun()
