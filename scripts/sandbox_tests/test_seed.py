"""``sandbox_seed.py cluster``: the MSK cluster in a real network of the sandbox's EC2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import sandbox_seed
from support import ACCOUNT, REGION, Sandbox, tcp

SEED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sandbox_seed.py")


def broker_nodes(sandbox: Sandbox, arn: str) -> dict[str, Any]:
    info = sandbox.client("kafka").describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    return dict(info["Provisioned"]["BrokerNodeGroupInfo"])


def test_the_default_layout(sandbox: Sandbox) -> None:
    ec2 = sandbox.client("ec2")
    arn = sandbox_seed.seed_cluster(sandbox.url, "demo", REGION)
    assert re.fullmatch(rf"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/demo/[0-9a-f-]{{36}}-\d+", arn), arn
    nodes = broker_nodes(sandbox, arn)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    defaults = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    first_three = [s["SubnetId"] for s in sorted(defaults, key=lambda s: s["AvailabilityZone"])[:3]]
    assert nodes["ClientSubnets"] == first_three
    group = ec2.describe_security_groups(GroupIds=nodes["SecurityGroups"])["SecurityGroups"]
    assert [(g["GroupName"], g["VpcId"]) for g in group] == [("default", vpc)]
    assert sandbox_seed.seed_cluster(sandbox.url, "demo", REGION) == arn  # kept, not made again


def test_the_private_layout(sandbox: Sandbox) -> None:
    ec2 = sandbox.client("ec2")
    # Through the command line, as scripts/sandbox seed-cluster NAME REGION --layout private.
    out = subprocess.run(
        [sys.executable, SEED, "--endpoint", sandbox.url, "cluster", "lake", REGION, "--layout", "private"], capture_output=True, text=True, check=True
    )
    arn = out.stdout.strip().splitlines()[-1]
    nodes = broker_nodes(sandbox, arn)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["lake-vpc"]}])["Vpcs"]
    assert [v["CidrBlock"] for v in vpc] == ["10.20.0.0/16"]
    vpc_id = vpc[0]["VpcId"]
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    brokers = [subnets[s] for s in nodes["ClientSubnets"]]
    assert [s["CidrBlock"] for s in brokers] == ["10.20.1.0/24", "10.20.2.0/24", "10.20.3.0/24"]
    assert len({s["AvailabilityZone"] for s in brokers}) == 3 and not any(s["MapPublicIpOnLaunch"] for s in brokers)
    public = next(s for s in subnets.values() if s["CidrBlock"] == "10.20.101.0/24")
    assert public["MapPublicIpOnLaunch"]

    def routes_of(subnet: str) -> list[tuple[str | None, str | None]]:
        table = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"][0]
        return sorted((r.get("DestinationCidrBlock"), r.get("GatewayId")) for r in table["Routes"])

    assert {tuple(routes_of(s["SubnetId"])) for s in brokers} == {(("10.20.0.0/16", "local"),)}
    gateway = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"][0]["InternetGatewayId"]
    assert routes_of(public["SubnetId"]) == [("0.0.0.0/0", gateway), ("10.20.0.0/16", "local")]
    group = ec2.describe_security_groups(GroupIds=nodes["SecurityGroups"])["SecurityGroups"][0]
    assert group["GroupName"] == "lake-brokers" and group["VpcId"] == vpc_id
    own = tcp(9098, group=group["GroupId"])
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]]) for p in group["IpPermissions"]] == [
        (own["IpProtocol"], 9098, 9098, [group["GroupId"]])
    ]
    assert [p["IpRanges"] for p in group["IpPermissionsEgress"]] == [[{"CidrIp": "0.0.0.0/0"}]]
