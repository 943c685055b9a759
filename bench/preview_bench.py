"""Source preview benchmark (not a test): the time from a click on "View source" to the page image
being ready, for real passages of real PDFs, and how many of them were found on their page.

Per file: the loader's own chunks (as the knowledge base stores them) give the passages; for up
to --per-file of them, evenly spread, loaders.preview.render_pdf_page (open, render at the app's
scale, locate the passage from pdfium's character boxes, draw the highlight, encode PNG) is
timed, and a render without a passage apart, so the cost of locating and highlighting shows.
The first call of the process (imports) is reported on its own.

Files: data/*.pdf, and from ../shared/corpus when present the 22-page Chinese quarterly report
(tables), the 15-page federal register (dense English) and a two-column PDF.

    .venv/bin/python -m bench.preview_bench [--per-file 20] [--data-only] [--out FILE]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import RESULTS, command_line, finish_facts, latency_summary, machine_facts, write_json  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
CORPUS_FILES = ("zh_quarterly_report_22p.pdf", "en_federal_register_15p.pdf", "en_two_column.pdf")
DEFAULT_OUT = RESULTS / "preview_bench.json"


def passages(path: Path, per_file: int) -> list[tuple[int, str, str | None]]:
    from loaders import load_file
    from loaders.chunker import SentenceChunker

    chunks = [c for c in SentenceChunker().split(list(load_file(path))) if c.metadata.get("page")]
    step = max(1, len(chunks) / per_file)
    picked = [chunks[int(i * step)] for i in range(min(per_file, len(chunks)))]
    return [(c.metadata["page"], c.page_content, c.metadata.get("boxes")) for c in picked]


def bench_file(path: Path, per_file: int, scale: float) -> dict:
    from loaders.preview import render_pdf_page

    shown, plain, found, sizes = [], [], 0, []
    for page, text, boxes in passages(path, per_file):
        start = time.perf_counter()
        png, rects = render_pdf_page(path, page, text, scale, boxes)
        shown.append(time.perf_counter() - start)
        start = time.perf_counter()
        render_pdf_page(path, page, "", scale)
        plain.append(time.perf_counter() - start)
        found += bool(rects)
        sizes.append(len(png))
    return {"file": path.name, "passages": len(shown), "found": found,
            "time_to_show": latency_summary(shown), "render_only": latency_summary(plain),
            "png_kb_median": round(statistics.median(sizes) / 1024, 1) if sizes else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-file", type=int, default=20, help="passages timed per file")
    parser.add_argument("--data-only", action="store_true", help="only data/*.pdf (a quick check)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from vectorstore.preview import PAGE_SCALE

    facts = machine_facts()
    files = sorted((REPO / "data").glob("*.pdf"))
    if not args.data_only:
        files += [CORPUS / n for n in CORPUS_FILES if (CORPUS / n).exists()]
    first = files[0]
    start = time.perf_counter()
    from loaders.preview import render_pdf_page
    render_pdf_page(first, 1, "", PAGE_SCALE)
    cold_s = time.perf_counter() - start

    runs = [bench_file(f, args.per_file, PAGE_SCALE) for f in files]
    print(f"first preview of the process (imports included): {cold_s * 1000:.0f} ms; scale {PAGE_SCALE}")
    print(f"{'file':<34} {'found':>7} {'show p50 ms':>12} {'p95':>7} {'max':>7} {'render-only p50':>16} {'png KB':>7}")
    for r in runs:
        t, p = r["time_to_show"], r["render_only"]
        print(f"{r['file']:<34} {r['found']:>3}/{r['passages']:<3} {t.get('p50_ms', 0):>12} {t.get('p95_ms', 0):>7} "
              f"{t.get('max_ms', 0):>7} {p.get('p50_ms', 0):>16} {r['png_kb_median']:>7}")
    write_json(args.out, {"benchmark": "preview_bench", "command": command_line("bench.preview_bench", argv),
                          "machine": finish_facts(facts), "scale": PAGE_SCALE,
                          "first_call_ms": round(cold_s * 1000, 1), "runs": runs})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
