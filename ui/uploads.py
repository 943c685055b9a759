"""Where uploaded files are kept: <DOCCHAT_HOME>/uploads/<kb>/<sanitised name>.

The knowledge base indexes files by path, so an upload is saved first. An upload whose name is
taken by a stored document with other content is never silently put in its place: the page
asks first (``name_clash``), and "keep both" stores it as "report (2).txt" (``free_name``). A
refused upload is not kept on disk, and a replacement that is refused leaves the stored
version's file as it was (``ingest_upload``)."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Callable

from docchat.app import UPLOAD_TYPES  # noqa: F401 - the loaders' list, for the file picker

from .safety import safe_filename


def upload_folder(uploads_dir: Path, kb_name: str) -> Path:
    folder = uploads_dir / safe_filename(kb_name, fallback="kb")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_upload(folder: Path, name: str, data: bytes) -> Path:
    """Writes atomically (temp file + rename) so a half-written upload is never indexed."""
    dest = folder / safe_filename(name)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def name_clash(kb, name: str, data: bytes):
    """The stored document called ``name`` whose content differs from ``data``, or None."""
    sha = hashlib.sha256(data).hexdigest()
    return next((rec for rec in kb.files() if rec.name == name and rec.sha256 != sha), None)


def free_name(kb, folder: Path, name: str) -> str:
    """'report (2).txt', '(3)', ...: a name no stored document and no saved upload has."""
    taken = {rec.name for rec in kb.files()}
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = re.sub(r" \(\d+\)$", "", stem)
    n = 2
    while True:
        candidate = safe_filename(f"{stem} ({n})" + (f".{suffix}" if suffix else ""))
        if candidate not in taken and not (folder / candidate).exists():
            return candidate
        n += 1


def ingest_upload(folder: Path, name: str, data: bytes, ingest: Callable[[Path], object]):
    """Saves the upload as ``folder/name`` and ingests it (``ingest(path)`` returns an
    IngestResult). Refused ("error"): the upload is removed from disk, and the file it would
    have replaced is put back, so the stored version keeps its original."""
    dest = folder / safe_filename(name)
    backup = None
    if dest.exists():
        backup = folder / f".upload-old-{uuid.uuid4().hex}"
        os.replace(dest, backup)
    try:
        save_upload(folder, dest.name, data)
        result = ingest(dest)
    except BaseException:
        _restore(dest, backup)
        raise
    if getattr(result, "status", None) == "error":
        _restore(dest, backup)
    elif backup is not None:
        backup.unlink(missing_ok=True)
    return result


def _restore(dest: Path, backup: Path | None) -> None:
    dest.unlink(missing_ok=True)
    if backup is not None:
        os.replace(backup, dest)
