#!/usr/bin/env python3
"""Benchmark: a fleet of N environments applied, diffed and destroyed in one run each, against
AWS's control-plane quotas.

    .venv/bin/python scripts/bench_fleet.py [--sizes 10,50,100] [--time-scale 20] [--latency-ms 0]
                                            [--rules-per-security-group 200]

For each size N it starts a fresh sandbox that enforces AWS's documented quotas
(`--quotas on`) with its time `--time-scale` times faster (rates and asynchronous durations
alike), seeds one MSK cluster, and writes plans/pinterest.toml with a `[cohort]` of N-1 user ids
(N environments with the base). pinfra is told the same scale (PINFRA_TIME_SCALE). It then
times `apply --all-envs`, a converged `diff --all-envs` and `destroy --all-envs`, and for each
reports:

- the wall time;
- the bound: the least time the calls the command made need under the quota table, from full
  buckets (the slowest bucket: (calls - burst) / rate), or one environment's own time alone,
  whichever is longer (a fleet cannot be quicker than its slowest member);
- their ratio;
- the throttling answers the sandbox sent (each absorbed by a retry, or surfaced as a failure);
- how busy the sandbox was: its CPU time over the wall time. The sandbox is one Python process;
  near 100 % it, not pinfra or the quotas, set the pace.

With --rules-per-security-group the sandbox stands for an account whose quota of rules per
security group was raised (each environment adds one to the brokers' group: more than 59
environments need it; pinfra warns). Times are in the sandbox's scaled time; multiply by the
scale for AWS's. It measures the release
build, what users run: `cargo build --release --locked` first (a no-op when current). Prints a
Markdown table. A benchmark, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import PINFRA, PYTHON, ROOT, http, pinfra_env, start_sandbox
from sandbox_ext.quotas import buckets_for  # the sandbox's table, pinfra's twin


def fleet_plan(n: int, directory: Path) -> Path:
    text = (ROOT / "plans" / "pinterest.toml").read_text()
    ids = ", ".join(f'"{0x1B2C3D4E5F00 + i:012x}"' for i in range(n - 1))
    path = directory / f"fleet-{n}.toml"
    path.write_text(f"{text}\n[cohort]\nuser_ids = [{ids}]\n" if n > 1 else text)
    zip_path = directory / "artifacts" / "confluentinc-kafka-connect-s3-10.0.3.zip"
    if not zip_path.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "sandbox_plugin_zip.py"), str(zip_path)], check=True, capture_output=True)
    return path


def bound_seconds(calls: dict[str, int], scale: float) -> float:
    """The least time `calls` (by `service:Operation`) need under the table, from full buckets."""
    per_bucket: dict[str, tuple[float, float, int]] = {}
    for key, n in calls.items():
        service, _, operation = key.partition(":")
        for bucket, rate in buckets_for(service, operation):
            per_second, burst, total = per_bucket.get(bucket, (rate.per_second() * scale, rate.burst, 0))
            per_bucket[bucket] = (per_second, burst, total + n)
    return max((max(0.0, total - burst) / per_second for per_second, burst, total in per_bucket.values()), default=0.0)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Fleet:
    def __init__(self, url: str, scale: float, pid: int) -> None:
        self.url = url
        self.pid = pid
        self.env = pinfra_env(url, PINFRA_TIME_SCALE=str(scale))
        self.scale = scale

    def run(self, args: list[str], ok: tuple[int, ...] = (0,)) -> dict[str, Any]:
        before = http(f"{self.url}/_sandbox/quotas")
        cpu = cpu_seconds(self.pid)
        started = time.perf_counter()
        done = subprocess.run([str(PINFRA), *args], env=self.env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        busy = (cpu_seconds(self.pid) - cpu) / wall
        failed = done.stdout.count("  FAILED  ")
        if done.returncode not in ok:
            # A fleet run reports its environments' failures: recorded, not fatal.
            print(f"pinfra {' '.join(args[:2])} exited {done.returncode}:\n{done.stderr[-1500:]}", file=sys.stderr)
            # Each failed environment's line of the summary: its cause.
            for line in [line for line in done.stdout.splitlines() if "  FAILED  " in line][:10]:
                print(f"  {line[:300]}", file=sys.stderr)
        after = http(f"{self.url}/_sandbox/quotas")
        calls = delta(after["calls"], before["calls"])
        throttled = delta(after["throttled"], before["throttled"])
        return {"wall": wall, "calls": sum(calls.values()), "quota_bound": bound_seconds(calls, self.scale), "throttled": throttled, "busy": busy, "failed": failed}


def measure(n: int, scale: float, latency_ms: int, workdir: Path, rules_per_group: int | None = None) -> list[dict[str, Any]]:
    process, url = start_sandbox(["--quiet", "--quotas", "on", "--time-scale", str(scale), "--latency-ms", str(latency_ms)], workdir / f"sandbox-{n}.log")
    try:
        if rules_per_group is not None:
            # An account that asked Service Quotas for more rules per security group.
            http(f"{url}/_sandbox/ec2/settings", "POST", {"rules_per_security_group": rules_per_group})
        subprocess.run([str(PYTHON), str(ROOT / "scripts" / "sandbox_seed.py"), "--endpoint", url, "cluster", "pinterest-msk-cluster"], check=True, capture_output=True)
        fleet = Fleet(url, scale, process.pid)
        # One environment alone: what no fleet can beat.
        single = fleet_plan(1, workdir)
        alone = {
            "apply": fleet.run(["apply", "-q", "--auto-approve", str(single)])["wall"],
            "diff": fleet.run(["diff", "-q", str(single)])["wall"],
            "destroy": fleet.run(["destroy", "-q", "--auto-approve", str(single)])["wall"],
        }
        plan = fleet_plan(n, workdir)
        rows: list[dict[str, Any]] = []
        for command, args, ok in [
            ("apply", ["apply", "-q", "--all-envs", "--auto-approve", str(plan)], (0,)),
            ("diff", ["diff", "-q", "--all-envs", str(plan)], (0,)),
            ("destroy", ["destroy", "-q", "--all-envs", "--auto-approve", str(plan)], (0,)),
        ]:
            result = fleet.run(args, ok)
            bound = max(result["quota_bound"], alone[command])
            row = {"size": n, "command": command, **result, "alone": alone[command], "bound": bound, "ratio": result["wall"] / bound}
            rows.append(row)
            print(f"  {n} environments: {command} {result['wall']:.1f}s (bound {bound:.1f}s)", file=sys.stderr)
            print(table_row(row), flush=True)
        return rows
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100", help="environments per fleet, comma-separated")
    parser.add_argument("--time-scale", type=float, default=20.0, help="the sandbox's and pinfra's speed-up of AWS's time")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every sandbox call")
    parser.add_argument(
        "--rules-per-security-group",
        type=int,
        default=None,
        help="the account's raised quota of rules per security group (AWS's default, 60, holds 59 environments and the base's rule)",
    )
    args = parser.parse_args()
    print("building the release binary (cargo build --release --locked)", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "pinfra"], cwd=ROOT, check=True)
    print(f"Fleets on one cluster, sandbox quotas on, time scale {args.time_scale:g} (seconds are scaled; x{args.time_scale:g} for AWS), release build:\n")
    print("| environments | command | wall | quota bound | one env alone | ratio to bound | calls | sandbox busy | throttling answers | failed |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            measure(size, args.time_scale, args.latency_ms, Path(tmp), args.rules_per_security_group)
    return 0


def table_row(r: dict[str, Any]) -> str:
    throttled = ", ".join(f"{k} {v}" for k, v in sorted(r["throttled"].items())) or "none"
    return (
        f"| {r['size']} | {r['command']} | {r['wall']:.1f} s | {r['quota_bound']:.1f} s | {r['alone']:.1f} s"
        f" | {r['ratio']:.2f} | {r['calls']} | {r['busy']:.0%} | {throttled} | {r['failed']} |"
    )


if __name__ == "__main__":
    sys.exit(main())
