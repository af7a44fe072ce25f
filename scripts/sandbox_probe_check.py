#!/usr/bin/env python3
"""Run the sandbox probe against a private sandbox and compare its facts with the expected ones.

    .venv/bin/python scripts/sandbox_probe_check.py            # exit 1 and a diff on any change
    PINFRA_PROBE_UPDATE=1 .venv/bin/python scripts/sandbox_probe_check.py   # rewrite the file

``scripts/sandbox_probe.py`` prints one line per fact of the emulated AWS that pinfra relies on.
This starts ``scripts/sandbox.py`` on a free loopback port (with no ``PINFRA_SANDBOX_*`` setting
from the caller's environment, so every default holds), runs the probe against it, masks what
differs from run to run (times, ids, addresses, versions: see ``MASKS``) and compares the facts
with ``scripts/sandbox_probe.expected``. A difference is a change of the sandbox's behaviour: if
it is intended, rewrite the file and review its diff with the change.
"""

from __future__ import annotations

import difflib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
EXPECTED = SCRIPTS / "sandbox_probe.expected"
UPDATE_ENV = "PINFRA_PROBE_UPDATE"
START_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 600.0

# What differs from run to run, in the order applied. Each keeps the shape of what it hides, so
# that a fact whose form changes (a missing `Z`, an ARN without its suffix) still shows.
MASKS: list[tuple[re.Pattern[str], str]] = [
    # RFC 3339 / ISO 8601 times (raw wire bytes and botocore's strings).
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?"), r"<time>"),
    # botocore's parsed times.
    (re.compile(r"datetime\.datetime\(\d+(?:, \d+)*(?:, tzinfo=[\w.]+\(\))?\)"), "datetime(<time>)"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    # MSK's cluster ARN suffix: <uuid>-<n>, n 1-25 (Serverless -s<n>).
    (re.compile(r"<uuid>-(s?)\d+\b"), r"<uuid>-\1<n>"),
    # EC2 ids (vpc-, subnet-, i-, sg-, vol-, ...): 17 hex digits in moto.
    (re.compile(r"\b([a-z]+)-[0-9a-f]{17}\b"), r"\1-<id>"),
    # Public addresses and the DNS names made of them.
    (re.compile(r"\bec2-\d+-\d+-\d+-\d+\."), "ec2-<ip>."),
    (re.compile(r"\b54\.\d+\.\d+\.\d+\b"), "<public-ip>"),
    # MSK bootstrap brokers' cluster token: b-1.<cluster>.<token>.c<n>.kafka.<region>.amazonaws.com
    (re.compile(r"\.[a-z0-9]{6}\.c\d+\.kafka\."), ".<token>.c<n>.kafka."),
    # MSK cluster and MSK Connect connector versions (currentVersion).
    (re.compile(r"\b[0-9A-Z]{14}\b"), "<version>"),
    # API Gateway ids (REST APIs, resources, deployments, usage plans, keys): 10 of [a-z0-9]; those
    # without a digit only where an id stands, lest a ten-letter word go too.
    (re.compile(r"\b(?=[a-z]*[0-9])[a-z0-9]{10}\b"), "<apigw-id>"),
    (re.compile(r"(/restapis/|Usage Plan |including )[a-z]{10}\b"), r"\1<apigw-id>"),
    # moto's instance profile ids: 20 of [a-z0-9].
    (re.compile(r"('Id': ')[a-z0-9]{20}'"), r"\1<profile-id>'"),
    # The probe's plugin zip has the time in it, so its MD5 differs per run.
    (re.compile(r"('fileMd5': ')[0-9a-f]{32}'"), r"\1<md5>'"),
]


def mask(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def sandbox_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINFRA_SANDBOX_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    """scripts/sandbox.py on a free port; its first stdout line is the URL once it answers."""
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "sandbox.py"), "--quiet", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sandbox_env(),
    )
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline() if process.stdout else ""), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_S)
    url = lines[0].strip() if lines else ""
    if not url.startswith("http://"):
        stop_sandbox(process)
        stderr = process.stderr.read() if process.stderr else ""
        raise SystemExit(f"sandbox probe: the sandbox did not start within {START_TIMEOUT_S:.0f} s\n{stderr}")
    # Drain its stderr so that a chatty sandbox never blocks on a full pipe.
    threading.Thread(target=lambda: process.stderr and process.stderr.read(), daemon=True).start()
    return process, url


def stop_sandbox(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_probe() -> tuple[str | None, float]:
    """The probe's masked facts against a fresh sandbox (None: it failed, reported), and how long
    it took."""
    started = time.monotonic()
    sandbox, url = start_sandbox()
    try:
        probe = subprocess.run(
            [sys.executable, str(SCRIPTS / "sandbox_probe.py"), url],
            capture_output=True,
            text=True,
            env=sandbox_env(),
            timeout=PROBE_TIMEOUT_S,
        )
    finally:
        stop_sandbox(sandbox)
    elapsed = time.monotonic() - started
    if probe.returncode != 0:
        print(probe.stdout[-4000:], file=sys.stderr)
        print(probe.stderr[-4000:], file=sys.stderr)
        print(f"sandbox probe: FAILED: scripts/sandbox_probe.py exited {probe.returncode} (its output's tail is above)", file=sys.stderr)
        return None, elapsed
    return mask(probe.stdout), elapsed


def differences(expected: str, facts: str) -> list[str]:
    return list(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            facts.splitlines(keepends=True),
            fromfile=str(EXPECTED.relative_to(SCRIPTS.parent)),
            tofile="this run (masked)",
        )
    )


def main() -> int:
    facts, elapsed = run_probe()
    if facts is None:
        return 1
    if os.environ.get(UPDATE_ENV) == "1":
        EXPECTED.write_text(facts)
        print(f"sandbox probe: wrote {EXPECTED.relative_to(SCRIPTS.parent)} ({facts.count(chr(10))} facts, {elapsed:.0f} s)", file=sys.stderr)
        return 0
    expected = EXPECTED.read_text() if EXPECTED.exists() else ""
    diff = differences(expected, facts)
    if diff:
        # A few facts are timings (a state 250 ms after a change, with 200 ms delays), which a
        # loaded machine can miss: one more run on a fresh sandbox tells a slow moment from a
        # changed answer. What differed the first time is shown either way.
        sys.stderr.writelines(diff)
        print("\nsandbox probe: the facts above differed; running the probe once more on a fresh sandbox", file=sys.stderr)
        facts, elapsed = run_probe()
        if facts is None:
            return 1
        diff = differences(expected, facts)
    if diff:
        sys.stderr.writelines(diff)
        print(
            "\nsandbox probe: FAILED: the sandbox's answers differ from scripts/sandbox_probe.expected (diff above).\n"
            f"hint: if the change is intended, run `{UPDATE_ENV}=1 .venv/bin/python scripts/sandbox_probe_check.py`\n"
            "      and commit the file with the change; docs/sandbox.md should say the same.",
            file=sys.stderr,
        )
        return 1
    print(f"sandbox probe: {facts.count(chr(10))} facts as expected ({elapsed:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
