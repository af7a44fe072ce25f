"""Classify incoming AWS requests and keep a log of them.

Every AWS request is recorded as ``(service, operation, mutating)``:

* service   -- the service in the SigV4 credential scope of the
               ``Authorization`` header (``None`` for unsigned requests);
* operation -- the ``Action`` query/form parameter (query protocol: iam, ec2,
               sts), else the part of ``X-Amz-Target`` after the last dot (JSON
               protocols), else ``"METHOD path"`` (REST: s3, kafka,
               apigateway, kafkaconnect);
* mutating  -- query/JSON: the operation does not start with Get, List,
               Describe or Head; REST: the method is not GET or HEAD.

Records also carry ``region`` (credential scope), ``query`` (the raw query
string, which for REST services such as S3 names the sub-resource),
``access_key`` (the access key id that signed the request: whose credentials
the client used; never the secret, which a SigV4 request does not carry) and
``throttled`` (the sandbox's quotas answered it with the service's throttling
error instead of letting it through: quotas.py).

``operation_name`` names a REST call's operation as the SDKs do (``POST /restapis`` is
``CreateRestApi``), from the ``http`` trait of botocore's service model; the log keeps
``"METHOD path"``, which the tests match.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import parse_qs

READ_PREFIXES = ("Get", "List", "Describe", "Head")
READ_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class Call:
    service: str | None
    operation: str
    mutating: bool
    region: str | None
    query: str
    # "query", "json" or "rest": how the operation was found.
    protocol: str
    # The access key id of the SigV4 credential (None for unsigned requests).
    access_key: str | None = None
    # The sandbox's quotas throttled it (CallLog.mark_throttled).
    throttled: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def credential_fields(environ: dict[str, Any]) -> list[str] | None:
    """The fields of a SigV4 Authorization header's credential, else None.

    ``AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/iam/aws4_request, ...``
    """
    auth = environ.get("HTTP_AUTHORIZATION", "")
    for part in auth.replace(",", " ").split():
        if part.startswith("Credential="):
            fields = part[len("Credential=") :].split("/")
            if len(fields) >= 5:
                return fields
    return None


def credential_scope(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    """(service, region) from a SigV4 Authorization header, else (None, None)."""
    fields = credential_fields(environ)
    return (fields[-2].lower(), fields[-3]) if fields else (None, None)


def access_key(environ: dict[str, Any]) -> str | None:
    """The access key id that signed the request, else None."""
    fields = credential_fields(environ)
    return "/".join(fields[:-4]) if fields else None


def _form_body(environ: dict[str, Any]) -> bytes:
    """Read a form-encoded body and put it back so the app can read it again."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    if length <= 0:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def query_action(environ: dict[str, Any]) -> str | None:
    """The query-protocol ``Action`` from the query string or the form body."""
    actions = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if not actions:
        body = _form_body(environ)
        if body:
            actions = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return actions[0] if actions else None


def classify(environ: dict[str, Any]) -> Call:
    service, region = credential_scope(environ)
    key = access_key(environ)
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")

    action = query_action(environ)
    if action:
        return Call(service, action, not action.startswith(READ_PREFIXES), region, query, "query", key)

    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        operation = target.rsplit(".", 1)[-1]
        return Call(
            service, operation, not operation.startswith(READ_PREFIXES), region, query, "json", key
        )

    return Call(service, f"{method} {path}", method not in READ_METHODS, region, query, "rest", key)


class CallLog:
    """Thread-safe, append-only (until cleared) list of calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def append(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def mark_throttled(self, call: Call) -> None:
        """Flag ``call`` (this very record, appended earlier) as throttled."""
        with self._lock:
            for index in range(len(self._calls) - 1, -1, -1):
                if self._calls[index] is call:
                    self._calls[index] = replace(call, throttled=True)
                    return

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self._calls)


# ------------------------------------------------------------------ REST operation names
# The REST services whose calls get their API's name: SigV4 scope name -> botocore model name.
# Not S3: its model tells some operations apart only by headers or query members outside the
# requestUri (PutObject and CopyObject are both PUT /{Bucket}/{Key+}).
REST_MODELS = {"apigateway": "apigateway", "kafka": "kafka", "kafkaconnect": "kafkaconnect"}


def _label_pattern(part: str, strict: bool) -> str:
    if not part.startswith("{"):
        return re.escape(part)
    if part.endswith("+}"):
        return ".+"
    return "[^/]+" if strict else ".+?"


@functools.cache
def _path_pattern(segments: tuple[str, ...], strict: bool) -> re.Pattern[str]:
    return re.compile("^" + "".join("/" + _label_pattern(part, strict) for part in segments) + "/?$")


@dataclass(frozen=True)
class RestRoute:
    """One operation's ``http`` trait: ``{"method": "POST", "requestUri": "/restapis?mode=import"}``."""

    name: str
    method: str
    segments: tuple[str, ...]  # "restapis", "{restapi_id}", "{Key+}" (greedy)
    query: tuple[tuple[str, str | None], ...]  # required query keys (and value, when given)

    @classmethod
    def parse(cls, name: str, method: str, request_uri: str) -> RestRoute:
        path, _, query = request_uri.partition("?")
        required = tuple((k, v if eq else None) for k, eq, v in (item.partition("=") for item in query.split("&") if item))
        return cls(name, method.upper(), tuple(part for part in path.strip("/").split("/") if part), required)

    def specificity(self) -> tuple[int, int, int]:
        """Routes are tried most specific first: more query keys, more literal segments, no greedy label."""
        literal = sum(1 for part in self.segments if not part.startswith("{"))
        greedy = any(part.endswith("+}") for part in self.segments)
        return (len(self.query), literal, 0 if greedy else 1)

    def pattern(self, strict: bool) -> re.Pattern[str]:
        """The path as a regex: a label is one segment (``strict``) or, for an ARN whose ``/`` the
        server decoded (``/v1/connectors/arn:...:connector/name/uuid``), any run of them."""
        return _path_pattern(self.segments, strict)

    def matches(self, method: str, path: str, params: dict[str, list[str]], strict: bool) -> bool:
        if method != self.method:
            return False
        if any(key not in params or (value is not None and value not in params[key]) for key, value in self.query):
            return False
        return bool(self.pattern(strict).match(path))


@functools.cache
def rest_routes(service: str) -> tuple[RestRoute, ...]:
    """The service's routes, most specific first (loaded once, on first use)."""
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import Loader

    try:
        model = Loader().load_service_model(REST_MODELS[service], "service-2")
    except (KeyError, DataNotFoundError):
        return ()
    routes = [RestRoute.parse(name, op["http"]["method"], op["http"]["requestUri"]) for name, op in model["operations"].items() if "http" in op]
    return tuple(sorted(routes, key=RestRoute.specificity, reverse=True))


def operation_name(call: Call) -> str:
    """The call's operation as the service's API names it: the query/JSON ``operation`` as is; a
    REST call's ``"METHOD path"`` looked up in botocore's model (``"GET /restapis/a1/resources"``
    -> ``GetResources``: each label one segment, then, when the path holds an ARN, any run of
    them), else as it is."""
    if call.protocol != "rest" or call.service not in REST_MODELS:
        return call.operation
    method, _, path = call.operation.partition(" ")
    path = "/" + path.strip("/") if path.strip("/") else "/"
    params = parse_qs(call.query, keep_blank_values=True)
    routes = rest_routes(call.service)
    for strict in (True, False) if "arn:" in path else (True,):
        for route in routes:
            if route.matches(method, path, params, strict):
                return route.name
    return call.operation
