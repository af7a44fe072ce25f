"""GetResources as API Gateway answers it (apigateway_compat): a resource's methods by name only
unless the request says ``embed=methods``, then whole, with the integration."""

from __future__ import annotations

from support import Sandbox


def test_methods_are_named_only_unless_embedded(sandbox: Sandbox) -> None:
    apigateway = sandbox.client("apigateway")
    api = str(apigateway.create_rest_api(name="api")["id"])
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    resource = apigateway.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigateway.put_method(restApiId=api, resourceId=resource, httpMethod="ANY", authorizationType="NONE")
    apigateway.put_integration(
        restApiId=api, resourceId=resource, httpMethod="ANY", type="HTTP_PROXY", integrationHttpMethod="ANY", uri="http://example.invalid/{proxy}"
    )

    def proxy(**embed: list[str]) -> dict[str, object]:
        items = apigateway.get_resources(restApiId=api, **embed)["items"]
        return next(item for item in items if item["path"] == "/{proxy+}")

    assert proxy()["resourceMethods"] == {"ANY": {}}
    embedded = proxy(embed=["methods"])["resourceMethods"]
    assert isinstance(embedded, dict)
    assert embedded["ANY"]["authorizationType"] == "NONE"
    assert embedded["ANY"]["methodIntegration"]["type"] == "HTTP_PROXY"
    # GetMethod is not a listing: whole, as before.
    assert apigateway.get_method(restApiId=api, resourceId=resource, httpMethod="ANY")["methodIntegration"]["uri"] == "http://example.invalid/{proxy}"
