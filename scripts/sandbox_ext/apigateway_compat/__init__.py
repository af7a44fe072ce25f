"""API Gateway for the sandbox, where moto 5.2.5 falls short: REST APIs as clients call them
(execute-api invocations, deployments kept as snapshots, HTTP_PROXY integrations to in-process
endpoints) and the control plane's answers (tags by REST API ARN, UpdateMethod, stages, usage
plans, GetResources' ``embed``). One extension, ``apigateway_compat``: one request hook, ``/_sandbox/apigateway``.

Layout (each module's docstring has the behaviour in full):

    execute_api.py    the invoke route, in-process HTTP endpoints, deployment snapshots and their
                      store, API Gateway's error answers, CreateDeployment
    control_plane.py  GetTags/TagResource/UntagResource by REST API ARN, UpdateMethod,
                      DeleteUsagePlan and the stages usage plans hold, stages as API Gateway
                      describes them, GetResources' methods by name unless embedded
    __init__.py       install(): the request hook, the control route; the in-process endpoint
                      API other extensions use (``add_http_endpoint``, ``EndpointRequest``,
                      ``EndpointAnswer``, ``UNREACHABLE``; data_path's stand-in REST proxies)
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from ..core import AwsRequest, Sandbox, json_response
from .control_plane import (
    METHOD_PATH,
    REST_API_TAGS_PATH,
    USAGE_PLAN_PATH,
    delete_usage_plan,
    note_resources_listing,
    patch_resource_listing,
    patch_stages,
    patch_usage_plan_stages,
    rest_api_tags,
    update_method,
)
from .execute_api import (
    DEPLOYMENTS_PATH,
    HOOK_NAME,
    INVOKE_PATH,
    UNREACHABLE,
    Deployments,
    EndpointAnswer,
    EndpointRequest,
    HttpEndpoint,
    add_http_endpoint,
    create_deployment,
    invoke,
)

__all__ = ["HOOK_NAME", "UNREACHABLE", "EndpointAnswer", "EndpointRequest", "HttpEndpoint", "add_http_endpoint", "install"]


def install(sandbox: Sandbox) -> None:
    store = Deployments()
    patch_stages()
    patch_usage_plan_stages()
    patch_resource_listing()

    def hook(request: AwsRequest) -> Response | None:
        if request.call.service == "apigateway":
            note_resources_listing(request)
        if match := INVOKE_PATH.match(request.path):
            return invoke(store, request, match)
        if request.call.service == "apigateway" and request.method == "POST" and (match := DEPLOYMENTS_PATH.match(request.path)):
            return create_deployment(sandbox, store, request, match)
        if request.call.service == "apigateway" and (match := REST_API_TAGS_PATH.match(request.path)):
            return rest_api_tags(request, match)
        if request.call.service == "apigateway" and request.method == "DELETE" and (match := USAGE_PLAN_PATH.match(request.path)):
            return delete_usage_plan(request, match)
        if request.call.service == "apigateway" and request.method == "PATCH" and (match := METHOD_PATH.match(request.path)):
            return update_method(request, match)
        return None

    def listing(_request: Request) -> Response:
        return json_response({"deployments": store.listing()})

    sandbox.add_control_route("GET", "/_sandbox/apigateway", listing)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(store.reset)
