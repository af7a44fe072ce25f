"""EC2 and MSK as AWS answers them, where plain moto 5.2.5 differs (ec2_network, ec2_compat,
msk_compat): each test calls the sandbox over HTTP with boto3, as pinfra's SDK does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support import ACCOUNT, REGION, build_net, describe_instance, image

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def error(err: ClientError) -> tuple[str, str]:
    return str(err.response["Error"]["Code"]), str(err.response["Error"]["Message"])


def routes(ec2: Any, table: str) -> list[dict[str, Any]]:
    return list(ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"])


def s3_list(ec2: Any) -> dict[str, Any]:
    lists = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}])["PrefixLists"]
    assert len(lists) == 1
    return dict(lists[0])


# ------------------------------------------------------------------------- default VPC
def test_the_default_vpc_routes_to_its_internet_gateway(aws: Any) -> None:
    ec2 = aws("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]
    assert len(gateways) == 1
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]
    default = [r for r in main["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert default == [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gateways[0]["InternetGatewayId"], "Origin": "CreateRoute", "State": "active"}]


@pytest.mark.parametrize("default_vpc", [True, False])
def test_a_default_security_group_admits_itself(aws: Any, default_vpc: bool) -> None:
    ec2 = aws("ec2")
    if default_vpc:
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    assert group["IpPermissions"] == [
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"UserId": ACCOUNT, "GroupId": group["GroupId"]}], "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": []}
    ]
    assert [p["IpRanges"] for p in group["IpPermissionsEgress"]] == [[{"CidrIp": "0.0.0.0/0"}]]


def test_a_custom_network_acl_denies_everything(aws: Any) -> None:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]
    assert sorted((e["Egress"], e["RuleNumber"], e["RuleAction"], e["Protocol"], e["CidrBlock"]) for e in acl["Entries"]) == [
        (False, 32767, "deny", "-1", "0.0.0.0/0"),
        (True, 32767, "deny", "-1", "0.0.0.0/0"),
    ]


def test_a_route_whose_target_is_gone_is_a_blackhole(sandbox: Any) -> None:
    net = build_net(sandbox)
    allocation = net.ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = net.ec2.create_nat_gateway(SubnetId=net.public, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    net.ec2.create_route(RouteTableId=net.private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    assert {r.get("GatewayId") or r.get("NatGatewayId"): r["State"] for r in routes(net.ec2, net.private_table)} == {"local": "active", nat: "active"}
    net.ec2.delete_nat_gateway(NatGatewayId=nat)
    net.ec2.detach_internet_gateway(InternetGatewayId=net.igw, VpcId=net.vpc)
    assert [r["State"] for r in routes(net.ec2, net.private_table) if r.get("NatGatewayId")] == ["blackhole"]
    assert [r["State"] for r in routes(net.ec2, net.public_table) if r.get("GatewayId") == net.igw] == ["blackhole"]


# ------------------------------------------------------------------ S3 gateway endpoints
def test_prefix_lists_name_s3_with_its_cidrs(aws: Any) -> None:
    ec2 = aws("ec2")
    listed = s3_list(ec2)
    assert listed["PrefixListId"].startswith("pl-") and listed["Cidrs"]
    managed = ec2.describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}])["PrefixLists"]
    assert [(p["PrefixListId"], p["OwnerId"]) for p in managed] == [(listed["PrefixListId"], "AWS")]


def test_a_gateway_endpoint_routes_its_prefix_list(sandbox: Any) -> None:
    net = build_net(sandbox)
    endpoint = net.ec2.create_vpc_endpoint(VpcId=net.vpc, ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[net.private_table])["VpcEndpoint"]
    assert endpoint["VpcEndpointType"] == "Gateway"  # EC2's default type
    pl = s3_list(net.ec2)["PrefixListId"]
    assert {"DestinationPrefixListId": pl, "GatewayId": endpoint["VpcEndpointId"], "Origin": "CreateRoute", "State": "active"} in routes(net.ec2, net.private_table)
    net.ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    assert not [r for r in routes(net.ec2, net.private_table) if r.get("DestinationPrefixListId")]


def test_a_route_table_is_served_by_one_s3_gateway_endpoint(sandbox: Any) -> None:
    net = build_net(sandbox)
    first = net.s3_endpoint([net.private_table])
    pl = s3_list(net.ec2)["PrefixListId"]
    with pytest.raises(ClientError) as refused:
        net.s3_endpoint([net.public_table, net.private_table])
    assert error(refused.value) == ("RouteAlreadyExists", f"route table {net.private_table} already has a route with destination-prefix-list-id {pl}")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [e["VpcEndpointId"] for e in net.ec2.describe_vpc_endpoints()["VpcEndpoints"]] == [first]
    assert not [r for r in routes(net.ec2, net.public_table) if r.get("DestinationPrefixListId")]

    with pytest.raises(ClientError) as unknown:
        net.s3_endpoint(["rtb-00000000000000000"])
    assert error(unknown.value)[0] == "InvalidRouteTableID.NotFound"
    assert len(net.ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 1


def test_modify_vpc_endpoint_moves_its_routes(sandbox: Any) -> None:
    net = build_net(sandbox)
    pl = s3_list(net.ec2)["PrefixListId"]
    first = net.s3_endpoint([net.private_table])
    second = net.s3_endpoint([net.public_table])
    with pytest.raises(ClientError) as refused:
        net.ec2.modify_vpc_endpoint(VpcEndpointId=first, AddRouteTableIds=[net.public_table])
    assert error(refused.value) == ("RouteAlreadyExists", f"route table {net.public_table} already has a route with destination-prefix-list-id {pl}")
    endpoint = net.ec2.describe_vpc_endpoints(VpcEndpointIds=[first])["VpcEndpoints"][0]
    assert endpoint["RouteTableIds"] == [net.private_table]

    net.ec2.modify_vpc_endpoint(VpcEndpointId=second, RemoveRouteTableIds=[net.public_table])
    assert not [r for r in routes(net.ec2, net.public_table) if r.get("DestinationPrefixListId")]
    net.ec2.modify_vpc_endpoint(VpcEndpointId=first, AddRouteTableIds=[net.public_table])
    assert [r["GatewayId"] for r in routes(net.ec2, net.public_table) if r.get("DestinationPrefixListId") == pl] == [first]
    endpoint = net.ec2.describe_vpc_endpoints(VpcEndpointIds=[first])["VpcEndpoints"][0]
    assert sorted(endpoint["RouteTableIds"]) == sorted([net.private_table, net.public_table])


# -------------------------------------------------------------------------- instances
def test_the_root_volume_is_at_the_ami_root_device(sandbox: Any) -> None:
    ec2 = sandbox.client("ec2")
    ami = image(sandbox)
    root = ec2.describe_images(ImageIds=[ami])["Images"][0]["RootDeviceName"]
    instance = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    described = describe_instance(ec2, instance)
    assert described["RootDeviceName"] == root == "/dev/xvda"
    assert [m["DeviceName"] for m in described["BlockDeviceMappings"]] == [root]
    volume = described["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    assert ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["Attachments"][0]["Device"] == root


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_a_network_interface_asking_for_a_public_address_gets_one(sandbox: Any, region: str) -> None:
    net = build_net(sandbox, region)
    instance = net.launch(net.private[0], [net.client_sg, net.brokers_sg], public_ip=True)
    described = describe_instance(net.ec2, instance)
    ip = described["PublicIpAddress"]
    dashed = ip.replace(".", "-")
    dns = f"ec2-{dashed}.compute-1.amazonaws.com" if region == "us-east-1" else f"ec2-{dashed}.{region}.compute.amazonaws.com"
    assert described["PublicDnsName"] == dns
    assert described["SubnetId"] == net.private[0]
    assert described["PrivateIpAddress"].startswith("10.0.2.")
    assert [g["GroupId"] for g in described["SecurityGroups"]] == [net.client_sg, net.brokers_sg]
    interface = described["NetworkInterfaces"][0]
    assert [g["GroupId"] for g in interface["Groups"]] == [net.client_sg, net.brokers_sg]
    assert interface["Association"]["PublicIp"] == ip and interface["Association"]["PublicDnsName"] == dns


def test_no_public_address_without_map_public_ip_or_the_flag(sandbox: Any) -> None:
    net = build_net(sandbox)
    assert not net.ec2.describe_subnets(SubnetIds=[net.private[0]])["Subnets"][0]["MapPublicIpOnLaunch"]
    by_interface = net.launch(net.private[0], [net.client_sg])
    by_subnet = net.ec2.run_instances(ImageId=image(sandbox), InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=net.private[0])["Instances"][0]["InstanceId"]
    for instance in (by_interface, by_subnet):
        described = describe_instance(net.ec2, instance)
        assert "PublicIpAddress" not in described
        assert not described.get("PublicDnsName")
        assert "Association" not in described["NetworkInterfaces"][0]
    # Launched without any group: the VPC's default group, on the instance and its interface.
    default = net.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [net.vpc]}, {"Name": "group-name", "Values": ["default"]}])
    assert [g["GroupId"] for g in describe_instance(net.ec2, by_subnet)["SecurityGroups"]] == [default["SecurityGroups"][0]["GroupId"]]


def test_a_subnet_mapping_public_addresses_gives_one_unless_refused(sandbox: Any) -> None:
    net = build_net(sandbox)
    net.ec2.modify_subnet_attribute(SubnetId=net.public, MapPublicIpOnLaunch={"Value": True})
    assert describe_instance(net.ec2, net.launch(net.public, [net.client_sg])).get("PublicIpAddress")
    assert not describe_instance(net.ec2, net.launch(net.public, [net.client_sg], public_ip=False)).get("PublicIpAddress")


# ---------------------------------------------------------------------------------- MSK
def test_msk_cluster_and_topic_arns_are_msks(aws: Any) -> None:
    kafka = aws("kafka")
    ec2 = aws("ec2")
    subnets = sorted(ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"], key=lambda s: s["AvailabilityZone"])[:3]
    arn = kafka.create_cluster(
        ClusterName="demo",
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": [s["SubnetId"] for s in subnets]},
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}},
    )["ClusterArn"]
    match = re.fullmatch(rf"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/demo/({UUID}-\d+)", arn)
    assert match, arn
    suffix = int(match[1].rsplit("-", 1)[1])
    assert 1 <= suffix <= 25
    info = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    assert info["ClusterArn"] == arn and info["State"] == "ACTIVE"
    assert kafka.describe_cluster(ClusterArn=arn)["ClusterInfo"]["ClusterArn"] == arn
    assert kafka.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerStringSaslIam"]
    topic = kafka.create_topic(ClusterArn=arn, TopicName="t1", PartitionCount=3, ReplicationFactor=3)
    assert topic["TopicArn"] == f"arn:aws:kafka:{REGION}:{ACCOUNT}:topic/demo/{match[1]}/t1"
    kafka.tag_resource(ResourceArn=arn, Tags={"k": "v"})
    assert kafka.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"k": "v"}
    version = info["CurrentVersion"]
    operation = kafka.update_broker_storage(ClusterArn=arn, CurrentVersion=version, TargetBrokerEBSVolumeInfo=[{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 1100}])
    assert operation["ClusterOperationArn"].startswith(f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster-operation/demo/{match[1]}/")

    serverless = kafka.create_cluster_v2(ClusterName="lake", Serverless={"VpcConfigs": [{"SubnetIds": [s["SubnetId"] for s in subnets]}]})["ClusterArn"]
    assert re.fullmatch(rf"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/lake/{UUID}-s\d+", serverless), serverless
    assert kafka.describe_cluster_v2(ClusterArn=serverless)["ClusterInfo"]["ClusterArn"] == serverless


# ------------------------------------------------------------------------- instance profiles
def test_an_instance_names_its_profile_by_the_profiles_id_and_follows_a_replacement(sandbox: Any) -> None:
    ec2, iam = sandbox.client("ec2", REGION), sandbox.client("iam", REGION)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    first = iam.create_instance_profile(InstanceProfileName="p")["InstanceProfile"]
    instance = ec2.run_instances(ImageId=image(sandbox), MinCount=1, MaxCount=1, InstanceType="t3.micro", IamInstanceProfile={"Name": "p"})["Instances"][0]["InstanceId"]
    shown = describe_instance(ec2, instance)["IamInstanceProfile"]
    assert shown == {"Arn": first["Arn"], "Id": first["InstanceProfileId"]}
    # Deleted and made again by hand: the same ARN, another id, and the instance keeps the old one.
    iam.delete_instance_profile(InstanceProfileName="p")
    second = iam.create_instance_profile(InstanceProfileName="p")["InstanceProfile"]
    assert second["Arn"] == first["Arn"] and second["InstanceProfileId"] != first["InstanceProfileId"]
    assert describe_instance(ec2, instance)["IamInstanceProfile"]["Id"] == first["InstanceProfileId"]
    association = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "instance-id", "Values": [instance]}])["IamInstanceProfileAssociations"][0]
    ec2.replace_iam_instance_profile_association(AssociationId=association["AssociationId"], IamInstanceProfile={"Name": "p"})
    assert describe_instance(ec2, instance)["IamInstanceProfile"] == {"Arn": second["Arn"], "Id": second["InstanceProfileId"]}
