"""Crash safety and concurrency with real processes: kill -9 mid-write, two writers at once,
and a real Chroma server (the session's, tests/servers.py)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kb_helpers import REPO, assert_consistent, config, copy_samples, write_txt
from vectorstore import KnowledgeBase

INGEST = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from kb_helpers import config
    from vectorstore import KnowledgeBase
    kb = KnowledgeBase("default", config(Path(sys.argv[1])))
    for r in kb.ingest([Path(p) for p in sys.argv[2:]]):
        print(r.status, r.file, r.chunks, flush=True)
""").format(tests=str(REPO / "tests"))


def _big_text(path: Path, n: int, tag: str) -> Path:
    return write_txt(path, [f"{tag}第{i}条规定：员工编号{i}的年度考核结果应当在{i % 28 + 1}日内公布。" for i in range(n)])


def _pending(home: Path) -> bool:
    for db in (home / "kb").glob("*/catalog.sqlite3"):
        con = sqlite3.connect(str(db), timeout=5)
        try:
            if con.execute("SELECT count(*) FROM files WHERE state='pending'").fetchone()[0]:
                return True
        except sqlite3.OperationalError:
            pass
        finally:
            con.close()
    return False


def kill_9_while_pending(script: str, home: Path, files: list[Path]) -> None:
    """Runs ``script`` (an ingest of ``files`` into ``home``) in a process and kills it with
    SIGKILL as soon as a file is half-written (a pending catalog row); up to three tries."""
    for _attempt in range(3):
        proc = subprocess.Popen([sys.executable, "-c", script, str(home), *map(str, files)])
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline:
            if _pending(home):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return
            time.sleep(0.005)
        proc.wait()
    raise AssertionError("never caught the writer inside its write; cannot test the crash")


@pytest.mark.slow
def test_kill_9_mid_write_then_reopen_is_consistent_and_finishes_the_file(tmp_path):
    home = tmp_path / "home"
    kb = KnowledgeBase("default", config(home))
    kb.ingest([copy_samples(tmp_path / "docs")])
    before = {f.name for f in kb.files()}
    kb.close()
    big = _big_text(tmp_path / "big.txt", 6000, "考核")
    kill_9_while_pending(INGEST, home, [big])
    reopened = KnowledgeBase("default", config(home))  # repair() runs here
    assert_consistent(reopened)
    names = {f.name for f in reopened.files()}
    assert before <= names  # nothing already stored was lost
    assert "big.txt" in names  # the interrupted file was finished, since it is still there
    hits = reopened.search("考核第5999条", k=3, mode="keyword")
    assert hits and "5999" in hits[0].text


@pytest.mark.slow
def test_two_processes_ingesting_into_one_store_at_once(tmp_path):
    home = tmp_path / "home"
    a = [_big_text(tmp_path / "a" / f"a{i}.txt", 300, f"甲{i}") for i in range(3)]
    b = [_big_text(tmp_path / "b" / f"b{i}.txt", 300, f"乙{i}") for i in range(3)]
    shared = write_txt(tmp_path / "shared.txt", ["两个进程都会导入这份文件。"])
    procs = [subprocess.Popen([sys.executable, "-c", INGEST, str(home), *map(str, files), str(shared)],
                              stdout=subprocess.PIPE, text=True) for files in (a, b)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    statuses = [line.split()[0] for out in outs for line in out.splitlines() if "shared.txt" in line]
    assert sorted(statuses) == ["duplicate", "indexed"] or sorted(statuses) == ["indexed", "unchanged"]
    kb = KnowledgeBase("default", config(home))
    assert_consistent(kb)
    assert len(kb.files()) == 7
    for tag in ("甲2", "乙2"):
        assert any(tag in h.text for h in kb.search(f"{tag}第299条", k=3))


@pytest.mark.slow
def test_server_mode_against_a_real_chroma_server(tmp_path, chroma_server):
    home = tmp_path / "home"
    # The session's Chroma server (servers.py) holds other tests' collections too: a name of its own.
    kb = KnowledgeBase(f"shared-kb-{tmp_path.name}", config(home, chroma_url=chroma_server))
    kb.ingest([copy_samples(tmp_path / "docs")])
    assert not (home / "chroma").exists()  # vectors went to the server, not a local folder
    hits = kb.search("How long must passwords be?", k=3)
    assert hits[0].source == "it_security_policy_en.pdf"
    kb.delete("it_security_policy_en.pdf")
    assert all(h.source != "it_security_policy_en.pdf" for h in kb.search("passwords", k=5))
    assert_consistent(kb)
