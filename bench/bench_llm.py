"""Benchmark of the embedded GGUF models (not a test): load time, time to first token, tokens/s
and peak RSS for the 0.5B and 1.5B models on a ~1,000-token Chinese retrieval-style prompt.

Each model runs in its own subprocess so its peak RSS is clean. Per model it measures:
  cold   - a fresh 1,000-token prompt (nothing cached): the TTFT a user sees for a new context;
  warm   - the same context with a different question at the end: llama.cpp reuses the evaluated
           common prefix (the prompt-cache lever for a fixed prefix such as system prompt + context).
Prints a table and writes bench/results/bench_llm.json with the machine's facts.

Usage: .venv/bin/python bench/bench_llm.py [--models 0.5b 1.5b] [--n-batch 512] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results" / "bench_llm.json"
PROMPT_TOKENS = 1000
NEW_TOKENS = 128

SYSTEM = "你是公司内部知识库助手。只根据给出的资料回答问题，并用[编号]标注出处；资料中没有的内容请直接说不知道。"
PARAGRAPHS = [
    "员工手册规定，公司实行标准工时制度，每周工作五天，每天工作八小时。上班时间为上午九点至下午六点，中午十二点至一点为午休时间。员工因工作需要加班的，应提前在人力资源系统中提交加班申请，经部门负责人批准后方可计入加班时长。",
    "年假按照员工在本公司的累计工作年限计算：工作满一年不满十年的，年休假五天；满十年不满二十年的，年休假十天；满二十年的，年休假十五天。年假原则上应在当年休完，确因工作原因未休完的，可顺延至次年三月底。",
    "差旅报销须在出差结束后十五个工作日内提交。住宿标准为一线城市每晚不超过六百元，其他城市每晚不超过四百元。高铁二等座、飞机经济舱可直接报销，乘坐头等舱或商务舱须事先获得分管副总裁书面批准。",
    "信息安全方面，员工不得将公司文件上传至个人网盘，不得在公共场所讨论客户信息。电脑离开座位时必须锁屏，密码每九十天更换一次，且不得与最近五次使用过的密码相同。发现可疑邮件应立即转发给信息安全部门。",
    "办公用品由行政部统一采购，员工可在每月第一周通过企业微信提交领用申请。打印纸存放在三楼储物间，如打印机出现故障，请联系行政部小王，分机号八零二一。会议室可在企业微信的小程序中预订，单次最长四小时。",
    "新员工入职第一周须完成信息安全培训、消防安全培训以及企业文化培训，培训结束后在学习平台上参加考试，八十分以上为合格。试用期一般为三个月，表现优秀者可申请提前转正，由直属上级和人力资源部共同评估。",
    "公司每年组织一次全员体检，时间通常安排在每年的九月至十月之间。体检机构由人力资源部统一联系，员工可在规定时间内自行预约。家属体检可享受团体价格，费用由员工个人承担。",
    "绩效考核每半年进行一次，分为目标设定、中期回顾和年终评估三个阶段。考核结果分为优秀、良好、合格和待改进四个等级，结果将作为调薪、晋升和年终奖金发放的重要依据。",
]
QUESTION_COLD = "根据以上资料，请详细说明年假的计算规则、差旅住宿标准以及新员工培训的要求。"
QUESTION_WARM = "根据以上资料，公司的体检一般安排在什么时候？家属可以参加吗？"


def build_context(llama, budget: int) -> str:
    """Numbered passages, cycled, cut to ``budget`` tokens of the model's own tokenizer."""
    passages, n = [], 0
    while True:
        text = "\n".join(f"[{i + 1}] {p}" for i, p in enumerate(passages))
        if len(llama.tokenize(text.encode(), add_bos=False)) >= budget:
            return text
        passages.append(PARAGRAPHS[n % len(PARAGRAPHS)])
        n += 1


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def timed_stream(llm, prompt: str) -> dict:
    started = time.perf_counter()
    first = None
    pieces = []
    for piece in llm.stream(prompt, max_new_tokens=NEW_TOKENS):
        if first is None:
            first = time.perf_counter()
        pieces.append(piece)
    ended = time.perf_counter()
    text = "".join(pieces)
    n_tokens = len(llm.shared().llama.tokenize(text.encode(), add_bos=False, special=False))
    decode_s = ended - (first or ended)
    return {
        "ttft_s": round((first or ended) - started, 3),
        "new_tokens": n_tokens,
        "tokens_per_s": round((n_tokens - 1) / decode_s, 1) if n_tokens > 1 and decode_s > 0 else None,
        "answer_head": text[:80],
    }


def worker(model_name: str, n_batch: int, threads: int | None) -> dict:
    from docchat.settings import get_settings
    from llm.gguf import GGUFChat, machine_cores
    from llm.gguf_models import MODELS, verified_model_path

    model = MODELS[model_name]
    path = verified_model_path(model_name, get_settings().models_dir)
    llm = GGUFChat(
        model_path=str(path), n_ctx=2048, n_threads=threads or machine_cores(), n_batch=n_batch,
        temperature=0.0, max_new_tokens=NEW_TOKENS, system_prompt=SYSTEM,
    )
    started = time.perf_counter()
    llm.load()
    load_s = time.perf_counter() - started
    llama = llm.shared().llama
    context = build_context(llama, PROMPT_TOKENS - 60)
    prompt_cold = f"资料：\n{context}\n\n问题：{QUESTION_COLD}"
    prompt_warm = f"资料：\n{context}\n\n问题：{QUESTION_WARM}"
    # System + user text; the chat template adds about 20 more.
    prompt_tokens = len(llama.tokenize((SYSTEM + prompt_cold).encode(), add_bos=False))
    cold = timed_stream(llm, prompt_cold)
    warm = timed_stream(llm, prompt_warm)
    return {
        "model": model_name,
        "file": model.file_name,
        "threads": llm.n_threads,
        "n_batch": n_batch,
        "prompt_tokens_user": prompt_tokens,
        "load_s": round(load_s, 2),
        "cold": cold,
        "warm_same_prefix": warm,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def machine_facts() -> dict:
    from bench.common import machine_facts as common_facts

    return common_facts()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["0.5b", "1.5b"])
    parser.add_argument("--n-batch", type=int, default=512)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.n_batch, args.threads), ensure_ascii=False))
        return 0

    facts = machine_facts()
    runs = []
    for name in args.models:
        cmd = [sys.executable, __file__, "--worker", name, "--n-batch", str(args.n_batch)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            return 1
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    header = f"{'model':6} {'thr':>3} {'batch':>5} {'prompt':>6} {'load s':>6} {'TTFT s':>7} {'tok/s':>6} {'warm TTFT s':>11} {'peak RSS MB':>11}"
    print(header)
    print("-" * len(header))
    for r in runs:
        print(f"{r['model']:6} {r['threads']:>3} {r['n_batch']:>5} {r['prompt_tokens_user']:>6} {r['load_s']:>6} "
              f"{r['cold']['ttft_s']:>7} {r['cold']['tokens_per_s']!s:>6} {r['warm_same_prefix']['ttft_s']:>11} "
              f"{r['peak_rss_mb']:>11}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    from bench.common import command_line, finish_facts

    tmp.write_text(json.dumps({"benchmark": "llm", "command": command_line("bench.bench_llm"),
                               "machine": finish_facts(facts), "prompt_tokens_target": PROMPT_TOKENS,
                               "new_tokens": NEW_TOKENS, "runs": runs}, ensure_ascii=False, indent=2))
    os.replace(tmp, RESULTS)
    print(f"written {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
