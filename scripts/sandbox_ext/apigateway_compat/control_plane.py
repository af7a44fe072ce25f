"""API Gateway's control plane where moto 5.2.5 answers otherwise: tags of a REST API by its ARN,
UpdateMethod, stages, and usage plans that hold API stages.

Tags of a REST API by ARN (moto 5.2.5 routes ``/tags/{resourceArn}`` for stage ARNs only and
answers 404 with an HTML page for ``arn:aws:apigateway:{region}::/restapis/{restApiId}``):

    GET    /tags/{resourceArn}                        GetTags       200 {"tags": {...}}
    PUT    /tags/{resourceArn}  {"tags": {...}}       TagResource   204 (merges, a key overwrites)
    DELETE /tags/{resourceArn}?tagKeys=a&tagKeys=b    UntagResource 204 (unknown keys ignored)

The tags live on moto's RestAPI (``tags``), so GetRestApi, GetRestApis and CreateRestApi's
``tags`` show the same. An API id unknown in the request's region, or an ARN naming another
region: 404 ``NotFoundException`` "Invalid API identifier specified {account}:{restApiId}" (API
Gateway's wording for an unknown REST API). TagResource without a ``tags`` object of strings, a
key of 0 or more than 128 characters, a value of more than 256, a key starting with ``aws:`` or
more than 50 tags on the API afterwards: 400 ``BadRequestException`` (AWS's tag limits; the
wording is the sandbox's). Other ARNs (stages, ...) are left to moto.

UpdateMethod (moto 5.2.5 has none: HTTP 500 with an empty body)::

    PATCH /restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}  {"patchOperations": [...]}

takes the paths of ``METHOD_PATCH_PATHS`` / ``METHOD_PATCH_PREFIXES`` with their ops (API Gateway's
"method:update" table); any other, or a bad value, is 400 ``BadRequestException`` and nothing
changes; an unknown method is 404 ``NotFoundException`` "Invalid Method identifier specified".

GetResources as API Gateway answers it: without ``embed=methods`` each resource's
``resourceMethods`` names its methods only (``{"ANY": {}}``, the AWS CLI reference's example of
``get-resources``); with it, each method whole, its integration included (API reference,
GetResources ``embed``: "Currently, the request supports only retrieval of the embedded Method
resources this way"). moto 5.2.5 always embeds them, so a client that reads a method's settings
from a listing made without ``embed`` would pass here and fail on AWS.

Stages as API Gateway describes them (GetStage, GetStages, UpdateStage): no ``description`` when
none was given (moto: ``""``), and a method setting that a patch creates (``/*/*/throttling/...``)
starts from API Gateway's defaults with ``cacheDataEncrypted`` false (moto: true).

Usage plans (moto deletes a plan whatever it holds):

    DELETE /usageplans/{usagePlanId}    DeleteUsagePlan

of a plan whose ``apiStages`` is not empty: 400 ``BadRequestException`` "Cannot delete Usage Plan
{id} because there are API Stages associated with it, including {apiId}:{stage}" (API Gateway's
answer, quoted in aws/aws-sdk-js#3841; with several stages the sandbox names the first), nothing
deleted. Remove the stages first: UpdateUsagePlan ``op=remove path=/apiStages
value={apiId}:{stage}`` (moto's ``UsagePlan.apply_patch_operations``). An unknown plan: 404
``NotFoundException`` "Invalid Usage Plan ID specified" (moto: HTTP 500, a KeyError). A stage
that is deleted (DeleteStage, DeleteRestApi) leaves every usage plan of its region, as API Gateway
disconnects a plan from a stage that goes away (hashicorp/terraform-provider-aws#14100: a stage
recreated by a deployment loses its usage plan association); moto kept it in ``apiStages``.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Response

from ..core import AwsRequest, json_response, read_body
from ..msk_topics import request_account
from .execute_api import gateway_error

RESOURCES_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/resources/?$")
# Whether the request being answered is a GetResources without embed=methods (per thread: each
# request is answered on its own).
METHODS_BY_NAME_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("methods_by_name_only", default=False)
USAGE_PLAN_PATH = re.compile(r"^/usageplans/(?P<plan>[^/]+)/?$")
METHOD_PATH = re.compile(r"^/restapis/(?P<api>[^/]+)/resources/(?P<resource>[^/]+)/methods/(?P<method>[^/]+)/?$")
# UpdateMethod's patch paths and the ops API Gateway takes on each (REST API reference,
# "method:update"; botocore apigateway 2015-07-09 UpdateMethod takes a list of PatchOperation
# {op: add|remove|replace|move|copy|test, path, value, from}). Prefixed paths end in a key.
METHOD_PATCH_PATHS = {
    "/authorizationType": {"replace"},
    "/authorizerId": {"replace"},
    "/apiKeyRequired": {"replace"},
    "/operationName": {"replace"},
    "/requestValidatorId": {"replace"},
    "/authorizationScopes": {"add", "remove"},
}
METHOD_PATCH_PREFIXES = {"/requestParameters/": {"add", "remove", "replace"}, "/requestModels/": {"add", "remove", "replace"}}
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS")
# werkzeug hands over the path decoded, so the ARN's slashes are path separators here.
REST_API_TAGS_PATH = re.compile(r"^/tags/arn:(?P<partition>[^:/]+):apigateway:(?P<region>[^:/]*)::/restapis/(?P<api>[^/]+)/?$")
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


# ---------------------------------------------------------------------------- UpdateMethod
def method_patch_problem(method: Any, operation: Any) -> str | None:
    """Applies one patch operation to moto's Method; why it is refused, or None."""
    if not isinstance(operation, dict):
        return "Invalid patch operation: expected an object with op, path and value."
    op, path, value = operation.get("op"), str(operation.get("path") or ""), operation.get("value")
    allowed = METHOD_PATCH_PATHS.get(path)
    prefix = next((p for p in METHOD_PATCH_PREFIXES if path.startswith(p) and len(path) > len(p)), None)
    if allowed is None and prefix is not None:
        allowed = METHOD_PATCH_PREFIXES[prefix]
    if allowed is None or op not in allowed:
        supported = ", ".join(sorted([*METHOD_PATCH_PATHS, *(p + "{key}" for p in METHOD_PATCH_PREFIXES)]))
        return f"Invalid patch path '{path}' specified for op '{op}'. Supported paths: {supported}"
    if path == "/apiKeyRequired":
        if str(value).lower() not in ("true", "false"):
            return f"Invalid value '{value}' for /apiKeyRequired: expected true or false."
        method.api_key_required = str(value).lower() == "true"
    elif path == "/authorizationType":
        if value not in AUTHORIZATION_TYPES:
            return f"Invalid authorization type '{value}' specified. Valid values are: {', '.join(AUTHORIZATION_TYPES)}"
        method.authorization_type = value
    elif path == "/authorizationScopes":
        scopes = [s for s in method.authorization_scopes or [] if s != value]
        method.authorization_scopes = [*scopes, value] if op == "add" else scopes
    elif prefix is not None:
        key = path[len(prefix) :].replace("~1", "/").replace("~0", "~")
        attribute = "request_parameters" if prefix == "/requestParameters/" else "request_models"
        current = dict(getattr(method, attribute) or {})
        if op == "remove":
            current.pop(key, None)
        else:
            current[key] = str(value).lower() == "true" if attribute == "request_parameters" else value
        setattr(method, attribute, current)
    else:
        setattr(method, {"/authorizerId": "authorizer_id", "/operationName": "operation_name"}.get(path, "request_validator_id"), value)
    return None


def update_method(request: AwsRequest, match: re.Match[str]) -> Response:
    """UpdateMethod (moto 5.2.5 has none: HTTP 500 with an empty body). Every operation is
    checked before any is applied, as one PATCH either takes effect whole or not at all."""
    from moto.apigateway.models import apigateway_backends

    account = request_account(request)
    backend = apigateway_backends[account][request.call.region or "us-east-1"]
    api = backend.apis.get(match["api"])
    resource = api.resources.get(match["resource"]) if api is not None else None
    method = (resource.resource_methods or {}).get(match["method"]) if resource is not None else None
    if method is None:
        return api_error(404, "NotFoundException", "Invalid Method identifier specified")
    try:
        body = json.loads(read_body(request.environ) or b"{}")
    except ValueError:
        return api_error(400, "BadRequestException", "Invalid request body: not JSON.")
    operations = body.get("patchOperations") if isinstance(body, dict) else None
    trial = copy.deepcopy(method)
    for operation in operations or []:
        if (problem := method_patch_problem(trial, operation)) is not None:
            return api_error(400, "BadRequestException", problem)
    for operation in operations or []:
        method_patch_problem(method, operation)
    answer = {k: v for k, v in method.to_json().items() if v is not None}
    response = json_response(answer)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


# ------------------------------------------------------------------------------------ tags
def api_error(status: int, code: str, message: str) -> Response:
    return gateway_error(status, code, json.dumps({"message": message}))


def tag_problem(tags: Any) -> str | None:
    """Why TagResource's ``tags`` would be refused, or None."""
    if not isinstance(tags, dict):
        return "Invalid tags: expected a map of tag keys to values."
    for key, value in tags.items():
        if not isinstance(value, str):
            return f"Invalid tags: the value of {key!r} must be a string."
        if not 1 <= len(key) <= MAX_TAG_KEY:
            return f"Invalid tag key {key!r}: a key has 1 to {MAX_TAG_KEY} characters."
        if len(value) > MAX_TAG_VALUE:
            return f"Invalid tag value for {key!r}: a value has at most {MAX_TAG_VALUE} characters."
        if key.lower().startswith("aws:"):
            return f"Invalid tag key {key!r}: the aws: prefix is reserved for AWS use."
    return None


def rest_api_tags(request: AwsRequest, match: re.Match[str]) -> Response | None:
    """GetTags, TagResource and UntagResource for a REST API's ARN (other methods: moto)."""
    from moto.apigateway.models import apigateway_backends

    if request.method not in ("GET", "PUT", "DELETE"):
        return None
    account = request_account(request)
    region = request.call.region or match["region"]
    api = apigateway_backends[account][region].apis.get(match["api"]) if match["region"] == region else None
    if api is None:
        return api_error(404, "NotFoundException", f"Invalid API identifier specified {account}:{match['api']}")

    if request.method == "GET":
        response = json_response({"tags": dict(api.tags or {})})
    elif request.method == "PUT":
        try:
            body = json.loads(read_body(request.environ) or b"{}")
        except ValueError:
            return api_error(400, "BadRequestException", "Invalid request body: not JSON.")
        tags: Any = body.get("tags") if isinstance(body, dict) else None
        problem = tag_problem(tags)
        if problem is not None:
            return api_error(400, "BadRequestException", problem)
        merged = {**(api.tags or {}), **tags}
        if len(merged) > MAX_TAGS:
            message = f"Invalid tags: a resource has at most {MAX_TAGS} tags ({len(merged)} after this request)."
            return api_error(400, "BadRequestException", message)
        api.tags = merged
        response = Response(status=204)
    else:
        keys = set(parse_qs(str(request.environ.get("QUERY_STRING", ""))).get("tagKeys", []))
        api.tags = {k: v for k, v in (api.tags or {}).items() if k not in keys}
        response = Response(status=204)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def delete_usage_plan(request: AwsRequest, match: re.Match[str]) -> Response | None:
    """Refuse DeleteUsagePlan while the plan lists API stages (None: moto deletes it)."""
    from moto.apigateway.models import apigateway_backends

    region = request.call.region
    if not region:
        return None
    backend = apigateway_backends[request_account(request)][region]
    plan = backend.usage_plans.get(match["plan"])
    if plan is None:
        return api_error(404, "NotFoundException", "Invalid Usage Plan ID specified")
    stages = list(plan.api_stages or [])
    if stages:
        first = f"{stages[0].get('apiId')}:{stages[0].get('stage')}"
        message = f"Cannot delete Usage Plan {plan.id} because there are API Stages associated with it, including {first}"
        return api_error(400, "BadRequestException", message)
    return None


def patch_usage_plan_stages() -> None:
    """DeleteStage and DeleteRestApi take the stage(s) out of the region's usage plans."""
    from moto.apigateway.models import APIGatewayBackend

    original_delete_stage = APIGatewayBackend.delete_stage
    original_delete_api = APIGatewayBackend.delete_rest_api

    def forget(backend: Any, api_id: str, stage: str | None) -> None:
        for plan in list(backend.usage_plans.values()):
            plan.api_stages = [s for s in plan.api_stages or [] if not (s.get("apiId") == api_id and (stage is None or s.get("stage") == stage))]

    @functools.wraps(original_delete_stage)
    def delete_stage(self: Any, function_id: str, stage_name: str) -> None:
        original_delete_stage(self, function_id, stage_name)
        forget(self, function_id, stage_name)

    @functools.wraps(original_delete_api)
    def delete_rest_api(self: Any, function_id: str) -> Any:
        deleted = original_delete_api(self, function_id)
        forget(self, function_id, None)
        return deleted

    APIGatewayBackend.delete_stage = delete_stage  # type: ignore[method-assign]
    APIGatewayBackend.delete_rest_api = delete_rest_api  # type: ignore[method-assign]


def patch_stages() -> None:
    """moto's Stage answers as API Gateway's (see the module docstring)."""
    from moto.apigateway.models import Stage

    original_to_json = Stage.to_json
    original_defaults = Stage._get_default_method_settings

    @functools.wraps(original_to_json)
    def to_json(self: Any) -> dict[str, Any]:
        answer = original_to_json(self)
        if not answer.get("description"):
            answer.pop("description", None)
        return answer

    @functools.wraps(original_defaults)
    def default_method_settings(self: Any) -> dict[str, Any]:
        return {**original_defaults(self), "cacheDataEncrypted": False}

    Stage.to_json = to_json  # type: ignore[method-assign]
    Stage._get_default_method_settings = default_method_settings  # type: ignore[method-assign]


def note_resources_listing(request: AwsRequest) -> None:
    """Marks whether this request is a GetResources whose answer names methods only."""
    listing = request.method == "GET" and RESOURCES_PATH.match(request.path) is not None
    embed = ",".join(parse_qs(str(request.environ.get("QUERY_STRING", ""))).get("embed", []))
    METHODS_BY_NAME_ONLY.set(listing and "methods" not in embed.split(","))


def patch_resource_listing() -> None:
    """moto's Resource answers GetResources' methods by name only unless ``embed=methods``."""
    from moto.apigateway.models import Resource

    original_to_dict = Resource.to_dict

    @functools.wraps(original_to_dict)
    def to_dict(self: Any) -> dict[str, Any]:
        answer = original_to_dict(self)
        if METHODS_BY_NAME_ONLY.get() and "resourceMethods" in answer:
            answer["resourceMethods"] = {verb: {} for verb in answer["resourceMethods"]}
        return answer

    Resource.to_dict = to_dict  # type: ignore[method-assign]
