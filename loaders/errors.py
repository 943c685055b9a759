"""LoadError: one exception for every way a file can fail, with a message staff can act on."""
from __future__ import annotations

from common.user_error import UserError

# code -> (English, Chinese). "{file}" is the file name; "{detail}" an optional technical hint.
_MESSAGES: dict[str, tuple[str, str]] = {
    "unsupported": (
        "{file}: this file type is not supported. Save it as PDF, Word (.docx), Excel (.xlsx), "
        "PowerPoint (.pptx), CSV, HTML or plain text and upload it again.",
        "{file}：不支持这种文件类型。请另存为 PDF、Word（.docx）、Excel（.xlsx）、PowerPoint（.pptx）、"
        "CSV、HTML 或纯文本后再上传。",
    ),
    "password": (
        "{file}: this file is protected by a password. Open it, remove the password "
        "(save a copy without protection) and upload that copy.",
        "{file}：该文件设置了打开密码。请打开文件、取消密码保护并另存一份，再上传这份副本。",
    ),
    "scanned": (
        "{file}: this is a scan or a picture, and text recognition (OCR) found no readable text "
        "in it. If it does show text, scan it again more sharply (at least 200 dpi, the right "
        "way up) and upload the new copy.",
        "{file}：这是扫描件或图片，文字识别（OCR）没有识别出任何文字。如果其中确有文字，"
        "请以更高的清晰度（至少 200 dpi、方向正确）重新扫描后再上传。",
    ),
    "empty": (
        "{file}: no text could be found in this file. Check that it is the right file and "
        "that it is not blank.",
        "{file}：没有在该文件中找到任何文字。请确认文件正确且内容不是空白。",
    ),
    "corrupt": (
        "{file}: the file is damaged or could not be read. Open it in its own program, "
        "save it again (or export it as PDF) and upload the new copy.",
        "{file}：文件已损坏或无法读取。请用原来的软件打开后重新保存（或导出为 PDF），再上传新文件。",
    ),
    "too_large": (
        "{file}: the file is too large ({detail}). Split it into smaller files and upload those.",
        "{file}：文件过大（{detail}）。请拆分成几个较小的文件后再上传。",
    ),
    "zip_bomb": (
        "{file}: the file unpacks to far more data than a normal document ({detail}); it was "
        "refused for safety. If it is a genuine document, save it again in its own program.",
        "{file}：该文件解压后的数据量远超正常文档（{detail}），出于安全考虑已拒绝。"
        "如果这是正常文档，请用原来的软件重新保存后再上传。",
    ),
}

ERROR_CODES = frozenset(_MESSAGES)


class LoadError(UserError):
    """A file that cannot be turned into text, with an English and a Chinese explanation."""

    def __init__(self, code: str, message_en: str, message_zh: str, file: str = "") -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown LoadError code {code!r}")
        super().__init__(message_en, message_zh)
        self.code = code
        self.file = file

    def __repr__(self) -> str:
        return f"LoadError({self.code!r}, {self.message_en!r}, file={self.file!r})"

    @classmethod
    def of(cls, code: str, file: str, detail: str = "") -> "LoadError":
        """The standard bilingual message for `code`, naming `file`."""
        en, zh = _MESSAGES[code]
        en = en.format(file=file, detail=detail)
        zh = zh.format(file=file, detail=detail)
        if detail and "{detail}" not in _MESSAGES[code][0]:
            en = f"{en} ({detail})"
        return cls(code, en, zh, file=file)


class ParseFailure(Exception):
    """Raised inside a format parser; load_file turns it into a LoadError naming the file."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
