"""Benchmark (not a test): what the first answer token waits for, lever by lever.

On a CPU the first token waits for the prompt's prefill: its new tokens divided by the model's
prefill speed. This bench builds the answer prompt exactly as the chain does
(chains.prompts.grounded_prompt on the app's retrieval) for the law dev questions, for each
lever (passages given to the model, characters each passage is focused to), and reports:
- prompt tokens (the model's own chat template and tokenizer) and the tokens llama.cpp must read
  anew (it keeps the longest common prefix of the previous prompt: the fixed instructions);
- the floor of the first token: new tokens / prefill speed, the speed measured in this run on the
  same model;
- a quality guard that needs no generation: the share of answerable questions whose key fact
  (bench.eval_answers.key_facts) is still in the prompt's passages.

    .venv/bin/python -m bench.prompt_budget [--home DIR] [--limit N] [--model 1.5b]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, command_line, finish_facts, machine_facts, write_json
from bench.eval_answers import has_key_fact, key_facts, sample
from bench.eval_chunking import load_jsonl
from bench.eval_rag import EVAL
from bench.render_laws import load_laws, render_laws, shortest_laws
from vectorstore import KBConfig, KnowledgeBase

DEFAULT_OUT = RESULTS / "prompt_budget.json"
# (k, characters per passage); a tuple tapers the budget by rank (chains.prompts.rank_budget).
LEVERS = [(5, None), (5, 300), (5, 200), (5, 150), (5, (300, 200, 150)), (5, (300, 150, 100)), (5, (200, 150, 100)),
          (4, 300), (4, 200), (3, 300), (3, 200), (3, 150)]
GOAL_FIRST_TOKEN_S = 4.0


def prefill_speed(llama, text: str, repeats: int = 2) -> float:
    """Tokens per second of a cold prefill (no cached prefix) of ``text`` on this model."""
    tokens = llama.tokenize(text.encode("utf-8"))
    best = float("inf")
    for _ in range(repeats):
        llama.reset()
        start = time.perf_counter()
        llama.eval(tokens)
        best = min(best, time.perf_counter() - start)
    llama.reset()
    return len(tokens) / best


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", type=int, default=None, help="only the N shortest laws (quick run)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sampled items")
    parser.add_argument("--model", default="1.5b")
    parser.add_argument("--home", type=Path, default=None, help="DOCCHAT_HOME holding (or to hold) the law KB")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from chains.language import question_language
    from chains.prompts import grounded_prompt
    from docchat.settings import get_settings
    from llm.factory import make_llm
    from vectorstore.retrievers import HybridRetriever

    laws = load_laws()
    names = shortest_laws(laws, args.laws) if args.laws else list(laws)
    items = [i for i in sample(load_jsonl(EVAL / "questions_dev.jsonl"), set(names))
             if i["type"] not in ("unanswerable", "followup")][: args.limit]
    machine = machine_facts()
    home = args.home or Path(tempfile.mkdtemp(prefix="docchat-prompt-budget-"))
    kb = KnowledgeBase("laws", KBConfig(home=home))
    kb.ingest([Path(item.files["docx"]) for item in render_laws(names)])  # no-op when stored
    llm = make_llm(get_settings(), llm="gguf", gguf_model=args.model, temperature=0.0)
    shared = llm.shared()

    def tokens_of(prompt: str) -> list[int]:
        shared.prompt_tokens([{"role": "user", "content": prompt}])  # loads the template
        text = shared._formatter(messages=[{"role": "user", "content": prompt}]).prompt  # noqa: SLF001
        return shared.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    retriever = HybridRetriever(kb=kb, k=max(k for k, _ in LEVERS))
    found = []
    for item in items:
        start = time.perf_counter()
        hits = retriever.retrieve_hits(item["question"])
        found.append((item, hits, time.perf_counter() - start))
    sample_text = grounded_prompt(found[0][0]["question"], found[0][1], "zh", None, None)
    speed = prefill_speed(shared.llama, sample_text)
    retrieve_s = statistics.median(s for _, _, s in found)

    rows = []
    for k, chars in LEVERS:
        totals, new, kept, previous = [], [], [], None
        for item, hits, _ in found:
            lang = question_language(item["question"])
            prompt = grounded_prompt(item["question"], hits[:k], lang, None, chars)
            tokens = tokens_of(prompt)
            totals.append(len(tokens))
            new.append(len(tokens) - (common_prefix(previous, tokens) if previous else 0))
            previous = tokens
            facts = key_facts(item["answer"], item["question"])
            kept.append(has_key_fact(prompt.split("资料:")[-1] if "资料:" in prompt else prompt, facts))
        median_new = statistics.median(new[1:] or new)
        floor = median_new / speed + retrieve_s
        rows.append({"k": k, "passage_chars": list(chars) if isinstance(chars, tuple) else chars, "prompt_tokens_median": statistics.median(totals),
                     "new_tokens_median": median_new, "first_token_floor_s": round(floor, 2),
                     "key_fact_in_prompt": round(sum(kept) / len(kept), 3),
                     "meets_goal": floor <= GOAL_FIRST_TOKEN_S})
        print(f"k={k} chars={chars}: prompt {statistics.median(totals):.0f} tokens, new {median_new:.0f}, "
              f"first-token floor {floor:.1f} s, key fact in prompt {sum(kept) / len(kept):.2f}", flush=True)
    kb.close()
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)
    data = {"benchmark": "prompt_budget", "command": command_line("bench.prompt_budget", argv),
            "model": args.model, "questions": len(found), "prefill_tokens_per_s": round(speed, 1),
            "retrieve_s_median": round(retrieve_s, 3), "goal_first_token_s": GOAL_FIRST_TOKEN_S,
            "machine": machine, "rows": rows}
    finish_facts(data)
    write_json(args.out, data)
    print(f"prefill {speed:.0f} tokens/s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
