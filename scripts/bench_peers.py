#!/usr/bin/env python3
"""Benchmark: confirming that nothing changed, by pinfra and by two peers, through the same latency.

    .venv/bin/python scripts/bench_peers.py [--runs 10] [--latency-ms 20] [--binary PATH] [--no-build] [--calls]

Issue 16, goal 5. It starts a sandbox with a fixed latency added to every AWS call, seeds the
MSK cluster and applies plans/pinterest.toml with pinfra (setup, not measured). Then, --runs
times each, in turn, on that converged environment:

* `pinfra diff` of the plan (exit 0: no changes);
* an AWS CLI script, scripts/peers/check.sh: one `aws` process per read, and a comparison of
  key settings of each resource with the plan's values (exit 0: all equal);
* an Ansible playbook, scripts/peers/converged.yml, run with --check: the resources that the
  amazon.aws modules declare, and reads with asserts for the rest they can reach (changed=0 and
  exit 0: converged).

It reports the median, fastest and slowest wall time of each, the AWS calls of one run (the
sandbox's log), and how many processes each starts. Last, a drift check: an extra ingress rule
on the Kafka client's security group, which each of the three must report. The peers are
installed into their own venv, .venv-peers/, from scripts/peers/requirements.txt (only when it
is missing or the pins changed). Prints a Markdown table.

This is a benchmark, not a test: it asserts nothing about time. Figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_common import PINFRA, PYTHON, ROOT, http, pinfra_env, start_sandbox
from bench_topics import plan_with_topics

PEERS = ROOT / "scripts" / "peers"
VENV = ROOT / ".venv-peers"
REQUIREMENTS = PEERS / "requirements.txt"
CHECK_SCRIPT = PEERS / "check.sh"
PLAYBOOK = PEERS / "converged.yml"
PLUGIN_ZIP = Path("artifacts") / "confluentinc-kafka-connect-s3-10.0.3.zip"  # beside the plan copy


def ensure_venv() -> None:
    """Creates .venv-peers and installs the pinned peers, unless the stamp says they are there."""
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    python = VENV / "bin" / "python"
    usable = python.exists() and subprocess.run([str(python), "-c", "import sys"], capture_output=True).returncode == 0
    if usable and stamp.exists() and stamp.read_text().strip() == want:
        return
    if not usable:
        print(f"creating {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    print(f"installing {REQUIREMENTS.relative_to(ROOT)} into {VENV.name}", file=sys.stderr)
    stamp.unlink(missing_ok=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)]
    subprocess.run(pip, check=True)
    stamp.write_text(want + "\n")


def peer_env(tmp: Path) -> dict[str, str]:
    """The peers' environment: dummy keys, no shared config files, no instance metadata, the peers'
    venv first on PATH; Ansible's state kept in `tmp`. The endpoint is given on each command line."""
    return {
        "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp),
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "ANSIBLE_HOME": str(tmp / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible" / "tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": str(VENV / "bin" / "python"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "1",
    }


@dataclass
class Run:
    code: int
    wall_s: float
    output: str
    calls: list[dict[str, Any]]
    aws_processes: int  # the CLI script's `aws` invocations
    changed: int | None  # Ansible's recap


@dataclass
class Tool:
    name: str
    kind: str  # "pinfra", "cli" or "ansible"
    command: list[str]
    env: dict[str, str]
    times: list[float] = field(default_factory=list)
    last: Run | None = None  # the last converged run

    def converged(self, run: Run) -> bool:
        """Nothing changed: exit 0 (`pinfra diff`: no changes; the script: all equal), and for the
        playbook also changed=0."""
        return run.code == 0 and run.changed in (None, 0)

    def drifted(self, run: Run) -> bool:
        """A change reported as such: `pinfra diff` exits 2, the script 1, the playbook has changed>0."""
        if self.kind == "ansible":
            return run.code == 0 and (run.changed or 0) > 0
        return run.code == {"pinfra": 2, "cli": 1}[self.kind]

    def run(self, url: str, workdir: Path) -> Run:
        """Runs the tool once against a fresh call log."""
        aws_log = workdir / "aws-invocations.log"
        aws_log.write_text("")
        http(f"{url}/_sandbox/calls/reset", "POST", {})
        started = time.perf_counter()
        result = subprocess.run(self.command, env={**self.env, "AWS_LOG": str(aws_log)}, cwd=workdir, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout)
        return Run(
            code=result.returncode,
            wall_s=wall,
            output=(result.stdout + result.stderr)[-4000:],
            calls=http(f"{url}/_sandbox/calls")["calls"],
            aws_processes=len(aws_log.read_text().splitlines()),
            changed=int(recap.group(1)) if recap else None,
        )

    def processes(self) -> str:
        if self.kind == "pinfra":
            return "1"
        if self.kind == "cli":
            return f"{self.last.aws_processes if self.last else '?'} `aws`"
        return f"1 + {module_tasks()} module runs"


def module_tasks() -> int:
    """The playbook's tasks that run a module (each in a Python process of its own); asserts run in
    ansible-playbook itself."""
    return len(re.findall(r"^\s+(?:amazon|community)\.aws\.\w+:", PLAYBOOK.read_text(), re.MULTILINE))


def setup(url: str, binary: Path, workdir: Path) -> tuple[Path, dict[str, str]]:
    """Seeds the cluster and applies the plan; returns the plan and what the playbook's inventory holds
    (the cluster ARN, which no amazon.aws module reads, and the VPC)."""
    subprocess.run([str(PYTHON), str(ROOT / "scripts" / "sandbox_seed.py"), "--endpoint", url, "cluster", "pinterest-msk-cluster"], check=True, capture_output=True)
    http(f"{url}/_sandbox/msk/settings", "POST", {"topic_delay_ms": 0})  # setup speed: topics ACTIVE at once
    plan = plan_with_topics(0, workdir)  # the shipped plan, its stand-in plugin zip beside it
    env = pinfra_env(url, PINFRA_POLL_INTERVAL_MS="50")
    applied = subprocess.run([str(binary), "apply", "--auto-approve", str(plan)], env=env, capture_output=True, text=True, check=False)
    if applied.returncode != 0:
        sys.exit(f"setup apply failed:\n{applied.stderr}")
    outputs = json.loads(subprocess.run([str(binary), "output", "--json", str(plan)], env=env, capture_output=True, text=True, check=True).stdout)
    vpc = aws(url, workdir, "ec2", "describe-security-groups", "--group-ids", outputs["security_group_id"], "--query", "SecurityGroups[0].VpcId")
    return plan, {"endpoint": url, "cluster_arn": outputs["cluster_arn"], "vpc_id": vpc}


def aws(url: str, workdir: Path, *args: str) -> str:
    command = [str(VENV / "bin" / "aws"), "--endpoint-url", url, "--output", "text", *args]
    return subprocess.run(command, env=peer_env(workdir), capture_output=True, text=True, check=True).stdout.strip()


def measure(args: argparse.Namespace, workdir: Path) -> tuple[list[Tool], str]:
    process, url = start_sandbox(["--latency-ms", str(args.latency_ms)], workdir / "sandbox.log")
    try:
        plan, inventory = setup(url, args.binary, workdir)
        extra_vars = [item for key, value in inventory.items() for item in ("-e", f"{key}={value}")]
        tools = [
            Tool("`pinfra diff`", "pinfra", [str(args.binary), "diff", str(plan)], pinfra_env(url)),
            Tool("AWS CLI script", "cli", ["bash", str(CHECK_SCRIPT), url, str(workdir / PLUGIN_ZIP)], peer_env(workdir)),
            Tool("`ansible-playbook --check`", "ansible", [str(VENV / "bin" / "ansible-playbook"), "--check", *extra_vars, str(PLAYBOOK)], peer_env(workdir)),
        ]
        # In turn, run by run: a change of load on the machine falls on all three alike.
        for number in range(1, args.runs + 1):
            for tool in tools:
                run = tool.run(url, workdir)
                if not tool.converged(run):
                    sys.exit(f"{tool.name} did not find the environment converged (run {number}, exit {run.code}, changed={run.changed}):\n{run.output}")
                tool.times.append(run.wall_s)
                tool.last = run
            print(f"run {number}/{args.runs} done", file=sys.stderr)
        # Drift: each must report an ingress rule that the plan does not have.
        group = aws(url, workdir, "ec2", "describe-security-groups", "--filters", "Name=group-name,Values=0a1b2c3d4e5f-kafka-client", "--query", "SecurityGroups[0].GroupId")
        aws(url, workdir, "ec2", "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
        seen = []
        for tool in tools:
            run = tool.run(url, workdir)
            if not tool.drifted(run):
                sys.exit(f"{tool.name} missed an extra ingress rule on the client's security group (exit {run.code}, changed={run.changed}):\n{run.output}")
            seen.append(f"{tool.name} " + (f"reported changed={run.changed}" if tool.kind == "ansible" else f"exited {run.code}"))
        drift = "Drift check: with an extra ingress rule (TCP 22) on the Kafka client's security group, " + ", ".join(seen) + "."
        return tools, drift
    finally:
        process.terminate()
        process.wait(timeout=10)


def call_name(call: dict[str, Any]) -> str:
    """`service:operation`; for S3, whose sub-resources are queries, with its query's keys."""
    name = f"{call['service']}:{call['operation'].split('?')[0]}"
    if call["service"] == "s3" and call["query"]:
        name += " ?" + "&".join(part.split("=")[0] for part in call["query"].split("&"))
    return name


def versions() -> str:
    aws_version = subprocess.run([str(VENV / "bin" / "aws"), "--version"], capture_output=True, text=True, check=True)
    manifest = VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "ansible_collections" / "amazon" / "aws" / "MANIFEST.json"
    collection = json.loads(manifest.read_text())["collection_info"]["version"] if manifest.exists() else "?"
    core = subprocess.run([str(VENV / "bin" / "python"), "-c", "import ansible.release as r; print(r.__version__)"], capture_output=True, text=True, check=True)
    return f"{(aws_version.stdout or aws_version.stderr).split()[0]}; ansible-core {core.stdout.strip()} with amazon.aws {collection}"


def notes(tool: Tool) -> str:
    if tool.kind == "pinfra":
        return "its 13 resources (3 of them topics), all their settings, and the 5 network paths it reports (subnets, gateways, route tables, NACLs)"
    if tool.kind == "cli":
        return "the same 13 resources (topics by `aws kafka list-topics`), a few key settings each; one call after another, each a Python process"
    return (
        f"changed={tool.last.changed if tool.last else '?'}; declares role, inline policy, instance profile and both security groups; reads and asserts bucket,"
        " S3 endpoint, instance and REST API (no stage or routes); no MSK topic or MSK Connect module: left out"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--binary", type=Path, default=PINFRA, help="the pinfra to measure (default: the repo's release build)")
    parser.add_argument("--no-build", action="store_true", help="do not run `cargo build --release --locked` first")
    parser.add_argument("--calls", action="store_true", help="also list each tool's AWS calls of one run, by service and operation")
    args = parser.parse_args()
    args.binary = args.binary.resolve()
    if not args.no_build:
        print("building the release binary (cargo build --release --locked)", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "pinfra"], cwd=ROOT, check=True)
    ensure_venv()
    with tempfile.TemporaryDirectory() as tmp:
        tools, drift = measure(args, Path(tmp))
    print(f"Confirming that nothing changed, sandbox latency {args.latency_ms} ms per call, {args.runs} runs each ({versions()}):\n")
    print("| tool | median | fastest | slowest | AWS calls | processes | note |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for tool in tools:
        assert tool.last is not None
        print(
            f"| {tool.name} | {statistics.median(tool.times):.2f} s | {min(tool.times):.2f} s | {max(tool.times):.2f} s"
            f" | {len(tool.last.calls)} | {tool.processes()} | {notes(tool)} |"
        )
    print(f"\n{drift}")
    if args.calls:
        for tool in tools:
            assert tool.last is not None
            print(f"\nThe AWS calls of one converged run of {tool.name}:\n")
            for operation, count in sorted(Counter(call_name(c) for c in tool.last.calls).items()):
                print(f"- {operation}" + (f" x{count}" if count > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
