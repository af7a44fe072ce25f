"""API Gateway REST APIs as clients call them (execute-api), with deployments as snapshots
(moto 5.2.5 serves the control plane only; its execute-api mock works with the decorators, not in
server mode, and a deployment there is a label, not a copy of the API).

Invoke route (LocalStack's path convention; unsigned, as the seed's clients call it; the real URL
is ``https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}/{path}``):

    ANY /restapis/{restApiId}/{stage}/_user_request_/{path...}?{query}

Answered here, as a request hook that matches the path (so moto never sees these requests; they
are logged with service ``null`` and operation ``"METHOD path"``). The region is not in the URL:
the API is looked up in every region of the account's moto apigateway backends.

Deployments are snapshots. CreateDeployment (``POST /restapis/{restApiId}/deployments``) goes
through (``sandbox.forward``) and, when it succeeds, the API's resources, methods and
integrations as they were when the request arrived are kept under the new deployment id. An
invoke resolves stage -> its ``deploymentId`` -> that snapshot: changing a method or an
integration does nothing until the next deployment, as on API Gateway. CreateDeployment with the
``stageName`` of an existing stage points that stage at the new deployment and keeps its other
settings (moto replaced the stage with a bare one).

Resolution of an invoke, in API Gateway's order, with its answers (JSON, ``x-amzn-ErrorType``):

1. unknown API, stage, or a stage whose deployment has no snapshot, or the snapshot's API had
   ``disableExecuteApiEndpoint`` -> 403 ``{"message":"Forbidden"}`` (ForbiddenException);
2. the path matches no resource, or the resource has neither the method nor ``ANY``
   -> 403 ``{"message":"Missing Authentication Token"}`` (MissingAuthenticationTokenException).
   Matching: literal segments before ``{param}`` (one segment) before ``{name+}`` (greedy, one
   or more segments); the most specific resource wins;
3. ``authorizationType`` AWS_IAM and the request is not SigV4-signed -> 403 Missing
   Authentication Token (a signature is not verified); other authorizers are not emulated;
4. ``apiKeyRequired`` and ``x-api-key`` is missing or not the value of an enabled API key in a
   usage plan whose ``apiStages`` has this API and stage -> 403 ``{"message":"Forbidden"}``;
5. an integration that is not ``HTTP_PROXY``, or a ``{name}`` in its ``uri`` that no
   ``integration.request.path.name`` mapping fills -> 500 ``{"message": "Internal server
   error"}`` (InternalServerErrorException);
6. the target cannot be reached (no in-process endpoint answers for the host and port: see
   ``add_http_endpoint``) -> 504 ``{"message": "Network error communicating with endpoint"}``
   (InternalServerErrorException, as API Gateway answers an HTTP integration it cannot connect
   to); no socket is ever opened;
7. the endpoint would answer later than the integration's ``timeoutInMillis`` (default 29000),
   or the network drops the connection (an endpoint's ``UNREACHABLE`` answer: data_path's, when
   the instance's security group, network ACL or route does not let the internet in with
   ``PINFRA_SANDBOX_NETWORK=enforce``) -> 504 ``{"message": "Endpoint request timed out"}``;
8. otherwise the endpoint's status, Content-Type and body, as HTTP_PROXY passes them.

HTTP_PROXY: the target is the integration ``uri`` with each ``{name}`` replaced from
``requestParameters`` (``integration.request.path.<name>`` from ``method.request.path.<p>``,
``method.request.querystring.<q>``, ``method.request.header.<h>`` or a ``'literal'``); the method
is the client's when the integration's ``httpMethod`` is ``ANY``, else that one; headers, query
string (plus ``integration.request.querystring.*`` mappings) and body are passed on.

Not emulated: stage and usage-plan throttling and quotas, caching, resource policies, custom and
Cognito authorizers, request validators, mapping templates, gateway response customisation,
non-proxy integrations (HTTP, AWS, AWS_PROXY, MOCK), VPC links, binary media types.

    GET /_sandbox/apigateway    {"deployments": [{"restApiId", "deploymentId", "region",
                                 "resources": [{"path", "methods": {"ANY": {"apiKeyRequired",
                                 "authorizationType", "integration": {"type", "uri", "httpMethod",
                                 "requestParameters", "timeoutInMillis"}}}}]}]}

``POST /moto-api/reset`` forgets every snapshot.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from werkzeug.wrappers import Response

from ..core import AwsRequest, Sandbox, read_body
from ..msk_topics import request_account

HOOK_NAME = "apigateway_compat"
DEFAULT_TIMEOUT_MS = 29000

INVOKE_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$")
DEPLOYMENTS_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/deployments/?$")
PLACEHOLDER = re.compile(r"\{(?P<name>[^{}]+)\}")
# Hop-by-hop and framing headers that are not passed on either way.
NOT_FORWARDED = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


# ------------------------------------------------------------------------------ answers
def gateway_error(status: int, error_type: str, body: str) -> Response:
    """An API Gateway error answer, byte for byte (its 4xx bodies have no space after the colon,
    its integration 5xx bodies have one)."""
    response = Response(body, status=status, mimetype="application/json")
    response.headers["x-amzn-ErrorType"] = error_type
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def forbidden() -> Response:
    return gateway_error(403, "ForbiddenException", '{"message":"Forbidden"}')


def missing_token() -> Response:
    return gateway_error(403, "MissingAuthenticationTokenException", '{"message":"Missing Authentication Token"}')


def internal_error() -> Response:
    return gateway_error(500, "InternalServerErrorException", '{"message": "Internal server error"}')


def network_error() -> Response:
    return gateway_error(504, "InternalServerErrorException", '{"message": "Network error communicating with endpoint"}')


def timed_out() -> Response:
    return gateway_error(504, "InternalServerErrorException", '{"message": "Endpoint request timed out"}')


# --------------------------------------------------------------------- in-process endpoints
@dataclass(frozen=True)
class EndpointRequest:
    """What an HTTP integration sends to its target."""

    account: str
    region: str  # the API's region
    method: str
    scheme: str
    host: str  # lower-cased
    port: int
    path: str  # decoded, starts with "/"
    query: str  # raw query string
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class EndpointAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    duration_ms: int = 0  # how long the real endpoint would take to answer
    unreachable: bool = False  # the network drops the connection: the gateway times out


# A dropped connection (no SYN-ACK ever comes back): API Gateway waits out the integration timeout.
UNREACHABLE = EndpointAnswer(0, {}, b"", unreachable=True)


HttpEndpoint = Callable[[EndpointRequest], "EndpointAnswer | None"]
_endpoints: list[HttpEndpoint] = []


def add_http_endpoint(endpoint: HttpEndpoint) -> None:
    """Let ``endpoint(request)`` answer integration requests: it returns an ``EndpointAnswer``
    for a host and port it serves, else None (the next endpoint is asked; when none answers, the
    gateway cannot connect). Called by other extensions' ``install`` (data_path: the stand-in
    REST proxies on EC2 instances)."""
    _endpoints.append(endpoint)


def deliver(request: EndpointRequest) -> EndpointAnswer | None:
    for endpoint in list(_endpoints):
        answer = endpoint(request)
        if answer is not None:
            return answer
    return None


# ------------------------------------------------------------------------------ snapshots
@dataclass(frozen=True)
class IntegrationSnapshot:
    type: str
    uri: str
    http_method: str | None
    request_parameters: dict[str, str]
    timeout_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "uri": self.uri,
            "httpMethod": self.http_method,
            "requestParameters": dict(self.request_parameters),
            "timeoutInMillis": self.timeout_ms,
        }


@dataclass(frozen=True)
class MethodSnapshot:
    http_method: str
    authorization_type: str
    api_key_required: bool
    integration: IntegrationSnapshot | None

    def to_json(self) -> dict[str, Any]:
        return {
            "apiKeyRequired": self.api_key_required,
            "authorizationType": self.authorization_type,
            "integration": self.integration.to_json() if self.integration else None,
        }


@dataclass(frozen=True)
class ResourceSnapshot:
    path: str
    segments: tuple[str, ...]
    methods: dict[str, MethodSnapshot]


@dataclass(frozen=True)
class DeploymentSnapshot:
    account: str
    region: str
    api_id: str
    deployment_id: str
    execute_api_disabled: bool
    api_key_source: str
    resources: tuple[ResourceSnapshot, ...]
    taken: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        return {
            "restApiId": self.api_id,
            "deploymentId": self.deployment_id,
            "region": self.region,
            "resources": [
                {"path": r.path, "methods": {m: s.to_json() for m, s in sorted(r.methods.items())}}
                for r in sorted(self.resources, key=lambda r: r.path)
            ],
        }


def path_segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)


def timeout_ms(value: Any) -> int:
    try:
        return int(value) if value not in (None, "") else DEFAULT_TIMEOUT_MS
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_MS


def take_snapshot(account: str, region: str, api: Any, deployment_id: str = "") -> DeploymentSnapshot:
    """A copy of the moto RestAPI's resources, methods and integrations."""
    resources = []
    for resource in list(api.resources.values()):
        path = resource.get_path()
        methods = {}
        for name, method in list(resource.resource_methods.items()):
            integration = method.method_integration
            methods[name.upper()] = MethodSnapshot(
                http_method=name.upper(),
                authorization_type=str(method.authorization_type or "NONE").upper(),
                api_key_required=bool(method.api_key_required),
                integration=None
                if integration is None
                else IntegrationSnapshot(
                    type=str(integration.integration_type or "").upper(),
                    uri=str(integration.uri or ""),
                    http_method=str(integration.http_method).upper() if integration.http_method else None,
                    request_parameters=copy.deepcopy(dict(integration.request_parameters or {})),
                    timeout_ms=timeout_ms(integration.timeout_in_millis),
                ),
            )
        resources.append(ResourceSnapshot(path, path_segments(path), methods))
    return DeploymentSnapshot(
        account=account,
        region=region,
        api_id=api.id,
        deployment_id=deployment_id,
        execute_api_disabled=bool(api.disableExecuteApiEndpoint),
        api_key_source=str(api.api_key_source or "HEADER"),
        resources=tuple(resources),
    )


# ------------------------------------------------------------------------------- matching
def match_segments(pattern: tuple[str, ...], segments: tuple[str, ...]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(specificity, path parameters) when the resource path matches; lower specificity wins:
    per segment 0 for a literal, 1 for ``{param}``, 2 for a greedy ``{name+}``."""
    rank: list[int] = []
    params: dict[str, str] = {}
    for i, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            if i != len(pattern) - 1 or i >= len(segments):
                return None
            params[part[1:-2]] = "/".join(segments[i:])
            rank.append(2)
            return tuple(rank), params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[i]
            rank.append(1)
        elif part == segments[i]:
            rank.append(0)
        else:
            return None
    if len(pattern) != len(segments):
        return None
    return tuple(rank), params


def find_resource(snapshot: DeploymentSnapshot, path: str) -> tuple[ResourceSnapshot, dict[str, str]] | None:
    segments = path_segments(path)
    best: tuple[tuple[int, ...], ResourceSnapshot, dict[str, str]] | None = None
    for resource in snapshot.resources:
        found = match_segments(resource.segments, segments)
        if found is not None and (best is None or found[0] < best[0]):
            best = (found[0], resource, found[1])
    return (best[1], best[2]) if best else None


# ---------------------------------------------------------------------------------- store
class Deployments:
    """Snapshots by (account, region, API id, deployment id); every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshots: dict[tuple[str, str, str, str], DeploymentSnapshot] = {}

    def reset(self) -> None:
        with self.lock:
            self.snapshots.clear()

    def put(self, snapshot: DeploymentSnapshot) -> None:
        with self.lock:
            self.snapshots[(snapshot.account, snapshot.region, snapshot.api_id, snapshot.deployment_id)] = snapshot

    def get(self, account: str, region: str, api_id: str, deployment_id: str) -> DeploymentSnapshot | None:
        with self.lock:
            return self.snapshots.get((account, region, api_id, deployment_id))

    def listing(self) -> list[dict[str, Any]]:
        with self.lock:
            snapshots = sorted(self.snapshots.values(), key=lambda s: s.taken)
        return [s.to_json() for s in snapshots]


def find_api(account: str, api_id: str) -> tuple[str, Any, Any] | None:
    """(region, backend, RestAPI) of the API, searched in every region moto has a backend for."""
    from moto.apigateway.models import apigateway_backends

    regions = apigateway_backends[account]
    for region, backend in list(dict.items(regions)):
        api = backend.apis.get(api_id)
        if api is not None:
            return region, backend, api
    return None


# --------------------------------------------------------------------------------- invoke
def api_key_valid(backend: Any, api_id: str, stage: str, value: str | None) -> bool:
    """An enabled API key with this value in a usage plan that has this API stage."""
    if not value:
        return False
    keys = [k for k in list(backend.keys.values()) if k.value == value and k.enabled]
    for key in keys:
        for plan_id, plan_keys in list(backend.usage_plan_keys.items()):
            if key.id not in plan_keys:
                continue
            plan = backend.usage_plans.get(plan_id)
            stages = plan.api_stages if plan is not None else []
            if any(s.get("apiId") == api_id and s.get("stage") == stage for s in stages):
                return True
    return False


def mapped_value(source: str, path_params: dict[str, str], query: dict[str, str], headers: Any) -> str | None:
    if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    for prefix, values in (
        ("method.request.path.", path_params),
        ("method.request.querystring.", query),
    ):
        if source.startswith(prefix):
            return values.get(source[len(prefix) :])
    if source.startswith("method.request.header."):
        return headers.get(source[len("method.request.header.") :])
    return None


def integration_target(
    integration: IntegrationSnapshot, path_params: dict[str, str], query: dict[str, str], headers: Any
) -> tuple[str, dict[str, str], dict[str, str]] | None:
    """(target URI, extra query parameters, extra headers), or None for an unfilled placeholder."""
    path_values: dict[str, str] = {}
    extra_query: dict[str, str] = {}
    extra_headers: dict[str, str] = {}
    for target, source in integration.request_parameters.items():
        value = mapped_value(str(source), path_params, query, headers)
        if value is None:
            continue
        if target.startswith("integration.request.path."):
            path_values[target[len("integration.request.path.") :]] = value
        elif target.startswith("integration.request.querystring."):
            extra_query[target[len("integration.request.querystring.") :]] = value
        elif target.startswith("integration.request.header."):
            extra_headers[target[len("integration.request.header.") :]] = value

    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in path_values:
            missing.append(name)
            return match.group(0)
        return quote(path_values[name], safe="/:@!$&'()*+,;=-._~")

    uri = PLACEHOLDER.sub(fill, integration.uri)
    if missing:
        return None
    return uri, extra_query, extra_headers


def invoke(store: Deployments, request: AwsRequest, match: re.Match[str]) -> Response:
    account = request_account(request)
    found = find_api(account, match["api"])
    if found is None:
        return forbidden()
    region, backend, api = found
    stage = api.stages.get(match["stage"])
    if stage is None or not stage.deployment_id:
        return forbidden()
    snapshot = store.get(account, region, api.id, stage.deployment_id)
    if snapshot is None or snapshot.execute_api_disabled:
        return forbidden()

    path = match["path"] or "/"
    resolved = find_resource(snapshot, path)
    if resolved is None:
        return missing_token()
    resource, path_params = resolved
    method = resource.methods.get(request.method) or resource.methods.get("ANY")
    if method is None:
        return missing_token()
    http = request.werkzeug()
    if method.authorization_type == "AWS_IAM" and not http.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
        return missing_token()
    if method.api_key_required and snapshot.api_key_source == "HEADER":
        if not api_key_valid(backend, api.id, match["stage"], http.headers.get("x-api-key")):
            return forbidden()

    integration = method.integration
    if integration is None or integration.type != "HTTP_PROXY":
        return internal_error()
    raw_query = str(request.environ.get("QUERY_STRING", ""))
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    target = integration_target(integration, path_params, query, http.headers)
    if target is None:
        return internal_error()
    uri, extra_query, extra_headers = target
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return internal_error()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return internal_error()
    target_query = "&".join(q for q in (parts.query, raw_query, urlencode(extra_query) if extra_query else "") if q)
    headers = {k: v for k, v in http.headers.items() if k.lower() not in NOT_FORWARDED}
    headers.update(extra_headers)
    headers["Host"] = parts.netloc
    endpoint_request = EndpointRequest(
        account=account,
        region=region,
        method=request.method if integration.http_method in (None, "ANY") else integration.http_method,
        scheme=parts.scheme,
        host=parts.hostname.lower(),
        port=port,
        path=parts.path or "/",
        query=target_query,
        headers=headers,
        body=http.get_data(),
    )
    answer = deliver(endpoint_request)
    if answer is None:
        return network_error()
    if answer.unreachable or answer.duration_ms > integration.timeout_ms:
        return timed_out()
    response = Response(answer.body, status=answer.status)
    for key, value in answer.headers.items():
        if key.lower() not in NOT_FORWARDED:
            response.headers[key] = value
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    response.headers["x-amz-apigw-id"] = secrets.token_urlsafe(12)[:16]
    return response


# ------------------------------------------------------------------------------ deployment
def create_deployment(sandbox: Sandbox, store: Deployments, request: AwsRequest, match: re.Match[str]) -> Response | None:
    """Let CreateDeployment through, then keep the API as it was under the new deployment id."""
    from moto.apigateway.models import apigateway_backends

    region = request.call.region
    if not region:
        return None
    account = request_account(request)
    backend = apigateway_backends[account][region]
    api = backend.apis.get(match["api"])
    if api is None:
        return None  # moto's NotFoundException
    snapshot = take_snapshot(account, region, api)
    try:
        body = json.loads(read_body(request.environ) or b"{}")
    except ValueError:
        body = {}
    stage_name: Any = body.get("stageName") if isinstance(body, dict) else None
    old_stage = api.stages.get(stage_name) if stage_name else None

    response = sandbox.forward(request, after=HOOK_NAME)
    if response.status_code not in (200, 201):
        return response
    try:
        deployment_id = json.loads(response.get_data())["id"]
    except (ValueError, KeyError, TypeError):
        return response
    store.put(replace(snapshot, deployment_id=deployment_id))
    if old_stage is not None:
        # API Gateway points the existing stage at the new deployment; moto made a bare new one.
        new_stage = api.stages.get(stage_name)
        old_stage.deployment_id = deployment_id
        if new_stage is not None and new_stage.variables:
            old_stage.variables = {**(old_stage.variables or {}), **new_stage.variables}
        api.stages[stage_name] = old_stage
    return response
