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
