#!/usr/bin/env python3
"""Benchmark: the release binary users install: its size, and how long it takes to start.

    .venv/bin/python scripts/bench_binary.py [--runs 20]

It builds the release binary (`cargo build --release --locked`, a no-op when current; the
profile in Cargo.toml: thin LTO, symbols stripped), then reports:

- its size on disk;
- `pinfra --version`: the process's whole life, from exec to exit (clap parses, nothing else);
- `pinfra validate plans/pinterest.toml`: parsing and checking the shipped plan, with its
  plugin zip inspected, no AWS call.

Each is run once first (the first run after the build, its pages not yet all in memory: the
"cold" start this machine can show without dropping the page cache, which a container may
not), then `--runs` more times: median, fastest, slowest. A benchmark, not a test: it asserts
nothing about time.
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

from bench_common import PINFRA, ROOT


def timed(args: list[str], cwd: Path) -> float:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    start = time.perf_counter()
    result = subprocess.run([str(PINFRA), *args], cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"pinfra {' '.join(args)} exited {result.returncode}:\n{result.stderr.decode(errors='replace')}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print("building the release binary (cargo build --release --locked)", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "pinfra"], cwd=ROOT, check=True)
    size = PINFRA.stat().st_size
    version = subprocess.run([str(PINFRA), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plan = workdir / "pinterest.toml"
        plan.write_text((ROOT / "plans" / "pinterest.toml").read_text())
        zip_path = workdir / "artifacts" / "confluentinc-kafka-connect-s3-10.0.3.zip"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "sandbox_plugin_zip.py"), str(zip_path)], check=True, capture_output=True)
        print(f"`{version}`, {size:,} bytes ({size / 2**20:.1f} MiB)\n")
        print("| command | first run | median | fastest | slowest | runs |")
        print("|---|---:|---:|---:|---:|---:|")
        for command in (["--version"], ["validate", str(plan)]):
            first = timed(command, workdir)
            times = [timed(command, workdir) for _ in range(args.runs)]
            shown = " ".join(command).replace(str(plan), "plans/pinterest.toml")
            print(
                f"| `pinfra {shown}` | {first * 1000:.1f} ms | {statistics.median(times) * 1000:.1f} ms"
                f" | {min(times) * 1000:.1f} ms | {max(times) * 1000:.1f} ms | {args.runs} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
