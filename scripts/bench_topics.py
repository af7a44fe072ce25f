#!/usr/bin/env python3
"""Benchmark: wall time and AWS call count of a converged `pinfra diff` with many topics.

    .venv/bin/python scripts/bench_topics.py [--latency-ms 20] [--sizes 10,100,500] [--runs 10]

For each size N it starts a fresh sandbox with a fixed latency added to every AWS call, seeds
the MSK cluster, applies plans/pinterest.toml plus N generated topics (setup, not measured),
then runs `pinfra diff` --runs times on the converged environment and reports the median,
fastest and slowest wall time, pinfra's peak resident memory (the kernel's count for the process,
from wait4), the number of AWS calls of one diff (by service and operation, with --calls), and
how many of them were MSK topic calls; with several sizes, each one's median against the first's. It measures the release build, what users run: it runs
`cargo build --release --locked` first (a no-op when target/release is current). Prints a
Markdown table.

This is a benchmark, not a test: it asserts nothing about time. Figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import PINFRA, PYTHON, ROOT, http, pinfra_env, start_sandbox


def plan_with_topics(n: int, directory: Path) -> Path:
    text = (ROOT / "plans" / "pinterest.toml").read_text()
    extra = "".join(f'\n[[topics]]\nname = "{{user_id}}.bench-{i:04d}"\npartitions = 1\nreplication_factor = 2\n' for i in range(n))
    path = directory / f"bench-{n}.toml"
    path.write_text(text + extra)
    # The plan names its connector's plugin zip relative to itself: a stand-in beside it.
    zip_path = directory / "artifacts" / "confluentinc-kafka-connect-s3-10.0.3.zip"
    if not zip_path.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "sandbox_plugin_zip.py"), str(zip_path)], check=True, capture_output=True)
    return path


def pinfra(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PINFRA), *args], env=env, capture_output=True, text=True, check=False)


def timed_pinfra(args: list[str], env: dict[str, str], workdir: Path) -> tuple[int, float, int]:
    """Runs pinfra once: its exit code, wall time in seconds and peak resident memory in KiB (the
    kernel's count for that one process, from wait4)."""
    with (workdir / "out.txt").open("w") as out, (workdir / "err.txt").open("w") as err:
        started = time.perf_counter()
        process = subprocess.Popen([str(PINFRA), *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, wall, usage.ru_maxrss


def measure(n: int, latency_ms: int, runs: int, workdir: Path) -> dict[str, Any]:
    process, url = start_sandbox(["--latency-ms", str(latency_ms)], workdir / f"sandbox-{n}.log")
    try:
        env = pinfra_env(url, PINFRA_POLL_INTERVAL_MS="50")
        subprocess.run([str(PYTHON), str(ROOT / "scripts" / "sandbox_seed.py"), "--endpoint", url, "cluster", "pinterest-msk-cluster"], check=True, capture_output=True)
        # Setup, not measured: topics become ACTIVE at once.
        http(f"{url}/_sandbox/msk/settings", "POST", {"topic_delay_ms": 0})
        plan = plan_with_topics(n, workdir)
        setup = pinfra(["apply", "--auto-approve", str(plan)], env)
        if setup.returncode != 0:
            sys.exit(f"setup apply failed for {n} topics:\n{setup.stderr}")
        times = []
        peaks = []
        calls: list[dict[str, Any]] = []
        for _ in range(runs):
            http(f"{url}/_sandbox/calls/reset", "POST", {})
            code, wall, peak_kib = timed_pinfra(["diff", str(plan)], env, workdir)
            times.append(wall)
            peaks.append(peak_kib)
            if code != 0:
                output = (workdir / "out.txt").read_text() + (workdir / "err.txt").read_text()
                sys.exit(f"diff of the converged environment did not exit 0 for {n} topics:\n{output}")
            calls = http(f"{url}/_sandbox/calls")["calls"]
        topic_calls = [c for c in calls if c["service"] == "kafka" and "/topics" in c["operation"]]
        return {
            "topics": n + 3,
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "peak_mib": max(peaks) / 1024,
            "calls": len(calls),
            "operations": sorted(f"{c['service']}:{c['operation'].split('?')[0]}" for c in calls),
            "topic_calls": len(topic_calls),
            "mutating": sum(1 for c in calls if c["mutating"]),
        }
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure_startup(runs: int, workdir: Path) -> dict[str, float]:
    """`pinfra validate` of the shipped plan: parsing, checks and the plugin zip's inspection, no AWS
    call (goal 4 of issue 16)."""
    env = {"PATH": os.environ.get("PATH", ""), "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    plan = plan_with_topics(0, workdir)  # the shipped plan, its plugin zip beside it
    times, peaks = [], []
    for _ in range(runs):
        code, wall, peak_kib = timed_pinfra(["validate", str(plan)], env, workdir)
        if code != 0:
            sys.exit(f"validate failed:\n{(workdir / 'err.txt').read_text()}")
        times.append(wall)
        peaks.append(peak_kib)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "peak_mib": max(peaks) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--sizes", default="10,100,500", help="extra topics beside the plan's three, comma-separated")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--calls", action="store_true", help="also list the calls of one diff of the first size")
    args = parser.parse_args()
    print("building the release binary (cargo build --release --locked)", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "pinfra"], cwd=ROOT, check=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        startup = measure_startup(args.runs, Path(tmp))
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(size, args.latency_ms, args.runs, Path(tmp)))
            print(f"measured {size} extra topics", file=sys.stderr)
    print(f"Converged `pinfra diff`, sandbox latency {args.latency_ms} ms per call, median of {args.runs} runs (release build):\n")
    print("| topics in plan | median wall time | fastest | slowest | peak memory | AWS calls | of which topic API | mutating |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['topics']} | {r['median_s'] * 1000:.0f} ms | {r['min_s'] * 1000:.0f} ms | {r['max_s'] * 1000:.0f} ms"
            f" | {r['peak_mib']:.1f} MiB | {r['calls']} | {r['topic_calls']} | {r['mutating']} |"
        )
    if len(rows) > 1:
        first = rows[0]
        for r in rows[1:]:
            print(f"\n{r['topics']} topics take {r['median_s'] / first['median_s']:.2f} times the median of {first['topics']}.")
    print(
        f"\nStart-up: `pinfra validate plans/pinterest.toml` (no AWS call), {args.runs} runs: median {startup['median_s'] * 1000:.1f} ms,"
        f" fastest {startup['min_s'] * 1000:.1f} ms, slowest {startup['max_s'] * 1000:.1f} ms, peak memory {startup['peak_mib']:.1f} MiB."
    )
    if args.calls and rows:
        print(f"\nThe calls of one diff with {rows[0]['topics']} topics:\n")
        for operation in rows[0]["operations"]:
            print(f"- {operation}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
