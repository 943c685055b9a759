"""The goal tables of BENCHMARKS.md (bench/goals.py) and the topic-switch items of bench/eval_rag.py:
each target shows its figure, its baseline or floor, and a status the figure decides."""
from bench.eval_rag import topic_switches
from bench.goals import issue_11, issue_12


def row(rows: list[list[str]], start: str) -> list[str]:
    return next(r for r in rows if r[0].startswith(start))


def test_issue_11_targets_are_judged_against_goal_and_baseline():
    rag = {"setups": {"hybrid": {"summary": {"all": {"recall@5": 0.7, "mrr@10": 0.6}}},
                      "hybrid+guess": {"summary": {"all": {"recall@5": 0.92, "mrr@10": 0.6}}}}}
    items = [{"type": "factual", "refused": False, "key_fact": True}, {"type": "factual", "refused": True,
             "key_fact": False}, {"type": "numeric", "refused": False, "key_fact": False}, {"type": "unanswerable", "refused": False}]
    answers = {"summary": {"key_fact": 0.3, "refused_answerable": 0.05, "refusal_unanswerable": 0.95}, "items": items,
               "baseline": {"summary": {"key_fact": 0.4, "refused_answerable": 0.0, "refusal_unanswerable": 0.0}}}
    docs = {"pipelines": {"docchat": {"summary": {"key_facts": 0.75, "by_type": {"table": {"key_facts": 0.3}},
                                                  "withdrawn_after_shown": 0}},
                          "langchain": {"summary": {"key_facts": 0.4, "by_type": {"table": {"key_facts": 0.1}}}}}}
    base = {"pipelines": {"langchain": {"docx": {"recall@5": 0.6, "mrr@10": 0.5}}}}
    rows = issue_11(rag, answers, docs, base)
    recall = row(rows, "law dev: recall@5")
    assert "weak-search guess" in recall[0] and recall[1] == "0.920" and recall[3] == "met"
    assert "x1.53" in recall[2] and "below" not in recall[2]
    key = row(rows, "law dev: key fact")
    assert key[3] == "**missed**" and "x0.75" in key[2] and "below 1.5x" in key[2]
    assert row(rows, "law dev: answerable refused")[3] == "met"  # lower is better
    assert row(rows, "law dev: unanswerable refused")[3] == "met"
    assert "the baseline's is 0" in row(rows, "law dev: unanswerable refused")[2]
    assert row(rows, "law dev: key fact among the answered")[1] == "0.500"  # 1 of the 2 answered
    assert row(rows, "real documents: table questions")[3] == "**missed**"
    assert row(rows, "real documents: answers shown, then withdrawn")[3] == "met"
    # a figure no run produced is said to be unmeasured, never passed
    assert row(rows, "real documents: right file cited")[3] == "not measured"


def test_issue_12_targets_show_their_floor():
    answers = {"summary": {"evidence_s_median": 0.02, "evidence_s_p90": 1.7, "first_token_s_median": 3.8},
               "items": [{"timings": {"first_token_s": t}} for t in (3.0, 4.5, 5.0)]}
    budget = {"rows": [{"k": 5, "passage_chars": 300, "first_token_floor_s": 1.9}]}
    search = {"chunks": 250000, "stages": {"search (vector made)": {"p95_ms": 30.0},
                                           "chroma query: ids + distances": {"p95_ms": 15.0}}}
    ingest = {"corpus": "full", "pipelines": {"docchat": {"rows": {"docx": {"ratio_total_to_floor": 1.2}}}}}
    cold = {"runs": [{"run": "restart", "page_ready_s": 12.0, "answer_s": 45.0, "evidence_s": 14.0, "first_text_s": 30.0}]}
    rows = issue_12(answers, budget, None, search, ingest, cold)
    assert row(rows, "evidence shown <= 1 s")[3] == "met" and row(rows, "evidence shown, p90")[3] == "**missed**"
    first = row(rows, "first answer token")
    assert first[3] == "met" and first[2] == "1.90 (x2.00)"
    every = row(rows, "first model token, median of all 3 items")
    assert every[1] == "4.50" and every[3] == "**missed**"
    assert row(rows, "search p95")[3] == "**missed**" and "(x2.00)" in row(rows, "search p95")[2]
    assert row(rows, "ingest total")[3] == "**missed**"
    assert row(rows, "cold start (restart): page ready")[3] == "met"
    assert row(rows, "cold start (restart): first answer")[3] == "**missed**"


def test_a_standalone_question_after_another_topic_is_not_taken_for_a_follow_up():
    questions = [
        {"qid": "a", "type": "followup", "relevant": ["劳动法#第一条"], "bare": "那加班呢？",
         "history": ["试用期最长多久？"]},
        {"qid": "b", "type": "factual", "relevant": ["民法典#第九百四十四条"], "bare": "欠了物业费，物业能直接给我家停水停电吗？",
         "history": []},
        {"qid": "c", "type": "factual", "relevant": ["民法典#第一条"], "bare": "那这个呢？", "history": []},
    ]
    got = {r["qid"]: r for r in topic_switches(questions, "none")}
    assert set(got) == {"b", "c"}  # every standalone question, none of the follow-ups
    assert got["b"]["history"] == ["试用期最长多久？"]  # a turn about another law
    assert not got["b"]["treated_as_follow_up"] and questions[1]["switched"] == questions[1]["bare"]
    # a question that leans on the chat is merged with it, as the chain would search
    assert got["c"]["treated_as_follow_up"] and questions[2]["switched"] == "试用期最长多久？ 那这个呢？"
