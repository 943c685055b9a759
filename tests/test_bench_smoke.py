"""Smoke tests of the ingestion benchmark: it runs end to end on a tiny input and writes its
report; the rendered law files are byte-reproducible. Timings are never asserted.

The scripts run as `python -m bench...` subprocesses from the repository root (bench/ is not
an installed package)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, require_shared

ARTICLES_PER_LAW = 4

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def tiny_law_source(tmp_path: Path) -> Path:
    """The first few articles of the two shortest laws of the shared subset."""
    laws: dict[str, list[dict]] = {}
    with require_shared("eval", "laws_subset.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                laws.setdefault(record["law"], []).append(record)
    shortest = sorted(laws, key=lambda law: sum(len(r["text"]) for r in laws[law]))[:2]
    source = tmp_path / "tiny_laws.jsonl"
    with source.open("w", encoding="utf-8") as f:
        for law in shortest:
            for record in laws[law][:ARTICLES_PER_LAW]:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return source


def run_module(module: str, *args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCCHAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_benchmark_writes_its_report(tmp_path):
    source, out, home = tiny_law_source(tmp_path), tmp_path / "ingest_bench.json", tmp_path / "home"
    run = run_module("bench.ingest_bench", "--source", str(source), "--out", str(out), home=home)
    assert "total/floor" in run.stdout

    report = json.loads(out.read_text(encoding="utf-8"))
    assert {"cpu", "cores", "ram_gb", "python", "date", "packages"} <= report["machine"].keys()
    assert report["inputs"]["articles"] == 2 * ARTICLES_PER_LAW
    assert set(report["pipelines"]) == {"docchat", "langchain"}
    for pipeline in report["pipelines"].values():
        assert pipeline["peak_rss_mb"] > 0
        assert set(pipeline["rows"]) == {"docx", "pdf", "all"}
        for row in pipeline["rows"].values():
            assert {"total_s", "floor_s", "ratio_total_to_floor", "pages_per_s", "chunks_per_s",
                    "stages_s", "chunks", "pages"} <= row.keys()
            assert row["chunks"] > 0 and row["floor_s"] > 0
            assert "embed" in row["stages_s"] and "parse" in row["stages_s"]
    # Rendered inputs go to DOCCHAT_HOME's cache, never into the repository.
    assert len(list((home / "bench-cache").rglob("*.pdf"))) == 2


def test_rendered_laws_are_reproducible(tmp_path):
    source = tiny_law_source(tmp_path)

    def digests(root: Path) -> dict[str, str]:
        run_module("bench.render_laws", "--source", str(source), "--out", str(root), home=tmp_path)
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in root.rglob("*") if p.suffix in (".docx", ".pdf")}

    first, second = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert len(first) == 4  # two laws, DOCX and PDF each
    assert first == second
