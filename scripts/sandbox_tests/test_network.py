"""The rules of docs/network.md ("The rules of the check"), one small topology per row: each row
breaks (or fixes) ``support.build_net``'s VPC through the EC2 API and asks one path function of
``sandbox_ext.network``. ``None`` is open; a string must be part of the blocking reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox_ext import network
from support import ACCOUNT, Net, build_net, describe_instance, tcp

Case = Callable[[Net], "str | None"]
ALL_OUT = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


# ------------------------------------------------------------------------------ the paths
def client_to_brokers(net: Net, instance: str | None = None, subnets: list[str] | None = None, groups: list[str] | None = None) -> str | None:
    return network.client_to_brokers(ACCOUNT, net.region, instance or net.client, subnets or net.private, groups or [net.brokers_sg], 9098)


def client_to_internet(net: Net, instance: str | None = None) -> str | None:
    return network.instance_to_internet(ACCOUNT, net.region, instance or net.client)


def api_to_proxy(net: Net, instance: str | None = None) -> str | None:
    return network.internet_to_instance(ACCOUNT, net.region, instance or net.client, 8082)


def connector_to_brokers(net: Net, groups: list[str] | None = None) -> str | None:
    groups = [net.brokers_sg] if groups is None else groups
    return network.connector_to_brokers(ACCOUNT, net.region, net.private, groups, net.private, [net.brokers_sg], 9098)


def connector_to_s3(net: Net, groups: list[str] | None = None) -> str | None:
    return network.connector_to_s3(ACCOUNT, net.region, net.private, [net.brokers_sg] if groups is None else groups)


# ----------------------------------------------------------------------------- changes
def broker_rule(net: Net, **peer: Any) -> None:
    net.ec2.authorize_security_group_ingress(GroupId=net.brokers_sg, IpPermissions=[tcp(9098, **peer)])


def only_egress(net: Net, group: str, *permissions: dict[str, Any]) -> None:
    net.ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[ALL_OUT])
    if permissions:
        net.ec2.authorize_security_group_egress(GroupId=group, IpPermissions=list(permissions))


def allow_all(number: int = 100) -> list[dict[str, Any]]:
    return [{"RuleNumber": number, "Protocol": "-1", "RuleAction": "allow", "Egress": egress} for egress in (True, False)]


def entry(number: int, action: str, egress: bool, ports: tuple[int, int] | None = None, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    out: dict[str, Any] = {"RuleNumber": number, "Protocol": "6" if ports else "-1", "RuleAction": action, "Egress": egress, "CidrBlock": cidr}
    if ports:
        out["PortRange"] = {"From": ports[0], "To": ports[1]}
    return out


def s3_prefix_list(net: Net) -> str:
    lists = net.ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{net.region}.s3"]}])["PrefixLists"]
    return str(lists[0]["PrefixListId"])


def private_instance(net: Net) -> str:
    return net.launch(net.private[0], [net.client_sg])


# ------------------------------------------------------------------------------- cases
def c_no_broker_rule(net: Net) -> str | None:
    return client_to_brokers(net)


def c_rule_by_group(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    return client_to_brokers(net)


def c_rule_by_cidr_holding_the_client(net: Net) -> str | None:
    broker_rule(net, cidr="10.0.1.0/24")
    return client_to_brokers(net)


def c_rule_by_cidr_missing_the_client(net: Net) -> str | None:
    broker_rule(net, cidr="10.0.2.0/24")
    return client_to_brokers(net)


def c_rule_all_protocols(net: Net) -> str | None:
    net.ec2.authorize_security_group_ingress(GroupId=net.brokers_sg, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": net.client_sg}]}])
    return client_to_brokers(net)


def c_rule_other_ports(net: Net) -> str | None:
    net.ec2.authorize_security_group_ingress(GroupId=net.brokers_sg, IpPermissions=[tcp(9092, 9097, group=net.client_sg)])
    return client_to_brokers(net)


def c_rule_udp(net: Net) -> str | None:
    net.ec2.authorize_security_group_ingress(
        GroupId=net.brokers_sg, IpPermissions=[{"IpProtocol": "udp", "FromPort": 9098, "ToPort": 9098, "UserIdGroupPairs": [{"GroupId": net.client_sg}]}]
    )
    return client_to_brokers(net)


def c_client_egress_gone(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    only_egress(net, net.client_sg, tcp(443, cidr="0.0.0.0/0"))
    return client_to_brokers(net)


def c_client_egress_to_vpc(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    only_egress(net, net.client_sg, tcp(9098, cidr="10.0.0.0/16"))
    return client_to_brokers(net)


def c_client_egress_to_one_broker_subnet(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    only_egress(net, net.client_sg, tcp(9098, cidr="10.0.2.0/24"))
    return client_to_brokers(net)


def c_client_egress_to_broker_group(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    only_egress(net, net.client_sg, tcp(9098, group=net.brokers_sg))
    return client_to_brokers(net)


def c_nacl_deny_ahead_of_allow(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    net.acl(net.private, [entry(90, "deny", False, (9098, 9098)), *allow_all()])
    return client_to_brokers(net)


def c_nacl_allow_ahead_of_deny(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    net.acl(net.private, [entry(80, "allow", False, (9098, 9098)), entry(90, "deny", False, (9098, 9098)), *allow_all()])
    return client_to_brokers(net)


def c_nacl_return_path_missing(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    net.acl([net.public], [entry(100, "allow", True), entry(100, "allow", False, (22, 22))])
    return client_to_brokers(net)


def c_nacl_return_path_1024_65535(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    net.acl([net.public], [entry(100, "allow", True), entry(100, "allow", False, (1024, 65535))])
    return client_to_brokers(net)


def c_nacl_return_ports_cut_short(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    net.acl([net.public], [entry(100, "allow", True), entry(100, "allow", False, (32768, 40000))])
    return client_to_brokers(net)


def c_nacl_partial_allow_passed_over(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    net.acl(
        [net.public],
        [
            entry(100, "allow", True),
            entry(100, "allow", False, (32768, 60999), "10.0.2.0/25"),  # half of a broker subnet
            entry(110, "deny", False, (32768, 60999), "10.0.2.0/24"),
            entry(120, "allow", False),
        ],
    )
    return client_to_brokers(net)


def c_nacl_broker_outbound_return_missing(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    net.acl(net.private, [entry(100, "allow", False), entry(100, "allow", True, (9098, 9098))])
    return client_to_brokers(net)


def c_nacl_not_within_one_subnet(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    client = net.launch(net.private[0], [net.client_sg])
    net.acl([net.private[0]], [])  # only the "*" entries: denies everything at the subnet's edge
    return client_to_brokers(net, client, [net.private[0]])


def c_nacl_across_subnets(net: Net) -> str | None:
    broker_rule(net, group=net.client_sg)
    client = net.launch(net.private[0], [net.client_sg])
    net.acl([net.private[1]], [])
    return client_to_brokers(net, client, [net.private[0], net.private[1]])


def c_brokers_in_another_vpc(net: Net) -> str | None:
    other = net.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = net.ec2.create_subnet(VpcId=other, CidrBlock="10.9.1.0/24", AvailabilityZone=f"{net.region}a")["Subnet"]["SubnetId"]
    return client_to_brokers(net, subnets=[subnet])


def c_broker_subnet_unknown(net: Net) -> str | None:
    return client_to_brokers(net, subnets=["subnet-0a0a0a0a0a0a0a0a1"])


# -- client -> internet
def c_internet_open(net: Net) -> str | None:
    return client_to_internet(net)


def c_internet_no_public_ip(net: Net) -> str | None:
    return client_to_internet(net, net.launch(net.public, [net.client_sg], public_ip=False))


def c_main_table_implicitly(net: Net) -> str | None:
    subnet = net.subnet("10.0.4.0/24", f"{net.region}d")  # no association: the main table
    return client_to_internet(net, net.launch(subnet, [net.client_sg], public_ip=True))


def c_main_table_routed(net: Net) -> str | None:
    subnet = net.subnet("10.0.4.0/24", f"{net.region}d")
    net.ec2.create_route(RouteTableId=net.main_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=net.igw)
    return client_to_internet(net, net.launch(subnet, [net.client_sg], public_ip=True))


def c_nat_in_public_subnet(net: Net) -> str | None:
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=net.nat(net.public))
    return client_to_internet(net, private_instance(net))


def c_nat_in_private_subnet(net: Net) -> str | None:
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=net.nat(net.private[1]))
    return client_to_internet(net, private_instance(net))


def c_nat_deleted(net: Net) -> str | None:
    nat = net.nat(net.public)
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    net.ec2.delete_nat_gateway(NatGatewayId=nat)
    return client_to_internet(net, private_instance(net))


def c_igw_detached(net: Net) -> str | None:
    net.ec2.detach_internet_gateway(InternetGatewayId=net.igw, VpcId=net.vpc)
    return client_to_internet(net)


def c_private_subnet_no_route(net: Net) -> str | None:
    return client_to_internet(net, private_instance(net))


def c_internet_egress_443_missing(net: Net) -> str | None:
    only_egress(net, net.client_sg, tcp(9098, cidr="0.0.0.0/0"))
    return client_to_internet(net)


def c_internet_egress_443_to_a_range(net: Net) -> str | None:
    only_egress(net, net.client_sg, tcp(443, cidr="0.0.0.0/1"), tcp(443, cidr="128.0.0.0/1"))
    return client_to_internet(net)


def c_nacl_range_deny_ignored_for_internet(net: Net) -> str | None:
    net.acl([net.public], [entry(90, "deny", True, (443, 443), "1.2.3.0/24"), *allow_all()])
    return client_to_internet(net)


def c_nacl_range_allow_not_enough_for_internet(net: Net) -> str | None:
    net.acl([net.public], [entry(100, "allow", True, (443, 443), "52.0.0.0/8"), entry(100, "allow", False)])
    return client_to_internet(net)


# -- API Gateway -> proxy
def c_api_open(net: Net) -> str | None:
    return api_to_proxy(net)


def c_api_ingress_from_a_range(net: Net) -> str | None:
    net.ec2.revoke_security_group_ingress(GroupId=net.client_sg, IpPermissions=[tcp(8082, cidr="0.0.0.0/0")])
    net.ec2.authorize_security_group_ingress(GroupId=net.client_sg, IpPermissions=[tcp(8082, cidr="0.0.0.0/1"), tcp(8082, cidr="128.0.0.0/1")])
    return api_to_proxy(net)


def c_api_no_public_ip(net: Net) -> str | None:
    return api_to_proxy(net, net.launch(net.public, [net.client_sg], public_ip=False))


def c_api_private_subnet(net: Net) -> str | None:
    return api_to_proxy(net, net.launch(net.private[0], [net.client_sg], public_ip=True))


def c_api_nacl_return_1024_65535(net: Net) -> str | None:
    net.acl([net.public], [entry(100, "allow", False), entry(100, "allow", True, (32768, 60999))])
    return api_to_proxy(net)


def c_api_nacl_inbound_denied(net: Net) -> str | None:
    net.acl([net.public], [entry(50, "deny", False, (8000, 9000)), *allow_all()])
    return api_to_proxy(net)


# -- connector -> brokers
def c_connector_with_broker_groups(net: Net) -> str | None:
    return connector_to_brokers(net)


def c_connector_with_own_group(net: Net) -> str | None:
    return connector_to_brokers(net, [net.group("connector")])


def c_connector_with_own_group_admitted(net: Net) -> str | None:
    group = net.group("connector")
    broker_rule(net, group=group)
    return connector_to_brokers(net, [group])


def c_connector_without_groups(net: Net) -> str | None:
    return connector_to_brokers(net, [])


def c_connector_across_a_nacl(net: Net) -> str | None:
    net.acl([net.private[1]], [entry(100, "allow", False, (9098, 9098)), entry(100, "allow", True, (1024, 65535))])
    return connector_to_brokers(net)


# -- connector -> S3
def c_s3_no_route(net: Net) -> str | None:
    return connector_to_s3(net)


def c_s3_endpoint(net: Net) -> str | None:
    net.s3_endpoint([net.private_table])
    return connector_to_s3(net)


def c_s3_igw_without_public_ip(net: Net) -> str | None:
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=net.igw)
    return connector_to_s3(net)


def c_s3_prefix_list_route_beats_default(net: Net) -> str | None:
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=net.igw)
    net.s3_endpoint([net.private_table])
    return connector_to_s3(net)


def c_s3_more_specific_route_beats_prefix_list(net: Net) -> str | None:
    net.s3_endpoint([net.private_table])
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="52.216.0.0/15", GatewayId=net.igw)
    return connector_to_s3(net)


def c_s3_nat(net: Net) -> str | None:
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=net.nat(net.public))
    return connector_to_s3(net)


def c_s3_endpoint_of_another_table(net: Net) -> str | None:
    net.s3_endpoint([net.public_table])
    return connector_to_s3(net)


def c_s3_egress_to_prefix_list(net: Net) -> str | None:
    net.s3_endpoint([net.private_table])
    group = net.group("connector")
    only_egress(net, group, tcp(443, prefix_list=s3_prefix_list(net)))
    return connector_to_s3(net, [group])


def c_s3_egress_to_s3_cidr(net: Net) -> str | None:
    net.s3_endpoint([net.private_table])
    group = net.group("connector")
    only_egress(net, group, tcp(443, cidr="52.216.0.0/15"))
    return connector_to_s3(net, [group])


def c_s3_nacl_return_missing(net: Net) -> str | None:
    net.s3_endpoint([net.private_table])
    net.acl(net.private, [entry(100, "allow", True, (443, 443)), entry(100, "allow", False, (1024, 32767))])
    return connector_to_s3(net)


CASES: list[tuple[Case, str | None]] = [
    # security groups: by group, by CIDR (the client's address), protocol, ports, egress
    (c_no_broker_rule, "of the brokers admits nothing on TCP 9098 from the Kafka client"),
    (c_rule_by_group, None),
    (c_rule_by_cidr_holding_the_client, None),
    (c_rule_by_cidr_missing_the_client, "admits nothing on TCP 9098 from the Kafka client"),
    (c_rule_all_protocols, None),
    (c_rule_other_ports, "admits nothing on TCP 9098"),
    (c_rule_udp, "admits nothing on TCP 9098"),
    (c_client_egress_gone, "of the Kafka client admits nothing outbound on TCP 9098 to the brokers"),
    (c_client_egress_to_vpc, None),
    (c_client_egress_to_one_broker_subnet, "admits nothing outbound on TCP 9098 to the brokers"),
    (c_client_egress_to_broker_group, None),
    # network ACLs: order, return path, partial allows, subnet edges
    (c_nacl_deny_ahead_of_allow, "denies TCP 9098 inbound from the Kafka client (rule 90)"),
    (c_nacl_allow_ahead_of_deny, None),
    (c_nacl_return_path_missing, "denies TCP 32768-60999 inbound from the brokers (rule *)"),
    (c_nacl_return_path_1024_65535, None),
    (c_nacl_return_ports_cut_short, "denies TCP 32768-60999 inbound from the brokers (rule *)"),
    (c_nacl_partial_allow_passed_over, "denies TCP 32768-60999 inbound from the brokers (rule 110)"),
    (c_nacl_broker_outbound_return_missing, "denies TCP 32768-60999 outbound to the Kafka client (rule *)"),
    (c_nacl_not_within_one_subnet, None),
    (c_nacl_across_subnets, "denies TCP 9098 inbound from the Kafka client (rule *)"),
    # same VPC
    (c_brokers_in_another_vpc, "peering and transit gateways are not followed"),
    (c_broker_subnet_unknown, "subnet subnet-0a0a0a0a0a0a0a0a1 of the brokers does not exist"),
    # routes out: internet gateway, public address, main table, NAT gateways, blackholes
    (c_internet_open, None),
    (c_internet_no_public_ip, "has no public address, so internet gateway"),
    (c_main_table_implicitly, "has no route to the internet (0.0.0.0/0)"),
    (c_main_table_routed, None),
    (c_nat_in_public_subnet, None),
    (c_nat_in_private_subnet, "which does not route 0.0.0.0/0 to an internet gateway"),
    (c_nat_deleted, "a blackhole route"),
    (c_igw_detached, "a blackhole route"),
    (c_private_subnet_no_route, "has no route to the internet (0.0.0.0/0)"),
    (c_internet_egress_443_missing, "admits nothing outbound on TCP 443 to the internet (0.0.0.0/0)"),
    (c_internet_egress_443_to_a_range, "admits nothing outbound on TCP 443 to the internet (0.0.0.0/0)"),
    (c_nacl_range_deny_ignored_for_internet, None),
    (c_nacl_range_allow_not_enough_for_internet, "denies TCP 443 outbound to the internet (0.0.0.0/0) (rule *)"),
    # from the internet: only 0.0.0.0/0, a public address, an internet gateway route
    (c_api_open, None),
    (c_api_ingress_from_a_range, "admits nothing on TCP 8082 from the internet (0.0.0.0/0)"),
    (c_api_no_public_ip, "has no public address, so API Gateway cannot reach it"),
    (c_api_private_subnet, "does not route 0.0.0.0/0 to an internet gateway"),
    (c_api_nacl_return_1024_65535, "denies TCP 1024-65535 outbound to the internet (0.0.0.0/0) (rule *)"),
    (c_api_nacl_inbound_denied, "denies TCP 8082 inbound from the internet (0.0.0.0/0) (rule 50)"),
    # the connector's workers: their subnets stand for their addresses
    (c_connector_with_broker_groups, None),
    (c_connector_with_own_group, "of the brokers admits nothing on TCP 9098 from the connector"),
    (c_connector_with_own_group_admitted, None),
    (c_connector_without_groups, "of the brokers admits nothing on TCP 9098 from the connector"),
    (c_connector_across_a_nacl, "denies TCP 32768-60999 inbound from the brokers (rule *)"),  # workers in 10.0.3.0/24
    # S3: gateway endpoints (prefix-list routes), NAT, no public address, the S3 prefix list
    (c_s3_no_route, "has no route to S3 (no gateway endpoint, no NAT gateway)"),
    (c_s3_endpoint, None),
    (c_s3_igw_without_public_ip, "has no public address, so internet gateway"),
    (c_s3_prefix_list_route_beats_default, None),
    (c_s3_more_specific_route_beats_prefix_list, "has no public address, so internet gateway"),
    (c_s3_nat, None),
    (c_s3_endpoint_of_another_table, "has no route to S3"),
    (c_s3_egress_to_prefix_list, None),
    (c_s3_egress_to_s3_cidr, "admits nothing outbound on TCP 443 to S3 (0.0.0.0/0 or S3's prefix list pl-"),
    (c_s3_nacl_return_missing, "denies TCP 32768-60999 inbound from S3 (0.0.0.0/0) (rule *)"),
]


@pytest.mark.parametrize(("case", "expected"), CASES, ids=[case.__name__[2:] for case, _ in CASES])
def test_path(sandbox: Any, case: Case, expected: str | None) -> None:
    net = build_net(sandbox)
    verdict = case(net)
    if expected is None:
        assert verdict is None, verdict
    else:
        assert verdict is not None and expected in verdict, verdict


def test_groups_come_from_the_primary_interface(sandbox: Any) -> None:
    net = build_net(sandbox)
    broker_rule(net, group=net.client_sg)
    assert describe_instance(net.ec2, net.client)["SecurityGroups"][0]["GroupId"] == net.client_sg
    other = net.group("other")
    net.ec2.modify_instance_attribute(InstanceId=net.client, Groups=[other])
    assert "admits nothing on TCP 9098 from the Kafka client" in (client_to_brokers(net) or "")
    interface = describe_instance(net.ec2, net.client)["NetworkInterfaces"][0]
    assert [g["GroupId"] for g in interface["Groups"]] == [other]
