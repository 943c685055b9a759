"""Checks that run before and during parsing so a hostile or broken file cannot hurt the app."""
from __future__ import annotations

import io
import time
import zipfile

from .errors import ParseFailure

# A member this much larger than its compressed bytes is no document: real Office XML
# compresses 5-30 times, a bomb of repeated bytes about 1000 times.
MAX_COMPRESSION_RATIO = 200
# Below this size a high ratio is harmless (a tiny file of repeated spaces).
RATIO_CHECK_FLOOR = 8 * 1024 * 1024


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def check_zip(data: bytes, max_unzipped_bytes: int) -> None:
    """Refuse a zip whose declared uncompressed size is huge, before any parser inflates it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseFailure("corrupt", f"not a valid zip container: {exc}") from exc
    total = sum(m.file_size for m in members)
    if total > max_unzipped_bytes:
        raise ParseFailure("zip_bomb", f"{human_size(total)} unpacked, limit "
                                       f"{human_size(max_unzipped_bytes)}")
    for m in members:
        if m.file_size > RATIO_CHECK_FLOOR and m.file_size > MAX_COMPRESSION_RATIO * max(m.compress_size, 1):
            raise ParseFailure("zip_bomb", f"{m.filename} unpacks {m.file_size // max(m.compress_size, 1)} "
                                           f"times its packed size")


class Deadline:
    """A time budget checked between pages/rows, so a pathological file ends as 'corrupt'."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def elapsed(self) -> float:
        return time.monotonic() - (self._end - self.seconds)

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise ParseFailure("corrupt", f"reading took longer than {self.seconds:.0f} s")
