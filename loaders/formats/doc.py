"""Old binary Word (.doc) through catdoc (Debian package `catdoc`, see scripts/apt-packages.txt),
which also reads "fast-saved" files written by Word and WPS Office."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from ..blocks import ParseResult
from ..errors import ParseFailure
from . import ParseContext

TIMEOUT_S = 60


def parse(data: bytes, ctx: ParseContext) -> ParseResult:
    catdoc = shutil.which("catdoc")
    if catdoc is None:
        raise ParseFailure("unsupported", "old .doc files need the 'catdoc' program "
                                          "(run scripts/setup.sh), or save the file as .docx")
    with tempfile.NamedTemporaryFile(suffix=".doc") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            done = subprocess.run([catdoc, "-d", "utf-8", "-w", tmp.name], capture_output=True,
                                  timeout=min(TIMEOUT_S, max(ctx.deadline.seconds, 1)),
                                  env={**os.environ, "LC_ALL": "C.UTF-8"})
        except subprocess.TimeoutExpired as exc:
            raise ParseFailure("corrupt", f"catdoc took longer than {TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise ParseFailure("corrupt", done.stderr.decode("utf-8", "replace").strip()[:200])
    result = ParseResult()
    for line in done.stdout.decode("utf-8", errors="replace").splitlines():
        result.add(line)
    return result
