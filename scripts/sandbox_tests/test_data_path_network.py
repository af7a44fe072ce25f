"""The data path with ``PINFRA_SANDBOX_NETWORK=enforce`` (data_path, apigateway_compat): the
stand-in REST proxy, execute-api and the emulated S3 sink let data through only where the EC2
network does; and the hand-built pipeline of ``sandbox_seed.py handbuilt`` works with it on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandbox_ext import network
from support import ACCOUNT, REGION, USER, Pipeline, Sandbox, build_pipeline, http, tcp


# ------------------------------------------------------------------------------ settings
def test_the_network_switch(sandbox: Sandbox) -> None:
    assert sandbox.get("/_sandbox/network/settings") == {"enforce": False}  # PINFRA_SANDBOX_NETWORK=off (conftest)
    sandbox.enforce(True)
    assert sandbox.get("/_sandbox/network/settings") == {"enforce": True}
    assert sandbox.post("/_sandbox/network/settings", {"enforce": "yes"})[0] == 400
    assert sandbox.post("/_sandbox/network/settings", {"strict": True})[0] == 400
    assert sandbox.post("/_sandbox/network/settings", [])[0] == 400
    http("POST", f"{sandbox.url}/moto-api/reset")
    assert sandbox.get("/_sandbox/network/settings") == {"enforce": False}  # back to the start-up value


# -------------------------------------------------------------- the hand-built pipeline
@pytest.mark.parametrize("layout", ["default", "private"])
def test_the_hand_built_pipeline_is_open(sandbox: Sandbox, tmp_path: Any, layout: str) -> None:
    pipeline = build_pipeline(sandbox, tmp_path, layout)
    made, ec2, kafka = pipeline.made, pipeline.ec2, sandbox.client("kafka")
    nodes = kafka.describe_cluster_v2(ClusterArn=made["cluster_arn"])["ClusterInfo"]["Provisioned"]["BrokerNodeGroupInfo"]
    connector = sandbox.client("kafkaconnect").describe_connector(connectorArn=made["connector_arn"])
    vpc = connector["kafkaCluster"]["apacheKafkaCluster"]["vpc"]
    subnets, groups = nodes["ClientSubnets"], nodes["SecurityGroups"]
    assert network.client_to_brokers(ACCOUNT, REGION, made["instance_id"], subnets, groups) is None
    assert network.instance_to_internet(ACCOUNT, REGION, made["instance_id"]) is None
    assert network.internet_to_instance(ACCOUNT, REGION, made["instance_id"], 8082) is None
    assert network.connector_to_brokers(ACCOUNT, REGION, vpc["subnets"], vpc.get("securityGroups", []), subnets, groups) is None
    assert network.connector_to_s3(ACCOUNT, REGION, vpc["subnets"], vpc.get("securityGroups", [])) is None
    # Without what the person added by hand, two paths are blocked.
    ec2.revoke_security_group_ingress(GroupId=groups[0], IpPermissions=[tcp(9098, group=made["security_group_id"])])
    ec2.delete_vpc_endpoints(VpcEndpointIds=[made["s3_endpoint_id"]])
    assert "admits nothing on TCP 9098 from the Kafka client" in (network.client_to_brokers(ACCOUNT, REGION, made["instance_id"], subnets, groups) or "")
    assert network.connector_to_s3(ACCOUNT, REGION, vpc["subnets"], vpc.get("securityGroups", [])) is not None
    assert sandbox.get("/_sandbox/restproxy")["enforce"] is False


# ------------------------------------------------------------------------ the REST proxy
def test_the_proxy_with_the_network_enforced(sandbox: Sandbox, tmp_path: Any) -> None:
    pipeline = build_pipeline(sandbox, tmp_path)
    made, ec2 = pipeline.made, pipeline.ec2
    sandbox.enforce(True)
    status, answer = pipeline.produce(f"{USER}.pin", [{"n": 1}])
    assert status == 200 and answer["offsets"][0]["offset"] == 0, answer
    assert pipeline.restproxy()["network"] == {"internet_to_instance": {"8082": None}, "instance_to_internet": None, "client_to_brokers": None}

    # The brokers' group no longer admits the client: the producer waits for metadata (60 s > 29 s).
    broker_group = sandbox.client("kafka").describe_cluster_v2(ClusterArn=made["cluster_arn"])["ClusterInfo"]["Provisioned"]["BrokerNodeGroupInfo"]["SecurityGroups"][0]
    ec2.revoke_security_group_ingress(GroupId=broker_group, IpPermissions=[tcp(9098, group=made["security_group_id"])])
    assert pipeline.produce(f"{USER}.pin", [{"n": 2}]) == (504, {"message": "Endpoint request timed out"})
    assert "admits nothing on TCP 9098 from the Kafka client" in pipeline.restproxy()["network"]["client_to_brokers"]
    sandbox.enforce(False)
    assert pipeline.produce(f"{USER}.pin", [{"n": 2}])[0] == 200
    sandbox.enforce(True)
    ec2.authorize_security_group_ingress(GroupId=broker_group, IpPermissions=[tcp(9098, group=made["security_group_id"])])

    # No way in from the internet on 8082: API Gateway times out.
    ec2.revoke_security_group_ingress(GroupId=made["security_group_id"], IpPermissions=[tcp(8082, cidr="0.0.0.0/0")])
    assert pipeline.produce(f"{USER}.pin", [{"n": 3}]) == (504, {"message": "Endpoint request timed out"})
    ec2.authorize_security_group_ingress(GroupId=made["security_group_id"], IpPermissions=[tcp(8082, cidr="0.0.0.0/0")])

    # No way out on 443: the user-data could not install the proxy; nothing listens.
    ec2.revoke_security_group_egress(GroupId=made["security_group_id"], IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=made["security_group_id"], IpPermissions=[tcp(9098, cidr="0.0.0.0/0")])
    assert pipeline.produce(f"{USER}.pin", [{"n": 4}]) == (504, {"message": "Network error communicating with endpoint"})
    assert "admits nothing outbound on TCP 443" in pipeline.restproxy()["network"]["instance_to_internet"]


def test_an_unreachable_cluster_is_what_the_proxy_reports(sandbox: Sandbox, tmp_path: Any) -> None:
    pipeline = build_pipeline(sandbox, tmp_path, timeout_ms=120000)  # longer than producer.max.block.ms
    broker_group = sandbox.client("kafka").describe_cluster_v2(ClusterArn=pipeline.made["cluster_arn"])["ClusterInfo"]["Provisioned"]["BrokerNodeGroupInfo"]["SecurityGroups"][0]
    pipeline.ec2.revoke_security_group_ingress(GroupId=broker_group, IpPermissions=[tcp(9098, group=pipeline.made["security_group_id"])])
    sandbox.enforce(True)
    started = time.monotonic()
    status, answer = pipeline.produce(f"{USER}.pin", [{"n": 1}])
    assert time.monotonic() - started < 5  # answered at once
    assert status == 200
    assert answer["offsets"] == [{"partition": None, "offset": None, "error_code": 50003, "error": f"Topic {USER}.pin not present in metadata after 60000 ms."}]


# ------------------------------------------------------------------------------ the sink
def test_the_sink_with_the_network_enforced(sandbox: Sandbox, tmp_path: Any) -> None:
    pipeline = build_pipeline(sandbox, tmp_path)
    made, ec2 = pipeline.made, pipeline.ec2
    sandbox.enforce(True)
    assert pipeline.produce(f"{USER}.pin", [{"n": 1}])[0] == 200
    assert len(pipeline.objects()) == 1
    assert pipeline.sink()["error"] is None and pipeline.sink()["last_error"] is None

    # No S3 gateway endpoint: the default route goes to the internet gateway, and workers have
    # no public address. Nothing is written; the connector stays RUNNING; the worker logs it.
    ec2.delete_vpc_endpoints(VpcEndpointIds=[made["s3_endpoint_id"]])
    assert pipeline.produce(f"{USER}.pin", [{"n": 2}])[0] == 200
    assert len(pipeline.objects()) == 1
    sink = pipeline.sink()
    message = (
        "org.apache.kafka.connect.errors.ConnectException: com.amazonaws.SdkClientException: Unable to execute HTTP request: "
        f"Connect to {made['bucket']}.s3.{REGION}.amazonaws.com:443 failed: connect timed out"
    )
    assert sink["error"] == message and sink["last_error"] == message
    assert "has no public address, so internet gateway" in sink["network"]
    assert sandbox.client("kafkaconnect").describe_connector(connectorArn=made["connector_arn"])["connectorState"] == "RUNNING"

    # Back: the pending record is written; the log keeps the error.
    route_table = sink_table(pipeline)
    pipeline.ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc_of(pipeline), ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[route_table])
    assert len(pipeline.objects()) == 2
    sink = pipeline.sink()
    assert sink["error"] is None and sink["network"] is None and sink["last_error"] == message

    # The brokers' (default) group no longer admits itself: the connector's workers cannot reach them.
    broker_group = sandbox.client("kafka").describe_cluster_v2(ClusterArn=made["cluster_arn"])["ClusterInfo"]["Provisioned"]["BrokerNodeGroupInfo"]["SecurityGroups"][0]
    ec2.revoke_security_group_ingress(GroupId=broker_group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": broker_group}]}])
    assert pipeline.produce(f"{USER}.pin", [{"n": 3}])[0] == 200  # the client still has its own rule
    assert len(pipeline.objects()) == 2
    sink = pipeline.sink()
    assert sink["error"] == "org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata"
    assert "admits nothing on TCP 9098 from the connector" in sink["network"]
    sandbox.enforce(False)
    assert len(pipeline.objects()) == 3 and pipeline.sink()["network"] is None


def vpc_of(pipeline: Pipeline) -> str:
    instance = pipeline.ec2.describe_instances(InstanceIds=[pipeline.made["instance_id"]])["Reservations"][0]["Instances"][0]
    return str(instance["VpcId"])


def sink_table(pipeline: Pipeline) -> str:
    vpc = vpc_of(pipeline)
    main = pipeline.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}])
    return str(main["RouteTables"][0]["RouteTableId"])
