"""Parsing a file in a child process with a memory and a time limit.

A small file can be made to cost gigabytes or minutes to parse (a 16 MB DOCX holding 150 MB of
XML took the server from 2.4 to 7.8 GB; an XLSX declaring a million rows cost 5 minutes of CPU).
Limits inside the parsers cannot cover every library, so ``loaders.load_file`` runs in a child
process: its address space is capped (``RLIMIT_AS``, counted above what the child already maps
when it starts), it runs at a lower CPU priority so other users' pages stay quick, and it is
killed when its time is up. The parent only ever receives the Documents, cut to at most
``max_chars`` characters (the rest is counted, so the user can be told how much was left out).

Children come from a ``forkserver`` that imports this module once per process: each parse is a
cheap fork of a clean single-threaded process, never of the server with its model threads.

Public API::

    parse_in_worker(path, *, time_limit_s, memory_bytes, max_chars=None, **load_kwargs)
        -> Parsed(documents, total_chars)            or raises LoadError / WorkLimitExceeded
    WorkLimitExceeded(code, message_en, message_zh)  code: "parse_timeout" | "parse_memory"
"""
from __future__ import annotations

import copy
import io
import logging
import multiprocessing as mp
import os
import resource
import threading
import time
from dataclasses import dataclass
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import ForkServerProcess, set_spawning_popen
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from common.user_error import UserError
from loaders import LoadError, load_file

log = logging.getLogger(__name__)

# The worker runs below normal priority: a hostile file slows itself, not the chat page.
WORKER_NICENESS = 10


class WorkLimitExceeded(UserError):
    """A file refused because reading it would take more time or memory than allowed."""

    def __init__(self, code: str, message_en: str, message_zh: str):
        super().__init__(message_en, message_zh)
        self.code = code

    @classmethod
    def timeout(cls, name: str, seconds: float) -> "WorkLimitExceeded":
        return cls("parse_timeout",
                   f"{name}: reading this file took longer than the {seconds:.0f} s allowed per file, "
                   f"so it was stopped and not added. If it is a genuine document, save it again in "
                   f"its own program (or split it) and upload it again.",
                   f"{name}：读取该文件超过了每个文件允许的 {seconds:.0f} 秒，已停止，未加入知识库。"
                   f"如果这是正常文档，请用原来的软件重新保存（或拆分）后再上传。")

    @classmethod
    def memory(cls, name: str, memory_bytes: int) -> "WorkLimitExceeded":
        mb = memory_bytes / 1024 / 1024
        return cls("parse_memory",
                   f"{name}: reading this file needs more than the {mb:.0f} MB of memory allowed per "
                   f"file, so it was refused. If it is a genuine document, split it into smaller files.",
                   f"{name}：读取该文件所需内存超过每个文件允许的 {mb:.0f} MB，已拒绝。"
                   f"如果这是正常文档，请拆分成几个较小的文件后再上传。")


@dataclass
class Parsed:
    documents: list[Document]
    total_chars: int  # characters the file held; more than the documents' when cut at max_chars

    @property
    def kept_chars(self) -> int:
        return sum(len(d.page_content) for d in self.documents)


# --- the child ---------------------------------------------------------------------------------
def _mapped_bytes() -> int:
    """The child's address space now (VmSize): the memory budget comes on top of it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cut(documents: list[Document], max_chars: int | None) -> tuple[list[Document], int]:
    total = sum(len(d.page_content) for d in documents)
    if not max_chars or total <= max_chars:
        return documents, total
    kept, left = [], max_chars
    for doc in documents:
        if left <= 0:
            break
        if len(doc.page_content) > left:
            doc = Document(page_content=doc.page_content[:left], metadata=doc.metadata)
        kept.append(doc)
        left -= len(doc.page_content)
    out = copy.copy(documents)  # the same kind of list, with what the loader noted on it
    out[:] = kept
    return out, total


def _looks_like_memory(err: BaseException) -> bool:
    seen = 0
    while err is not None and seen < 5:
        text = str(err)
        if isinstance(err, MemoryError) or "memory allocation failed" in text.lower() \
                or "MemoryError" in text or "Cannot allocate memory" in text:
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def _own_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_of(pid: int | None) -> int:
    """A live process's peak resident memory (VmHWM), 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, TypeError):
        pass
    return 0


def _child(conn, path: str, load_kwargs: dict, memory_bytes: int | None, max_chars: int | None,
           relay: tuple[str, ...] = ()) -> None:
    for key in relay:  # callbacks (progress) cannot cross processes: their calls are sent back
        load_kwargs[key] = lambda *args, _key=key: conn.send(("call", (_key, args)))
    try:
        if memory_bytes:
            limit = _mapped_bytes() + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            os.nice(WORKER_NICENESS)
        except OSError:
            pass
        documents = load_file(path, **load_kwargs)
        documents, total = _cut(documents, max_chars)
        conn.send(("peak", _own_peak()))
        conn.send(("ok", (documents, total)))
    except LoadError as err:
        conn.send(("peak", _own_peak()))
        if _looks_like_memory(err):
            conn.send(("memory", None))
        else:
            conn.send(("load_error", (err.code, err.message_en, err.message_zh, err.file)))
    except MemoryError:
        conn.send(("memory", None))
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which decides
        try:
            conn.send(("memory" if _looks_like_memory(err) else "crash", repr(err)[:500]))
        except BaseException:  # noqa: BLE001 - nothing left to tell it with
            pass
    finally:
        conn.close()


# --- the parent --------------------------------------------------------------------------------
_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()
# The last parse of this process, for measurement and tests: pid, outcome (ok | load_error |
# memory | timeout | crash), seconds, peak_rss (bytes, of the worker), killed (stopped by us).
last_run: dict = {}


class _Popen(popen_forkserver.Popen):
    """multiprocessing's forkserver launch, less one step: the child does not re-import the
    parent's main module (the Streamlit or pytest launcher, or a script without a main guard,
    which would run again). The child needs only this module, preloaded in the server."""

    def _launch(self, process_obj):
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_name", None)
        prep_data.pop("init_main_from_path", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as fh:
            fh.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


def _context():
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = mp.get_context("forkserver")
            # Replaces the default ['__main__']: the server imports what the children need, once.
            ctx.set_forkserver_preload([__name__])
            _CONTEXT = ctx
        return _CONTEXT


def _kill(proc) -> None:
    if proc.is_alive():
        proc.kill()
    proc.join(5)


def parse_in_worker(path: str | Path, *, time_limit_s: float, memory_bytes: int | None,
                    max_chars: int | None = None, **load_kwargs) -> Parsed:
    """``loaders.load_file(path, **load_kwargs)`` in a child process, within ``time_limit_s``
    seconds and ``memory_bytes`` of memory (None: no memory cap). LoadError passes through
    unchanged; going over a limit raises WorkLimitExceeded with a plain message."""
    path = Path(path)
    name = path.name
    if mp.current_process().daemon:
        # A daemonic process may not start children: parse here, still cut at max_chars.
        documents, total = _cut(load_file(path, **load_kwargs), max_chars)
        return Parsed(documents, total)
    load_kwargs.setdefault("time_limit_s", time_limit_s)  # the loaders' own deadline, inside
    callbacks = {k: v for k, v in load_kwargs.items() if callable(v)}
    plain = {k: v for k, v in load_kwargs.items() if k not in callbacks}
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = _Process(target=_child, args=(sender, str(path), plain, memory_bytes, max_chars,
                                            tuple(callbacks)),
                       name=f"docchat-parse-{name[:40]}")
    start = time.monotonic()
    try:
        proc.start()
    except (OSError, RuntimeError, ValueError):
        # No worker can be started here (a locked-down system): parse in this process rather
        # than refuse every file; the caps on characters and passages still apply.
        log.warning("could not start a parsing worker; parsing %s in-process", name, exc_info=True)
        receiver.close()
        sender.close()
        documents, total = _cut(load_file(path, **load_kwargs), max_chars)
        return Parsed(documents, total)
    sender.close()  # the child holds the only writing end: EOF means it is gone
    message, peak = None, 0
    last_run.clear()
    last_run.update(pid=proc.pid, outcome="running", killed=False)
    try:
        while message is None:
            left = start + time_limit_s - time.monotonic()
            if left <= 0:
                log.warning("parsing %s took over %.0f s: stopped", name, time_limit_s)
                last_run.update(outcome="timeout", peak_rss=max(peak, _peak_of(proc.pid)),
                                killed=proc.is_alive())
                raise WorkLimitExceeded.timeout(name, time_limit_s)
            if receiver.poll(min(left, 0.5)):
                try:
                    message = receiver.recv()
                except EOFError:
                    message = ("died", None)
                if message[0] == "peak":
                    peak, message = max(peak, message[1]), None
                elif message[0] == "call":
                    key, args = message[1]
                    message = None
                    try:
                        callbacks[key](*args)
                    except Exception:  # noqa: BLE001 - a progress display must not stop parsing
                        log.debug("callback %s failed", key, exc_info=True)
            elif not proc.is_alive() and not receiver.poll(0):
                message = ("died", None)
            else:
                peak = max(peak, _peak_of(proc.pid))
    finally:
        _kill(proc)
        receiver.close()
        last_run.update(seconds=round(time.monotonic() - start, 2))
    kind, payload = message
    last_run.update(outcome={"died": "memory" if memory_bytes else "crash"}.get(kind, kind),
                    peak_rss=peak)
    if kind == "ok":
        documents, total = payload
        return Parsed(documents, total)
    if kind == "load_error":
        code, en, zh, file = payload
        raise LoadError(code, en, zh, file=file)
    if kind == "memory" or (kind == "died" and memory_bytes):
        # Gone without a word (a C library aborting on a failed allocation, or too little
        # memory left even to report) under a memory cap: the cap is the likely cause.
        log.warning("parsing %s went over the memory limit (%s, exit %s)", name, payload, proc.exitcode)
        raise WorkLimitExceeded.memory(name, memory_bytes or 0)
    log.error("the parser crashed on %s: %s (exit %s)", name, payload, proc.exitcode)
    raise LoadError.of("corrupt", name, str(payload or f"exit {proc.exitcode}")[:300])
