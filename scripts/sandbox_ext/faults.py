"""Armed faults: make the next matching AWS calls fail, so tests can check how pinfra behaves
when an apply fails part-way.

    POST /_sandbox/faults        {"service": "iam", "operation": "CreateInstanceProfile",
                                  "query": "encryption",   # optional: substring of the query string
                                  "status": 403, "code": "AccessDenied",
                                  "message": "...", "count": 1}
    DELETE /_sandbox/faults      disarm everything
    GET /_sandbox/faults         armed faults and how often each fired

A fault answers in the error shape of the request's protocol (query XML for IAM/EC2/STS,
S3's XML, JSON for the rest), so the SDK sees what the real service would send.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from .core import AwsRequest, Sandbox, json_response


@dataclass
class Fault:
    service: str
    operation: str | None = None
    query: str | None = None
    status: int = 500
    code: str = "InternalFailure"
    message: str = "injected by the pinfra sandbox"
    count: int = 1
    fired: int = field(default=0)

    def matches(self, request: AwsRequest) -> bool:
        call = request.call
        return (
            self.fired < self.count
            and call.service == self.service
            and (self.operation is None or call.operation == self.operation)
            and (self.query is None or self.query in call.query)
        )


def error_response(request: AwsRequest, fault: Fault) -> Response:
    protocol = request.call.protocol
    if request.call.service == "s3":
        body = f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message><RequestId>sandbox</RequestId></Error>"
        return Response(body, status=fault.status, mimetype="application/xml")
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{fault.code}</Code><Message>{fault.message}</Message>"
            "</Error><RequestId>sandbox</RequestId></ErrorResponse>"
        )
        return Response(body, status=fault.status, mimetype="text/xml")
    response = Response(json.dumps({"message": fault.message}), status=fault.status, mimetype="application/json")
    response.headers["x-amzn-ErrorType"] = fault.code
    return response


def install(sandbox: Sandbox) -> None:
    lock = threading.Lock()
    faults: list[Fault] = []

    def arm(request: Request) -> Response:
        spec: dict[str, Any] = request.get_json(force=True)
        fault = Fault(**{k: v for k, v in spec.items() if k in Fault.__dataclass_fields__ and k != "fired"})
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

    def hook(request: AwsRequest) -> Response | None:
        with lock:
            fault = next((f for f in faults if f.matches(request)), None)
            if fault is None:
                return None
            fault.fired += 1
        return error_response(request, fault)

    sandbox.add_control_route("POST", "/_sandbox/faults", arm)
    sandbox.add_control_route("DELETE", "/_sandbox/faults", disarm)
    sandbox.add_control_route("GET", "/_sandbox/faults", listing)
    sandbox.add_request_hook("faults", hook)
    sandbox.add_reset_hook(lambda: faults.clear())
