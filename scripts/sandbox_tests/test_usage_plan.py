"""DeleteUsagePlan as API Gateway answers it (apigateway_compat): refused while the plan lists API
stages; removing them first (UpdateUsagePlan op=remove path=/apiStages) lets it go."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support import Sandbox


def api_with_stage(apigateway: Any, name: str = "api", stage: str = "dev") -> str:
    api = str(apigateway.create_rest_api(name=name)["id"])
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName=stage)
    return api


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_a_plan_with_api_stages_is_not_deleted(sandbox: Sandbox) -> None:
    apigateway = sandbox.client("apigateway")
    api = api_with_stage(apigateway)
    plan = apigateway.create_usage_plan(name="plan", apiStages=[{"apiId": api, "stage": "dev"}])["id"]
    with pytest.raises(ClientError) as err:
        apigateway.delete_usage_plan(usagePlanId=plan)
    message = f"Cannot delete Usage Plan {plan} because there are API Stages associated with it, including {api}:dev"
    assert error(err) == (400, "BadRequestException", message)
    assert apigateway.get_usage_plan(usagePlanId=plan)["apiStages"] == [{"apiId": api, "stage": "dev"}]

    # Remove the stage first, then delete.
    apigateway.update_usage_plan(usagePlanId=plan, patchOperations=[{"op": "remove", "path": "/apiStages", "value": f"{api}:dev"}])
    assert apigateway.get_usage_plan(usagePlanId=plan).get("apiStages", []) == []
    apigateway.delete_usage_plan(usagePlanId=plan)
    with pytest.raises(ClientError) as err:
        apigateway.get_usage_plan(usagePlanId=plan)
    assert error(err)[:2] == (404, "NotFoundException")
    with pytest.raises(ClientError) as err:
        apigateway.delete_usage_plan(usagePlanId=plan)
    assert error(err) == (404, "NotFoundException", "Invalid Usage Plan ID specified")


def test_a_plan_without_stages_and_stages_that_went_away(sandbox: Sandbox) -> None:
    apigateway = sandbox.client("apigateway")
    apigateway.delete_usage_plan(usagePlanId=apigateway.create_usage_plan(name="empty")["id"])
    # Several stages: the answer names one of them; each has to be removed.
    api, other = api_with_stage(apigateway), api_with_stage(apigateway, "other", "prod")
    plan = apigateway.create_usage_plan(name="two", apiStages=[{"apiId": api, "stage": "dev"}, {"apiId": other, "stage": "prod"}])["id"]
    apigateway.update_usage_plan(usagePlanId=plan, patchOperations=[{"op": "remove", "path": "/apiStages", "value": f"{api}:dev"}])
    with pytest.raises(ClientError) as err:
        apigateway.delete_usage_plan(usagePlanId=plan)
    assert error(err)[2].endswith(f"including {other}:prod")
    # A stage that is deleted (or whose API is) leaves the plan.
    apigateway.delete_rest_api(restApiId=other)
    assert apigateway.get_usage_plan(usagePlanId=plan).get("apiStages", []) == []
    apigateway.delete_usage_plan(usagePlanId=plan)
    plan = apigateway.create_usage_plan(name="staged", apiStages=[{"apiId": api, "stage": "dev"}])["id"]
    apigateway.delete_stage(restApiId=api, stageName="dev")
    apigateway.delete_usage_plan(usagePlanId=plan)
