"""The call log (calls.py): each AWS request is recorded with the access key id that signed it,
so that a test can tell whose credentials a client used; a record can be flagged throttled; a
REST call's operation is named as its API names it (operation_name)."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from sandbox_ext.calls import Call, CallLog, operation_name
from support import REGION, Sandbox


def signed_client(sandbox: Sandbox, access_key: str) -> object:
    return boto3.client(
        "sts",
        endpoint_url=sandbox.url,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key="never-recorded",
        config=Config(retries={"max_attempts": 1}, proxies={}),
    )


def test_each_call_records_the_access_key_that_signed_it_and_never_the_secret(sandbox: Sandbox) -> None:
    sandbox.post("/_sandbox/calls/reset")
    signed_client(sandbox, "AKIAFIRSTFIRSTFIRST1").get_caller_identity()  # type: ignore[attr-defined]
    signed_client(sandbox, "AKIASECONDSECONDSEC2").get_caller_identity()  # type: ignore[attr-defined]
    calls = sandbox.get("/_sandbox/calls")["calls"]
    assert [(c["operation"], c["access_key"]) for c in calls] == [
        ("GetCallerIdentity", "AKIAFIRSTFIRSTFIRST1"),
        ("GetCallerIdentity", "AKIASECONDSECONDSEC2"),
    ]
    assert "never-recorded" not in str(calls)


def test_a_call_can_be_flagged_throttled_after_it_was_logged() -> None:
    log = CallLog()
    first, second = (Call("ec2", "RunInstances", True, REGION, "", "query") for _ in range(2))
    log.append(first)
    log.append(second)
    log.mark_throttled(second)
    assert [c.throttled for c in log.snapshot()] == [False, True]
    assert log.snapshot()[1].to_json()["throttled"] is True


@pytest.mark.parametrize(
    ("service", "operation", "query", "name"),
    [
        # API Gateway, from botocore's apigateway service-2.json (requestUri and method).
        ("apigateway", "POST /restapis", "", "CreateRestApi"),
        ("apigateway", "POST /restapis", "mode=import", "ImportRestApi"),
        ("apigateway", "PUT /restapis/a1b2c3d4e5", "mode=overwrite", "PutRestApi"),
        ("apigateway", "DELETE /restapis/a1b2c3d4e5", "", "DeleteRestApi"),
        ("apigateway", "POST /restapis/a1b2c3d4e5/deployments", "", "CreateDeployment"),
        ("apigateway", "GET /restapis/a1b2c3d4e5/resources", "embed=methods&limit=500", "GetResources"),
        ("apigateway", "POST /restapis/a1b2c3d4e5/resources/r00t", "", "CreateResource"),
        ("apigateway", "DELETE /restapis/a1b2c3d4e5/resources/r00t", "", "DeleteResource"),
        ("apigateway", "PUT /restapis/a1b2c3d4e5/resources/r00t/methods/ANY", "", "PutMethod"),
        ("apigateway", "POST /apikeys", "", "CreateApiKey"),
        ("apigateway", "PATCH /usageplans/u1", "", "UpdateUsagePlan"),
        ("apigateway", "GET /restapis", "", "GetRestApis"),
        # ARNs in the path, their "/" decoded by the server.
        ("kafka", "GET /v1/clusters/arn:aws:kafka:us-east-1:123456789012:cluster/demo/0b1c-1/bootstrap-brokers", "", "GetBootstrapBrokers"),
        ("kafka", "GET /api/v2/clusters/arn:aws:kafka:us-east-1:123456789012:cluster/demo/0b1c-1", "", "DescribeClusterV2"),
        ("kafkaconnect", "DELETE /v1/connectors/arn:aws:kafkaconnect:us-east-1:123456789012:connector/c/0b1c-2", "", "DeleteConnector"),
        # No route: as logged. S3 is left out (its routes need headers to tell apart).
        ("apigateway", "GET /restapis/a1b2c3d4e5/dev/_user_request_/topics/t", "", "GET /restapis/a1b2c3d4e5/dev/_user_request_/topics/t"),
        ("s3", "PUT /bucket/key", "", "PUT /bucket/key"),
    ],
)
def test_a_rest_call_is_named_by_botocores_routes(service: str, operation: str, query: str, name: str) -> None:
    assert operation_name(Call(service, operation, True, REGION, query, "rest")) == name


def test_query_and_json_operations_keep_their_names() -> None:
    assert operation_name(Call("ec2", "RunInstances", True, REGION, "", "query")) == "RunInstances"
    assert operation_name(Call("ssm", "GetParameter", False, REGION, "", "json")) == "GetParameter"
