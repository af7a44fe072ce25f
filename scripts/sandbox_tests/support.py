"""Helpers for the sandbox tests: boto3 clients for the in-process sandbox, plain HTTP, a small
VPC to break in different ways (``build_net``), and the hand-built pipeline with a stand-in REST
proxy behind a REST API (``build_pipeline``)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import sandbox_plugin_zip
import sandbox_seed

ACCOUNT = "123456789012"
REGION = "us-east-1"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def client_error(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    """The HTTP status, code and message of an AWS error answer."""
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def eventually(read: Callable[[], Any], want: Any, timeout_s: float = 10.0) -> Any:
    """Poll ``read()`` until it answers ``want``; the last answer otherwise (so the assert shows it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = read()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request to the sandbox (never through a proxy); errors are answers too."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class Sandbox:
    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, proxies={}, s3={"addressing_style": "path"}),
        )

    def get(self, path: str) -> Any:
        status, _headers, body = http("GET", self.url + path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        status, _headers, data = http("POST", self.url + path, body if body is not None else {}, {"Content-Type": "application/json"})
        return status, json.loads(data) if data else None

    def enforce(self, on: bool = True) -> None:
        status, answer = self.post("/_sandbox/network/settings", {"enforce": on})
        assert status == 200 and answer == {"enforce": on}, answer


def image(sandbox: Sandbox, region: str = REGION) -> str:
    return str(sandbox.client("ssm", region).get_parameter(Name=AL2023)["Parameter"]["Value"])


def describe_instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    return dict(ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0])


@dataclass
class Net:
    """A VPC 10.0.0.0/16 with an attached internet gateway; ``public`` (10.0.1.0/24, us-east-1a)
    routes 0.0.0.0/0 to it; ``private`` (10.0.2.0/24 in 1b, 10.0.3.0/24 in 1c) share a table with
    the local route only; ``brokers_sg`` admits TCP 9098 from itself; ``client_sg`` admits TCP
    8082 from 0.0.0.0/0; ``client`` runs in ``public`` with ``client_sg`` and a public address."""

    sandbox: Sandbox
    ec2: Any
    region: str
    vpc: str
    igw: str
    public: str
    private: list[str]
    public_table: str
    private_table: str
    main_table: str
    brokers_sg: str
    client_sg: str
    client: str

    def launch(self, subnet: str, groups: list[str], public_ip: bool | None = None, user_data: str | None = None) -> str:
        interface: dict[str, Any] = {"DeviceIndex": 0, "SubnetId": subnet, "Groups": groups}
        if public_ip is not None:
            interface["AssociatePublicIpAddress"] = public_ip
        extra = {"UserData": user_data} if user_data else {}
        answer = self.ec2.run_instances(ImageId=image(self.sandbox, self.region), InstanceType="t3.micro", MinCount=1, MaxCount=1, NetworkInterfaces=[interface], **extra)
        return str(answer["Instances"][0]["InstanceId"])

    def subnet(self, cidr: str, zone: str) -> str:
        return str(self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"])

    def group(self, name: str, ingress: list[dict[str, Any]] | None = None) -> str:
        group = str(self.ec2.create_security_group(GroupName=name, Description=name, VpcId=self.vpc)["GroupId"])
        if ingress:
            self.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=ingress)
        return group

    def acl(self, subnets: list[str], entries: list[dict[str, Any]]) -> str:
        """A custom network ACL with ``entries`` (CreateNetworkAclEntry's arguments), guarding ``subnets``."""
        acl = str(self.ec2.create_network_acl(VpcId=self.vpc)["NetworkAcl"]["NetworkAclId"])
        for entry in entries:
            self.ec2.create_network_acl_entry(NetworkAclId=acl, **{"CidrBlock": "0.0.0.0/0", **entry})
        for subnet in subnets:
            current = self.ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"][0]
            association = next(a for a in current["Associations"] if a["SubnetId"] == subnet)
            self.ec2.replace_network_acl_association(AssociationId=association["NetworkAclAssociationId"], NetworkAclId=acl)
        return acl

    def s3_endpoint(self, tables: list[str]) -> str:
        answer = self.ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=self.vpc, ServiceName=f"com.amazonaws.{self.region}.s3", RouteTableIds=tables)
        return str(answer["VpcEndpoint"]["VpcEndpointId"])

    def nat(self, subnet: str) -> str:
        allocation = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        return str(self.ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"])


def tcp(port: int, to: int | None = None, **peer: Any) -> dict[str, Any]:
    """An IpPermission for TCP ``port`` (..``to``): cidr=, group= or prefix_list=."""
    permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": to if to is not None else port}
    if "cidr" in peer:
        permission["IpRanges"] = [{"CidrIp": peer["cidr"]}]
    if "group" in peer:
        permission["UserIdGroupPairs"] = [{"GroupId": peer["group"]}]
    if "prefix_list" in peer:
        permission["PrefixListIds"] = [{"PrefixListId": peer["prefix_list"]}]
    return permission


def build_net(sandbox: Sandbox, region: str = REGION) -> Net:
    ec2 = sandbox.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{region}a")["Subnet"]["SubnetId"]
    private = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
        for cidr, zone in (("10.0.2.0/24", "b"), ("10.0.3.0/24", "c"))
    ]
    public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_table, SubnetId=public)
    private_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for subnet in private:
        ec2.associate_route_table(RouteTableId=private_table, SubnetId=subnet)
    net = Net(sandbox, ec2, region, vpc, igw, public, private, public_table, private_table, main["RouteTableId"], "", "", "")
    net.brokers_sg = net.group("brokers")
    ec2.authorize_security_group_ingress(GroupId=net.brokers_sg, IpPermissions=[tcp(9098, group=net.brokers_sg)])
    net.client_sg = net.group("client", [tcp(8082, cidr="0.0.0.0/0")])
    net.client = net.launch(public, [net.client_sg], public_ip=True)
    return net


# -------------------------------------------------------------- the hand-built pipeline
USER = "alice"
CLUSTER = "demo"
JSON_V2 = "application/vnd.kafka.json.v2+json"


def user_data(bootstrap: str, role_arn: str | None = None) -> str:
    """A user-data script writing kafka-rest.properties as templates/user-data.sh.j2 does (with
    ``awsRoleArn`` in the JAAS line when ``role_arn`` is given)."""
    jaas = f'awsRoleArn="{role_arn}"' if role_arn else ""
    return (
        "#!/bin/bash\n"
        'cat >"/opt/confluent/etc/kafka-rest/kafka-rest.properties" <<\'PINFRA_REST_PROPERTIES\'\n'
        "listeners=http://0.0.0.0:8082\n"
        f"bootstrap.servers={bootstrap}\n"
        "client.security.protocol=SASL_SSL\n"
        "client.sasl.mechanism=AWS_MSK_IAM\n"
        f"client.sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required {jaas};\n"
        "client.sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler\n"
        "PINFRA_REST_PROPERTIES\n"
    )


@dataclass
class Pipeline:
    """The hand-built pipeline (``made``: the seeder's JSON) plus a Kafka client instance running
    the stand-in REST proxy in ``launch-wizard-1`` and a REST API in front of it."""

    sandbox: Sandbox
    made: dict[str, Any]
    proxy: str  # the proxy's instance id
    api: str

    @property
    def ec2(self) -> Any:
        return self.sandbox.client("ec2")

    def produce(self, topic: str, records: list[Any]) -> tuple[int, Any]:
        url = f"{self.sandbox.url}/restapis/{self.api}/dev/_user_request_/topics/{topic}"
        body = json.dumps({"records": [{"value": r} for r in records]}).encode()
        status, _headers, data = http("POST", url, body, {"Content-Type": JSON_V2})
        return status, json.loads(data)

    def sink(self) -> dict[str, Any]:
        connectors = self.sandbox.get("/_sandbox/sink")["connectors"]
        return dict(next(c for c in connectors if c["name"] == f"{USER}-connector"))

    def objects(self) -> list[str]:
        listed = self.sandbox.client("s3").list_objects_v2(Bucket=self.made["bucket"], Prefix="topics/")
        return [o["Key"] for o in listed.get("Contents", [])]

    def restproxy(self) -> dict[str, Any]:
        listing = self.sandbox.get("/_sandbox/restproxy")
        return dict(next(p for p in listing["proxies"] if p["instance_id"] == self.proxy))


def api_to(sandbox: Sandbox, host: str, timeout_ms: int = 29000) -> str:
    api = sandbox.client("apigateway")
    api_id = api.create_rest_api(name="proxy-api")["id"]
    root = next(r["id"] for r in api.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    resource = api.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")["id"]
    api.put_method(restApiId=api_id, resourceId=resource, httpMethod="ANY", authorizationType="NONE", requestParameters={"method.request.path.proxy": True})
    api.put_integration(
        restApiId=api_id,
        resourceId=resource,
        httpMethod="ANY",
        type="HTTP_PROXY",
        integrationHttpMethod="ANY",
        uri=f"http://{host}:8082/{{proxy}}",
        requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
        timeoutInMillis=timeout_ms,
    )
    api.create_deployment(restApiId=api_id, stageName="dev")
    return str(api_id)


def build_pipeline(sandbox: Sandbox, tmp_path: Any, layout: str = "default", timeout_ms: int = 29000) -> Pipeline:
    sandbox_seed.seed_cluster(sandbox.url, CLUSTER, REGION, layout)
    plugin = tmp_path / "plugin.zip"
    plugin.write_bytes(sandbox_plugin_zip.build("10.0.3", "", "ok"))
    made = sandbox_seed.seed_handbuilt(sandbox.url, USER, REGION, CLUSTER, str(plugin))
    ec2, kafka = sandbox.client("ec2"), sandbox.client("kafka")
    bootstrap = kafka.get_bootstrap_brokers(ClusterArn=made["cluster_arn"])["BootstrapBrokerStringSaslIam"]
    handbuilt = ec2.describe_instances(InstanceIds=[made["instance_id"]])["Reservations"][0]["Instances"][0]
    interface = {"DeviceIndex": 0, "SubnetId": handbuilt["SubnetId"], "Groups": [made["security_group_id"]], "AssociatePublicIpAddress": True}
    # The proxy's Kafka clients act as the hand-built role (kafka-cluster:* on *), as on the hand-built instance.
    profile = {"Arn": made["instance_profile_arn"]}
    proxy = ec2.run_instances(
        ImageId=image(sandbox), InstanceType="t3.micro", MinCount=1, MaxCount=1, NetworkInterfaces=[interface], UserData=user_data(bootstrap), IamInstanceProfile=profile
    )
    instance = proxy["Instances"][0]["InstanceId"]
    host = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["PublicDnsName"]
    pipeline = Pipeline(sandbox, made, instance, api_to(sandbox, host, timeout_ms))
    deadline = time.monotonic() + 10
    while any(kafka.describe_topic(ClusterArn=made["cluster_arn"], TopicName=t)["Status"] != "ACTIVE" for t in made["topics"]):
        assert time.monotonic() < deadline, "topics never became ACTIVE"
        time.sleep(0.05)
    return pipeline
