"""Armed faults: make the next matching AWS calls fail, so tests can check how pinfra behaves
when an apply fails part-way or a response is lost.

    POST /_sandbox/faults        {"service": "iam", "operation": "CreateInstanceProfile",
                                  "query": "encryption",   # optional: substring of the query string
                                  "status": 403, "code": "AccessDenied",
                                  "message": "...", "count": 1,
                                  "after": false,          # true: the call takes effect first
                                  "reset": false}          # true: drop the connection, no answer
    DELETE /_sandbox/faults      disarm everything
    GET /_sandbox/faults         armed faults and how often each fired

By default a fault answers instead of the service: the call has no effect. With ``"after":
true`` the call is first handed on (later extensions, then moto), so it takes effect, and the
client gets the fault instead of the real answer: a lost response, which SDKs retry (with the
same idempotency token). ``"reset": true`` drops the connection without any answer instead of
sending the error (``status``/``code`` are then unused); with ``"after"`` it happens after the
call took effect, without it before.

A fault answers in the error shape of the request's protocol (EC2's ``<Response><Errors>``,
query XML ``<ErrorResponse>`` for IAM/STS, S3's XML, JSON for the rest: ``__type`` in the body for
JSON 1.x, ``x-amzn-ErrorType`` for both), so the SDK sees what
the real service would send. An unknown key or a bad value is refused with 400.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from werkzeug.wrappers import Request, Response

from .core import AwsRequest, Sandbox, json_response

HOOK_NAME = "faults"


def operation_matches(pattern: str, operation: str) -> bool:
    """Exact, or a prefix when the pattern ends in ``*`` (REST operations carry the resource's
    path: ``"DELETE /v1/custom-plugins/*"``)."""
    if pattern.endswith("*"):
        return operation.startswith(pattern[:-1])
    return operation == pattern


@dataclass
class Fault:
    service: str
    operation: str | None = None
    query: str | None = None
    status: int = 500
    code: str = "InternalFailure"
    message: str = "injected by the pinfra sandbox"
    count: int = 1
    after: bool = False
    reset: bool = False
    fired: int = field(default=0)

    def matches(self, request: AwsRequest) -> bool:
        call = request.call
        return (
            self.fired < self.count
            and call.service == self.service
            and (self.operation is None or operation_matches(self.operation, call.operation))
            and (self.query is None or self.query in call.query)
        )


SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "service": (str,),
    "operation": (str, type(None)),
    "query": (str, type(None)),
    "status": (int,),
    "code": (str,),
    "message": (str,),
    "count": (int,),
    "after": (bool,),
    "reset": (bool,),
}


def fault_from_spec(spec: Any) -> Fault:
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(spec) - set(SPEC_TYPES))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(SPEC_TYPES)}")
    if "service" not in spec:
        raise ValueError("service is required")
    for key, value in spec.items():
        types = SPEC_TYPES[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise ValueError(f"{key}: bad value {value!r}")
    if not 400 <= spec.get("status", 500) <= 599:
        raise ValueError("status: expected 400-599")
    return Fault(**spec)


def error_response(request: AwsRequest, fault: Fault) -> Response:
    protocol = request.call.protocol
    if request.call.service == "s3":
        body = f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message><RequestId>sandbox</RequestId></Error>"
        return Response(body, status=fault.status, mimetype="application/xml")
    if request.call.service == "ec2":
        # EC2's own error shape (the Rust SDK's ec2Query parser finds the code only here).
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{fault.code}</Code><Message>{fault.message}</Message>"
            "</Error></Errors><RequestID>sandbox</RequestID></Response>"
        )
        return Response(body, status=fault.status, mimetype="text/xml")
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>{'Receiver' if fault.status >= 500 else 'Sender'}</Type>"
            f"<Code>{fault.code}</Code><Message>{fault.message}</Message>"
            "</Error><RequestId>sandbox</RequestId></ErrorResponse>"
        )
        return Response(body, status=fault.status, mimetype="text/xml")
    # JSON 1.0/1.1 (X-Amz-Target: ssm, ...) name the error in the body's "__type" (boto3 reads
    # only that); REST JSON in the x-amzn-ErrorType header. Both SDKs read either.
    payload = {"__type": fault.code, "message": fault.message} if protocol == "json" else {"message": fault.message}
    response = Response(json.dumps(payload), status=fault.status, mimetype="application/json")
    response.headers["x-amzn-ErrorType"] = fault.code
    return response


def drop_connection(environ: dict[str, Any], _start_response: Any) -> Any:
    """WSGI app that closes the client connection without an answer.

    werkzeug's server treats a ConnectionError raised by the app as a dropped connection:
    it logs nothing and sends nothing more."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("connection dropped by an armed sandbox fault")


def install(sandbox: Sandbox) -> None:
    lock = threading.Lock()
    faults: list[Fault] = []

    def arm(request: Request) -> Response:
        try:
            fault = fault_from_spec(json.loads(request.get_data() or b"null"))
        except (ValueError, TypeError) as err:
            return json_response({"error": str(err), "keys": [f.name for f in fields(Fault) if f.name != "fired"]}, 400)
        with lock:
            faults.append(fault)
        return json_response({"armed": asdict(fault)})

    def disarm(_request: Request) -> Response:
        with lock:
            faults.clear()
        return json_response({"status": "ok"})

    def listing(_request: Request) -> Response:
        with lock:
            return json_response({"faults": [asdict(f) for f in faults]})

    def hook(request: AwsRequest) -> Any:
        with lock:
            fault = next((f for f in faults if f.matches(request)), None)
            if fault is None:
                return None
            fault.fired += 1
        if fault.after:
            sandbox.forward(request, after=HOOK_NAME)  # takes effect; its answer is lost
        if fault.reset:
            return drop_connection
        return error_response(request, fault)

    sandbox.add_control_route("POST", "/_sandbox/faults", arm)
    sandbox.add_control_route("DELETE", "/_sandbox/faults", disarm)
    sandbox.add_control_route("GET", "/_sandbox/faults", listing)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(lambda: faults.clear())
