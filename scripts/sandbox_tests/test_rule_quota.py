"""The quota of rules per VPC security group (ec2_compat ``rules_per_security_group``): 60 by
default, as AWS's and moto's; raised, as an account that asked Service Quotas for more."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support import Sandbox


def authorize(ec2: Any, group: str, count: int, first: int = 0) -> None:
    """`count` rules, each from its own /24, numbered from `first`."""
    numbers = range(first, first + count)
    permissions = [{"IpProtocol": "tcp", "FromPort": 9098, "ToPort": 9098, "IpRanges": [{"CidrIp": f"10.{i // 250}.{i % 250}.0/24"}]} for i in numbers]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions)


def test_a_group_holds_sixty_rules_unless_the_quota_is_raised(sandbox: Sandbox) -> None:
    ec2 = sandbox.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="brokers", Description="b", VpcId=vpc)["GroupId"]
    authorize(ec2, group, 60)
    with pytest.raises(ClientError) as err:
        authorize(ec2, group, 1, first=60)
    assert err.value.response["Error"]["Code"] == "RulesPerSecurityGroupLimitExceeded"
    status, settings = sandbox.post("/_sandbox/ec2/settings", {"rules_per_security_group": 200})
    assert (status, settings["rules_per_security_group"]) == (200, 200)
    authorize(ec2, group, 1, first=60)
    status, answer = sandbox.post("/_sandbox/ec2/settings", {"rules_per_security_group": 0})
    assert status == 400 and "positive integer" in str(answer), answer
