"""Benchmark (not a test): cold start, as a user meets it (issue 12: the page ready <= 20 s and
the first answer <= 40 s after `make run`, on a set-up machine).

Each run starts `make run` itself (the README's command: setup's fast path, the sample
documents synced into the knowledge base, the FAQ list, `docchat serve`) in a fresh process
group, with DOCCHAT_HOME in a temporary folder and the set-up machine's models, and opens the
page in headless Chromium. From the moment `make run` starts, it times:
- health: the server answers /_stcore/health;
- page ready: the chat box is shown and the first script run has ended;
- evidence: after the question is sent, the passages the answer will use are shown;
- first text: the first words of the answer are on the page;
- answer: the answer is complete (cursor gone, script idle).
It also records whether the page said the models were still loading when it became usable.

Two runs on the same home: "first start" (an empty knowledge base: the sample documents are
ingested by `make run` before the server starts) and "restart" (the knowledge base is there).

    .venv/bin/python -m bench.cold_start_bench [--question 新员工试用期是多长时间？] [--out FILE]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench.common import (RESULTS, command_line, finish_facts, machine_facts, wait_until_serving,  # noqa: E402
                          write_json)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = RESULTS / "cold_start_bench.json"
GOALS = {"page_ready_s": 20.0, "answer_s": 40.0}  # issue 12, item 7
QUESTION = "新员工试用期是多长时间？"  # answered by data/employee_handbook_zh.docx


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def one_start(home: Path, question: str, timeout_s: float, label: str) -> dict:
    from playwright.sync_api import sync_playwright

    from bench.scale_bench import CHROMIUM, CHROMIUM_ARGS, _free_port
    from docchat.settings import get_settings
    from ui.chat_page import CURSOR
    from ui.i18n import STRINGS

    port = _free_port()
    env = dict(os.environ, DOCCHAT_HOME=str(home), DOCCHAT_MODELS_DIR=str(get_settings().models_dir),
               DOCCHAT_SERVER_PORT=str(port), DOCCHAT_LANG="zh", HF_HUB_OFFLINE="1",
               ANONYMIZED_TELEMETRY="False")
    log_path = Path(tempfile.mkstemp(prefix="docchat-cold-start-", suffix=".log")[1])
    url = f"http://127.0.0.1:{port}"
    out: dict = {"run": label}
    started = time.perf_counter()

    def since() -> float:
        return round(time.perf_counter() - started, 2)

    with log_path.open("w") as log_file:
        # Its own process group: make, run.sh and the server it execs are stopped together.
        proc = subprocess.Popen(["make", "run"], cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + timeout_s  # for the whole run, answer included
        wait_until_serving(url, proc, timeout_s, log_path, poll_s=0.2)
        out["health_s"] = since()
        busy = [STRINGS[key]["zh"] for key in ("thinking", "checking")]
        evidence_head = STRINGS["evidence"]["zh"].split("（")[0]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout_s * 1000)
            page.goto(url)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for()
            page.locator("[data-testid=stStatusWidgetRunningIcon]").wait_for(state="detached")
            out["page_ready_s"] = since()
            out["models_loading_shown"] = STRINGS["models_loading"]["zh"] in page.inner_text("body")
            box.fill(question)
            box.press("Enter")
            out["asked_s"] = since()
            assistant = page.locator("[data-testid=stChatMessage]:has([data-testid=stChatMessageAvatarAssistant])")
            calm = 0
            while time.time() < deadline:
                text = assistant.first.inner_text() if assistant.count() else ""
                if "evidence_s" not in out and evidence_head in text:
                    out["evidence_s"] = since()
                body = text.replace(CURSOR, "")
                answer_text = "\n".join(line for line in body.splitlines()
                                        if line.strip() and evidence_head not in line and not any(b in line for b in busy))
                if "first_text_s" not in out and CURSOR in text and answer_text:
                    out["first_text_s"] = since()
                running = page.locator("[data-testid=stStatusWidgetRunningIcon]").count() > 0
                done = answer_text and CURSOR not in text and not running and not any(b in text for b in busy)
                calm = calm + 1 if done else 0
                if calm >= 4:  # a second of calm at 0.25 s polls
                    break
                page.wait_for_timeout(250)
            else:
                raise TimeoutError(f"no complete answer {timeout_s:.0f} s after make run")
            out["answer_s"] = round(since() - 0.75, 2)  # when the calm began
            out.setdefault("first_text_s", out["answer_s"])  # an answer that came whole (e.g. the FAQ)
            # without the icons' ligature names (smart_toy, content_copy, ...) that inner_text reads out
            out["answer_head"] = " ".join(line for line in assistant.first.inner_text().splitlines()
                                          if line.strip() and not re.fullmatch(r"[a-z_]+", line.strip()))[:160]
            browser.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out["log_tail"] = log_path.read_text(errors="replace")[-600:]
    log_path.unlink(missing_ok=True)
    for key, goal in GOALS.items():
        out[f"{key}_met"] = out.get(key) is not None and out[key] <= goal
    log(f"{label}: health {out['health_s']} s, page ready {out['page_ready_s']} s, evidence {out.get('evidence_s')} s, "
        f"first text {out['first_text_s']} s, answer {out['answer_s']} s; models loading shown: "
        f"{out['models_loading_shown']}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from bench.scale_bench import browser_available

    if not browser_available():
        log("no Chromium/Playwright here: cold start not measured")
        return 0
    machine = machine_facts()
    home = Path(tempfile.mkdtemp(prefix="docchat-cold-home-"))
    try:
        runs = [one_start(home, args.question, args.timeout, "first start: empty knowledge base"),
                one_start(home, args.question, args.timeout, "restart: knowledge base built")]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    write_json(args.out, {"benchmark": "cold_start_bench", "command": command_line("bench.cold_start_bench", argv),
                          "machine": finish_facts(machine), "question": args.question, "goals": GOALS, "runs": runs})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
