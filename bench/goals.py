"""The targets of issues 11 (right answers on real documents) and 12 (answers in seconds), each
with the figure `make bench` measured, its floor or the same-run naive LangChain baseline where
one applies, and whether it is met. Read from the JSON files in bench/results/ by bench/report.py.

A quality figure is compared with the baseline as DocChat / baseline (issue 11 asks >= 1.5x; for
"refused answerable" lower is better, so the ratio is baseline / DocChat there). A speed figure
is compared with its floor as figure / floor.
"""
from __future__ import annotations

from pathlib import Path


def _get(data: dict | None, *path, default=None):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _num(value, digits: int) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _status(value, goal: float | None, higher_is_better: bool) -> str:
    if value is None:
        return "not measured"
    if goal is None:
        return "measured"
    met = value >= goal if higher_is_better else value <= goal
    return "met" if met else "**missed**"


def _ratio(docchat, baseline, higher_is_better: bool = True) -> float | None:
    if docchat is None or baseline is None:
        return None
    top, bottom = (docchat, baseline) if higher_is_better else (baseline, docchat)
    if bottom == 0:
        return None if top == 0 else float("inf")
    return round(top / bottom, 2)


def _answered_key_fact(items: list[dict] | None) -> float | None:
    """The share of answered (not refused) answerable items that state their key fact."""
    answered = [i for i in items or [] if i.get("type") != "unanswerable" and not i.get("refused")]
    return round(sum(bool(i.get("key_fact")) for i in answered) / len(answered), 3) if answered else None


class Rows:
    def __init__(self):
        self.rows: list[list[str]] = []

    def quality(self, text: str, value, goal: float | None, baseline=None, higher_is_better: bool = True,
                digits: int = 3) -> None:
        """A quality target, with the baseline's figure and DocChat's ratio to it."""
        ratio = _ratio(value, baseline, higher_is_better)
        shown = "–" if ratio is None else "no ratio: the baseline's is 0" if ratio == float("inf") else f"x{_num(ratio, 2)}"
        vs = "–" if baseline is None else f"{_num(baseline, digits)} ({shown})"
        # Flagged only where 1.5x the baseline is reachable at all (a share cannot pass 1.0).
        if higher_is_better and ratio is not None and ratio < 1.5 and baseline * 1.5 <= 1:
            vs += " **below 1.5x**"
        self.rows.append([text, _num(value, digits), vs, _status(value, goal, higher_is_better)])

    def speed(self, text: str, value, goal: float | None, floor=None, digits: int = 2, note: str = "") -> None:
        """A speed target, with its floor and the figure's ratio to it."""
        vs = "–" if floor is None else f"{_num(floor, digits)} (x{_num(_ratio(value, floor) or 0.0, 2)})"
        self.rows.append([text, _num(value, digits) + note, vs, _status(value, goal, higher_is_better=False)])


def issue_11(rag: dict | None, answers: dict | None, docs: dict | None, base: dict | None) -> list[list[str]]:
    rows = Rows()
    hybrid = _get(rag, "setups", "hybrid", "summary", "all") or {}
    guess = _get(rag, "setups", "hybrid+guess", "summary", "all") or {}
    naive = _get(base, "pipelines", "langchain", "docx") or next(
        (r for r in (_get(base, "rows") or []) if r.get("pipeline") == "langchain" and r.get("format") == "docx"), {})
    search = guess or hybrid
    rows.quality("law dev: recall@5 >= 0.90 (the app's search" + (", with the weak-search guess)" if guess else ")"),
                 search.get("recall@5"), 0.90, naive.get("recall@5"))
    rows.quality("law dev: MRR@10 >= 0.75 (hybrid ranking)", hybrid.get("mrr@10"), 0.75, naive.get("mrr@10"))
    ours, theirs = _get(answers, "summary") or {}, _get(answers, "baseline", "summary") or {}
    rows.quality("law dev: key fact present >= 0.60", ours.get("key_fact"), 0.60, theirs.get("key_fact"))
    rows.quality("law dev: key fact among the answered items (how far an answer shown can be trusted)",
                 _answered_key_fact(_get(answers, "items")), None, _answered_key_fact(_get(answers, "baseline", "items")))
    rows.quality("law dev: unanswerable refused >= 0.90", ours.get("refusal_unanswerable"), 0.90,
                 theirs.get("refusal_unanswerable"))
    rows.quality("law dev: answerable refused <= 0.10", ours.get("refused_answerable"), 0.10,
                 theirs.get("refused_answerable"), higher_is_better=False)
    rows.quality("law dev: cited passage relevant (answered items)", ours.get("cited_relevant"), None,
                 theirs.get("cited_relevant"))
    switch = _get(rag, "setups", "hybrid", "summary", "topic switch") or {}
    follow = _get(rag, "setups", "hybrid", "summary", "followup rewritten") or {}
    standalone = _get(rag, "setups", "hybrid", "summary", "standalone") or {}
    switches = _get(rag, "topic_switches") or {}
    if switches.get("n"):
        rows.quality(f"law dev: topic switch not merged with the history ({switches['n']} questions after another "
                     "law's turn)", round(1 - switches["treated_as_follow_up"] / switches["n"], 3), None)
        rows.quality("law dev: topic switch recall@5 (alone: " + _num(standalone.get("recall@5"), 3) + ")",
                     switch.get("recall@5"), None)
    rows.quality("law dev: real follow-up, rewritten, recall@5", follow.get("recall@5"), None)
    rows.quality("law dev: real follow-up key fact", ours.get("key_fact_followup"), None, theirs.get("key_fact_followup"))
    d, n = _get(docs, "pipelines", "docchat", "summary") or {}, _get(docs, "pipelines", "langchain", "summary") or {}
    rows.quality("real documents: key facts stated >= 0.70", d.get("key_facts"), 0.70, n.get("key_facts"))
    rows.quality("real documents: right file cited >= 0.90", d.get("right_file_cited"), 0.90, n.get("right_file_cited"))
    rows.quality("real documents: table questions >= 0.70", _get(d, "by_type", "table", "key_facts"), 0.70,
                 _get(n, "by_type", "table", "key_facts"))
    rows.quality("real documents: unanswerable refused >= 0.90", d.get("refused_unanswerable"), 0.90,
                 n.get("refused_unanswerable"))
    rows.quality("real documents: answerable refused <= 0.10", d.get("refused_answerable"), 0.10,
                 n.get("refused_answerable"), higher_is_better=False)
    rows.quality("real documents: answers shown, then withdrawn = 0", d.get("withdrawn_after_shown"), 0,
                 higher_is_better=False, digits=0)
    return rows.rows


def issue_12(answers: dict | None, budget: dict | None, load_data: dict | None, search: dict | None,
             ingest: dict | None, cold: dict | None, scale: dict | None = None) -> list[list[str]]:
    rows = Rows()
    ours, theirs = _get(answers, "summary") or {}, _get(answers, "baseline", "summary") or {}
    rows.speed("evidence shown <= 1 s after asking (median, law dev)", ours.get("evidence_s_median"), 1.0)
    rows.speed("evidence shown, p90 (law dev)", ours.get("evidence_s_p90"), 1.0)
    app_lever = next((r for r in (_get(budget, "rows") or []) if r.get("k") == 5 and r.get("passage_chars") == 300),
                     None)
    rows.speed("first answer token <= 4 s (median of answered items, law dev, 1.5B); floor = prompt prefill",
               ours.get("first_token_s_median"), 4.0, _get(app_lever, "first_token_floor_s"))
    every = sorted(i["timings"]["first_token_s"] for i in _get(answers, "items") or []
                   if i.get("timings", {}).get("first_token_s") is not None)
    if every:  # refusals included: the model's first token of a "not found" is waited for too
        rows.speed(f"first model token, median of all {len(every)} items (refusals included)",
                   round(every[len(every) // 2], 2), 4.0, _get(app_lever, "first_token_floor_s"))
    if theirs.get("first_token_s_median") is not None:
        rows.speed("first token of the naive LangChain pipeline, same model (for comparison)",
                   theirs.get("first_token_s_median"), None)
    for name, run in (_get(load_data, "runs") or {}).items():
        rows.speed(f"load ({name}): answers/min", run.get("answers_per_min"), None)
        rows.speed(f"load ({name}): queue wait p95 s", run.get("queue_wait_p95_s"), None,
                   note=f" ({run.get('errors')} errors, {run.get('answers')} of {run.get('asked')} answered)")
    stages = _get(search, "stages") or {}
    rows.speed(f"search p95 <= 20 ms at {_num(_get(search, 'chunks'), 0)} chunks, warm, question vector made "
               "(bench.search_bench); floor = the Chroma query alone", _get(stages, "search (vector made)", "p95_ms"), 20.0,
               _get(stages, "chroma query: ids + distances", "p95_ms"))
    cold_search = _get(scale, "goals", "search_p95_ms_250k", "value")
    if cold_search is not None:
        rows.speed("search p95 <= 20 ms at 250,000 chunks, in a freshly opened process with the question "
                   "embedded each time (bench.scale_bench); floor = dense search alone", cold_search, 20.0,
                   _get(scale, "stores", "synthetic", "parts", "dense", "p95_ms"))
    doc = _get(ingest, "pipelines", "docchat", "rows") or {}
    row = doc.get("all") or next(iter(doc.values()), None)
    rows.speed(f"ingest total / embedding floor <= 1.15 ({_get(ingest, 'corpus') or '?'} law corpus)",
               _get(row, "ratio_total_to_floor"), 1.15)
    naive = _get(ingest, "pipelines", "langchain", "rows") or {}
    naive_row = naive.get("all") or next(iter(naive.values()), None)
    if naive_row:
        rows.speed("ingest of the naive LangChain pipeline / its floor (for comparison)",
                   _get(naive_row, "ratio_total_to_floor"), None)
    for run in _get(cold, "runs") or []:
        rows.speed(f"cold start ({run['run']}): page ready <= 20 s after `make run`", run.get("page_ready_s"), 20.0,
                   note="" if not run.get("models_loading_shown") else " (page said the models were loading)")
        rows.speed(f"cold start ({run['run']}): first answer <= 40 s after `make run`", run.get("answer_s"), 40.0,
                   note=f"; evidence at {_num(run.get('evidence_s'), 1)} s, first text at "
                        f"{_num(run.get('first_text_s'), 1)} s")
    return rows.rows


def section(results: Path, load) -> list[str]:
    """The two goal tables, for bench/report.py (``load(results, name)`` reads one JSON)."""
    from bench.report import table
    head = ["target", "measured", "naive LangChain baseline, same `make bench` (DocChat's ratio)", "status"]
    lines = ["## Goals of issues 11 and 12", "",
             "Each figure comes from the run named in its section below. Ratios: DocChat / baseline for quality "
             "(issue 11 asks >= 1.5x), figure / floor for speed.", "",
             "### Issue 11: right answers on real documents", "",
             table(head, issue_11(load(results, "eval_rag.json"), load(results, "eval_answers.json"),
                                  load(results, "eval_docs.json"), load(results, "baseline_bench.json"))), "",
             "### Issue 12: answers in seconds", "",
             table(["target", "measured", "floor (figure / floor)", "status"],
                   issue_12(load(results, "eval_answers.json"), load(results, "prompt_budget.json"),
                            load(results, "load_bench.json"), load(results, "search_bench.json"),
                            load(results, "ingest_bench.json"), load(results, "cold_start_bench.json"),
                            load(results, "scale_bench.json"))), ""]
    return lines
