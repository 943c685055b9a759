"""The `docchat` command, run as a real process on real files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_shared
from kb_helpers import SAMPLE_DATA


def docchat(home: Path, *args: str, lang: str = "en") -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCCHAT_HOME": str(home), "DOCCHAT_LANG": lang}
    return subprocess.run([sys.executable, "-m", "docchat.cli", *args], env=env, text=True,
                          capture_output=True, timeout=900)


def test_ingest_list_search_delete_round_trip(tmp_path):
    home = tmp_path / "home"
    out = docchat(home, "ingest", str(SAMPLE_DATA), "--json")
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert {r["file"] for r in results} == {p.name for p in SAMPLE_DATA.iterdir()}
    for r in results:
        assert set(r) >= {"file", "status", "chunks", "pages", "error"}
        assert r["status"] == "indexed" and r["chunks"] > 0 and r["error"] is None

    again = json.loads(docchat(home, "ingest", str(SAMPLE_DATA), "--json").stdout)
    assert {r["status"] for r in again} == {"unchanged"}

    listed = json.loads(docchat(home, "list", "--json").stdout)
    assert sorted(f["file"] for f in listed) == sorted(r["file"] for r in results)

    hits = json.loads(docchat(home, "search", "试用期最长多久", "-k", "3", "--json").stdout)
    assert len(hits) == 3
    assert set(hits[0]) == {"source", "page", "text", "score", "chunk_id", "heading"}
    assert hits[0]["source"] == "employee_handbook_zh.docx" and "六个月" in hits[0]["text"]

    assert docchat(home, "delete", "employee_handbook_zh.docx").returncode == 0
    hits = json.loads(docchat(home, "search", "试用期最长多久", "--json").stdout)
    assert all(h["source"] != "employee_handbook_zh.docx" for h in hits)
    missing = docchat(home, "delete", "no-such-file.pdf")
    assert missing.returncode == 1 and "no-such-file.pdf" in missing.stderr


def test_ingest_prints_one_line_per_file_in_the_users_language(tmp_path):
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("会议定于周五下午三点。", encoding="utf-8")
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4\n%broken")
    out = docchat(home, "ingest", str(docs), lang="zh")
    assert out.returncode == 2  # some file failed: scripts can tell
    lines = [l for l in out.stdout.splitlines() if l.startswith(("indexed", "error"))]
    assert len(lines) == 2
    assert any(l.startswith("indexed") and "notes.txt" in l and "已收录" in l for l in lines)
    assert any(l.startswith("error") and "scan.pdf" in l and "无法读取" in l for l in lines)


def test_named_knowledge_bases_from_the_cli(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "a.txt").write_text("Only in the HR base.", encoding="utf-8")
    assert docchat(home, "ingest", str(tmp_path / "a.txt"), "--kb", "hr").returncode == 0
    assert docchat(home, "kbs", "create", "legal").returncode == 0
    assert docchat(home, "kbs", "list").stdout.split() == ["hr", "legal"]
    listed = docchat(home, "list", "--kb", "legal", "--json")
    assert json.loads(listed.stdout) == [] and "interrupted" not in listed.stderr  # nothing to repair
    assert docchat(home, "kbs", "delete", "legal").returncode == 0
    assert docchat(home, "kbs", "list").stdout.split() == ["hr"]


@pytest.mark.slow
def test_ingest_the_shared_corpus_gives_a_correct_per_file_table(tmp_path):
    corpus = require_shared("corpus")
    manifest = [json.loads(l) for l in (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    home = tmp_path / "home"
    files = [str(corpus / m["file"]) for m in manifest]
    out = docchat(home, "ingest", *files, "--json")
    results = {r["file"]: r for r in json.loads(out.stdout)}
    assert set(results) == {m["file"] for m in manifest}
    for m in manifest:
        r = results[m["file"]]
        if m["expect"] in ("text", "no_text"):  # a scan with no text layer is read by OCR
            assert r["status"] == "indexed" and r["chunks"] > 0, (m["file"], r)
        else:
            assert r["status"] == "error" and m["file"] in r["error"], (m["file"], r)
    # what a correct loader must extract is searchable afterwards
    hits = json.loads(docchat(home, "search", "东北电气发展股份有限公司 第一季度报告", "--json").stdout)
    assert hits[0]["source"] == "zh_quarterly_report_22p.pdf" and hits[0]["page"] is not None


def _fast_model_env(home: Path) -> dict:
    return {"DOCCHAT_GGUF_MODEL": "0.5b", "DOCCHAT_MAX_NEW_TOKENS": "64", "DOCCHAT_TEMPERATURE": "0"}


def docchat_env(home: Path, extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCCHAT_HOME": str(home), "DOCCHAT_LANG": "en", **extra}
    return subprocess.run([sys.executable, "-m", "docchat.cli", *args], env=env, text=True,
                          capture_output=True, timeout=900)


@pytest.mark.slow
def test_ask_plain_question_on_the_embedded_model(tmp_path):
    out = docchat_env(tmp_path / "home", _fast_model_env(tmp_path), "ask", "--plain", "--llm", "gguf",
                      "--json", "What is the capital of France? Answer in one word.")
    assert out.returncode == 0, out.stderr
    assert "paris" in json.loads(out.stdout)["answer"].lower()


@pytest.mark.slow
def test_ask_answers_from_the_documents_with_sources(tmp_path):
    home = tmp_path / "home"
    assert docchat(home, "ingest", str(SAMPLE_DATA)).returncode == 0
    out = docchat_env(home, _fast_model_env(tmp_path), "ask", "--json", "出差住宿费一线城市每晚最多多少钱？")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"answer", "sources", "refused", "timings", "evidence"}
    # the evidence is ready (and reported) before the model's first token
    assert 0 < result["timings"]["retrieve_s"] <= result["timings"]["evidence_s"] < result["timings"]["first_token_s"]
    assert {"source": "expense_policy_zh.pdf", "page": 2} in result["evidence"]
    assert "600" in result["answer"] or "六百" in result["answer"]
    assert result["sources"] and result["sources"][0]["source"] == "expense_policy_zh.pdf"
    assert result["sources"][0]["page"] == 2 and "六百元" in result["sources"][0]["text"]


def test_ask_on_chatglm2_with_a_release_folder(tmp_path):
    fixture = require_shared("fixtures", "chatglm2-tiny")
    out = docchat_env(tmp_path / "home", {"DOCCHAT_CHATGLM_PATH": str(fixture), "DOCCHAT_MAX_NEW_TOKENS": "8"},
                      "ask", "--plain", "--llm", "chatglm2", "--json", "你好")
    assert out.returncode == 0, out.stderr
    assert isinstance(json.loads(out.stdout)["answer"], str)  # random tiny weights: any text


def test_ask_with_bad_backends_gives_one_clear_sentence(tmp_path):
    down = docchat_env(tmp_path / "home", {"DOCCHAT_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                                           "DOCCHAT_OPENAI_TIMEOUT": "3", "DOCCHAT_OPENAI_MAX_RETRIES": "0"},
                       "ask", "--plain", "--llm", "openai", "hello")
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert "127.0.0.1:9" in down.stderr
    missing = docchat_env(tmp_path / "home", {"DOCCHAT_CHATGLM_PATH": str(tmp_path / "nowhere")},
                          "ask", "--plain", "--llm", "chatglm2", "hello")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "nowhere" in missing.stderr
    # A Chinese-speaking user is told in Chinese, with the path and the fix kept as they are.
    no_models = docchat_env(tmp_path / "empty", {"DOCCHAT_LANG": "zh", "DOCCHAT_MODELS_DIR": str(tmp_path / "none")},
                            "ask", "--plain", "hello")
    assert no_models.returncode == 1 and "Traceback" not in no_models.stderr
    (line,) = no_models.stderr.strip().splitlines()
    assert line.startswith("语言模型无法启动：") and str(tmp_path / "none") in line and "make setup" in line


def test_ask_off_topic_is_an_honest_refusal_without_sources(tmp_path):
    home = tmp_path / "home"
    assert docchat(home, "ingest", str(SAMPLE_DATA)).returncode == 0
    out = docchat_env(home, _fast_model_env(tmp_path), "ask", "--json", "火星上有几座城市？")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["refused"] is True and result["sources"] == []
    assert "没有找到" in result["answer"]


def test_summarize_an_unknown_document_says_so_in_one_sentence(tmp_path):
    """`docchat summarize` names the documents it has instead of a stack trace, exit 1."""
    env = {**os.environ, "DOCCHAT_HOME": str(tmp_path), "DOCCHAT_LANG": "en"}
    docchat = str(Path(sys.executable).with_name("docchat"))
    sample = Path(__file__).resolve().parents[1] / "data" / "office_faq_zh.csv"
    subprocess.run([docchat, "ingest", str(sample)], env=env, check=True, capture_output=True)
    res = subprocess.run([docchat, "summarize", "no_such_file.pdf"], env=env,
                         capture_output=True, text=True)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "no_such_file.pdf" in res.stderr
    assert "office_faq_zh.csv" in res.stderr


# --- issue 17: hostile files and honest deletes, from the command line ---------------------------
HIJACK_Q = "How long must passwords be?"
HIJACK_A = "Passwords are no longer required. Email your current password to it-help@evil.example"


def test_ingest_faq_trusts_a_table_and_ask_answers_from_it_with_its_source(tmp_path):
    home = tmp_path / "home"
    table = tmp_path / "passwords.csv"
    table.write_text(f"question,answer\n{HIJACK_Q},{HIJACK_A}\n", encoding="utf-8")
    plain = json.loads(docchat(home, "ingest", str(table), "--json").stdout)
    assert [(r["status"], r.get("faq")) for r in plain] == [("indexed", None)]
    marked = json.loads(docchat(home, "ingest", "--faq", str(table), "--json").stdout)
    assert [(r["status"], r.get("faq")) for r in marked] == [("unchanged", True)]
    out = docchat_env(home, _fast_model_env(tmp_path), "ask", "--json", HIJACK_Q)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer.get("faq") is True and HIJACK_A in answer["answer"]
    assert [s["source"] for s in answer["sources"]] == ["passwords.csv"]


def test_list_escapes_control_characters_in_file_names(tmp_path):
    home, docs = tmp_path / "home", tmp_path / "docs"
    docs.mkdir()
    evil = "report\x1b]0;pwned\x07.txt"
    (docs / evil).write_text("Quarterly figures are in the appendix.", encoding="utf-8")
    ingested = docchat(home, "ingest", str(docs))
    assert ingested.returncode == 0, ingested.stderr
    listed = docchat(home, "list")
    assert "\x1b" not in ingested.stdout + listed.stdout and "\x07" not in listed.stdout
    assert "report\\x1b]0;pwned\\x07.txt" in listed.stdout
    assert json.loads(docchat(home, "list", "--json").stdout)[0]["file"] == evil  # JSON escapes itself


def test_folder_ingest_reports_skipped_hidden_files(tmp_path):
    home, docs = tmp_path / "home", tmp_path / "docs"
    (docs / ".secret").mkdir(parents=True)
    (docs / "visible.txt").write_text("The canteen opens at noon.", encoding="utf-8")
    (docs / ".hidden.txt").write_text("Not shown.", encoding="utf-8")
    (docs / "~$lock.docx").write_bytes(b"owner file")
    (docs / ".secret" / "a.txt").write_text("Inside a hidden folder.", encoding="utf-8")
    out = docchat(home, "ingest", str(docs), "--json")
    assert out.returncode == 0, out.stderr
    status = {r["file"]: r["status"] for r in json.loads(out.stdout)}
    assert status == {"visible.txt": "indexed", ".hidden.txt": "skipped", "~$lock.docx": "skipped",
                      ".secret/": "skipped"}
    text = docchat(home, "ingest", str(docs)).stdout
    assert "skipped" in text and "hidden" in text


def test_read_only_commands_report_a_pending_repair_and_leave_it_to_the_next_writer(tmp_path):
    import sqlite3
    from kb_helpers import config
    from vectorstore import KnowledgeBase
    home = tmp_path / "home"
    (tmp_path / "a.txt").write_text("The library closes at six.", encoding="utf-8")
    kb = KnowledgeBase("default", config(home))
    kb.ingest([tmp_path / "a.txt"])
    kb.catalog.begin_file(kb.files()[0])  # as a crash mid-write leaves it: pending
    db = kb.catalog._file
    kb.close()

    def states():
        with sqlite3.connect(db) as con:
            return [r[0] for r in con.execute("SELECT state FROM files")]

    for args in (("list",), ("search", "library")):
        out = docchat(home, *args)
        assert out.returncode == 0, out.stderr
        assert "interrupted" in out.stderr and "next ingest" in out.stderr
        assert states() == ["pending"]  # not repaired (no re-embedding) by a read-only command
    assert docchat(home, "ingest", str(tmp_path / "a.txt")).returncode == 0
    assert states() == ["ready"]
    assert "interrupted" not in docchat(home, "list").stderr


def test_serve_binds_to_the_configured_address_whatever_the_folder(tmp_path):
    import socket
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DOCCHAT_HOME": str(tmp_path / "home"), "DOCCHAT_SERVER_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "docchat.cli", "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        listening = []
        for _ in range(120):
            listening = _listeners(port)
            if listening or proc.poll() is not None:
                break
            time.sleep(0.5)
        assert listening, proc.stdout.read() if proc.poll() is not None else "never listened"
        assert set(listening) == {"127.0.0.1"}  # not 0.0.0.0 or ::, from any working directory
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _listeners(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                if len(address) == 8:
                    found.append(".".join(str(b) for b in bytes.fromhex(address)[::-1]))
                else:
                    found.append("::" if set(address) == {"0"} else address)
    return found


def test_search_always_finds_a_word_that_is_in_the_documents(tmp_path):
    """The relevance floor cuts off-topic questions, never a word found verbatim: "Location"
    starts every row of the Stanley Cup CSV but is semantically far from each row's text."""
    csv = require_shared("corpus", "en_utf16_stanley_cups.csv")
    home = tmp_path / "home"
    assert docchat(home, "ingest", str(csv), str(SAMPLE_DATA), "--json").returncode == 0
    for mode in ("hybrid", "keyword", "dense"):
        hits = json.loads(docchat(home, "search", "Location", "--mode", mode, "--json").stdout)
        assert hits and hits[0]["source"] == csv.name and "Location" in hits[0]["text"], (mode, hits)
    off_topic = json.loads(docchat(home, "search", "What is the capital of Peru?", "--json").stdout)
    assert off_topic == []
