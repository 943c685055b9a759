"""OCR benchmark (not a test): pages per second of loaders/ocr.py on the real scans of the corpus,
and whether the expected strings come out.

Files (../shared/corpus): zh_scanned_customs_penalty.pdf (3 pages, no text layer: load_file OCRs
it) and zh_scan_ocr_gbk_cmap.pdf (6 pages, a scan with an OCR text layer that load_file keeps:
its layer passes the garbage check; here it is OCR'd anyway to compare the two readings).

Per file and render size (the longer side in pixels; the app uses
loaders.formats.pdf_ocr.RENDER_LONG_SIDE): render seconds, OCR seconds, pages/s (pages over
render + OCR time; the engine is created once before, its load time reported apart), and the
share of the manifest's strings found (`ocr_must_contain`, else `must_contain`) in the OCR text,
and for the GBK file in its own text layer too (pypdf, what load_file uses). CPU seconds per
page (all threads) are given too: on a shared machine wall time depends on the others' load, CPU
time much less (on 2 otherwise idle cores a page takes about half its CPU time). Then load_file on
the scan end to end (as the app reads it). Also: the garbage-layer heuristic's score
(loaders.formats.pdf_ocr.unreadable_share) of every page of every corpus PDF.

    .venv/bin/python -m bench.ocr_bench [--sizes 1400,2000] [--out FILE]
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import RESULTS, command_line, finish_facts, machine_facts, write_json  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
FILES = ("zh_scanned_customs_penalty.pdf", "zh_scan_ocr_gbk_cmap.pdf")
DEFAULT_OUT = RESULTS / "ocr_bench.json"


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _found(strings: list[str], text: str) -> str:
    text = _squeeze(text)
    return f"{sum(_squeeze(s) in text for s in strings)}/{len(strings)}"


def _manifest() -> dict:
    lines = (CORPUS / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return {e["file"]: e for e in (json.loads(line) for line in lines if line.strip())}


def _text_layer(path: Path) -> str:
    from pypdf import PdfReader
    reader = PdfReader(path, strict=False)
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def ocr_file(path: Path, long_side: int) -> dict:
    import pypdfium2 as pdfium

    from loaders.formats.pdf import reflow_lines
    from loaders.ocr import lines_text, ocr_image

    render_s = ocr_s = ocr_cpu_s = 0.0
    texts = []
    document = pdfium.PdfDocument(path.read_bytes())
    for page in document:
        start = time.perf_counter()
        width, height = page.get_size()
        image = page.render(scale=min(4.0, max(1.0, long_side / max(width, height)))).to_numpy()
        render_s += time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        lines = ocr_image(image)
        ocr_s += time.perf_counter() - start
        ocr_cpu_s += time.process_time() - cpu  # all threads: what the pages cost, whatever the load
        texts.append(reflow_lines(lines_text(lines)))
    pages = len(document)
    document.close()
    return {"pages": pages, "long_side_px": long_side, "render_s": round(render_s, 2),
            "ocr_s": round(ocr_s, 2), "pages_per_s": round(pages / (render_s + ocr_s), 3),
            "s_per_page": round((render_s + ocr_s) / pages, 2),
            "ocr_cpu_s_per_page": round(ocr_cpu_s / pages, 2), "text": "\n".join(texts)}


def heuristic_scores() -> dict:
    from pypdf import PdfReader

    from loaders.formats.pdf_ocr import unreadable_share
    scores = {}
    for path in sorted(CORPUS.glob("*.pdf")):
        try:
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted:
                reader.decrypt("")
            scores[path.name] = [round(unreadable_share(p.extract_text() or ""), 4) for p in reader.pages]
        except Exception as exc:  # noqa: BLE001 - the broken corpus files
            scores[path.name] = f"unreadable: {type(exc).__name__}"
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1400,2000", help="render sizes (longer side, pixels) to compare")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not (CORPUS / "manifest.jsonl").exists():
        print(f"needs {CORPUS} (the shared corpus beside the checkout)", file=sys.stderr)
        return 2

    from loaders import load_file
    from loaders.formats.pdf_ocr import RENDER_LONG_SIDE
    from loaders.ocr import engine

    facts = machine_facts()
    manifest = _manifest()
    start = time.perf_counter()
    engine()
    engine_s = time.perf_counter() - start

    runs = []
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    for name in FILES:
        entry = manifest[name]
        strings = entry.get("ocr_must_contain") or entry["must_contain"]
        for size in (sizes if name == FILES[0] else [RENDER_LONG_SIDE]):
            run = ocr_file(CORPUS / name, size)
            run.update(file=name, found_by_ocr=_found(strings, run.pop("text")))
            if name == FILES[1]:
                run["found_in_text_layer"] = _found(strings, _text_layer(CORPUS / name))
            runs.append(run)

    start = time.perf_counter()
    docs = load_file(CORPUS / FILES[0])
    end_to_end = {"file": FILES[0], "seconds": round(time.perf_counter() - start, 2),
                  "pages_ocr": docs.ocr_pages, "blocks": len(docs)}

    print(f"engine created in {engine_s:.2f} s (once per process)")
    print(f"{'file':<34} {'px':>5} {'pages':>5} {'render s':>9} {'ocr s':>7} {'pages/s':>8} {'s/page':>7} "
          f"{'cpu s/page':>10}  found")
    for r in runs:
        extra = f" (text layer {r['found_in_text_layer']})" if "found_in_text_layer" in r else ""
        print(f"{r['file']:<34} {r['long_side_px']:>5} {r['pages']:>5} {r['render_s']:>9} {r['ocr_s']:>7} "
              f"{r['pages_per_s']:>8} {r['s_per_page']:>7} {r['ocr_cpu_s_per_page']:>10}  {r['found_by_ocr']}{extra}")
    print(f"load_file({FILES[0]}): {end_to_end['seconds']} s for {end_to_end['pages_ocr']} OCR'd pages")
    scores = heuristic_scores()
    print("garbage-layer score per page (OCR above 0.3):",
          {k: (max(v) if isinstance(v, list) and v else v) for k, v in scores.items()})

    write_json(args.out, {"benchmark": "ocr_bench", "command": command_line("bench.ocr_bench", argv),
                          "machine": finish_facts(facts), "engine_create_s": round(engine_s, 2),
                          "render_long_side_default": RENDER_LONG_SIDE, "runs": runs,
                          "load_file": end_to_end, "unreadable_share_per_page": scores})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
