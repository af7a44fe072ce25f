"""The order of the sandbox's middleware (core, then the request hooks in EXTENSIONS' order): every
AWS call is logged before anything may answer it; armed faults come before chaos, and both come
before the emulators they sit in front of (kafkaconnect, msk_topics, …), so they hit the calls
those answer; an ``"after"`` fault lets the call take effect through every later hook first; the
same chaos seed gives the same faults to the same calls."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox_ext import EMULATORS, EXTENSIONS, MIDDLEWARE
from support import ACCOUNT, Sandbox, http


def client(sandbox: Sandbox, service: str) -> Any:
    """A client that never retries, so that one call is one request (support's retries once)."""
    return boto3.client(
        service,
        endpoint_url=sandbox.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, proxies={}, s3={"addressing_style": "path"}),
    )


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def arm(sandbox: Sandbox, **fault: Any) -> None:
    status, answer = sandbox.post("/_sandbox/faults", fault)
    assert status == 200, answer


def plugin_bucket(sandbox: Sandbox) -> None:
    s3 = client(sandbox, "s3")
    s3.create_bucket(Bucket="plugins")
    s3.put_object(Bucket="plugins", Key="sink.zip", Body=b"PK\x05\x06" + b"\0" * 18)  # an empty ZIP archive


def location() -> dict[str, Any]:
    return {"s3Location": {"bucketArn": "arn:aws:s3:::plugins", "fileKey": "sink.zip"}}


def test_faults_and_chaos_sit_in_front_of_every_emulator() -> None:
    # What the tests below rely on, said once: the middleware first, the emulators after it.
    assert MIDDLEWARE == ("quotas", "faults", "chaos")
    assert EXTENSIONS == MIDDLEWARE + EMULATORS
    order = list(EXTENSIONS)
    for emulator in ("ec2_compat", "msk_clusters", "msk_topics", "kafkaconnect", "apigateway_compat", "s3_compat"):
        assert order.index("chaos") < order.index(emulator), emulator


def test_an_armed_fault_answers_for_an_emulator_and_the_call_is_still_logged(sandbox: Sandbox) -> None:
    kc = client(sandbox, "kafkaconnect")
    arm(sandbox, service="kafkaconnect", operation="GET /v1/custom-plugins", status=503, code="ServiceUnavailableException")
    http("POST", f"{sandbox.url}/_sandbox/calls/reset")
    with pytest.raises(ClientError) as err:
        kc.list_custom_plugins()
    assert error(err) == (503, "ServiceUnavailableException")
    # count 1: the next one reaches kafkaconnect.
    assert kc.list_custom_plugins()["customPlugins"] == []
    assert [f["fired"] for f in sandbox.get("/_sandbox/faults")["faults"]] == [1]
    calls = [(c["service"], c["operation"], c["mutating"]) for c in sandbox.get("/_sandbox/calls")["calls"]]
    assert calls == [("kafkaconnect", "GET /v1/custom-plugins", False)] * 2


def test_an_after_fault_lets_the_call_through_every_later_hook_then_loses_the_answer(sandbox: Sandbox) -> None:
    plugin_bucket(sandbox)
    kc = client(sandbox, "kafkaconnect")
    arm(sandbox, service="kafkaconnect", operation="POST /v1/custom-plugins", after=True)
    with pytest.raises(ClientError) as err:
        kc.create_custom_plugin(name="sink", contentType="ZIP", location=location())
    assert error(err) == (500, "InternalFailure")
    # It took effect: kafkaconnect made the plugin, so the retry a client would send conflicts.
    assert [p["name"] for p in kc.list_custom_plugins()["customPlugins"]] == ["sink"]
    with pytest.raises(ClientError) as err:
        kc.create_custom_plugin(name="sink", contentType="ZIP", location=location())
    assert error(err) == (409, "ConflictException")


def test_a_fault_prefix_matches_rest_operations_by_their_resource_path(sandbox: Sandbox) -> None:
    plugin_bucket(sandbox)
    kc = client(sandbox, "kafkaconnect")
    arn = kc.create_custom_plugin(name="sink", contentType="ZIP", location=location())["customPluginArn"]
    arm(sandbox, service="kafkaconnect", operation="GET /v1/custom-plugins/*", status=400, code="BadRequestException", count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            kc.describe_custom_plugin(customPluginArn=arn)
        assert error(err) == (400, "BadRequestException")
    assert kc.list_custom_plugins()["customPlugins"][0]["customPluginArn"] == arn  # no prefix match: not hit
    assert kc.describe_custom_plugin(customPluginArn=arn)["name"] == "sink"


def test_a_fault_comes_before_chaos_which_never_sees_the_call(sandbox: Sandbox) -> None:
    kafka = client(sandbox, "kafka")
    status, _ = sandbox.post("/_sandbox/chaos", {"rate": 1.0, "kinds": ["throttle"], "services": ["kafka"]})
    assert status == 200
    arm(sandbox, service="kafka", status=403, code="ForbiddenException")
    with pytest.raises(ClientError) as err:
        kafka.list_clusters_v2()
    assert error(err) == (403, "ForbiddenException")
    chaos = sandbox.get("/_sandbox/chaos")
    assert (chaos["requests"], chaos["total_injected"]) == (0, 0)
    # With the fault spent, chaos answers for msk (TooManyRequestsException, 429), in front of moto.
    with pytest.raises(ClientError) as err:
        kafka.list_clusters_v2()
    assert error(err) == (429, "TooManyRequestsException")
    chaos = sandbox.get("/_sandbox/chaos")
    assert (chaos["requests"], chaos["eligible"], chaos["injected"]["throttle"]) == (1, 1, 1)
    assert chaos["log"] == [{"request": 1, "service": "kafka", "operation": "GET /api/v2/clusters", "kind": "throttle"}]  # request: 1-based


def test_chaos_hits_only_the_services_it_names_and_counts_the_rest(sandbox: Sandbox) -> None:
    assert sandbox.post("/_sandbox/chaos", {"rate": 1.0, "kinds": ["500"], "services": ["kafkaconnect"]})[0] == 200
    assert client(sandbox, "s3").list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as err:
        client(sandbox, "kafkaconnect").list_connectors()
    assert error(err) == (500, "InternalServerErrorException")
    chaos = sandbox.get("/_sandbox/chaos")
    assert (chaos["requests"], chaos["eligible"], chaos["total_injected"]) == (2, 1, 1)
    # Off: calls go through; the counters stay readable. moto's reset clears them.
    http("DELETE", f"{sandbox.url}/_sandbox/chaos")
    assert client(sandbox, "kafkaconnect").list_connectors()["connectors"] == []
    assert sandbox.get("/_sandbox/chaos")["total_injected"] == 1
    http("POST", f"{sandbox.url}/moto-api/reset")
    assert (sandbox.get("/_sandbox/chaos")["enabled"], sandbox.get("/_sandbox/chaos")["total_injected"]) == (False, 0)


def test_the_same_seed_gives_the_same_faults_to_the_same_calls(sandbox: Sandbox) -> None:
    kc = client(sandbox, "kafkaconnect")

    def outcomes() -> list[str]:
        spec = {"rate": 0.5, "seed": 7, "kinds": ["throttle", "500", "503"], "services": ["kafkaconnect"]}
        assert sandbox.post("/_sandbox/chaos", spec)[0] == 200
        seen = []
        for _ in range(20):
            try:
                kc.list_custom_plugins()
                seen.append("OK")
            except ClientError as err:
                seen.append(str(err.response["Error"]["Code"]))
        return seen

    first = outcomes()
    assert "OK" in first and len(set(first)) > 1, first
    assert outcomes() == first
    assert sandbox.get("/_sandbox/chaos")["total_injected"] == sum(1 for o in first if o != "OK")


def test_a_kill_counts_only_mutating_calls_that_can_take_effect(sandbox: Sandbox) -> None:
    # The sandbox's own pid and pids that name process groups are refused.
    for pid in (0, 1, -5, os.getpid()):
        assert sandbox.post("/_sandbox/kill", {"pid": pid})[0] == 400, pid
    victim = 2**22 + 12345  # above any default pid_max: os.kill fails, and the failure is kept
    assert sandbox.post("/_sandbox/kill", {"pid": victim, "after_mutating": 2})[0] == 200
    iam = client(sandbox, "iam")
    iam.list_roles()  # a read: not counted
    arm(sandbox, service="iam", operation="CreateRole", status=400, code="InvalidInput")
    trust = '{"Version": "2012-10-17", "Statement": []}'
    with pytest.raises(ClientError):
        iam.create_role(RoleName="a", AssumeRolePolicyDocument=trust)  # answered by the fault: not counted
    iam.create_role(RoleName="a", AssumeRolePolicyDocument=trust)
    assert sandbox.get("/_sandbox/kill")["seen"] == 1
    iam.create_role(RoleName="b", AssumeRolePolicyDocument=trust)  # the second: the kill fires after it took effect
    kill = sandbox.get("/_sandbox/kill")
    assert (kill["armed"], kill["fired"], kill["seen"], kill["operation"]) == (False, True, 2, "iam:CreateRole")
    assert kill["error"] and kill["error"].startswith(("ProcessLookupError", "OverflowError")), kill
    assert iam.get_role(RoleName="b")["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/b"
