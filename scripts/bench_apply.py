#!/usr/bin/env python3
"""Benchmark: a cold `pinfra apply` against its critical path, and the polling of a 10-minute connector creation.

    .venv/bin/python scripts/bench_apply.py [--runs 10] [--latency-ms 20] [--part apply|connector|both]
                                            [--no-build] [--binary PATH]

Part `apply`: --runs times, a fresh sandbox with --latency-ms added to every AWS call, the MSK
cluster seeded, and the asynchronous delays of AWS stood in for by the sandbox's settings
(custom plugin 2 s to ACTIVE, connector 4 s to RUNNING, EC2 instance states 1.5 s, instance
profile propagation 1 s, topics 0.5 s). plans/pinterest.toml (with a stand-in plugin zip) is
applied to the empty environment: `pinfra apply --auto-approve`, timed. Before it, a `pinfra
diff` (not measured) warms the sandbox up: moto loads a service's backend on its first call,
~0.4 s of one-time cost real AWS does not have. Reported: the wall time (median, fastest,
slowest), the AWS calls of the apply, and the reads made while applying (after the first write
that is not the lock's): the polls of DescribeCustomPlugin, DescribeConnector, DescribeInstances
and DescribeTopic, and the RunInstances attempts (EC2 refuses an instance profile younger than
the propagation delay).

The critical-path bound is the least time the apply can take: the longest chain of the AWS
round trips that must follow one another (each costs the latency) and the asynchronous waits,
through pinfra's flow (docs/ARCHITECTURE.md, "The flow": discover, observe, take the lock, read
everything again under it, apply in dependency order, release the lock) and its dependency graph
("Today the plan produces these nodes"). Each of pinfra's calls counts as early as what it needs
allows: calls of one node that need nothing from each other share a round trip, and a read that
sees a state change can overlap the wait (the sandbox sleeps the latency before answering). The
table is `critical_path` below, one commented entry per step; it names the operations it
expects and the script warns when an apply did not make them (the table is then out of date).
The breakdown is printed, with the ratio median / bound.

Part `connector`: a fresh sandbox with its time 100 times faster (`--time-scale 100`: rates and
asynchronous durations), no added latency (AWS's latency, scaled, is well under a millisecond),
a connector creation of 600 s in AWS's time (6 s here), the other delays as in part `apply`.
pinfra runs with PINFRA_TIME_SCALE=100 (its polling schedule divided alike; a binary without it
polls on its own clock). Reported: the DescribeConnector reads of the apply (none happen before
CreateConnector: they are the reads made while the connector was CREATING, and the sightings of
RUNNING), the wall time and the bound the same way (its waits only: no latency), in the
sandbox's scaled seconds (x100 for AWS's; pinfra's own work and moto's are not scaled).

It measures the release build, what users run: `cargo build --release --locked` first (a no-op
when current), unless --no-build or --binary. Prints Markdown tables. A benchmark, not a test:
it asserts nothing about time. Figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_common import PINFRA, PYTHON, ROOT, http, pinfra_env, start_sandbox
from sandbox_ext.calls import Call, operation_name

# The asynchronous delays of part `apply`, in AWS's time (ms), by what they stand for.
DELAYS_MS = {"plugin": 2000, "connector": 4000, "instance_state": 1500, "profile_propagation": 1000, "topic": 500}
# Part `connector`: a 10-minute connector creation at 100 times AWS's speed.
CONNECTOR_MINUTES = 10
TIME_SCALE = 100.0
# The reads pinfra polls while it waits for a state, by operation.
POLLED = ("DescribeCustomPlugin", "DescribeConnector", "DescribeInstances", "DescribeTopic")
LOCK_BUCKET_PREFIX = "/pinfra-locks-"

# ------------------------------------------------------------------------ the sandbox's calls
# S3's REST calls by method, whether a key is named, and the sub-resource in the query: the
# sandbox's call log keeps them as "METHOD /bucket/key" (calls.operation_name leaves S3 alone).
S3_SUBRESOURCES = {
    "tagging": "BucketTagging",
    "publicAccessBlock": "PublicAccessBlock",
    "encryption": "BucketEncryption",
    "versioning": "BucketVersioning",
    "location": "BucketLocation",
    "policy": "BucketPolicy",
}
S3_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}


def s3_operation(method: str, path: str, query: str) -> str:
    bucket, _, key = path.strip("/").partition("/")
    keys = [part.split("=", 1)[0] for part in query.split("&") if part]
    if key:
        return {"HEAD": "HeadObject", "GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(method, f"{method} object")
    for sub in keys:
        if sub in S3_SUBRESOURCES and method in S3_VERBS:
            return S3_VERBS[method] + S3_SUBRESOURCES[sub]
    return {"HEAD": "HeadBucket", "GET": "ListObjects", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, f"{method} bucket")


def op_name(call: dict[str, Any]) -> str:
    """A call record's operation as its API names it."""
    if call["service"] == "s3" and call["protocol"] == "rest":
        method, _, path = call["operation"].partition(" ")
        return s3_operation(method, path, call["query"])
    return operation_name(Call(**call))


def is_lock_call(call: dict[str, Any]) -> bool:
    return call["service"] == "s3" and call["operation"].partition(" ")[2].startswith(LOCK_BUCKET_PREFIX)


def applying(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of the engine's apply: from its first write (the first that is not the lock's),
    the lock's own calls left out. The reads under the lock finish before the engine starts, and
    the log is in arrival order."""
    first = next((i for i, c in enumerate(calls) if c["mutating"] and not is_lock_call(c)), len(calls))
    return [c for c in calls[first:] if not is_lock_call(c)]


def lock_bucket_created(calls: list[dict[str, Any]]) -> bool:
    return any(is_lock_call(c) and op_name(c) == "CreateBucket" for c in calls)


# ------------------------------------------------------------------------ the critical path
@dataclass(frozen=True)
class Step:
    """Round trips that follow one another, and the asynchronous wait they overlap."""

    what: str
    round_trips: int
    why: str
    wait_ms: float = 0.0  # AWS's time; the round trips run inside it
    ops: tuple[str, ...] = ()  # the operations it stands for, checked against the calls

    def cost(self, latency_s: float, scale: float) -> float:
        return max(self.round_trips * latency_s, self.wait_ms / 1000.0 / scale)


@dataclass(frozen=True)
class Phase:
    """Steps one after the other; with several branches, they run side by side and the longest
    one counts."""

    name: str
    branches: tuple[tuple[str, tuple[Step, ...]], ...]

    def cost(self, latency_s: float, scale: float) -> tuple[float, str]:
        costs = [(sum(s.cost(latency_s, scale) for s in steps), name) for name, steps in self.branches]
        return max(costs)


def critical_path(delays: dict[str, int], fresh_lock_bucket: bool) -> list[Phase]:
    """pinfra's flow for a cold apply of plans/pinterest.toml, as phases of steps."""
    discover = (
        # The cluster's ARN first; ListCustomPlugins and ListConnectors ([connect]) ride along.
        Step("ListClustersV2 ‖ ListCustomPlugins ‖ ListConnectors", 1, "the cluster by name: its ARN and subnets", ops=("ListClustersV2",)),
        # GetBootstrapBrokers and ListTopics need the ARN; the brokers' subnets come with the
        # cluster, their VPC with DescribeSubnets (network::vpc_of).
        Step("GetBootstrapBrokers ‖ ListTopics ‖ DescribeSubnets", 1, "need the cluster's ARN and subnets", ops=("GetBootstrapBrokers", "DescribeSubnets")),
        # network::read: seven Describe* at once, all of the brokers' VPC.
        Step("the VPC's seven Describe*", 1, "need the VPC that DescribeSubnets names", ops=("DescribeRouteTables",)),
    )
    observe = (
        # Nothing exists yet: each resource's first read says so, all at once (32 at a time is
        # plenty for one read each).
        Step("every resource's read", 1, "one read each, all at once: nothing exists yet", ops=("GetRole", "GetBucketLocation")),
    )
    if fresh_lock_bucket:
        # lock::acquire: PutObject If-None-Match; a new account has no lock bucket (NoSuchBucket),
        # so it is made and closed to the public before the lock object goes in. Every run here
        # is a fresh sandbox. GetCallerIdentity (the account in the bucket's name) needs nothing
        # and could be asked during the discovery: not counted.
        lock = (
            Step("PutObject → CreateBucket → PutPublicAccessBlock → PutObject", 4, "the lock bucket made on first use in the account", ops=("CreateBucket", "PutPublicAccessBlock")),
        )
    else:
        lock = (Step("PutObject If-None-Match", 1, "the lock bucket exists", ops=("PutObject",)),)
    plugin_branch = (
        Step("CreateBucket", 1, "s3_bucket ← msk_connect_plugin: the zip goes into the bucket", ops=("CreateBucket",)),
        Step("PutBucketTagging", 1, "tags first, so a half-made bucket is still recognisably pinfra's (s3_bucket.rs)", ops=("PutBucketTagging",)),
        Step("PutPublicAccessBlock ‖ PutBucketEncryption", 1, "independent of each other once the bucket is tagged", ops=("PutBucketEncryption",)),
        Step("HeadObject", 1, "the zip is uploaded only when it is not there yet", ops=("HeadObject",)),
        Step("PutObject", 1, "the zip, which the plugin names", ops=("PutObject",)),
        Step("CreateCustomPlugin", 1, "needs the zip in the bucket", ops=("CreateCustomPlugin",)),
        # A plugin is awaited ACTIVE once (poll_until, 1 confirmation).
        Step("plugin CREATING → ACTIVE", 1, "the DescribeCustomPlugin that sees it runs inside the wait", delays["plugin"], ("DescribeCustomPlugin",)),
        # msk_connector depends on the plugin, the role (its ARN) and the cluster (brokers, subnets).
        Step("CreateConnector", 1, "needs the ACTIVE plugin, the role's ARN and the cluster's brokers", ops=("CreateConnector",)),
        Step("connector CREATING → RUNNING", 1, "the DescribeConnector that sees it runs inside the wait", delays["connector"], ("DescribeConnector",)),
        # poll_until with 2 confirmations: an answer may be stale. The ListTagsForResource pinfra
        # reads after each DescribeConnector is not counted: it could go beside it.
        Step("DescribeConnector again", 1, "RUNNING is confirmed by a second sighting (stale answers)", ops=("DescribeConnector",)),
    )
    instance_branch = (
        # The trust policy names the role itself, which IAM refuses before the role exists.
        Step("CreateRole", 1, "iam_role ← iam_instance_profile ← ec2_instance", ops=("CreateRole",)),
        Step("UpdateAssumeRolePolicy ‖ PutRolePolicy", 1, "the trust naming the role's own ARN, and the policy, need the role", ops=("UpdateAssumeRolePolicy", "PutRolePolicy")),
        Step("CreateInstanceProfile", 1, "the profile names the role", ops=("CreateInstanceProfile",)),
        # EC2 refuses a profile younger than the propagation delay; the two calls fit inside it.
        # The security group (CreateSecurityGroup, AuthorizeSecurityGroupIngress) is ready sooner.
        Step(
            "AddRoleToInstanceProfile → RunInstances",
            2,
            "RunInstances is accepted once the profile has propagated",
            delays["profile_propagation"],
            ("AddRoleToInstanceProfile", "RunInstances"),
        ),
        Step("instance pending → running", 1, "the DescribeInstances that sees it runs inside the wait", delays["instance_state"], ("DescribeInstances",)),
        Step("DescribeInstances again", 1, "running is confirmed by a second sighting (stale answers)", ops=("DescribeInstances",)),
        # ec2_instance ← apigateway_rest_api: the integration calls the instance's public DNS
        # name. Each call needs the previous one's id (API, root resource, resource, method,
        # deployment, stage).
        Step(
            "CreateRestApi → CreateResource → PutMethod → PutIntegration → CreateDeployment → CreateStage → UpdateStage",
            7,
            "each needs the one before it",
            ops=("CreateRestApi", "CreateResource", "PutMethod", "PutIntegration", "CreateDeployment", "CreateStage", "UpdateStage"),
        ),
    )
    topic_branch = (
        Step("CreateTopic", 1, "msk_cluster ← msk_topic: needs the cluster's ARN (discovered)", ops=("CreateTopic",)),
        Step("topic CREATING → ACTIVE", 1, "the DescribeTopic that sees it runs inside the wait", delays["topic"], ("DescribeTopic",)),
        Step("DescribeTopic again", 1, "ACTIVE is confirmed by a second sighting (stale answers)", ops=("DescribeTopic",)),
    )
    return [
        Phase("diff: discover", (("", discover),)),
        Phase("diff: observe", (("", observe),)),
        Phase("take the lock", (("", lock),)),
        # commands/apply.rs: everything is read again under the lock (what is applied is what is
        # there now).
        Phase("under the lock: discover", (("", discover),)),
        Phase("under the lock: observe", (("", observe),)),
        Phase(
            "apply",
            (
                ("bucket → plugin → connector", plugin_branch),
                ("role → profile → instance → API", instance_branch),
                ("topics", topic_branch),
            ),
        ),
        Phase("release the lock", (("", (Step("DeleteObject", 1, "lock::Lock::release", ops=("DeleteObject",)),)),)),
    ]


def bound_seconds(path: list[Phase], latency_s: float, scale: float) -> float:
    return sum(phase.cost(latency_s, scale)[0] for phase in path)


def unmatched_ops(path: list[Phase], calls: list[dict[str, Any]]) -> list[str]:
    """The operations the table names that the apply did not make."""
    made = {op_name(c) for c in calls}
    named = {op for phase in path for _, steps in phase.branches for step in steps for op in step.ops}
    return sorted(named - made)


def breakdown(path: list[Phase], latency_s: float, scale: float) -> str:
    """The bound as a Markdown table: every step and its cost; of a phase with branches, the
    longest one is on the path."""
    lines = [
        "| phase | branch | step | round trips | wait | cost | why |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    round_trips, waits = 0, 0.0
    for phase in path:
        _, longest = phase.cost(latency_s, scale)
        phase_label = phase.name
        for branch, steps in phase.branches:
            on_path = branch == longest
            branch_label = f"{branch} (longest)" if on_path and len(phase.branches) > 1 else branch
            for step in steps:
                wait = f"{step.wait_ms / 1000 / scale:g} s" if step.wait_ms else ""
                cost = step.cost(latency_s, scale)
                lines.append(f"| {phase_label} | {branch_label} | {step.what} | {step.round_trips} | {wait} | {cost * 1000:.0f} ms | {step.why} |")
                phase_label = branch_label = ""
                if on_path and step.round_trips * latency_s >= step.wait_ms / 1000 / scale:
                    round_trips += step.round_trips
                elif on_path:
                    waits += cost
    total = bound_seconds(path, latency_s, scale)
    summary = f"{round_trips} round trips × {latency_s * 1000:g} ms + {waits:g} s of waits"
    lines.append(f"| **bound** | | | | | **{total * 1000:.0f} ms** | {summary} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------ one apply
def prepare_plan(directory: Path) -> Path:
    path = directory / "pinterest.toml"
    shutil.copyfile(ROOT / "plans" / "pinterest.toml", path)
    # The plan names its connector's plugin zip relative to itself: a stand-in beside it.
    zip_path = directory / "artifacts" / "confluentinc-kafka-connect-s3-10.0.3.zip"
    if not zip_path.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "sandbox_plugin_zip.py"), str(zip_path)], check=True, capture_output=True)
    return path


def set_delays(url: str, delays: dict[str, int]) -> None:
    """The sandbox's asynchronous delays (AWS's time: it divides them by its time scale)."""
    http(f"{url}/_sandbox/kafkaconnect/settings", "POST", {"plugin_delay_ms": delays["plugin"], "connector_delay_ms": delays["connector"]})
    http(f"{url}/_sandbox/ec2/settings", "POST", {"state_delay_ms": delays["instance_state"], "profile_propagation_ms": delays["profile_propagation"]})
    http(f"{url}/_sandbox/msk/settings", "POST", {"topic_delay_ms": delays["topic"]})


def cold_apply(binary: Path, plan: Path, sandbox_args: list[str], delays: dict[str, int], log: Path, **env_extra: str) -> dict[str, Any]:
    """A fresh sandbox, the cluster seeded, the delays set; the apply of `plan`, timed, and its calls."""
    process, url = start_sandbox(sandbox_args, log)
    try:
        subprocess.run([str(PYTHON), str(ROOT / "scripts" / "sandbox_seed.py"), "--endpoint", url, "cluster", "pinterest-msk-cluster"], check=True, capture_output=True)
        set_delays(url, delays)
        env = pinfra_env(url, **env_extra)
        # Warm-up, not measured: moto loads each service's backend on its first call.
        warm = subprocess.run([str(binary), "diff", str(plan)], env=env, capture_output=True, text=True, check=False)
        if warm.returncode not in (0, 2):
            sys.exit(f"the warm-up diff exited {warm.returncode}:\n{warm.stderr[-2000:]}")
        http(f"{url}/_sandbox/calls/reset", "POST", {})
        started = time.perf_counter()
        done = subprocess.run([str(binary), "apply", "--auto-approve", str(plan)], env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"the apply exited {done.returncode}:\n{done.stderr[-2000:]}")
        calls: list[dict[str, Any]] = http(f"{url}/_sandbox/calls")["calls"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    engine = applying(calls)
    reads = {op: sum(1 for c in engine if not c["mutating"] and op_name(c) == op) for op in POLLED}
    return {
        "wall": wall,
        "calls": calls,
        "total": len(calls),
        "mutating": sum(1 for c in calls if c["mutating"]),
        "reads": reads,
        "run_instances": sum(1 for c in calls if op_name(c) == "RunInstances"),
        "describe_connector": sum(1 for c in calls if op_name(c) == "DescribeConnector"),
    }


# ------------------------------------------------------------------------ the two parts
def part_apply(binary: Path, runs: int, latency_ms: int, workdir: Path) -> None:
    plan = prepare_plan(workdir)
    latency_s = latency_ms / 1000.0
    results = []
    for run in range(1, runs + 1):
        result = cold_apply(binary, plan, ["--quiet", "--latency-ms", str(latency_ms)], DELAYS_MS, workdir / f"sandbox-apply-{run}.log")
        results.append(result)
        print(f"  cold apply {run}/{runs}: {result['wall']:.2f} s, {result['total']} calls", file=sys.stderr)
    path = critical_path(DELAYS_MS, all(lock_bucket_created(r["calls"]) for r in results))
    bound = bound_seconds(path, latency_s, 1.0)
    for missing in sorted({op for r in results for op in unmatched_ops(path, r["calls"])}):
        print(f"warning: the bound's table names {missing}, which an apply did not call: the table may be out of date", file=sys.stderr)
    walls = [r["wall"] for r in results]
    median = statistics.median(walls)
    delays = ", ".join(f"{k.replace('_', ' ')} {v / 1000:g} s" for k, v in DELAYS_MS.items())
    print(f"Cold `pinfra apply` of plans/pinterest.toml, sandbox latency {latency_ms} ms per call, delays: {delays}; {runs} runs (release build):\n")
    print("| runs | median wall | fastest | slowest | critical-path bound | median / bound | AWS calls (median) | mutating (median) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {runs} | {median:.2f} s | {min(walls):.2f} s | {max(walls):.2f} s | {bound:.2f} s | {median / bound:.2f}"
        f" | {statistics.median(r['total'] for r in results):g} | {statistics.median(r['mutating'] for r in results):g} |"
    )
    print("\nEach run; reads made while applying (polls), and RunInstances attempts:\n")
    print(f"| run | wall | / bound | AWS calls | {' | '.join(POLLED)} | RunInstances |")
    print(f"|---:|---:|---:|---:|{'---:|' * len(POLLED)}---:|")
    for run, r in enumerate(results, 1):
        reads = " | ".join(str(r["reads"][op]) for op in POLLED)
        print(f"| {run} | {r['wall']:.2f} s | {r['wall'] / bound:.2f} | {r['total']} | {reads} | {r['run_instances']} |")
    print(f"\nThe critical-path bound at {latency_ms} ms per round trip:\n")
    print(breakdown(path, latency_s, 1.0))
    print(flush=True)


def part_connector(binary: Path, workdir: Path) -> None:
    plan = prepare_plan(workdir)
    delays = {**DELAYS_MS, "connector": CONNECTOR_MINUTES * 60_000}
    sandbox_args = ["--quiet", "--time-scale", f"{TIME_SCALE:g}", "--latency-ms", "0"]
    result = cold_apply(binary, plan, sandbox_args, delays, workdir / "sandbox-connector.log", PINFRA_TIME_SCALE=f"{TIME_SCALE:g}")
    print(f"  simulated connector: {result['wall']:.2f} s, {result['describe_connector']} DescribeConnector", file=sys.stderr)
    bound = bound_seconds(critical_path(delays, lock_bucket_created(result["calls"])), 0.0, TIME_SCALE)
    print(
        f"A {CONNECTOR_MINUTES}-minute connector creation, sandbox and pinfra at time scale {TIME_SCALE:g} (PINFRA_TIME_SCALE), no added latency"
        f" (seconds are scaled; x{TIME_SCALE:g} for AWS's):\n"
    )
    print("| connector creation (AWS time) | wall | bound (waits only) | wall / bound | DescribeConnector reads | AWS calls |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {CONNECTOR_MINUTES} min | {result['wall']:.2f} s | {bound:.2f} s | {result['wall'] / bound:.2f} | {result['describe_connector']} | {result['total']} |")
    print(flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="cold applies of part `apply`")
    parser.add_argument("--latency-ms", type=int, default=20, help="added to every sandbox call in part `apply`")
    parser.add_argument("--part", choices=("apply", "connector", "both"), default="both")
    parser.add_argument("--no-build", action="store_true", help="use target/release/pinfra as it is")
    parser.add_argument("--binary", type=Path, help="run this pinfra instead of target/release/pinfra (implies --no-build)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: at least 1")
    binary: Path = args.binary.resolve() if args.binary else PINFRA
    if not (args.no_build or args.binary):
        print("building the release binary (cargo build --release --locked)", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "pinfra"], cwd=ROOT, check=True)
    if not binary.is_file():
        sys.exit(f"no pinfra binary at {binary}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("apply", "both"):
            part_apply(binary, args.runs, args.latency_ms, Path(tmp))
        if args.part in ("connector", "both"):
            part_connector(binary, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
