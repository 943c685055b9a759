"""Every file of ../shared/corpus (real-world documents) gives its expected outcome in time.

manifest.jsonl says per file: `text` (all `must_contain` strings present, no
`must_not_contain`), `no_text` (an image-only scan: read by OCR now, so its `ocr_must_contain`
strings come out, marked `ocr`), `password` (LoadError "password"), or `error` (a clean
LoadError: no crash, no hang, no garbage). `ocr_must_contain` (the text of pictures inside a
file) is checked wherever the manifest gives it."""
from __future__ import annotations

import concurrent.futures
import hashlib
import json

import pytest

from conftest import SHARED, require_shared
from loaders import LoadError, load_file

TIME_LIMIT_S = 60  # generous: the slowest corpus file takes about 3 s on this machine
# ... without OCR; a scanned page takes 4-7 s more on 2 cores, and more when they are busy.
OCR_TIME_LIMIT_S = 240
MANIFEST = SHARED / "corpus" / "manifest.jsonl"


def _entries() -> list:
    if not MANIFEST.exists():  # the test itself then skips (or fails under CI) with the reason
        return [pytest.param(None, id="corpus-missing")]
    entries = [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [pytest.param(e, id=e["file"]) for e in entries]


def _load_in_time(path, limit_s: float = TIME_LIMIT_S):
    """load_file in a worker thread, so a hang fails the test instead of stalling the run."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(load_file, path)
        try:
            return future.result(timeout=limit_s), None
        except LoadError as err:
            return None, err
        except concurrent.futures.TimeoutError:
            pytest.fail(f"{path.name}: load_file did not finish within {limit_s} s")
    finally:
        pool.shutdown(wait=False)


def _squeeze(text: str) -> str:
    return "".join(text.split())


@pytest.mark.shared
@pytest.mark.parametrize("entry", _entries())
def test_corpus_file(entry):
    corpus = require_shared("corpus", "manifest.jsonl").parent
    path = corpus / entry["file"]
    ocr_strings = entry.get("ocr_must_contain", [])
    docs, err = _load_in_time(path, OCR_TIME_LIMIT_S if ocr_strings else TIME_LIMIT_S)
    expect = entry["expect"]

    if ocr_strings:
        # Pictures and scans are read by OCR: their text comes out, in blocks marked `ocr`.
        assert err is None, f"expected OCR text, got LoadError {err.code}: {err}"
        ocr_text = "\n".join(d.page_content for d in docs if d.metadata.get("ocr") is True)
        missing = [s for s in ocr_strings if _squeeze(s) not in _squeeze(ocr_text)]
        assert not missing, f"missing from the OCR text: {missing}"
    if expect == "no_text" and err is None:
        assert all(d.metadata.get("ocr") is True for d in docs), "a scan's text can only come from OCR"
        return

    if expect == "text":
        assert err is None, f"expected text, got LoadError {err.code}: {err}"
        text = "\n".join(d.page_content for d in docs)
        # The corpus README allows a whitespace-insensitive match (PDF line breaks, columns).
        missing = [s for s in entry["must_contain"] if s not in text and _squeeze(s) not in _squeeze(text)]
        assert not missing, f"missing from extracted text: {missing}"
        present = [s for s in entry.get("must_not_contain", []) if s in text]
        assert not present, f"must not be extracted: {present}"
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        assert [d.metadata["position"] for d in docs] == list(range(len(docs)))
        for d in docs:
            assert d.page_content.strip() and d.metadata["source"] == entry["file"]
            assert d.metadata["sha256"] == sha and d.metadata["format"] == entry["format"]
            assert "\x00" not in d.page_content
        if entry["format"] in ("pdf", "pptx") and entry.get("pages"):
            pages = {d.metadata["page"] for d in docs}
            assert pages <= set(range(1, entry["pages"] + 1))
        return

    assert err is not None, f"expected a LoadError for {expect!r}, got {len(docs)} blocks of text"
    assert entry["file"] in str(err) and entry["file"] in err.message("zh")
    if expect == "no_text":  # a scan OCR finds nothing in
        assert err.code == "scanned"
    elif expect == "password":
        assert err.code == "password"
    elif expect == "error":
        assert err.code == "corrupt"
    else:
        pytest.fail(f"unknown expectation {expect!r} in the manifest")


def test_a_pdf_table_without_ruling_lines_keeps_one_row_per_line():
    """pdfplumber finds only ruled tables; an unruled one (en_two_column.pdf, page 3) used to be
    reflowed like prose, each row running into the next, and a figure lost its row."""
    path = require_shared("corpus", "en_two_column.pdf")
    text = "\n".join(d.page_content for d in load_file(path) if d.metadata.get("page") == 3)
    lines = text.split("\n")
    assert "Finland 5.5 338,424 Helsinki Finnish, Swedish" in lines
    assert "Denmark 5.8 42,951 Copenhagen Danish" in lines


def test_wrapped_prose_with_numbers_is_still_joined_and_table_rows_are_not():
    from loaders.formats.pdf import reflow_lines
    prose = ("This AD replaces AD 2018–23–51, Amendment 39–19512 (83\nFR 62697, December 6, 2018; corrected\n"
             "December 11, 2018 (83 FR 63561)), and\nadds new requirements.")
    assert "\n" not in reflow_lines(prose)
    table = "Country Population Area\nAustria 8.9 83,879 Vienna\nBelgium 11.5 30,689 Brussels\nDenmark 5.8 42,951 Copenhagen"
    assert reflow_lines(table).split("\n")[1:] == ["Austria 8.9 83,879 Vienna", "Belgium 11.5 30,689 Brussels",
                                                    "Denmark 5.8 42,951 Copenhagen"]
    # Two such lines are not yet a table: a wrapped sentence may hold two figures on two lines.
    assert reflow_lines("Sales were 8.9 and 9.1 million\nin 2023 against 7.5 and 7.9 million\nin 2022.").count("\n") == 0


def test_the_quarterly_reports_running_head_is_not_a_passage_of_its_own():
    """Every page of the real quarterly report starts with "东北电气发展股份有限公司 2018 年第一季度
    报告全文" (often with the page number glued on). As passages of their own they outranked page 3
    for "东北电气2018年第一季度的营业收入是多少？"; the cover page keeps its title."""
    docs = load_file(require_shared("corpus", "zh_quarterly_report_22p.pdf"))
    running = [d for d in docs if "报告全文" in d.page_content]
    # Said once, as the document's title heading, and so in every passage's heading path.
    assert [(d.page_content, d.metadata["kind"]) for d in running] == [("东北电气发展股份有限公司 2018 年第一季度报告全文", "heading")]
    assert all(d.metadata["heading"].startswith("东北电气发展股份有限公司 2018 年第一季度报告全文") for d in docs)
    assert any(d.metadata["page"] == 1 and "2018 年第一季度报告" in d.page_content for d in docs)
    page3 = "\n".join(d.page_content for d in docs if d.metadata["page"] == 3)
    assert "4,755,785.11" in page3
