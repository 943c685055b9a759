"""Smoke tests of the benchmarks: each runs end to end on a tiny input and writes its report
(ingest, scale with a 2,000-chunk synthetic store, baseline, load with 2 sessions x 1 question),
and bench/report.py turns those reports into markdown and PNG charts in a temp folder (never
docs/); the rendered law files are byte-reproducible. Timings are never asserted.

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
    return tiny_corpus(tmp_path, "tiny_laws.jsonl", 2, ARTICLES_PER_LAW)


def run_module(module: str, *args: str, home: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCCHAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("DOCCHAT_BENCH_CACHE", None)  # generated inputs go under this test's DOCCHAT_HOME
    run = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=timeout)
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


# --- scale, baseline, load and the report, each on a tiny input --------------------------------
def tiny_corpus(tmp_path: Path, name: str, laws: int, articles: int) -> Path:
    """The first `articles` articles of the `laws` shortest laws of the shared subset."""
    by_law: dict[str, list[dict]] = {}
    with require_shared("eval", "laws_subset.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                by_law.setdefault(record["law"], []).append(record)
    shortest = sorted(by_law, key=lambda law: sum(len(r["text"]) for r in by_law[law]))[:laws]
    source = tmp_path / name
    with source.open("w", encoding="utf-8") as f:
        for law in shortest:
            for record in by_law[law][:articles]:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return source


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> Path:
    """Runs the scale, baseline and load benchmarks once on tiny inputs; their JSON lands here."""
    tmp = tmp_path_factory.mktemp("bench-smoke")
    home, results = tmp / "home", tmp / "results"
    subset, full = tiny_corpus(tmp, "subset.jsonl", 2, 6), tiny_corpus(tmp, "full.jsonl", 3, 8)
    require_shared("eval", "laws_full.jsonl.gz")
    run_module("bench.scale_bench", "--subset", str(subset), "--full", str(full), "--synthetic-chunks", "2000",
               "--repeats", "1", "--ttft-queries", "1", "--ttft-stores", "full", "--llm-model", "0.5b",
               "--max-new-tokens", "2", "--app-rss", "inproc", "--app-model", "0.5b", "--app-max-new-tokens", "2",
               "--out", str(results / "scale_bench.json"), home=home, timeout=600)
    run_module("bench.baseline_bench", "--source", str(subset), "--formats", "docx",
               "--out", str(results / "baseline_bench.json"), home=home)
    run_module("bench.load_bench", "--subset", str(subset), "--sessions", "2", "--questions", "1",
               "--ingest-sessions", "1", "--ingest-questions", "1", "--ingest-files", "2",
               "--max-new-tokens", "2", "--out", str(results / "load_bench.json"), home=home, timeout=600)
    run_module("bench.eval_answers", "--laws", "2", "--limit", "3", "--model", "0.5b", "--max-new-tokens", "8",
               "--out", str(results / "eval_answers.json"), home=home, timeout=600)
    run_module("bench.prompt_budget", "--laws", "2", "--limit", "3", "--model", "0.5b",
               "--out", str(results / "prompt_budget.json"), home=home, timeout=600)
    return results


MACHINE_KEYS = {"cpu", "cores", "ram_gb", "python", "date", "packages", "git_commit"}


def test_scale_bench_on_a_tiny_corpus(tiny_results):
    report = json.loads((tiny_results / "scale_bench.json").read_text(encoding="utf-8"))
    assert MACHINE_KEYS <= report["machine"].keys() and report["command"].startswith(".venv/bin/python -m bench.scale_bench")
    for corpus in ("subset", "full"):
        row = report["ingest"][corpus]
        assert row["chunks"] > 0 and row["floor_s"] > 0 and row["disk_mb_per_1000_chunks"] > 0
        assert {"parse", "chunk", "embed", "write", "other"} <= row["stages_s"].keys()
    synthetic = report["synthetic"]
    assert synthetic["chunks"] == 2000 and synthetic["real_chunks"] + synthetic["synthetic_chunks"] == 2000
    assert Path(synthetic["home"]).is_relative_to(tiny_results.parent / "home" / "bench-cache")  # never the repo
    assert set(report["stores"]) == {"subset", "full", "synthetic"}
    assert report["stores"]["synthetic"]["chunks"] == 2000  # really written through the knowledge base
    for store in report["stores"].values():
        assert {"p50_ms", "p95_ms", "p99_ms"} <= store["search"].keys() and store["search"]["n"] > 0
    ttft = report["stores"]["full"]["ttft"]
    assert ttft["model"] == "0.5b" and all(run["first_token_s"] or run["refused"] for run in ttft["runs"])
    assert report["app"]["peak_rss_mb"] > 0, report["app"]
    assert set(report["goals"]) == {"full_ingest_s", "full_ingest_ratio_to_floor", "search_p95_ms_250k", "app_rss_mb"}


def test_baseline_bench_compares_both_pipelines(tiny_results):
    report = json.loads((tiny_results / "baseline_bench.json").read_text(encoding="utf-8"))
    assert MACHINE_KEYS <= report["machine"].keys()
    assert set(report["pipelines"]) == {"docchat", "langchain"}
    for pipeline in report["pipelines"].values():
        row = pipeline["docx"]
        assert row["chunks"] > 0 and row["pages_per_s"] > 0 and row["n"] >= 1
        assert 0 <= row["recall@5"] <= 1 and 0 <= row["mrr@10"] <= 1
    assert report["ratios_ours_over_baseline"]["docx"]["pages_per_s"] > 0


def test_load_bench_answers_every_session_and_stays_consistent(tiny_results):
    report = json.loads((tiny_results / "load_bench.json").read_text(encoding="utf-8"))
    assert MACHINE_KEYS <= report["machine"].keys()
    chat, during = report["runs"]["chat"], report["runs"]["ingest_while_chatting"]
    assert chat["answers"] == 2 and chat["errors"] == 0, chat["error_messages"]
    assert during["answers"] == 1 and during["errors"] == 0, during["error_messages"]
    assert {"answers_per_min", "queue_wait_p95_s", "answered_without_sources", "refused"} <= chat.keys()
    # through the page's code path, an answer shows its passage or is withdrawn as "not found"
    assert chat["answered_without_sources"] == 0 and during["answered_without_sources"] == 0
    assert during["ingest"]["files"] == 2 and during["ingest"]["consistent"], during["ingest"]


def test_eval_answers_scores_every_sampled_item(tiny_results):
    report = json.loads((tiny_results / "eval_answers.json").read_text(encoding="utf-8"))
    assert MACHINE_KEYS <= report["machine"].keys() and report["complete"] and report["model"] == "0.5b"
    assert len(report["items"]) == 3
    for item in report["items"]:
        assert item["answer"] and isinstance(item["refused"], bool)
        assert item["refused"] or item["sources"], item  # an answer shows its passage or is withdrawn
        if item["type"] != "unanswerable":
            assert item["key_facts"] and isinstance(item["cited_relevant"], bool)
    summary = report["summary"]
    assert summary["answerable"] + summary["unanswerable"] == 3
    assert summary["evidence_s_median"] is not None  # evidence first: when the passages could be shown
    # the naive LangChain baseline answered the same items in the same run, scored the same way
    baseline = report["baseline"]
    assert [i["qid"] for i in baseline["items"]] == [i["qid"] for i in report["items"]]
    assert baseline["summary"]["answerable"] == summary["answerable"]
    for item in baseline["items"]:
        assert isinstance(item["refused"], bool) and len(item["sources"]) == 4


def test_prompt_budget_reports_every_lever_against_the_measured_prefill_speed(tiny_results):
    from bench.prompt_budget import LEVERS
    report = json.loads((tiny_results / "prompt_budget.json").read_text(encoding="utf-8"))
    assert MACHINE_KEYS <= report["machine"].keys() and report["prefill_tokens_per_s"] > 0
    # A tapered budget (characters by rank) is a list in JSON, a tuple in LEVERS.
    rows = {(r["k"], tuple(c) if isinstance(c := r["passage_chars"], list) else c): r for r in report["rows"]}
    assert set(rows) == set(LEVERS)
    for row in rows.values():
        assert 0 < row["new_tokens_median"] <= row["prompt_tokens_median"]
        assert row["first_token_floor_s"] > 0 and 0 <= row["key_fact_in_prompt"] <= 1
    # Fewer and shorter passages never make the prompt longer.
    assert rows[(3, 150)]["prompt_tokens_median"] <= rows[(5, None)]["prompt_tokens_median"]


def test_key_fact_scoring_reads_numbers_in_either_script():
    from bench.eval_answers import has_key_fact, key_facts
    facts = key_facts("劳动合同期限三个月以上不满一年的，试用期不得超过一个月。", "试用期最长多久？")
    assert "一个月" in facts
    assert has_key_fact("试用期不得超过1个月[1]。", ["一个月"])
    assert not has_key_fact("试用期不得超过六个月。", ["一个月"])
    assert not has_key_fact("anything", [])


def test_report_builds_markdown_and_charts(tiny_results, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for path in list(tiny_results.glob("*.json")) + list((REPO / "bench" / "results").glob("eval_*.json")):
        if not (results / path.name).exists():
            (results / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "docs" / "BENCHMARKS.md"
    run_module("bench.report", "--results", str(results), "--out", str(out), home=tmp_path / "home")
    text = out.read_text(encoding="utf-8")
    for heading in ("## Scale", "## Baseline", "## Load", "## Goals of issues 11 and 12", "## Answer quality",
                    "Command: `.venv/bin/python -m bench.scale_bench", "law dev: key fact present >= 0.60",
                    "first answer token <= 4 s"):
        assert heading in text
    for chart in ("ingest_vs_size.png", "latency_vs_size.png", "recall_by_setup.png"):
        png = out.parent / "img" / chart
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"img/{chart}" in text


def test_eval_docs_compares_both_pipelines_on_real_documents(tmp_path):
    require_shared("eval", "docs_questions_dev.jsonl")
    out = tmp_path / "eval_docs.json"
    run_module("bench.eval_docs", "--limit", "2", "--model", "0.5b", "--max-new-tokens", "32",
               "--question-files-only", "--out", str(out), home=tmp_path / "home", timeout=900)
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["pipelines"]) == {"docchat", "langchain"} and report["files"] == 1
    for result in report["pipelines"].values():
        assert len(result["items"]) == 2 and result["ingest"]["chunks"] > 0
        assert {"key_facts", "right_file_cited", "refused_answerable", "withdrawn_after_shown"} <= result["summary"].keys()
    docchat = report["pipelines"]["docchat"]
    assert docchat["summary"]["withdrawn_after_shown"] == 0  # nothing shown is taken back
    for item in docchat["items"]:
        assert item["refused"] or item["sources"], item  # an answer shows its passage or is refused
