"""UpdateMethod as API Gateway answers it (apigateway_compat; moto 5.2.5 has no UpdateMethod and
answered HTTP 500 with an empty body): ``replace /apiKeyRequired`` and ``/authorizationType``
take effect, an unknown path or a bad value is a 400 BadRequestException with a message and
changes nothing, an unknown method is a 404."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support import Sandbox


def proxy_method(apigateway: Any) -> tuple[str, str]:
    api = str(apigateway.create_rest_api(name="api")["id"])
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    resource = apigateway.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigateway.put_method(restApiId=api, resourceId=resource, httpMethod="ANY", authorizationType="NONE")
    return api, resource


def replace(path: str, value: str) -> dict[str, str]:
    return {"op": "replace", "path": path, "value": value}


def test_api_key_required_is_turned_on_and_off(sandbox: Sandbox) -> None:
    apigateway = sandbox.client("apigateway")
    api, resource = proxy_method(apigateway)
    method = dict(restApiId=api, resourceId=resource, httpMethod="ANY")
    answer = apigateway.update_method(**method, patchOperations=[replace("/apiKeyRequired", "true"), replace("/authorizationType", "NONE")])
    assert answer["apiKeyRequired"] is True
    assert answer["authorizationType"] == "NONE"
    assert apigateway.get_method(**method)["apiKeyRequired"] is True
    apigateway.update_method(**method, patchOperations=[replace("/apiKeyRequired", "false")])
    assert apigateway.get_method(**method)["apiKeyRequired"] is False
    apigateway.update_method(**method, patchOperations=[replace("/authorizationType", "AWS_IAM")])
    assert apigateway.get_method(**method)["authorizationType"] == "AWS_IAM"


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (replace("/noSuchField", "x"), "Invalid patch path '/noSuchField' specified for op 'replace'"),
        ({"op": "add", "path": "/apiKeyRequired", "value": "true"}, "Invalid patch path '/apiKeyRequired' specified for op 'add'"),
        (replace("/apiKeyRequired", "yes"), "Invalid value 'yes' for /apiKeyRequired"),
        (replace("/authorizationType", "OPEN"), "Invalid authorization type 'OPEN' specified"),
    ],
)
def test_a_bad_patch_is_a_400_with_a_reason_and_changes_nothing(sandbox: Sandbox, operation: dict[str, str], message: str) -> None:
    apigateway = sandbox.client("apigateway")
    api, resource = proxy_method(apigateway)
    method = dict(restApiId=api, resourceId=resource, httpMethod="ANY")
    with pytest.raises(ClientError) as err:
        # A good operation first: the PATCH is taken whole or not at all.
        apigateway.update_method(**method, patchOperations=[replace("/apiKeyRequired", "true"), operation])
    response = err.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (400, "BadRequestException")
    assert response["Error"]["Message"].startswith(message), response["Error"]["Message"]
    assert apigateway.get_method(**method)["apiKeyRequired"] is False


def test_an_unknown_method_is_a_404(sandbox: Sandbox) -> None:
    apigateway = sandbox.client("apigateway")
    api, resource = proxy_method(apigateway)
    with pytest.raises(ClientError) as err:
        apigateway.update_method(restApiId=api, resourceId=resource, httpMethod="GET", patchOperations=[replace("/apiKeyRequired", "true")])
    response = err.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (404, "NotFoundException")
    assert response["Error"]["Message"] == "Invalid Method identifier specified"
