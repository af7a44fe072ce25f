"""Quotas: AWS's documented control-plane request quotas as token buckets; a call over its quota
gets the service's throttling error, as the real service sends it, and has no effect.

    POST /_sandbox/quotas     {"enabled": true, "scale": 20}   either or both; answers as GET
    DELETE /_sandbox/quotas   off (the counters stay readable)
    GET /_sandbox/quotas      {"enabled", "scale",
                               "calls": {"apigateway:CreateRestApi": 3, ...},
                               "throttled": {"apigateway:CreateRestApi": 2, ...},
                               "total_calls", "total_throttled",
                               "buckets": {"us-east-1 apigateway:CreateRestApi": 0.4, ...}}

Off by default: ``--quotas on`` (scripts/sandbox.py) or ``PINFRA_SANDBOX_QUOTAS=on`` turns them on
at start, the route at run time; ``POST /moto-api/reset`` restores the start-up value, empties the
counters and fills every bucket. ``scale`` is the sandbox's time scale (``core.TIME_SCALE``): every
bucket refills ``scale`` times as fast (its size stays), and the emulators' delays shrink by the
same factor; reset restores ``--time-scale``/``PINFRA_SANDBOX_TIME_SCALE``.

Buckets: one per (Region, service, operation) and one per (Region, service) where AWS documents a
quota for the service as a whole; the table is QUOTAS below, the same as pinfra's own pacer
(``src/aws/pacing.rs``). A call takes a token from each of its buckets when every one has a token,
else none, and is throttled (the pacer waits for the same condition). A bucket starts full, as
after a quiet spell, when first used and whenever the quotas are turned on. Every client of the
sandbox is one account, so every client shares the buckets.

What a call is: signed AWS requests only (not execute-api invocations, which are the data plane);
its operation is ``calls.operation_name`` (the query/JSON operation, API Gateway's REST routes
named from botocore's model). ``calls`` counts every call seen while the quotas are on,
``throttled`` those answered with the throttling error; a throttled call stays in the call log,
flagged ``"throttled": true``.

Where: the first middleware, after core's call log and latency (a throttled answer still travels
the network, and is logged), before armed faults and chaos: a throttled call never reaches the
service, so it fires no fault, draws no chaos and counts for no kill point.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from .calls import Call, operation_name
from .chaos import INVOKE_PATH
from .core import TIME_SCALE, AwsRequest, Sandbox, json_response, parse_time_scale

HOOK_NAME = "quotas"
QUOTAS_ENV = "PINFRA_SANDBOX_QUOTAS"
MODES = {"on": True, "off": False}
DEFAULT_REGION = "us-east-1"


# ------------------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Rate:
    """``count`` calls every ``seconds``, with a burst of ``burst`` (the bucket's size)."""

    count: float
    seconds: float
    burst: float

    def per_second(self) -> float:
        return self.count / self.seconds


# The documented quotas, as pinfra's pacer has them (src/aws/pacing.rs, QUOTAS and ec2_category):
# keep the two the same. AWS gives no burst for a "1 request every N seconds" quota: those buckets
# hold one token.
QUOTAS: dict[str, Rate] = {
    # API Gateway developer guide, "Amazon API Gateway quotas", table "API Gateway quotas for
    # creating, deploying and managing an API" (per account, per Region; not adjustable):
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    # "Total operations: 10 requests per second with a burst limit of 40 requests".
    "apigateway:*": Rate(10, 1, 40),
    # "CreateRestApi (regional or private API): 1 request every 3 seconds" (edge-optimized: every
    # 30 s; pinfra makes regional APIs). ImportRestApi counts as CreateRestApi.
    "apigateway:CreateRestApi": Rate(1, 3, 1),
    "apigateway:ImportRestApi": Rate(1, 3, 1),
    # "PutRestApi: 1 request per second".
    "apigateway:PutRestApi": Rate(1, 1, 1),
    # "CreateDeployment: 1 request every 5 seconds".
    "apigateway:CreateDeployment": Rate(1, 5, 1),
    # "DeleteRestApi: 1 request every 30 seconds".
    "apigateway:DeleteRestApi": Rate(1, 30, 1),
    # "CreateResource: 5 requests per second", "DeleteResource: 5 requests per second".
    "apigateway:CreateResource": Rate(5, 1, 5),
    "apigateway:DeleteResource": Rate(5, 1, 5),
    # "CreateApiKey: 5 requests per second".
    "apigateway:CreateApiKey": Rate(5, 1, 5),
    # "GetResources: 5 requests every 2 seconds".
    "apigateway:GetResources": Rate(5, 2, 5),
    # "UpdateUsagePlan: 1 request every 20 seconds".
    "apigateway:UpdateUsagePlan": Rate(1, 20, 1),
    # Amazon EC2 API reference, "Request throttling for the Amazon EC2 API", tables "Request token
    # bucket sizes and refill rates" (per account, per Region, per action; a bucket of its own for
    # each action): https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
    # Actions without a row of their own take their category's (ec2_category).
    # "RunInstances: bucket 5, refill 2 per second".
    "ec2:RunInstances": Rate(2, 1, 5),
    # "TerminateInstances: bucket 100, refill 5 per second".
    "ec2:TerminateInstances": Rate(5, 1, 100),
    # "AssociateIamInstanceProfile: 100, 5"; "CreateTags: 100, 10".
    "ec2:AssociateIamInstanceProfile": Rate(5, 1, 100),
    "ec2:CreateTags": Rate(10, 1, 100),
    # IAM, STS, Amazon MSK (kafka), MSK Connect (kafkaconnect), S3 and SSM: AWS documents no
    # request rate ("IAM and AWS STS quotas", "Amazon MSK quota", "MSK Connect quotas", "Amazon S3
    # quotas"), so no bucket: their calls are counted, never throttled.
}
# EC2's categories, for an action without a row of its own: "Non-mutating actions" (Describe*,
# List*, Get*) bucket 100, refill 20 per second; "Mutating actions" (the rest) bucket 50, refill 5.
EC2_NON_MUTATING = Rate(20, 1, 100)
EC2_MUTATING = Rate(5, 1, 50)


def ec2_category(operation: str) -> Rate:
    return EC2_NON_MUTATING if operation.startswith(("Describe", "List", "Get")) else EC2_MUTATING


def buckets_for(service: str, operation: str) -> list[tuple[str, Rate]]:
    """The buckets a call takes a token from, by key (``service:Operation``, ``service:*``)."""
    own = f"{service}:{operation}"
    buckets = []
    if own in QUOTAS:
        buckets.append((own, QUOTAS[own]))
    elif service == "ec2":
        buckets.append((own, ec2_category(operation)))
    whole = f"{service}:*"
    if whole in QUOTAS:
        buckets.append((whole, QUOTAS[whole]))
    return buckets


# ------------------------------------------------------------------ the throttling answers
def api_gateway_throttled() -> Response:
    """API Gateway (REST JSON): 429, botocore's ``TooManyRequestsException`` shape (httpStatusCode
    429, member ``message``) named in ``x-amzn-ErrorType``, the message API Gateway sends ("Too Many
    Requests"). The shape's ``retryAfterSeconds`` (header ``Retry-After``) is left out: AWS documents
    no value for it."""
    response = Response(json.dumps({"message": "Too Many Requests"}), status=429, mimetype="application/json")
    response.headers["x-amzn-ErrorType"] = "TooManyRequestsException"
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def ec2_throttled() -> Response:
    """EC2 (ec2 protocol, which models no error shapes): 503 ``RequestLimitExceeded`` in EC2's
    ``<Response><Errors>`` body, as "Request throttling for the Amazon EC2 API" and EC2's error
    codes name it."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
        f"</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    )
    return Response(body, status=503, mimetype="text/xml")


# Every service with a row in QUOTAS (or EC2's categories) has its answer here.
THROTTLED: dict[str, Callable[[], Response]] = {"apigateway": api_gateway_throttled, "ec2": ec2_throttled}


# -------------------------------------------------------------------------- the buckets
@dataclass
class Bucket:
    rate: Rate
    tokens: float
    at: float


# A client that waits exactly until a token is due (pinfra's pacer does) gets it, float rounding
# notwithstanding.
TOKEN_EPSILON = 1e-9


class Buckets:
    """Token buckets by (Region, key). Not thread-safe: ``Quotas`` holds the lock. ``clock`` is
    ``time.monotonic`` unless a test injects a fake one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}

    @staticmethod
    def _refill(bucket: Bucket, now: float, scale: float) -> None:
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(bucket.rate.burst, bucket.tokens + elapsed * bucket.rate.per_second() * scale)
        bucket.at = now

    def take(self, region: str, wanted: list[tuple[str, Rate]], scale: float) -> bool:
        """A token from each bucket if every one has one (True), else none (False)."""
        now = self.clock()
        buckets = []
        for key, rate in wanted:
            bucket = self._buckets.setdefault((region, key), Bucket(rate, rate.burst, now))
            self._refill(bucket, now, scale)
            buckets.append(bucket)
        if any(bucket.tokens < 1.0 - TOKEN_EPSILON for bucket in buckets):
            return False
        for bucket in buckets:
            bucket.tokens -= 1.0
        return True

    def settle(self, scale: float) -> None:
        """Refill every bucket up to now at ``scale`` (before another scale takes over)."""
        now = self.clock()
        for bucket in self._buckets.values():
            self._refill(bucket, now, scale)

    def clear(self) -> None:
        self._buckets.clear()

    def snapshot(self, scale: float) -> dict[str, float]:
        """Tokens now, by ``"<region> <key>"``."""
        now = self.clock()
        out = {}
        for (region, key), bucket in sorted(self._buckets.items()):
            elapsed = max(0.0, now - bucket.at)
            out[f"{region} {key}"] = round(min(bucket.rate.burst, bucket.tokens + elapsed * bucket.rate.per_second() * scale), 3)
        return out


# --------------------------------------------------------------------------- the state
def enabled_from_env() -> bool:
    raw = (os.environ.get(QUOTAS_ENV) or "off").strip().lower()
    if raw not in MODES:
        raise ValueError(f"${QUOTAS_ENV}: expected one of {', '.join(MODES)}, got {raw!r}")
    return MODES[raw]


class Quotas:
    """Whether the quotas are on, their buckets and counters, thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self.buckets = Buckets(clock)
        self.enabled = enabled_from_env()
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def reset(self) -> None:
        enabled = enabled_from_env()
        with self.lock:
            self.enabled = enabled
            self.buckets.clear()
            self.calls.clear()
            self.throttled.clear()

    def admit(self, region: str, service: str, operation: str) -> bool | None:
        """Count the call and take its tokens: True (let through), False (throttle), None (off)."""
        with self.lock:
            if not self.enabled:
                return None
            key = f"{service}:{operation}"
            self.calls[key] += 1
            admitted = self.buckets.take(region, buckets_for(service, operation), TIME_SCALE.get())
            if not admitted:
                self.throttled[key] += 1
            return admitted

    def configure(self, spec: Any) -> None:
        """Apply a POST body (checked whole before anything changes); ValueError if bad."""
        if not isinstance(spec, dict):
            raise ValueError("expected a JSON object")
        unknown = sorted(set(spec) - {"enabled", "scale"})
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: enabled, scale")
        if "enabled" in spec and not isinstance(spec["enabled"], bool):
            raise ValueError(f"enabled: expected true or false, got {spec['enabled']!r}")
        scale = None
        if "scale" in spec:
            if isinstance(spec["scale"], str):  # JSON: a number, not text
                raise ValueError(f"scale: expected a number above zero, got {spec['scale']!r}")
            try:
                scale = parse_time_scale(spec["scale"])
            except ValueError as err:
                raise ValueError(f"scale: {err}") from None
        with self.lock:
            if scale is not None:
                self.buckets.settle(TIME_SCALE.get())  # tokens earned so far, at the old scale
                TIME_SCALE.set(scale)
            if "enabled" in spec:
                if spec["enabled"] and not self.enabled:
                    self.buckets.clear()  # full, as after a quiet spell
                self.enabled = spec["enabled"]

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            scale = TIME_SCALE.get()
            return {
                "enabled": self.enabled,
                "scale": scale,
                "calls": dict(sorted(self.calls.items())),
                "throttled": dict(sorted(self.throttled.items())),
                "total_calls": sum(self.calls.values()),
                "total_throttled": sum(self.throttled.values()),
                "buckets": self.buckets.snapshot(scale),
            }


_current: Quotas | None = None


def current() -> Quotas:
    """The process's quotas (created from the environment on first use)."""
    global _current
    if _current is None:
        try:
            _current = Quotas()
        except ValueError as err:
            raise SystemExit(f"sandbox: {err}") from None
    return _current


def throttle(request: AwsRequest, quotas: Quotas) -> Response | None:
    """The throttling answer for the request, or None to let it through."""
    call: Call = request.call
    if call.service is None or INVOKE_PATH.match(request.path):
        return None  # unsigned: execute-api invocations (the data plane)
    if not quotas.enabled:
        return None  # cheap early out; admit() decides under the lock
    admitted = quotas.admit(call.region or DEFAULT_REGION, call.service, operation_name(call))
    if admitted is None or admitted:
        return None
    return THROTTLED[call.service]()


def install(sandbox: Sandbox) -> None:
    quotas = current()

    def get(_request: Request) -> Response:
        return json_response(quotas.to_json())

    def post(request: Request) -> Response:
        try:
            quotas.configure(json.loads(request.get_data() or b"null"))
        except ValueError as err:
            return json_response({"error": str(err), "keys": ["enabled", "scale"]}, 400)
        return json_response(quotas.to_json())

    def off(_request: Request) -> Response:
        quotas.configure({"enabled": False})
        return json_response(quotas.to_json())

    def hook(request: AwsRequest) -> Response | None:
        answer = throttle(request, quotas)
        if answer is not None:
            sandbox.calls.mark_throttled(request.call)
        return answer

    sandbox.add_control_route("GET", "/_sandbox/quotas", get)
    sandbox.add_control_route("POST", "/_sandbox/quotas", post)
    sandbox.add_control_route("DELETE", "/_sandbox/quotas", off)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(quotas.reset)
