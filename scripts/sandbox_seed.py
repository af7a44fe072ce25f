#!/usr/bin/env python3
"""Seed resources into a running sandbox (see scripts/sandbox).

    sandbox_seed.py --endpoint URL cluster NAME [REGION] [--layout default|private]
    sandbox_seed.py --endpoint URL handbuilt USER_ID [--region us-east-1] --cluster NAME --zip PATH

``cluster`` creates an MSK provisioned cluster: Kafka 3.6.0, 3 x kafka.m5.large,
IAM (SASL/IAM) client authentication on, unauthenticated access off, in a real network of the
sandbox's EC2 (DescribeClusterV2's ``brokerNodeGroupInfo`` names its subnets and group). Prints
the cluster ARN as the last line of stdout; a cluster of that name already there is kept (its
ARN is printed). Layouts:

* ``default``: the brokers in the default VPC's first three default subnets (by availability
  zone) with the default VPC's ``default`` security group, as MSK does when no group is given
  (it admits all traffic from itself);
* ``private`` (the seed project's usual layout): a VPC 10.20.0.0/16 tagged
  ``Name=<cluster>-vpc``; three private broker subnets 10.20.1.0/24, 10.20.2.0/24,
  10.20.3.0/24 in three availability zones sharing a route table with the local route only;
  one public subnet 10.20.101.0/24 (MapPublicIpOnLaunch) whose route table routes
  ``0.0.0.0/0`` to an attached internet gateway; and the brokers' security group
  ``<cluster>-brokers`` admitting TCP 9098 from itself (and the default egress). Pieces already
  there (found by their ``Name`` tags, group name and CIDRs) are reused.

It uses CreateCluster (v1): moto 5.2.5's CreateClusterV2 drops
``provisioned.clientAuthentication``, so a V2-created cluster would describe
with empty client authentication.

``handbuilt`` builds the pipeline the way a person clicks it together in the console, with raw
boto3 calls only (not pinfra), around an existing cluster (``cluster`` above), and nothing
tagged but the instance's ``Name``:

* IAM role ``<USER_ID>-ec2-access-role`` (trusting ec2.amazonaws.com and
  kafkaconnect.amazonaws.com) with the inline policy ``msk-s3-access`` (``kafka-cluster:*`` on
  ``*``, ``s3:*`` on the bucket and its objects), and an instance profile of the same name;
* S3 bucket ``user-<USER_ID>-bucket``: public access block all on, default encryption SSE-S3,
  versioning never touched;
* EC2 key pair ``<USER_ID>-key-pair`` (the private key is discarded), security group
  ``launch-wizard-1`` in the cluster's VPC (TCP 22 from 203.0.113.7/32, TCP 8082 from anywhere),
  and a t2.micro Amazon Linux 2023 instance ``<USER_ID>-kafka-client`` (8 GiB gp3 root volume,
  not encrypted; IMDSv2 required; no user-data), waited for until running; outside the default
  VPC it goes into the VPC's first subnet (by availability zone, then id) that routes
  ``0.0.0.0/0`` to an internet gateway, with a public address;
* the network a person adds by hand so that the pipeline works: an inbound rule on the
  brokers' (first) security group, TCP 9098 from ``launch-wizard-1``, and an S3 gateway
  endpoint for the route tables of the broker subnets (the connector runs there) that no S3
  gateway endpoint serves yet (none when all are served), both untagged;
* MSK topics ``<USER_ID>.pin``, ``.geo``, ``.user`` (3 partitions, replication factor 3);
* the plugin zip at ``kafka-connect-s3/confluentinc-kafka-connect-s3-10.0.3.zip`` in the bucket,
  custom plugin ``<USER_ID>-plugin`` and the S3 sink connector ``<USER_ID>-connector``
  (Kafka Connect 2.7.1, 1 MCU x 1 worker, SASL/IAM over TLS), each waited for;
* REST API ``<USER_ID>-api`` (REGIONAL): ``ANY /{proxy+}`` as an HTTP_PROXY to
  ``http://<instance public DNS>:8082/{proxy}``, deployed to stage ``dev`` with the console's
  default throttling (rate 10000, burst 5000).

It is not meant to be run twice: when any of these already exists it names them and exits 1
before creating anything. Progress goes to stderr; the last stdout line is a JSON object with
the ids and ARNs it made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
PLUGIN_KEY = "kafka-connect-s3/confluentinc-kafka-connect-s3-10.0.3.zip"
POLICY_NAME = "msk-s3-access"
SECURITY_GROUP = "launch-wizard-1"
SECURITY_GROUP_DESCRIPTION = "launch-wizard-1 created by the console"
SSH_CIDR = "203.0.113.7/32"
REST_PROXY_PORT = 8082
WAIT_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.2


def aws_client(service: str, endpoint: str, region: str) -> Any:  # boto3's client types are generated at run time
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
        config=Config(retries={"max_attempts": 1}, proxies={}, s3={"addressing_style": "path"}),
    )


def kafka_client(endpoint: str, region: str) -> Any:
    return aws_client("kafka", endpoint, region)


LAYOUTS = ("default", "private")
VPC_CIDR = "10.20.0.0/16"
BROKER_SUBNET_CIDRS = ("10.20.1.0/24", "10.20.2.0/24", "10.20.3.0/24")
PUBLIC_SUBNET_CIDR = "10.20.101.0/24"
BROKER_PORT = 9098  # SASL/IAM


def name_tags(resource: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": [{"Key": "Name", "Value": name}]}]


def tagged(ec2: Any, operation: str, key: str, name: str, **filters: str) -> list[Any]:
    """The items of ``operation`` tagged ``Name=name`` (and matching ``filters``)."""
    wanted = [{"Name": "tag:Name", "Values": [name]}] + [{"Name": k.replace("_", "-"), "Values": [v]} for k, v in filters.items()]
    return list(getattr(ec2, operation)(Filters=wanted)[key])


def default_network(ec2: Any) -> tuple[list[str], list[str]]:
    """The default VPC's first three default subnets (by availability zone) and its default group."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise SeedError("no default VPC")
    vpc_id = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    chosen = sorted(subnets, key=lambda s: (s["AvailabilityZone"], s["SubnetId"]))[:3]
    if len(chosen) < 3:
        raise SeedError(f"the default VPC {vpc_id} has {len(chosen)} default subnets; MSK needs three here")
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])
    return [s["SubnetId"] for s in chosen], [group["SecurityGroups"][0]["GroupId"]]


def private_network(ec2: Any, name: str) -> tuple[list[str], list[str]]:
    """The seed's usual network for cluster ``name`` (see the module docstring), made or found."""
    found = tagged(ec2, "describe_vpcs", "Vpcs", f"{name}-vpc")
    if found:
        vpc_id = found[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=name_tags("vpc", f"{name}-vpc"))["Vpc"]["VpcId"]
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"])
    if len(zones) < 3:
        raise SeedError(f"the region has {len(zones)} availability zones; the private layout needs three")
    existing = {s["CidrBlock"]: s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}

    def subnet(cidr: str, zone: str, label: str) -> str:
        if cidr in existing:
            return existing[cidr]
        made = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=name_tags("subnet", f"{name}-{label}"))
        return str(made["Subnet"]["SubnetId"])

    brokers = [subnet(cidr, zone, f"private-{zone[-1]}") for cidr, zone in zip(BROKER_SUBNET_CIDRS, zones, strict=False)]
    public = subnet(PUBLIC_SUBNET_CIDR, zones[0], f"public-{zones[0][-1]}")
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})

    def route_table(label: str, subnets: list[str]) -> str:
        tables = tagged(ec2, "describe_route_tables", "RouteTables", f"{name}-{label}", vpc_id=vpc_id)
        table = tables[0]["RouteTableId"] if tables else ec2.create_route_table(VpcId=vpc_id, TagSpecifications=name_tags("route-table", f"{name}-{label}"))["RouteTable"]["RouteTableId"]
        associated = {a.get("SubnetId") for t in tables for a in t.get("Associations", [])}
        for subnet_id in subnets:
            if subnet_id not in associated:
                ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
        return str(table)

    route_table("private", brokers)
    public_table = route_table("public", [public])
    gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    if gateways:
        gateway = gateways[0]["InternetGatewayId"]
    else:
        gateway = ec2.create_internet_gateway(TagSpecifications=name_tags("internet-gateway", f"{name}-igw"))["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    routes = ec2.describe_route_tables(RouteTableIds=[public_table])["RouteTables"][0]["Routes"]
    if not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in routes):
        ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)

    group_name = f"{name}-brokers"
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [group_name]}])["SecurityGroups"]
    if groups:
        group = groups[0]["GroupId"]
    else:
        group = ec2.create_security_group(GroupName=group_name, Description=f"MSK brokers of {name}", VpcId=vpc_id)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": BROKER_PORT, "ToPort": BROKER_PORT, "UserIdGroupPairs": [{"GroupId": group}]}],
        )
    return brokers, [str(group)]


def seed_cluster(endpoint: str, name: str, region: str, layout: str = "default") -> str:
    kafka = kafka_client(endpoint, region)
    existing = [c for c in kafka.list_clusters_v2(ClusterNameFilter=name)["ClusterInfoList"] if c["ClusterName"] == name]
    if existing:
        arn = existing[0]["ClusterArn"]
        print(f"cluster {name} already exists in {region}", file=sys.stderr)
        return arn
    ec2 = aws_client("ec2", endpoint, region)
    subnets, groups = private_network(ec2, name) if layout == "private" else default_network(ec2)
    response = kafka.create_cluster(
        ClusterName=name,
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={
            "InstanceType": "kafka.m5.large",
            "ClientSubnets": subnets,
            "SecurityGroups": groups,
            "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 100}},
        },
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}, "Unauthenticated": {"Enabled": False}},
        EncryptionInfo={"EncryptionInTransit": {"ClientBroker": "TLS", "InCluster": True}},
        Tags={"seeded-by": "pinfra-sandbox"},
    )
    return str(response["ClusterArn"])


class SeedError(Exception):
    """A step of a seed that cannot go on; the message says why."""


def log(message: str) -> None:
    print(f"sandbox_seed: {message}", file=sys.stderr, flush=True)


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def paged(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """Every item under ``key`` of every page of ``operation``."""
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def never(_value: Any) -> bool:
    return False


def wait_for(what: str, read: Callable[[], Any], done: Callable[[Any], bool], failed: Callable[[Any], bool] = never) -> Any:
    """Poll ``read()`` until ``done`` holds for its answer (which is returned); SeedError when
    ``failed`` holds or after WAIT_TIMEOUT_S."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while True:
        value = read()
        if done(value):
            return value
        if failed(value):
            raise SeedError(f"{what} failed: {value}")
        if time.monotonic() > deadline:
            raise SeedError(f"{what}: still not there after {WAIT_TIMEOUT_S:.0f}s: {value}")
        time.sleep(POLL_INTERVAL_S)


@dataclass(frozen=True)
class Handbuilt:
    """The names of a hand-built pipeline for one user (the console's and the seed project's)."""

    user_id: str
    region: str
    cluster_name: str

    @property
    def role(self) -> str:
        return f"{self.user_id}-ec2-access-role"

    @property
    def bucket(self) -> str:
        return f"user-{self.user_id}-bucket"

    @property
    def key_pair(self) -> str:
        return f"{self.user_id}-key-pair"

    @property
    def instance_name(self) -> str:
        return f"{self.user_id}-kafka-client"

    @property
    def topics(self) -> list[str]:
        return [f"{self.user_id}.{suffix}" for suffix in ("pin", "geo", "user")]

    @property
    def plugin(self) -> str:
        return f"{self.user_id}-plugin"

    @property
    def connector(self) -> str:
        return f"{self.user_id}-connector"

    @property
    def api(self) -> str:
        return f"{self.user_id}-api"


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "kafkaconnect.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def access_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kafka-cluster:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
        ],
    }


def connector_configuration(names: Handbuilt) -> dict[str, str]:
    return {
        "connector.class": "io.confluent.connect.s3.S3SinkConnector",
        "s3.region": names.region,
        "flush.size": "1",
        "schema.compatibility": "NONE",
        "tasks.max": "3",
        "topics.regex": f"{names.user_id}.*",
        "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
        "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
        "value.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "storage.class": "io.confluent.connect.s3.storage.S3Storage",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "s3.bucket.name": names.bucket,
    }


class HandbuiltSeed:
    """One run of ``handbuilt``: ``existing()`` lists what is already there, ``run()`` makes it."""

    def __init__(self, endpoint: str, names: Handbuilt) -> None:
        self.names = names
        self.vpc_id = ""  # the cluster's VPC, once run() has found the cluster
        self.broker_subnets: list[str] = []
        self.broker_groups: list[str] = []
        self.iam = aws_client("iam", endpoint, names.region)
        self.s3 = aws_client("s3", endpoint, names.region)
        self.ec2 = aws_client("ec2", endpoint, names.region)
        self.ssm = aws_client("ssm", endpoint, names.region)
        self.kafka = aws_client("kafka", endpoint, names.region)
        self.kafkaconnect = aws_client("kafkaconnect", endpoint, names.region)
        self.apigateway = aws_client("apigateway", endpoint, names.region)

    # ------------------------------------------------------------------------ lookups
    def cluster_arn(self) -> str:
        """The ARN of the cluster, once it is ACTIVE."""
        name = self.names.cluster_name
        clusters = self.kafka.list_clusters_v2(ClusterNameFilter=name)["ClusterInfoList"]
        arns = [str(c["ClusterArn"]) for c in clusters if c["ClusterName"] == name]
        if not arns:
            hint = f"create it with: scripts/sandbox seed-cluster {name} {self.names.region}"
            raise SeedError(f"no MSK cluster named {name} in {self.names.region} ({hint})")
        wait_for(
            f"cluster {name}",
            lambda: self.kafka.describe_cluster_v2(ClusterArn=arns[0])["ClusterInfo"]["State"],
            lambda state: state == "ACTIVE",
            lambda state: state in ("FAILED", "DELETING"),
        )
        return arns[0]

    def default_vpc(self) -> str:
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise SeedError(f"no default VPC in {self.names.region}")
        return str(vpcs[0]["VpcId"])

    def find_network(self, cluster_arn: str) -> None:
        """The cluster's broker subnets and groups, and its VPC (else the default VPC)."""
        nodes = self.kafka.describe_cluster_v2(ClusterArn=cluster_arn)["ClusterInfo"]["Provisioned"]["BrokerNodeGroupInfo"]
        self.broker_subnets = list(nodes.get("ClientSubnets") or [])
        self.broker_groups = list(nodes.get("SecurityGroups") or [])
        try:
            subnets = self.ec2.describe_subnets(SubnetIds=self.broker_subnets[:1])["Subnets"] if self.broker_subnets else []
        except ClientError as err:
            if error_code(err) != "InvalidSubnetID.NotFound":
                raise
            subnets = []
        self.vpc_id = str(subnets[0]["VpcId"]) if subnets else self.default_vpc()

    def route_table_of(self, subnet_id: str) -> dict[str, Any]:
        """The subnet's route table: its explicit association, else the VPC's main table."""
        explicit = self.ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"]
        if explicit:
            return dict(explicit[0])
        main = self.ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
        return dict(main[0])

    def public_subnet(self) -> str:
        """The VPC's first subnet (by availability zone, then id) routing 0.0.0.0/0 to an internet gateway."""
        subnets = self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}])["Subnets"]
        for subnet in sorted(subnets, key=lambda s: (s["AvailabilityZone"], s["SubnetId"])):
            routes = self.route_table_of(subnet["SubnetId"]).get("Routes", [])
            if any(r.get("DestinationCidrBlock") == "0.0.0.0/0" and str(r.get("GatewayId", "")).startswith("igw-") for r in routes):
                return str(subnet["SubnetId"])
        raise SeedError(f"no subnet of {self.vpc_id} routes 0.0.0.0/0 to an internet gateway: nowhere to put the Kafka client")

    def exists(self, call: Callable[[], Any], missing: str) -> bool:
        """Whether ``call()`` finds the resource (an error ``missing`` means it is not there)."""
        try:
            call()
        except ClientError as err:
            if error_code(err) == missing:
                return False
            raise
        return True

    def existing(self, cluster_arn: str) -> list[str]:
        """The resources of this pipeline that are already there."""
        n = self.names
        found: list[str] = []
        if self.exists(lambda: self.iam.get_role(RoleName=n.role), "NoSuchEntity"):
            found.append(f"IAM role {n.role}")
        if self.exists(lambda: self.iam.get_instance_profile(InstanceProfileName=n.role), "NoSuchEntity"):
            found.append(f"instance profile {n.role}")
        if self.exists(lambda: self.s3.head_bucket(Bucket=n.bucket), "404"):
            found.append(f"S3 bucket {n.bucket}")
        if self.exists(lambda: self.ec2.describe_key_pairs(KeyNames=[n.key_pair]), "InvalidKeyPair.NotFound"):
            found.append(f"key pair {n.key_pair}")
        groups = self.ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}, {"Name": "group-name", "Values": [SECURITY_GROUP]}]
        )["SecurityGroups"]
        found += [f"security group {SECURITY_GROUP} ({g['GroupId']})" for g in groups]
        reservations = self.ec2.describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": [n.instance_name]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        )["Reservations"]
        found += [f"instance {n.instance_name} ({i['InstanceId']})" for r in reservations for i in r["Instances"]]
        listed = paged(self.kafka, "list_topics", "Topics", ClusterArn=cluster_arn, TopicNameFilter=n.user_id)
        topics = {t["TopicName"] for t in listed}
        found += [f"topic {t}" for t in n.topics if t in topics]
        plugins = paged(self.kafkaconnect, "list_custom_plugins", "customPlugins", namePrefix=n.plugin)
        found += [f"custom plugin {n.plugin}" for p in plugins if p["name"] == n.plugin]
        connectors = paged(self.kafkaconnect, "list_connectors", "connectors", connectorNamePrefix=n.connector)
        found += [f"connector {n.connector}" for c in connectors if c["connectorName"] == n.connector]
        apis = paged(self.apigateway, "get_rest_apis", "items", PaginationConfig={"PageSize": 500})
        found += [f"REST API {n.api} ({a['id']})" for a in apis if a["name"] == n.api]
        return found

    # -------------------------------------------------------------------------- steps
    def create_role(self) -> tuple[str, str]:
        """The role, its inline policy and its instance profile: (role ARN, profile ARN)."""
        n = self.names
        role = self.iam.create_role(RoleName=n.role, AssumeRolePolicyDocument=json.dumps(trust_policy()))["Role"]
        self.iam.put_role_policy(RoleName=n.role, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(access_policy(n.bucket)))
        profile = self.iam.create_instance_profile(InstanceProfileName=n.role)["InstanceProfile"]
        self.iam.add_role_to_instance_profile(InstanceProfileName=n.role, RoleName=n.role)
        log(f"IAM role and instance profile {n.role}")
        return str(role["Arn"]), str(profile["Arn"])

    def create_bucket(self) -> None:
        n = self.names
        if n.region == "us-east-1":
            self.s3.create_bucket(Bucket=n.bucket)
        else:
            self.s3.create_bucket(Bucket=n.bucket, CreateBucketConfiguration={"LocationConstraint": n.region})
        self.s3.put_public_access_block(
            Bucket=n.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_encryption(
            Bucket=n.bucket,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        )
        log(f"S3 bucket {n.bucket}")

    def create_key_pair(self) -> str:
        answer = self.ec2.create_key_pair(KeyName=self.names.key_pair)
        answer.pop("KeyMaterial", None)  # the private key: the console downloads it once; not kept here
        log(f"key pair {self.names.key_pair}")
        return str(answer["KeyPairId"])

    def create_security_group(self) -> str:
        vpc_id = self.vpc_id
        group = self.ec2.create_security_group(GroupName=SECURITY_GROUP, Description=SECURITY_GROUP_DESCRIPTION, VpcId=vpc_id)
        group_id = str(group["GroupId"])
        port = REST_PROXY_PORT
        self.ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": SSH_CIDR}]},
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            ],
        )
        log(f"security group {SECURITY_GROUP} ({group_id}) in {vpc_id}")
        return group_id

    def launch_instance(self, group_id: str) -> tuple[str, str]:
        """The Kafka client instance, once running: (instance id, public DNS name)."""
        n = self.names
        image_id = self.ssm.get_parameter(Name=AL2023_AMI_PARAMETER)["Parameter"]["Value"]
        if self.vpc_id == self.default_vpc():
            placement: dict[str, Any] = {"SecurityGroupIds": [group_id]}
        else:
            # The console's "Edit" network settings: the cluster's VPC, a public subnet, a public IP.
            interface = {"DeviceIndex": 0, "SubnetId": self.public_subnet(), "Groups": [group_id], "AssociatePublicIpAddress": True}
            placement = {"NetworkInterfaces": [interface]}

        def run() -> Any:
            return self.ec2.run_instances(
                ImageId=image_id,
                InstanceType="t2.micro",
                MinCount=1,
                MaxCount=1,
                KeyName=n.key_pair,
                **placement,
                IamInstanceProfile={"Name": n.role},
                BlockDeviceMappings=[
                    {
                        "DeviceName": "/dev/xvda",
                        "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "Encrypted": False, "DeleteOnTermination": True},
                    }
                ],
                MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
                TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": n.instance_name}]}],
            )

        # A new instance profile takes a few seconds to reach EC2 (InvalidParameterValue until then).
        deadline = time.monotonic() + WAIT_TIMEOUT_S
        while True:
            try:
                instance_id = str(run()["Instances"][0]["InstanceId"])
                break
            except ClientError as err:
                propagating = error_code(err) == "InvalidParameterValue" and "iamInstanceProfile" in str(err)
                if not propagating or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

        def describe() -> dict[str, Any]:
            return dict(self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0])

        instance = wait_for(
            f"instance {instance_id}",
            describe,
            lambda i: i["State"]["Name"] == "running" and bool(i.get("PublicDnsName")),
            lambda i: i["State"]["Name"] in ("shutting-down", "terminated", "stopping", "stopped"),
        )
        log(f"instance {n.instance_name} ({instance_id}) running at {instance['PublicDnsName']}")
        return instance_id, str(instance["PublicDnsName"])

    def open_network(self, client_group: str) -> tuple[str | None, str | None]:
        """What a person adds by hand for the pipeline to work: TCP 9098 from the client's group on
        the brokers' (first) group, and an S3 gateway endpoint for the broker subnets' route tables
        that none serves yet. (the rule's id, the endpoint's id or None)."""
        rule_id = None
        if self.broker_groups:
            rules = self.ec2.authorize_security_group_ingress(
                GroupId=self.broker_groups[0],
                IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": BROKER_PORT, "ToPort": BROKER_PORT, "UserIdGroupPairs": [{"GroupId": client_group}]}
                ],
            ).get("SecurityGroupRules", [])
            rule_id = str(rules[0]["SecurityGroupRuleId"]) if rules else None
            log(f"brokers' security group {self.broker_groups[0]}: TCP {BROKER_PORT} from {client_group}")
        service = f"com.amazonaws.{self.names.region}.s3"
        prefix_lists = self.ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [service]}])["PrefixLists"]
        s3_list = prefix_lists[0]["PrefixListId"] if prefix_lists else None
        tables: list[str] = []
        for subnet_id in self.broker_subnets:
            table = self.route_table_of(subnet_id)
            served = any(s3_list and r.get("DestinationPrefixListId") == s3_list for r in table.get("Routes", []))
            if not served and table["RouteTableId"] not in tables:
                tables.append(str(table["RouteTableId"]))
        endpoint_id = None
        if tables:
            endpoint = self.ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=self.vpc_id, ServiceName=service, RouteTableIds=tables)
            endpoint_id = str(endpoint["VpcEndpoint"]["VpcEndpointId"])
            log(f"S3 gateway endpoint {endpoint_id} for {', '.join(tables)}")
        return rule_id, endpoint_id

    def create_topics(self, cluster_arn: str) -> None:
        for topic in self.names.topics:
            self.kafka.create_topic(ClusterArn=cluster_arn, TopicName=topic, PartitionCount=3, ReplicationFactor=3)
        for topic in self.names.topics:
            wait_for(
                f"topic {topic}",
                lambda topic=topic: self.kafka.describe_topic(ClusterArn=cluster_arn, TopicName=topic)["Status"],  # type: ignore[misc]
                lambda status: status == "ACTIVE",
            )
        log(f"topics {', '.join(self.names.topics)}")

    def create_plugin(self, zip_path: str) -> str:
        n = self.names
        self.s3.upload_file(zip_path, n.bucket, PLUGIN_KEY)
        arn = str(
            self.kafkaconnect.create_custom_plugin(
                name=n.plugin,
                contentType="ZIP",
                location={"s3Location": {"bucketArn": f"arn:aws:s3:::{n.bucket}", "fileKey": PLUGIN_KEY}},
            )["customPluginArn"]
        )
        wait_for(
            f"custom plugin {n.plugin}",
            lambda: self.kafkaconnect.describe_custom_plugin(customPluginArn=arn)["customPluginState"],
            lambda state: state == "ACTIVE",
            lambda state: state in ("CREATE_FAILED", "DELETING"),
        )
        log(f"custom plugin {n.plugin} ({arn})")
        return arn

    def create_connector(self, cluster_arn: str, role_arn: str, plugin_arn: str) -> str:
        n = self.names
        bootstrap = self.kafka.get_bootstrap_brokers(ClusterArn=cluster_arn).get("BootstrapBrokerStringSaslIam")
        if not bootstrap:
            raise SeedError(f"cluster {n.cluster_name} has no SASL/IAM bootstrap brokers (IAM client authentication off?)")
        nodes = self.kafka.describe_cluster_v2(ClusterArn=cluster_arn)["ClusterInfo"]["Provisioned"]["BrokerNodeGroupInfo"]
        arn = str(
            self.kafkaconnect.create_connector(
                connectorName=n.connector,
                kafkaConnectVersion="2.7.1",
                capacity={"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}},
                connectorConfiguration=connector_configuration(n),
                kafkaCluster={
                    "apacheKafkaCluster": {
                        "bootstrapServers": bootstrap,
                        "vpc": {"subnets": nodes["ClientSubnets"], "securityGroups": nodes.get("SecurityGroups", [])},
                    }
                },
                kafkaClusterClientAuthentication={"authenticationType": "IAM"},
                kafkaClusterEncryptionInTransit={"encryptionType": "TLS"},
                plugins=[{"customPlugin": {"customPluginArn": plugin_arn, "revision": 1}}],
                serviceExecutionRoleArn=role_arn,
            )["connectorArn"]
        )
        wait_for(
            f"connector {n.connector}",
            lambda: self.kafkaconnect.describe_connector(connectorArn=arn)["connectorState"],
            lambda state: state == "RUNNING",
            lambda state: state in ("FAILED", "DELETING"),
        )
        log(f"connector {n.connector} ({arn})")
        return arn

    def create_api(self, public_dns: str) -> str:
        n = self.names
        api = self.apigateway
        api_id = str(api.create_rest_api(name=n.api, endpointConfiguration={"types": ["REGIONAL"]})["id"])
        root = next(r["id"] for r in api.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        proxy = api.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")["id"]
        api.put_method(
            restApiId=api_id,
            resourceId=proxy,
            httpMethod="ANY",
            authorizationType="NONE",
            apiKeyRequired=False,
            requestParameters={"method.request.path.proxy": True},
        )
        api.put_integration(
            restApiId=api_id,
            resourceId=proxy,
            httpMethod="ANY",
            type="HTTP_PROXY",
            integrationHttpMethod="ANY",
            uri=f"http://{public_dns}:{REST_PROXY_PORT}/{{proxy}}",
            requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
        )
        api.create_deployment(restApiId=api_id, stageName="dev")
        api.update_stage(
            restApiId=api_id,
            stageName="dev",
            patchOperations=[
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "10000"},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "5000"},
            ],
        )
        log(f"REST API {n.api} ({api_id}), stage dev")
        return api_id

    # ---------------------------------------------------------------------------- run
    def run(self, zip_path: str) -> dict[str, Any]:
        if not os.path.isfile(zip_path):
            raise SeedError(f"no plugin zip at {zip_path} (write a stand-in with scripts/sandbox_plugin_zip.py)")
        cluster_arn = self.cluster_arn()
        self.find_network(cluster_arn)
        found = self.existing(cluster_arn)
        if found:
            raise SeedError(f"already there for user {self.names.user_id} in {self.names.region}: {'; '.join(found)}")
        role_arn, profile_arn = self.create_role()
        self.create_bucket()
        key_pair_id = self.create_key_pair()
        group_id = self.create_security_group()
        instance_id, public_dns = self.launch_instance(group_id)
        rule_id, endpoint_id = self.open_network(group_id)
        self.create_topics(cluster_arn)
        plugin_arn = self.create_plugin(zip_path)
        connector_arn = self.create_connector(cluster_arn, role_arn, plugin_arn)
        api_id = self.create_api(public_dns)
        return {
            "role_arn": role_arn,
            "instance_profile_arn": profile_arn,
            "bucket": self.names.bucket,
            "key_pair_id": key_pair_id,
            "security_group_id": group_id,
            "broker_ingress_rule_id": rule_id,
            "s3_endpoint_id": endpoint_id,
            "instance_id": instance_id,
            "public_dns_name": public_dns,
            "cluster_arn": cluster_arn,
            "topics": self.names.topics,
            "plugin_arn": plugin_arn,
            "connector_arn": connector_arn,
            "api_id": api_id,
            "stage": "dev",
        }


def seed_handbuilt(endpoint: str, user_id: str, region: str, cluster_name: str, zip_path: str) -> dict[str, Any]:
    return HandbuiltSeed(endpoint, Handbuilt(user_id, region, cluster_name)).run(zip_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed resources into a running pinfra sandbox.")
    parser.add_argument("--endpoint", required=True, help="sandbox URL, e.g. http://127.0.0.1:4566")
    sub = parser.add_subparsers(dest="what", required=True)
    cluster = sub.add_parser("cluster", help="create an MSK provisioned cluster with IAM auth")
    cluster.add_argument("name")
    cluster.add_argument("region", nargs="?", default="us-east-1")
    cluster.add_argument("--layout", choices=LAYOUTS, default="default", help="where the brokers go (see the module docstring)")
    handbuilt = sub.add_parser("handbuilt", help="build the pipeline as a person does in the console, around an existing cluster")
    handbuilt.add_argument("user_id")
    handbuilt.add_argument("--region", default="us-east-1")
    handbuilt.add_argument("--cluster", required=True, help="name of the MSK cluster (see `cluster`)")
    handbuilt.add_argument("--zip", required=True, help="the S3 sink plugin zip to upload (see sandbox_plugin_zip.py)")
    args = parser.parse_args(argv)

    # The sandbox is on loopback; never send its traffic through a proxy.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"
    if args.what == "cluster":
        try:
            arn = seed_cluster(args.endpoint, args.name, args.region, args.layout)
        except SeedError as err:
            log(str(err))
            return 1
        print(arn, flush=True)
    elif args.what == "handbuilt":
        try:
            made = seed_handbuilt(args.endpoint, args.user_id, args.region, args.cluster, args.zip)
        except SeedError as err:
            log(str(err))
            return 1
        except ClientError as err:
            log(f"{err} (what was made before it is left in place)")
            return 1
        print(json.dumps(made, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
