"""What the benchmark scripts share: the release binary's path, a loopback JSON call, and a
fresh sandbox on a free port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PINFRA = ROOT / "target" / "release" / "pinfra"
PYTHON = ROOT / ".venv" / "bin" / "python"


def http(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    """A JSON call to the sandbox's control routes (loopback only)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # loopback only
        return json.loads(response.read() or b"{}")


def pinfra_env(url: str, **extra: str) -> dict[str, str]:
    """The environment pinfra runs in against the sandbox at `url`: dummy keys, no shared config
    files, no instance metadata; `extra` adds PINFRA_* settings."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "bench-dummy",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }


def start_sandbox(args: list[str], log: Path) -> tuple[subprocess.Popen[str], str]:
    """A sandbox on a free port with launcher `args`, its log in `log`; exits if it does not start."""
    command = [str(PYTHON), str(ROOT / "scripts" / "sandbox.py"), "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        sys.exit(f"sandbox did not start: {url!r}; see {log}")
    return process, url
