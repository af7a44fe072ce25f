"""Quotas (quotas.py): AWS's documented request quotas as token buckets, off by default. A bucket
admits its burst, then throttles with the service's own answer (API Gateway's 429
TooManyRequestsException, EC2's 503 RequestLimitExceeded) until it refills, at the scaled rate;
API Gateway's service-wide bucket; EC2's per-action buckets by category; the counters; boto3 (and
its standard retry mode) sees throttling errors. The buckets run on a fake clock here, so that
nothing refills unless a test moves it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from sandbox_ext import MIDDLEWARE
from sandbox_ext.core import TIME_SCALE
from sandbox_ext.quotas import EC2_MUTATING, EC2_NON_MUTATING, QUOTAS, THROTTLED, Buckets, Rate, buckets_for, current
from support import REGION, Sandbox, client_error, http, image

EC2_THROTTLED = re.compile(
    r'<\?xml version="1.0" encoding="UTF-8"\?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
    r"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>[0-9a-f-]{36}</RequestID></Response>"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(sandbox: Sandbox) -> Iterator[FakeClock]:
    """The installed quotas' buckets on a fake clock (after the sandbox fixture's reset)."""
    fake = FakeClock()
    buckets = current().buckets
    real, buckets.clock = buckets.clock, fake
    yield fake
    buckets.clock = real
    http("POST", f"{sandbox.url}/moto-api/reset")  # quotas off, scale 1


def client(sandbox: Sandbox, service: str) -> Any:
    """A client that never retries, so that one call is one request (support's retries throttling once)."""
    return boto3.client(
        service,
        endpoint_url=sandbox.url,
        region_name=REGION,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, proxies={}),
    )


def quotas(sandbox: Sandbox, **spec: Any) -> dict[str, Any]:
    status, answer = sandbox.post("/_sandbox/quotas", spec)
    assert status == 200, answer
    return dict(answer)


def signed(sandbox: Sandbox, service: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A SigV4-signed request as the SDKs send it, answered raw (status, headers, body)."""
    request = AWSRequest(method=method, url=sandbox.url + path, data=body, headers=headers or {})
    SigV4Auth(Credentials("AKIAIOSFODNN7EXAMPLE", "test"), service, REGION).add_auth(request)
    return http(method, request.url, body or None, dict(request.headers.items()))


def ec2_action(sandbox: Sandbox, action: str, **params: str) -> tuple[int, dict[str, str], bytes]:
    form = "&".join([f"Action={action}", "Version=2016-11-15", *(f"{k}={v}" for k, v in params.items())])
    return signed(sandbox, "ec2", "POST", "/", form.encode(), {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})


# ---------------------------------------------------------------------------- the table
def test_the_table_is_pinfras_pacing_table() -> None:
    # Read from src/aws/pacing.rs (`quota(key, count, seconds, burst)` rows), so that the two
    # tables cannot drift apart.
    rust = (Path(__file__).resolve().parents[2] / "src" / "aws" / "pacing.rs").read_text()
    rows = re.findall(r'quota\("([^"]+)", ([\d.]+), ([\d.]+), ([\d.]+)\)', rust.split("pub const QUOTAS", 1)[1].split("];", 1)[0])
    assert len(rows) > 10, "the Rust table was not found"
    assert {key: Rate(float(c), float(s), float(b)) for key, c, s, b in rows} == QUOTAS
    assert {key.split(":")[0] for key in QUOTAS} <= set(THROTTLED), "every throttled service has its answer"


def test_a_call_takes_its_operations_bucket_and_its_services() -> None:
    keys = lambda service, operation: [k for k, _rate in buckets_for(service, operation)]  # noqa: E731
    assert keys("apigateway", "CreateRestApi") == ["apigateway:CreateRestApi", "apigateway:*"]
    assert keys("apigateway", "GetRestApis") == ["apigateway:*"]
    # Every EC2 action has its own bucket, of its category when the table has no row.
    assert buckets_for("ec2", "RunInstances") == [("ec2:RunInstances", Rate(2, 1, 5))]
    assert buckets_for("ec2", "CreateTags") == [("ec2:CreateTags", Rate(10, 1, 100))]
    for read in ("DescribeVpcs", "ListImagesInRecycleBin", "GetConsoleOutput"):
        assert buckets_for("ec2", read) == [(f"ec2:{read}", EC2_NON_MUTATING)]
    for write in ("CreateVpcEndpoint", "AuthorizeSecurityGroupIngress", "StopInstances"):
        assert buckets_for("ec2", write) == [(f"ec2:{write}", EC2_MUTATING)]
    assert (EC2_NON_MUTATING, EC2_MUTATING) == (Rate(20, 1, 100), Rate(5, 1, 50))
    # No documented rate: no bucket.
    for service, operation in (("iam", "CreateRole"), ("sts", "GetCallerIdentity"), ("kafka", "CreateClusterV2"), ("kafkaconnect", "CreateConnector"), ("s3", "PUT /b"), ("ssm", "GetParameter")):
        assert buckets_for(service, operation) == [], service


# -------------------------------------------------------------------------- the buckets
def test_a_bucket_admits_its_burst_then_refills_at_the_scaled_rate() -> None:
    clock = FakeClock()
    buckets = Buckets(clock)
    get_resources = [("apigateway:GetResources", QUOTAS["apigateway:GetResources"])]  # 5 every 2 s, burst 5
    assert [buckets.take(REGION, get_resources, 1.0) for _ in range(6)] == [True] * 5 + [False]
    clock.advance(0.3)  # 0.75 of a token
    assert not buckets.take(REGION, get_resources, 1.0)
    clock.advance(0.1)
    assert buckets.take(REGION, get_resources, 1.0)
    assert not buckets.take(REGION, get_resources, 1.0)
    # Ten times the rate: a token every 0.04 s.
    clock.advance(0.05)
    assert buckets.take(REGION, get_resources, 10.0)
    assert not buckets.take(REGION, get_resources, 10.0)
    # Never past its size, however long the quiet spell.
    clock.advance(3600)
    assert [buckets.take(REGION, get_resources, 10.0) for _ in range(6)] == [True] * 5 + [False]
    # Per Region.
    assert buckets.take("eu-west-1", get_resources, 1.0)


def test_a_call_takes_all_its_tokens_or_none() -> None:
    clock = FakeClock()
    buckets = Buckets(clock)
    create = buckets_for("apigateway", "CreateRestApi")
    assert buckets.take(REGION, create, 1.0)
    assert not buckets.take(REGION, create, 1.0)  # its own bucket is empty ...
    assert buckets.snapshot(1.0) == {f"{REGION} apigateway:CreateRestApi": 0.0, f"{REGION} apigateway:*": 39.0}  # ... and took none of the service's


# ------------------------------------------------------------------------ in the sandbox
def test_quotas_are_off_by_default(sandbox: Sandbox) -> None:
    assert sandbox.get("/_sandbox/quotas") == {
        "enabled": False, "scale": 1.0, "calls": {}, "throttled": {}, "total_calls": 0, "total_throttled": 0, "buckets": {}
    }
    api = client(sandbox, "apigateway")
    for n in range(3):
        api.create_rest_api(name=f"api-{n}")  # 1 every 3 s, were they on
    assert sandbox.get("/_sandbox/quotas")["total_calls"] == 0, "nothing is counted while off"
    assert "quotas" in MIDDLEWARE


def test_a_bucket_admits_its_burst_then_throttles_as_api_gateway_does(sandbox: Sandbox, clock: FakeClock) -> None:
    quotas(sandbox, enabled=True)
    api = client(sandbox, "apigateway")
    api.create_rest_api(name="first")
    status, headers, body = signed(sandbox, "apigateway", "POST", "/restapis", b'{"name": "second"}', {"Content-Type": "application/json"})
    assert (status, headers["x-amzn-ErrorType"], headers["Content-Type"]) == (429, "TooManyRequestsException", "application/json")
    assert body == b'{"message": "Too Many Requests"}'
    assert json.loads(body) == {"message": "Too Many Requests"}
    assert "Retry-After" not in headers
    assert [a["name"] for a in api.get_rest_apis()["items"]] == ["first"], "a throttled call has no effect"


def test_a_bucket_refills_at_the_scaled_rate(sandbox: Sandbox, clock: FakeClock) -> None:
    # CreateRestApi: 1 every 3 s; at scale 20, one every 0.15 s.
    assert quotas(sandbox, enabled=True, scale=20)["scale"] == 20.0
    assert TIME_SCALE.get() == 20.0, "the scale is the sandbox's time scale"
    api = client(sandbox, "apigateway")
    api.create_rest_api(name="a")
    clock.advance(0.1)
    with pytest.raises(ClientError) as err:
        api.create_rest_api(name="b")
    assert client_error(err) == (429, "TooManyRequestsException", "Too Many Requests")
    clock.advance(0.1)
    api.create_rest_api(name="c")
    with pytest.raises(ClientError):
        api.create_rest_api(name="d")


def test_api_gateways_service_wide_bucket_holds_every_operation(sandbox: Sandbox, clock: FakeClock) -> None:
    quotas(sandbox, enabled=True)
    api = client(sandbox, "apigateway")
    for _ in range(40):  # "10 requests per second with a burst limit of 40"
        api.get_rest_apis()
    with pytest.raises(ClientError) as err:
        api.get_rest_apis()
    assert client_error(err)[:2] == (429, "TooManyRequestsException")
    with pytest.raises(ClientError):
        api.get_api_keys()  # no bucket of its own: the service's is empty
    clock.advance(0.1)  # one token
    api.get_api_keys()
    with pytest.raises(ClientError):
        api.get_rest_apis()
    state = sandbox.get("/_sandbox/quotas")
    assert state["throttled"] == {"apigateway:GetApiKeys": 1, "apigateway:GetRestApis": 2}
    assert state["buckets"] == {f"{REGION} apigateway:*": 0.0}


def test_ec2_throttles_each_action_in_its_own_bucket_with_request_limit_exceeded(sandbox: Sandbox, clock: FakeClock) -> None:
    ami = image(sandbox)  # SSM: never throttled
    quotas(sandbox, enabled=True)
    ec2 = client(sandbox, "ec2")
    for _ in range(5):  # RunInstances: bucket 5
        ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    status, headers, body = ec2_action(sandbox, "RunInstances", ImageId=ami, InstanceType="t3.micro", MinCount="1", MaxCount="1")
    assert (status, headers["Content-Type"].split(";")[0]) == (503, "text/xml")
    assert EC2_THROTTLED.fullmatch(body.decode()), body
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    assert client_error(err) == (503, "RequestLimitExceeded", "Request limit exceeded.")
    assert len(ec2.describe_instances()["Reservations"]) == 5, "throttled launches launched nothing"

    # A non-mutating action: bucket 100; the next action has a bucket of its own.
    for _ in range(99):  # DescribeInstances above took one
        assert ec2_action(sandbox, "DescribeInstances")[0] == 200
    assert ec2_action(sandbox, "DescribeInstances")[0] == 503
    assert ec2_action(sandbox, "DescribeVpcs")[0] == 200
    # A mutating action without a row: bucket 50.
    answers = [ec2_action(sandbox, "DeleteKeyPair", KeyName="none")[0] for _ in range(51)]
    assert answers == [200] * 50 + [503]
    clock.advance(0.2)  # refill 5 per second: one token
    assert [ec2_action(sandbox, "DeleteKeyPair", KeyName="none")[0] for _ in range(2)] == [200, 503]


def test_services_without_a_documented_rate_are_counted_never_throttled(sandbox: Sandbox, clock: FakeClock) -> None:
    quotas(sandbox, enabled=True)
    iam = client(sandbox, "iam")
    for _ in range(60):
        iam.list_roles()
    state = sandbox.get("/_sandbox/quotas")
    assert (state["calls"], state["throttled"], state["buckets"]) == ({"iam:ListRoles": 60}, {}, {})


def test_the_control_route_counts_calls_and_throttled_answers(sandbox: Sandbox, clock: FakeClock) -> None:
    http("POST", f"{sandbox.url}/_sandbox/calls/reset")
    quotas(sandbox, enabled=True)
    api = client(sandbox, "apigateway")
    api_id = api.create_rest_api(name="a")["id"]
    for _ in range(2):
        with pytest.raises(ClientError):
            api.create_rest_api(name="b")
    api.get_resources(restApiId=api_id)
    client(sandbox, "sts").get_caller_identity()
    state = sandbox.get("/_sandbox/quotas")
    assert state == {
        "enabled": True,
        "scale": 1.0,
        "calls": {"apigateway:CreateRestApi": 3, "apigateway:GetResources": 1, "sts:GetCallerIdentity": 1},
        "throttled": {"apigateway:CreateRestApi": 2},
        "total_calls": 5,
        "total_throttled": 2,
        "buckets": {f"{REGION} apigateway:*": 38.0, f"{REGION} apigateway:CreateRestApi": 0.0, f"{REGION} apigateway:GetResources": 4.0},
    }
    # The call log keeps the throttled calls, flagged.
    logged = [(c["operation"], c["throttled"]) for c in sandbox.get("/_sandbox/calls")["calls"] if c["service"] == "apigateway"]
    assert logged == [("POST /restapis", False), ("POST /restapis", True), ("POST /restapis", True), (f"GET /restapis/{api_id}/resources", False)]

    # DELETE: off, the counters stay; the next call is neither counted nor throttled.
    status, _headers, body = http("DELETE", f"{sandbox.url}/_sandbox/quotas")
    assert status == 200 and json.loads(body)["enabled"] is False
    api.create_rest_api(name="c")
    assert sandbox.get("/_sandbox/quotas")["total_calls"] == 5
    # On again: full buckets.
    quotas(sandbox, enabled=True)
    api.create_rest_api(name="d")
    # Reset: the start-up values, no counters, no buckets.
    http("POST", f"{sandbox.url}/moto-api/reset")
    assert sandbox.get("/_sandbox/quotas") == {
        "enabled": False, "scale": 1.0, "calls": {}, "throttled": {}, "total_calls": 0, "total_throttled": 0, "buckets": {}
    }


@pytest.mark.parametrize(
    "spec",
    [{"enabled": "yes"}, {"enabled": 1}, {"scale": 0}, {"scale": -2}, {"scale": "20"}, {"scale": True}, {"enable": True}, [], None],
)
def test_a_bad_spec_is_refused_and_changes_nothing(sandbox: Sandbox, spec: Any) -> None:
    status, _headers, body = http("POST", f"{sandbox.url}/_sandbox/quotas", json.dumps(spec).encode(), {"Content-Type": "application/json"})
    assert status == 400, body
    assert json.loads(body)["keys"] == ["enabled", "scale"]
    assert (sandbox.get("/_sandbox/quotas")["enabled"], TIME_SCALE.get()) == (False, 1.0)


def test_boto3_classifies_both_answers_as_throttling(sandbox: Sandbox, clock: FakeClock) -> None:
    quotas(sandbox, enabled=True)
    api, ec2 = client(sandbox, "apigateway"), client(sandbox, "ec2")
    for _ in range(100):  # DescribeVpcs: bucket 100
        ec2.describe_vpcs()
    api.create_rest_api(name="a")
    checker = ThrottledRetryableChecker()  # botocore's standard retry mode's throttling codes
    for call, code in ((lambda: api.create_rest_api(name="b"), "TooManyRequestsException"), (ec2.describe_vpcs, "RequestLimitExceeded")):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code
        assert checker.is_retryable(RetryContext(attempt_number=1, parsed_response=err.value.response))


def test_a_throttled_call_fires_no_armed_fault(sandbox: Sandbox, clock: FakeClock) -> None:
    quotas(sandbox, enabled=True)
    api = client(sandbox, "apigateway")
    api.create_rest_api(name="a")
    status, armed = sandbox.post("/_sandbox/faults", {"service": "apigateway", "operation": "POST /restapis", "status": 503, "code": "ServiceUnavailableException"})
    assert status == 200, armed
    with pytest.raises(ClientError) as err:
        api.create_rest_api(name="b")
    assert client_error(err)[:2] == (429, "TooManyRequestsException")
    assert [f["fired"] for f in sandbox.get("/_sandbox/faults")["faults"]] == [0]
    http("DELETE", f"{sandbox.url}/_sandbox/faults")


def test_the_launcher_turns_them_on_and_scales_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import sandbox as launcher  # scripts/sandbox.py

    monkeypatch.delenv("PINFRA_SANDBOX_QUOTAS")
    monkeypatch.delenv("PINFRA_SANDBOX_TIME_SCALE")
    args = launcher.parse_args([])
    assert (args.quotas, args.time_scale) == ("off", 1.0)
    args = launcher.parse_args(["--quotas", "on", "--time-scale", "20"])
    assert (args.quotas, args.time_scale) == ("on", 20.0)
    monkeypatch.setenv("PINFRA_SANDBOX_QUOTAS", "on")
    monkeypatch.setenv("PINFRA_SANDBOX_TIME_SCALE", "2.5")
    args = launcher.parse_args([])
    assert (args.quotas, args.time_scale) == ("on", 2.5)
    assert launcher.parse_args(["--quotas", "off"]).quotas == "off", "the flag wins over the environment"
    for bad in (["--quotas", "maybe"], ["--time-scale", "0"], ["--time-scale", "inf"]):
        with pytest.raises(SystemExit):
            launcher.parse_args(bad)
