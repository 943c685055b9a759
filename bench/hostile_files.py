"""The hostile files of issue 17 at full size, through the real ingest with the default limits:
seconds, the reader process's peak memory, this process's peak memory, and what the user is told.

    .venv/bin/python -m bench.hostile_files [--xml-mb 150] [--json bench/results/hostile_files.json]

A DOCX whose word/document.xml is ~150 MB of plain paragraphs (zipped ~16 MB), and a few-KB XLSX
declaring 1,048,576 x 16,384 cells. Both are generated (tests/hostile_files.py), never stored.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hostile_files import big_xml_docx, huge_dimension_xlsx  # noqa: E402

from docchat.factory import kb_config  # noqa: E402
from docchat.settings import Settings  # noqa: E402
from vectorstore import KnowledgeBase, parse_worker  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xml-mb", type=float, default=150.0)
    ap.add_argument("--json", default=str(REPO / "bench" / "results" / "hostile_files.json"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = Settings(home=tmp / "home")  # the default limits
        kb = KnowledgeBase("hostile", kb_config(settings))
        files = [big_xml_docx(tmp / "plain_xml.docx", args.xml_mb), huge_dimension_xlsx(tmp / "dimension.xlsx")]
        for path in files:
            start = time.perf_counter()
            res = kb.ingest([path])[0]
            seconds = time.perf_counter() - start
            run = dict(parse_worker.last_run)
            rows.append({
                "file": path.name, "size_mb": round(path.stat().st_size / 2**20, 2),
                "status": res.status, "chunks": res.chunks, "seconds": round(seconds, 1),
                "parse_seconds": run.get("seconds"), "parse_outcome": run.get("outcome"),
                "worker_peak_rss_mb": round((run.get("peak_rss") or 0) / 2**20),
                "server_peak_rss_mb": round(rss_mb()),
                "told_en": res.describe("en"), "told_zh": res.describe("zh"),
            })
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
        kb.close()
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
           "limits": {"parse_memory_mb": settings.parse_memory_mb,
                      "ingest_seconds_per_file": settings.ingest_seconds_per_file,
                      "max_chars_per_file": settings.max_chars_per_file,
                      "max_passages_per_file": settings.max_passages_per_file},
           "xml_mb": args.xml_mb, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"{'file':<18} {'MB':>6} {'status':<8} {'s':>7} {'worker RSS':>10} {'server RSS':>10}  told")
    for r in rows:
        print(f"{r['file']:<18} {r['size_mb']:>6} {r['status']:<8} {r['seconds']:>7} "
              f"{r['worker_peak_rss_mb']:>9}M {r['server_peak_rss_mb']:>9}M  {r['told_en'][:90]}")


if __name__ == "__main__":
    main()
