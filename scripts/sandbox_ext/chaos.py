"""Chaos: random faults at a seeded rate, and killing a client at its N-th mutating call, so
tests can check that pinfra retries, stays idempotent and recovers from a crash part-way.

    POST /_sandbox/chaos     {"rate": 0.1, "seed": 42,
                              "kinds": ["throttle", "500", "503", "reset", "slow"],
                              "slow_ms": 300, "services": null, "mutating_only": false}
    DELETE /_sandbox/chaos   off (the counters stay readable)
    GET /_sandbox/chaos      settings, counters and the log of injected faults

    POST /_sandbox/kill      {"pid": 1234, "after_mutating": 5, "signal": "KILL"}
    DELETE /_sandbox/kill    disarm
    GET /_sandbox/kill       {"armed", "seen", "fired", "operation", "error", ...}

Chaos: each AWS request (signed; never control routes, /moto-api or execute-api invocations)
that matches ``services``/``mutating_only`` gets, with probability ``rate``, one fault of a kind
drawn uniformly from ``kinds``. Every draw comes from one ``random.Random(seed)`` under a lock,
so the same request sequence gets the same faults. Kinds (codes/statuses per service in
THROTTLE/INTERNAL/UNAVAILABLE below, answered in the protocol's error shape by
``faults.error_response``): ``throttle``, ``500``, ``503`` answer instead of the call (no
effect); ``reset`` drops the connection, in half of the cases (a second draw) after the call
took effect (a lost response); ``slow`` sleeps ``slow_ms`` and lets the call through.

Kill: counts the mutating calls (calls.py's classification) handed on to the later hooks and
moto, i.e. that can take effect (not those an armed fault or a chaos fault answered instead).
On the N-th it lets the call take effect, sends the signal to ``pid``, then answers (to a dead
client). One-shot.

Installed right after ``faults``, so that both also hit the calls later extensions answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from .core import AwsRequest, Sandbox, json_response
from .faults import Fault, drop_connection, error_response

HOOK_NAME = "chaos"
KINDS = ("throttle", "500", "503", "reset", "slow")
INVOKE_PATH = re.compile(r"^/restapis/[^/]+/[^/]+/_user_request_(/|$)")
LOG_LIMIT = 1000

# (code, status) per service; the protocol's default for other services.
THROTTLE: dict[str, tuple[str, int]] = {
    "iam": ("Throttling", 400),
    "sts": ("Throttling", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "s3": ("SlowDown", 503),
    "kafka": ("TooManyRequestsException", 429),
    "kafkaconnect": ("TooManyRequestsException", 429),
    "apigateway": ("TooManyRequestsException", 429),
    "ssm": ("ThrottlingException", 400),
}
INTERNAL: dict[str, tuple[str, int]] = {
    "s3": ("InternalError", 500),
    "ec2": ("InternalError", 500),
    "kafka": ("InternalServerErrorException", 500),  # the services' modeled 500s
    "kafkaconnect": ("InternalServerErrorException", 500),
    "ssm": ("InternalServerError", 500),
}
UNAVAILABLE: dict[str, tuple[str, int]] = {
    "s3": ("ServiceUnavailable", 503),
    "ec2": ("Unavailable", 503),
}
DEFAULTS: dict[str, dict[str, tuple[str, int]]] = {
    "throttle": {"query": ("Throttling", 400), "json": ("ThrottlingException", 400), "rest": ("TooManyRequestsException", 429)},
    "500": {"query": ("InternalFailure", 500), "json": ("InternalFailure", 500), "rest": ("InternalFailure", 500)},
    "503": {"query": ("ServiceUnavailableException", 503), "json": ("ServiceUnavailableException", 503), "rest": ("ServiceUnavailableException", 503)},
}
TABLES = {"throttle": THROTTLE, "500": INTERNAL, "503": UNAVAILABLE}
SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT}


def code_and_status(kind: str, service: str, protocol: str) -> tuple[str, int]:
    return TABLES[kind].get(service) or DEFAULTS[kind][protocol]


def request_digest(environ: dict[str, Any]) -> str:
    """sha256 of method, path, query string and body (the body is put back for later readers)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    elif environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
        body = environ["wsgi.input"].read()  # chunked: the server ends the stream
        environ["wsgi.input"] = io.BytesIO(body)
    else:
        body = b""
    digest = hashlib.sha256()
    for part in (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")):
        digest.update(str(part).encode("utf-8", "surrogateescape") + b"\0")
    digest.update(body)
    return digest.hexdigest()


def sdk_attempt(environ: dict[str, Any]) -> int:
    """The attempt number from ``amz-sdk-request: attempt=2; max=3`` (boto3, the Rust SDK)."""
    m = re.search(r"attempt=(\d+)", environ.get("HTTP_AMZ_SDK_REQUEST", ""))
    return int(m.group(1)) if m else 1


def _check(spec: Any, types: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(spec) - set(types))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(types)}")
    for key, value in spec.items():
        if not isinstance(value, types[key]) or (bool not in types[key] and isinstance(value, bool)):
            raise ValueError(f"{key}: bad value {value!r}")
    return spec


CHAOS_TYPES: dict[str, tuple[type, ...]] = {
    "rate": (int, float),
    "seed": (int,),
    "kinds": (list,),
    "slow_ms": (int,),
    "services": (list, type(None)),
    "mutating_only": (bool,),
}
KILL_TYPES: dict[str, tuple[type, ...]] = {"pid": (int,), "after_mutating": (int,), "signal": (str,)}


@dataclass
class Chaos:
    enabled: bool = False
    rate: float = 0.0
    seed: int = 0
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    slow_ms: int = 300
    services: list[str] | None = None
    mutating_only: bool = False
    rng: random.Random = field(default_factory=random.Random)
    requests: int = 0
    eligible: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    digests: set[str] = field(default_factory=set)
    identical_repeats: int = 0
    sdk_retries: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: Any) -> Chaos:
        spec = _check(spec, CHAOS_TYPES)
        if "rate" not in spec:
            raise ValueError("rate is required")
        if not 0.0 <= spec["rate"] <= 1.0:
            raise ValueError("rate: expected 0..1")
        kinds = spec.get("kinds", list(KINDS))
        if not kinds or any(k not in KINDS for k in kinds):
            raise ValueError(f"kinds: expected a non-empty list of {', '.join(KINDS)}")
        if spec.get("slow_ms", 0) < 0:
            raise ValueError("slow_ms: expected >= 0")
        services = spec.get("services")
        if services is not None and not all(isinstance(s, str) for s in services):
            raise ValueError("services: expected a list of service names or null")
        chaos = cls(enabled=True, rate=float(spec["rate"]), seed=spec.get("seed", 0), kinds=list(kinds),
                    slow_ms=spec.get("slow_ms", 300), services=services, mutating_only=spec.get("mutating_only", False))
        chaos.rng = random.Random(chaos.seed)
        return chaos

    def to_json(self) -> dict[str, Any]:
        injected = {k: self.injected.get(k, 0) for k in ("throttle", "500", "503", "reset_before", "reset_after", "slow")}
        return {
            "enabled": self.enabled, "rate": self.rate, "seed": self.seed, "kinds": self.kinds,
            "slow_ms": self.slow_ms, "services": self.services, "mutating_only": self.mutating_only,
            "requests": self.requests, "eligible": self.eligible, "injected": injected,
            "total_injected": sum(injected.values()), "identical_repeats": self.identical_repeats,
            "sdk_retries": self.sdk_retries, "log": self.log,
        }

    def draw(self, request: AwsRequest, digest: str) -> str | None:
        """Count the request and draw its fault (``None``: none). Call under the lock."""
        call = request.call
        self.requests += 1
        if digest in self.digests:
            self.identical_repeats += 1
        self.digests.add(digest)
        if sdk_attempt(request.environ) > 1:
            self.sdk_retries += 1
        if (self.services is not None and call.service not in self.services) or (self.mutating_only and not call.mutating):
            return None
        self.eligible += 1
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        if kind == "reset":
            kind = "reset_after" if self.rng.random() < 0.5 else "reset_before"
        self.injected[kind] = self.injected.get(kind, 0) + 1
        if len(self.log) < LOG_LIMIT:
            self.log.append({"request": self.requests, "service": call.service, "operation": call.operation, "kind": kind})
        return kind


@dataclass
class Kill:
    armed: bool = False
    pid: int | None = None
    after_mutating: int = 1
    signal: str = "KILL"
    seen: int = 0
    fired: bool = False
    operation: str | None = None
    error: str | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> Kill:
        spec = _check(spec, KILL_TYPES)
        if "pid" not in spec:
            raise ValueError("pid is required")
        # 0 and negative pids name process groups (os.kill(-1, ...) hits every process).
        if spec["pid"] <= 1 or spec["pid"] == os.getpid():
            raise ValueError("pid: expected a process id > 1, not the sandbox's own")
        if spec.get("after_mutating", 1) < 1:
            raise ValueError("after_mutating: expected >= 1")
        if spec.get("signal", "KILL") not in SIGNALS:
            raise ValueError(f"signal: expected one of {', '.join(SIGNALS)}")
        return cls(armed=True, **spec)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def install(sandbox: Sandbox) -> None:
    lock = threading.Lock()
    state: dict[str, Any] = {"chaos": Chaos(), "kill": Kill()}

    def answer_spec(kind: str, build: Any, request: Request) -> Response:
        try:
            made = build(json.loads(request.get_data() or b"null"))
        except (ValueError, TypeError) as err:
            types = CHAOS_TYPES if kind == "chaos" else KILL_TYPES
            return json_response({"error": str(err), "keys": list(types)}, 400)
        with lock:
            state[kind] = made
            return json_response(made.to_json())

    def chaos_off(_request: Request) -> Response:
        with lock:
            state["chaos"].enabled = False
            return json_response(state["chaos"].to_json())

    def kill_off(_request: Request) -> Response:
        with lock:
            state["kill"].armed = False
            return json_response(state["kill"].to_json())

    def get(kind: str) -> Any:
        def handler(_request: Request) -> Response:
            with lock:
                return json_response(state[kind].to_json())

        return handler

    def reset() -> None:
        with lock:
            state["chaos"] = Chaos()
            state["kill"] = Kill()

    def hook(request: AwsRequest) -> Any:
        call = request.call
        if call.service is None or INVOKE_PATH.match(request.path):
            return None  # unsigned: execute-api invocations
        chaos: Chaos = state["chaos"]
        kind = None
        if chaos.enabled:
            digest = request_digest(request.environ)
            with lock:
                if chaos is state["chaos"] and chaos.enabled:
                    kind = chaos.draw(request, digest)
        if kind in TABLES:
            code, status = code_and_status(kind, call.service, call.protocol)
            return error_response(request, Fault(service=call.service, status=status, code=code, message=f"injected by the pinfra sandbox (chaos: {kind})"))
        if kind == "reset_before":
            return drop_connection
        if kind == "slow":
            time.sleep(chaos.slow_ms / 1000.0)

        kill: Kill | None = None
        if call.mutating:
            with lock:
                if state["kill"].armed:
                    state["kill"].seen += 1
                    if state["kill"].seen >= state["kill"].after_mutating:
                        kill = state["kill"]
                        kill.armed, kill.fired = False, True
                        kill.operation = f"{call.service}:{call.operation}"
        if kill is None and kind != "reset_after":
            return None
        answer = sandbox.forward(request, after=HOOK_NAME)  # the call takes effect
        if kill is not None:
            try:
                os.kill(int(kill.pid or 0), SIGNALS[kill.signal])
            except OSError as err:
                with lock:
                    kill.error = f"{type(err).__name__}: {err}"
        return drop_connection if kind == "reset_after" else answer

    sandbox.add_control_route("POST", "/_sandbox/chaos", lambda r: answer_spec("chaos", Chaos.from_spec, r))
    sandbox.add_control_route("DELETE", "/_sandbox/chaos", chaos_off)
    sandbox.add_control_route("GET", "/_sandbox/chaos", get("chaos"))
    sandbox.add_control_route("POST", "/_sandbox/kill", lambda r: answer_spec("kill", Kill.from_spec, r))
    sandbox.add_control_route("DELETE", "/_sandbox/kill", kill_off)
    sandbox.add_control_route("GET", "/_sandbox/kill", get("kill"))
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(reset)
