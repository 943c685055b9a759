"""Where uploaded files are kept: <DOCCHAT_HOME>/uploads/<kb>/<sanitised name>.

The knowledge base indexes files by path, so an upload is saved first; uploading a changed
file under the same name replaces it (and the knowledge base re-indexes it as "updated")."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .safety import safe_filename

# The formats loaders/ can read (loaders.SUPPORTED_FORMATS; ui does not import loaders).
UPLOAD_TYPES = ["pdf", "docx", "doc", "pptx", "xlsx", "xls", "csv", "html", "htm", "md",
                "markdown", "txt", "eml", "epub", "rtf", "odt",
                # pictures and scans, read by OCR
                "png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "gif"]


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
