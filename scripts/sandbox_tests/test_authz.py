"""MSK IAM access control in the data path (``PINFRA_SANDBOX_AUTHZ=enforce``, data_path and
kafka_iam): the stand-in REST proxy produces, and the emulated S3 sink consumes, only what the IAM
role they act as may do on the cluster, its topics and its groups.

The hand-built pipeline's role (``alice-ec2-access-role``) is shared by the Kafka client instance
and the connector; each test replaces its inline policy ``msk-s3-access`` (``kafka-cluster:*`` on
``*`` as seeded) with the grants under test."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox_ext import kafka_iam
from support import ACCOUNT, JSON_V2, USER, Pipeline, Sandbox, build_pipeline, http, image, user_data

ROLE = f"{USER}-ec2-access-role"
POLICY = "msk-s3-access"
PIN, GEO = f"{USER}.pin", f"{USER}.geo"
GROUP = f"connect-{USER}-connector"


def allow(actions: Any, resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def deny(actions: Any, resources: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resources}


def grant(sandbox: Sandbox, *statements: dict[str, Any], role: str = ROLE) -> None:
    """The role's inline policy becomes exactly these statements (plus S3 on everything)."""
    document = {"Version": "2012-10-17", "Statement": [*statements, allow("s3:*", "*")]}
    sandbox.client("iam").put_role_policy(RoleName=role, PolicyName=POLICY, PolicyDocument=json.dumps(document))


class Arns:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.topics = cluster.replace(":cluster/", ":topic/", 1)  # …:topic/<name>/<uuid>-<n>
        self.groups = cluster.replace(":cluster/", ":group/", 1)

    def topic(self, name: str) -> str:
        return f"{self.topics}/{name}"

    def group(self, name: str) -> str:
        return f"{self.groups}/{name}"


@pytest.fixture
def pipeline(sandbox: Sandbox, tmp_path: Any) -> Pipeline:
    return build_pipeline(sandbox, tmp_path)


def arns(pipeline: Pipeline) -> Arns:
    return Arns(pipeline.made["cluster_arn"])


def produced(sandbox: Sandbox, topic: str) -> int:
    return sum(t["records"] for t in sandbox.get("/_sandbox/restproxy")["topics"] if t["topic"] == topic)


def refused(error_code: int, error: str) -> dict[str, Any]:
    return {"partition": None, "offset": None, "error_code": error_code, "error": error}


def invoke(pipeline: Pipeline, method: str, path: str) -> tuple[int, Any]:
    status, _headers, body = http(method, f"{pipeline.sandbox.url}/restapis/{pipeline.api}/dev/_user_request_{path}")
    return status, json.loads(body)


# ------------------------------------------------------------------------------ settings
START = {"enforce": True, "idempotent_producer": False}  # PINFRA_SANDBOX_AUTHZ=enforce (conftest), the default producer


def idempotent(sandbox: Sandbox) -> None:
    """The stand-in's producer stands for an idempotent one (not kafka-rest 7.6.1's)."""
    assert sandbox.post("/_sandbox/authz/settings", {"idempotent_producer": True}) == (200, {"enforce": True, "idempotent_producer": True})


def test_the_authz_switch(sandbox: Sandbox) -> None:
    assert sandbox.get("/_sandbox/authz/settings") == START
    assert sandbox.post("/_sandbox/authz/settings", {"enforce": False}) == (200, {**START, "enforce": False})
    assert sandbox.get("/_sandbox/authz/settings") == {**START, "enforce": False}
    assert sandbox.get("/_sandbox/restproxy")["authz"] is False
    assert sandbox.post("/_sandbox/authz/settings", {"idempotent_producer": True})[1]["idempotent_producer"] is True
    assert sandbox.post("/_sandbox/authz/settings", {"enforce": "no"})[0] == 400
    assert sandbox.post("/_sandbox/authz/settings", {"idempotent_producer": 1})[0] == 400
    assert sandbox.post("/_sandbox/authz/settings", {"strict": True})[0] == 400
    assert sandbox.post("/_sandbox/authz/settings", [])[0] == 400
    http("POST", f"{sandbox.url}/moto-api/reset")
    assert sandbox.get("/_sandbox/authz/settings") == START  # back to the start-up values


def test_the_hand_built_grant_works_and_off_ignores_the_policies(sandbox: Sandbox, pipeline: Pipeline) -> None:
    # Seeded: kafka-cluster:* on *. The proxy acts as the instance profile's role.
    assert pipeline.restproxy()["principal"] == pipeline.made["role_arn"]
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    assert status == 200 and answer["offsets"][0]["offset"] == 0, answer
    grant(sandbox)  # nothing Kafka at all
    assert pipeline.produce(PIN, [{"n": 2}])[0] == 401
    sandbox.post("/_sandbox/authz/settings", {"enforce": False})
    assert pipeline.produce(PIN, [{"n": 2}])[0] == 200
    assert produced(sandbox, PIN) == 2


# --------------------------------------------------------------------- the REST proxy
def test_the_rest_proxy_7_6_needs_no_write_data_idempotently(sandbox: Sandbox, pipeline: Pipeline) -> None:
    # kafka-rest forces enable.idempotence=false (KREST-4606): topic-scoped grants are enough.
    a = arns(pipeline)
    grant(sandbox, allow("kafka-cluster:Connect", a.cluster), allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], a.topic(f"{USER}.*")))
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    assert status == 200 and answer["offsets"][0]["offset"] == 0, answer


def test_topic_scoped_write_data_needs_write_data_idempotently(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    idempotent(sandbox)
    grant(sandbox, allow("kafka-cluster:Connect", a.cluster), allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], a.topic(f"{USER}.*")))
    # An idempotent producer (Kafka >= 3.0's default) sends InitProducerId: IDEMPOTENT_WRITE.
    status, answer = pipeline.produce(PIN, [{"n": 1}, {"n": 2}])
    assert status == 403, answer
    assert answer == {"offsets": [refused(40301, "Cluster authorization failed.")] * 2, "key_schema_id": None, "value_schema_id": None}
    assert produced(sandbox, PIN) == 0  # (through the gateway the proxy's 403 comes as it is: HTTP_PROXY)
    grant(
        sandbox,
        allow(["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"], a.cluster),
        allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], a.topic(f"{USER}.*")),
    )
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    assert status == 200 and answer["offsets"][0]["error_code"] is None, answer
    assert produced(sandbox, PIN) == 1


@pytest.mark.parametrize("every_topic", ["{topics}/*", "{topics_any_uuid}/*", "*", "arn:aws:kafka:*:*:topic/*"])
def test_write_data_on_every_topic_implies_write_data_idempotently(sandbox: Sandbox, pipeline: Pipeline, every_topic: str) -> None:
    a = arns(pipeline)
    idempotent(sandbox)
    resource = every_topic.format(topics=a.topics, topics_any_uuid=a.topics.rsplit("/", 1)[0] + "/*")
    grant(sandbox, allow("kafka-cluster:Connect", a.cluster), allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], resource))
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    assert status == 200 and answer["offsets"][0]["offset"] == 0, answer


def test_write_data_on_some_topics_does_not_imply_it(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    idempotent(sandbox)
    grant(
        sandbox,
        allow("kafka-cluster:Connect", a.cluster),
        allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], a.topic("?*")),  # every name but the empty one: still all
    )
    assert pipeline.produce(PIN, [{"n": 1}])[0] == 200
    grant(sandbox, allow("kafka-cluster:Connect", a.cluster), allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], a.topic("a*")))
    assert pipeline.produce(PIN, [{"n": 2}]) == (403, {"offsets": [refused(40301, "Cluster authorization failed.")], "key_schema_id": None, "value_schema_id": None})


def test_an_explicit_deny_wins(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    grant(sandbox, allow("kafka-cluster:*", "*"), deny("kafka-cluster:WriteData", a.topic(PIN)))
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    assert (status, answer["offsets"]) == (403, [refused(40301, f"Not authorized to access topics: [{PIN}]")])
    assert pipeline.produce(GEO, [{"n": 1}])[0] == 200
    # A Deny on WriteDataIdempotently (actions match case-insensitively) beats WriteData on every topic.
    idempotent(sandbox)
    grant(sandbox, allow("kafka-cluster:*", "*"), deny("KAFKA-CLUSTER:writedataidempotently", a.cluster))
    assert pipeline.produce(GEO, [{"n": 2}])[1]["offsets"] == [refused(40301, "Cluster authorization failed.")]
    # Resources match case-sensitively: a Deny on another case of the name does not apply.
    grant(sandbox, allow("kafka-cluster:*", "*"), deny("kafka-cluster:WriteData", a.topic(GEO.upper())))
    assert pipeline.produce(GEO, [{"n": 3}])[0] == 200
    assert produced(sandbox, PIN) == 0 and produced(sandbox, GEO) == 2


def test_describe_topic_comes_first_and_is_not_implied(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    # WriteData does not imply DescribeTopic on MSK (no implied actions): the producer's metadata
    # request for the topic is refused.
    grant(sandbox, allow(["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"], a.cluster), allow("kafka-cluster:WriteData", a.topic("*")))
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    assert (status, answer["offsets"]) == (403, [refused(40301, f"Not authorized to access topics: [{PIN}]")])
    # Also for a topic that does not exist: authorization comes before the metadata wait.
    status, answer = pipeline.produce(f"{USER}.nope", [{"n": 1}])
    assert (status, answer["offsets"]) == (403, [refused(40301, f"Not authorized to access topics: [{USER}.nope]")])
    # The admin side: GET /topics lists only the topics it may describe; GET /topics/{t} is refused.
    grant(
        sandbox,
        allow("kafka-cluster:Connect", a.cluster),
        allow(["kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration"], a.topic(GEO)),
    )
    assert invoke(pipeline, "GET", "/topics") == (200, [GEO])
    assert invoke(pipeline, "GET", f"/topics/{GEO}")[0] == 200
    assert invoke(pipeline, "GET", f"/topics/{PIN}") == (403, {"error_code": 40301, "message": "Topic authorization failed."})


def test_no_connect_or_no_credentials_fail_authentication(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    grant(sandbox, allow("kafka-cluster:*", a.topic("*")), allow("kafka-cluster:*", a.group("*")))
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    entry = answer["offsets"][0]
    assert status == 401 and entry["error_code"] == 40101 and entry["error"].endswith("]: Access denied"), answer
    assert entry["error"] == kafka_iam.access_denied(pipeline.made["role_arn"], a.cluster)
    assert invoke(pipeline, "GET", "/topics") == (401, {"error_code": 40101, "message": entry["error"]})
    # No role in the instance profile: the IAM login module finds no credentials.
    grant(sandbox, allow("kafka-cluster:*", "*"))
    sandbox.client("iam").remove_role_from_instance_profile(InstanceProfileName=ROLE, RoleName=ROLE)
    assert pipeline.restproxy()["principal"] is None
    status, answer = pipeline.produce(PIN, [{"n": 1}])
    assert (status, answer["offsets"]) == (401, [refused(40101, kafka_iam.NO_CREDENTIALS)])
    assert produced(sandbox, PIN) == 0


def test_aws_role_arn_in_the_jaas_config_is_the_principal_when_it_may_be_assumed(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a, iam, ec2 = arns(pipeline), sandbox.client("iam"), pipeline.ec2
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": pipeline.made["role_arn"]}, "Action": "sts:AssumeRole"}]}
    writer = iam.create_role(RoleName="writer", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    grant(sandbox, allow("kafka-cluster:*", "*"), role="writer")
    grant(sandbox, allow("kafka-cluster:Connect", a.cluster))  # the instance role itself may not write
    bootstrap = sandbox.client("kafka").get_bootstrap_brokers(ClusterArn=a.cluster)["BootstrapBrokerStringSaslIam"]
    handbuilt = ec2.describe_instances(InstanceIds=[pipeline.made["instance_id"]])["Reservations"][0]["Instances"][0]
    interface = {"DeviceIndex": 0, "SubnetId": handbuilt["SubnetId"], "Groups": [pipeline.made["security_group_id"]], "AssociatePublicIpAddress": True}
    launched = ec2.run_instances(
        ImageId=image(sandbox), InstanceType="t3.micro", MinCount=1, MaxCount=1, NetworkInterfaces=[interface],
        UserData=user_data(bootstrap, writer), IamInstanceProfile={"Arn": pipeline.made["instance_profile_arn"]},
    )
    instance = launched["Instances"][0]["InstanceId"]
    host = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["PublicDnsName"]
    api = sandbox.client("apigateway")
    resource = next(r["id"] for r in api.get_resources(restApiId=pipeline.api)["items"] if r["path"] == "/{proxy+}")
    api.put_integration(
        restApiId=pipeline.api, resourceId=resource, httpMethod="ANY", type="HTTP_PROXY", integrationHttpMethod="ANY",
        uri=f"http://{host}:8082/{{proxy}}", requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
    )
    api.create_deployment(restApiId=pipeline.api, stageName="dev")
    proxies = {p["instance_id"]: p for p in sandbox.get("/_sandbox/restproxy")["proxies"]}
    assert proxies[instance]["principal"] == writer
    assert http("POST", f"{sandbox.url}/restapis/{pipeline.api}/dev/_user_request_/topics/{PIN}", json.dumps({"records": [{"value": 1}]}).encode(), {"Content-Type": JSON_V2})[0] == 200
    # A trust policy that does not name the instance role: the STS provider fails and the chain
    # falls back to the instance profile's credentials (the instance role, which may not write).
    ec2_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName="writer", PolicyDocument=json.dumps(ec2_only))
    assert {p["instance_id"]: p for p in sandbox.get("/_sandbox/restproxy")["proxies"]}[instance]["principal"] == pipeline.made["role_arn"]
    status, _headers, body = http("POST", f"{sandbox.url}/restapis/{pipeline.api}/dev/_user_request_/topics/{PIN}", json.dumps({"records": [{"value": 2}]}).encode(), {"Content-Type": JSON_V2})
    assert status == 403 and json.loads(body)["offsets"] == [refused(40301, f"Not authorized to access topics: [{PIN}]")]


# ---------------------------------------------------------------------------- the sink
def producer_grants(a: Arns) -> list[dict[str, Any]]:
    return [
        allow(["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"], a.cluster),
        allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData", "kafka-cluster:ReadData"], a.topic(f"{USER}.*")),
    ]


def test_the_sink_without_group_grants_writes_nothing(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    grant(sandbox, *producer_grants(a))
    assert pipeline.produce(PIN, [{"n": 1}])[0] == 200
    assert pipeline.objects() == []
    sink = pipeline.sink()
    message = f"org.apache.kafka.common.errors.GroupAuthorizationException: Not authorized to access group: {GROUP}"
    assert sink["error"] == message and sink["last_error"] == message
    assert sink["authz"].startswith(f"kafka-cluster:DescribeGroup on {a.group(GROUP)}: no statement"), sink["authz"]
    assert sink["offsets"] == {}
    assert sandbox.client("kafkaconnect").describe_connector(connectorArn=pipeline.made["connector_arn"])["connectorState"] == "RUNNING"
    # DescribeGroup alone is not enough (AlterGroup does not come with it, nor it with AlterGroup).
    grant(sandbox, *producer_grants(a), allow("kafka-cluster:DescribeGroup", a.group(GROUP)))
    assert pipeline.objects() == []
    assert pipeline.sink()["authz"].startswith("kafka-cluster:AlterGroup")
    # Both: the pending record is written; the worker log keeps the error.
    grant(sandbox, *producer_grants(a), allow(["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], a.group(f"connect-{USER}-*")))
    assert pipeline.objects() == [f"topics/{PIN}/partition=0/{PIN}+0+0000000000.json"]
    sink = pipeline.sink()
    assert sink["error"] is None and sink["authz"] is None and sink["last_error"] == message


def test_the_sink_needs_read_data_and_describe_topic(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    groups = allow(["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], a.group(GROUP))
    writes = allow(["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"], a.topic("*"))
    grant(sandbox, allow("kafka-cluster:Connect", a.cluster), writes, groups)
    assert pipeline.produce(PIN, [{"n": 1}])[0] == 200
    sink = pipeline.sink()
    topics = ", ".join(sorted(pipeline.made["topics"]))
    assert sink["error"] == f"org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [{topics}]", sink
    assert pipeline.objects() == []
    # topics.regex: a topic it may not describe is not in the metadata, so the regex never sees it.
    grant(
        sandbox,
        allow("kafka-cluster:Connect", a.cluster),
        writes,
        groups,
        deny("kafka-cluster:DescribeTopic", a.topic(GEO)),
        allow("kafka-cluster:ReadData", [a.topic(PIN), a.topic(f"{USER}.user")]),
    )
    assert pipeline.produce(GEO, [{"n": 1}])[0] == 403  # the Deny hits the producer as well
    sink = pipeline.sink()
    assert sink["error"] is None and GEO not in sink["topics"] and PIN in sink["topics"], sink
    assert pipeline.objects() == [f"topics/{PIN}/partition=0/{PIN}+0+0000000000.json"]


def test_the_sink_acts_as_its_service_execution_role(sandbox: Sandbox, pipeline: Pipeline) -> None:
    a = arns(pipeline)
    grant(sandbox, allow("kafka-cluster:*", a.topic("*")), allow("kafka-cluster:*", a.group("*")))  # no Connect
    sink = pipeline.sink()
    assert sink["error"] == f"org.apache.kafka.common.errors.SaslAuthenticationException: {kafka_iam.access_denied(pipeline.made['role_arn'], a.cluster)}"
    assert sink["authz"].startswith(f"kafka-cluster:Connect on {a.cluster}")
    # An attached managed policy counts as much as an inline one.
    iam = sandbox.client("iam")
    document = {"Version": "2012-10-17", "Statement": [allow("kafka-cluster:Connect", a.cluster)]}
    managed = iam.create_policy(PolicyName="connect", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=managed)
    assert pipeline.sink()["error"] is None


# ------------------------------------------------------------------ policy evaluation
def principal(*statements: dict[str, Any], boundary: list[dict[str, Any]] | None = None) -> kafka_iam.Principal:
    parsed = kafka_iam.parse_document({"Statement": list(statements)}, "test")
    limit = kafka_iam.parse_document({"Statement": boundary}, "boundary") if boundary is not None else None
    return kafka_iam.Principal("arn:aws:iam::123456789012:role/r", parsed, limit)


CLUSTER = f"arn:aws:kafka:us-east-1:{ACCOUNT}:cluster/demo/0f0e0d0c-1111-2222-3333-444455556666-3"
TOPIC = kafka_iam.topic_arn(CLUSTER, "u1.pin")


def test_wildcards_case_and_not_elements() -> None:
    assert TOPIC == f"arn:aws:kafka:us-east-1:{ACCOUNT}:topic/demo/0f0e0d0c-1111-2222-3333-444455556666-3/u1.pin"
    assert kafka_iam.group_arn(CLUSTER, "g").endswith(":group/demo/0f0e0d0c-1111-2222-3333-444455556666-3/g")
    p = principal(allow("kafka-cluster:*Topic*", TOPIC.replace("u1.pin", "u?.*")))
    assert p.decide("kafka-cluster:DescribeTopic", TOPIC).allowed
    assert p.decide("kafka-cluster:describetopicdynamicconfiguration", TOPIC).allowed
    assert not p.decide("kafka-cluster:WriteData", TOPIC).allowed
    assert not p.decide("kafka-cluster:DescribeTopic", TOPIC.replace("u1.pin", "U1.pin")).allowed
    assert not p.decide("kafka-cluster:DescribeTopic", TOPIC.replace("u1.pin", "u10.pin")).allowed
    p = principal({"Effect": "Allow", "NotAction": "kafka-cluster:Delete*", "NotResource": TOPIC})
    assert p.decide("kafka-cluster:ReadData", TOPIC.replace("u1.pin", "u1.geo")).allowed
    assert not p.decide("kafka-cluster:ReadData", TOPIC).allowed
    assert not p.decide("kafka-cluster:DeleteTopic", TOPIC.replace("u1.pin", "u1.geo")).allowed
    p = principal(allow("kafka-cluster:*", "*"), {"Effect": "Deny", "NotAction": "kafka-cluster:Describe*", "Resource": TOPIC})
    assert p.decide("kafka-cluster:DescribeTopic", TOPIC).allowed and not p.decide("kafka-cluster:ReadData", TOPIC).allowed


def test_conditions_fail_closed_and_boundaries_limit() -> None:
    conditional = {**allow("kafka-cluster:*", "*"), "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert not principal(conditional).decide("kafka-cluster:Connect", CLUSTER).allowed
    denied = {**deny("kafka-cluster:*", "*"), "Condition": {"StringEquals": {"aws:username": "x"}}}
    assert not principal(allow("kafka-cluster:*", "*"), denied).decide("kafka-cluster:Connect", CLUSTER).allowed
    p = principal(allow("kafka-cluster:*", "*"), boundary=[allow("kafka-cluster:Connect", "*")])
    assert p.decide("kafka-cluster:Connect", CLUSTER).allowed
    assert "boundary" in p.decide("kafka-cluster:ReadData", TOPIC).reason
    # WriteDataIdempotently: implied only by WriteData on every topic, never against a Deny.
    p = principal(allow("kafka-cluster:WriteData", kafka_iam.topic_arn(CLUSTER, "*")))
    assert p.kafka("kafka-cluster:WriteDataIdempotently", CLUSTER, CLUSTER).allowed
    p = principal(allow("kafka-cluster:WriteData", kafka_iam.topic_arn(CLUSTER, "*")), deny("kafka-cluster:WriteData", TOPIC))
    assert p.kafka("kafka-cluster:WriteDataIdempotently", CLUSTER, CLUSTER).allowed  # one topic denied: still every other
    p = principal(allow("kafka-cluster:WriteData", kafka_iam.topic_arn(CLUSTER, "u1.*")))
    assert not p.kafka("kafka-cluster:WriteDataIdempotently", CLUSTER, CLUSTER).allowed
