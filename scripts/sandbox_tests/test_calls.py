"""The call log (calls.py): each AWS request is recorded with the access key id that signed it,
so that a test can tell whose credentials a client used."""

from __future__ import annotations

import boto3
from botocore.config import Config

from sandbox_ext.calls import Call, CallLog
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
