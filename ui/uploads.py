"""Where uploaded files are kept: <DOCCHAT_HOME>/uploads/<kb>/<sanitised name>, and how the
files of one upload reach the knowledge base: all in one batched ingest (``ingest_uploads``).

An upload is read once (its bytes), hashed once and size-checked once, here (``Upload``); the
knowledge base is handed the hash and the size (KnownFile) and does neither again, and the
parser is the one reader of the saved copy. The knowledge base indexes files by path, so an
upload is saved first. An upload whose name is taken by a stored document with other content is
never silently put in its place: the page asks first (``name_clash``), and "keep both" stores it
as "report (2).txt" (``free_name``). A refused upload is not kept on disk, and a replacement that
is refused leaves the stored version's file as it was."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from docchat.app import UPLOAD_TYPES  # noqa: F401 - the loaders' list, for the file picker
from vectorstore import IngestResult, KnownFile

from .safety import safe_filename


@dataclass(frozen=True)
class Upload:
    """One dropped file: its bytes (read once) and their sha256 (hashed once)."""
    name: str  # sanitised: the name it is stored under
    data: bytes
    sha256: str

    @classmethod
    def of(cls, name: str, data: bytes) -> "Upload":
        return cls(safe_filename(name), data, hashlib.sha256(data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    def renamed(self, name: str) -> "Upload":
        return Upload(safe_filename(name), self.data, self.sha256)


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


def name_clash(kb, upload: Upload):
    """The stored document called like the upload whose content differs from it, or None."""
    return next((rec for rec in kb.files() if rec.name == upload.name and rec.sha256 != upload.sha256), None)


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


def ingest_uploads(kb, folder: Path, uploads: Sequence[Upload],
                   progress: Callable[[str, str, float], None] | None = None, *,
                   faq: bool = False) -> list[IngestResult]:
    """Saves each upload as ``folder/<name>`` and ingests them all in one call to the knowledge
    base's batched ingest (several files' passages written to Chroma together); one result per
    upload, in order. A refused upload ("error") is removed from disk, and the file it would
    have replaced is put back, so the stored version keeps its original."""
    if len({u.name for u in uploads}) < len(uploads):
        raise ValueError("two uploads of one batch have the same name")  # the page asks first
    saved: list[tuple[Path, Path | None]] = []
    try:
        for upload in uploads:
            saved.append(_save_over(folder, upload))
        results = kb.ingest([KnownFile(dest, u.name, u.sha256, u.size) for (dest, _), u in zip(saved, uploads)],
                            progress=progress, faq=faq)
    except BaseException:
        # Stopped midway (e.g. the writer was busy): what was stored keeps its file.
        try:
            stored = {(rec.path, rec.sha256) for rec in kb.files()}
        except Exception:  # noqa: BLE001 - put everything back rather than guess
            stored = set()
        for (dest, backup), upload in zip(saved, uploads):
            _settle(dest, backup, keep=(str(dest.resolve()), upload.sha256) in stored)
        raise
    for (dest, backup), result in zip(saved, results):
        _settle(dest, backup, keep=result.status != "error")
    return results


def _save_over(folder: Path, upload: Upload) -> tuple[Path, Path | None]:
    """Saves the upload; a file already there under its name is moved aside (the backup)."""
    dest = folder / upload.name
    backup = None
    if dest.exists():
        backup = folder / f".upload-old-{uuid.uuid4().hex}"
        os.replace(dest, backup)
    try:
        save_upload(folder, dest.name, upload.data)
    except BaseException:
        _settle(dest, backup, keep=False)
        raise
    return dest, backup


def _settle(dest: Path, backup: Path | None, *, keep: bool) -> None:
    """Keeps the new file (dropping the backup), or removes it and puts the backup back."""
    if keep:
        if backup is not None:
            backup.unlink(missing_ok=True)
        return
    dest.unlink(missing_ok=True)
    if backup is not None:
        os.replace(backup, dest)
