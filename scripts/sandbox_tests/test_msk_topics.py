"""MSK topics' state machine as the sandbox emulates it (msk_topics, timing in msk_settings):
CREATING -> ACTIVE, UPDATING -> ACTIVE with the new values visible at once, DELETING -> gone; one
change per UpdateTopic; reads that lag ``stale_ms`` behind while mutations see the present; the
configs' formats; and what moto's reset does to them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

import sandbox_seed
from support import ACCOUNT, REGION, Sandbox, client_error, eventually, http

SLOW_MS = 1500  # long enough to see a transition under way on a loaded machine


def msk_settings(sandbox: Sandbox, **settings: Any) -> None:
    status, answer = sandbox.post("/_sandbox/msk/settings", settings)
    assert status == 200 and {k: answer[k] for k in settings} == settings, answer


def configs(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Topics:
    """A seeded cluster (3 brokers, Kafka 3.6.0) and its topics."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.kafka = sandbox.client("kafka")
        self.arn = sandbox_seed.seed_cluster(sandbox.url, "topics", REGION)
        assert eventually(lambda: self.kafka.describe_cluster_v2(ClusterArn=self.arn)["ClusterInfo"]["State"], "ACTIVE") == "ACTIVE"

    def describe(self, name: str) -> dict[str, Any]:
        return dict(self.kafka.describe_topic(ClusterArn=self.arn, TopicName=name))

    def status(self, name: str) -> str | None:
        try:
            return str(self.describe(name)["Status"])
        except ClientError as err:
            assert err.response["Error"]["Code"] == "NotFoundException", err.response
            return None

    def configs(self, name: str) -> dict[str, str]:
        text = base64.b64decode(self.describe(name)["Configs"]).decode()
        return dict(line.split("=", 1) for line in text.splitlines())


@pytest.fixture
def topics(sandbox: Sandbox) -> Topics:
    return Topics(sandbox)


def test_a_topic_is_creating_then_active_then_deleting_then_gone(sandbox: Sandbox, topics: Topics) -> None:
    msk_settings(sandbox, topic_delay_ms=SLOW_MS)
    kafka, arn = topics.kafka, topics.arn
    answer = kafka.create_topic(ClusterArn=arn, TopicName="orders", PartitionCount=3, ReplicationFactor=3)
    topic_arn = arn.replace(":cluster/", ":topic/", 1) + "/orders"
    assert (answer["TopicArn"], answer["TopicName"], answer["Status"]) == (topic_arn, "orders", "CREATING")
    assert topics.status("orders") == "CREATING"
    with pytest.raises(ClientError) as err:
        kafka.create_topic(ClusterArn=arn, TopicName="orders", PartitionCount=3, ReplicationFactor=3)
    assert client_error(err) == (409, "TopicExistsException", "Topic 'orders' already exists.")
    with pytest.raises(ClientError) as err:
        kafka.update_topic(ClusterArn=arn, TopicName="orders", PartitionCount=6)
    assert client_error(err) == (400, "BadRequestException", "Topic orders is CREATING; it can be updated only when ACTIVE.")

    assert eventually(lambda: topics.status("orders"), "ACTIVE") == "ACTIVE"
    described = topics.describe("orders")
    assert (described["PartitionCount"], described["ReplicationFactor"], described["ReplicaIds"]) == (3, 3, [1, 2, 3])

    assert kafka.update_topic(ClusterArn=arn, TopicName="orders", PartitionCount=6)["Status"] == "UPDATING"
    described = topics.describe("orders")
    # The new value shows at once, while the topic is UPDATING.
    assert (described["Status"], described["PartitionCount"]) == ("UPDATING", 6)
    assert eventually(lambda: topics.status("orders"), "ACTIVE") == "ACTIVE"

    assert kafka.delete_topic(ClusterArn=arn, TopicName="orders")["Status"] == "DELETING"
    assert topics.status("orders") == "DELETING"
    with pytest.raises(ClientError) as err:
        kafka.delete_topic(ClusterArn=arn, TopicName="orders")
    assert client_error(err) == (404, "NotFoundException", "Topic orders is already being deleted.")
    with pytest.raises(ClientError) as err:
        kafka.create_topic(ClusterArn=arn, TopicName="orders", PartitionCount=3, ReplicationFactor=3)
    assert client_error(err) == (409, "TopicExistsException", "Topic 'orders' is marked for deletion.")
    assert eventually(lambda: topics.status("orders"), None) is None
    assert kafka.list_topics(ClusterArn=arn)["Topics"] == []
    with pytest.raises(ClientError) as err:
        kafka.delete_topic(ClusterArn=arn, TopicName="orders")
    assert client_error(err) == (404, "NotFoundException", f"Topic orders does not exist in cluster {arn}.")


def test_one_change_per_update_and_partitions_only_grow(sandbox: Sandbox, topics: Topics) -> None:
    msk_settings(sandbox, topic_delay_ms=0)
    kafka, arn = topics.kafka, topics.arn
    kafka.create_topic(ClusterArn=arn, TopicName="orders", PartitionCount=3, ReplicationFactor=3)
    assert eventually(lambda: topics.status("orders"), "ACTIVE") == "ACTIVE"
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"PartitionCount": 6, "Configs": configs("retention.ms=1")}, "You can update only one of configs or partitionCount in a single request; make separate UpdateTopic calls."),
        ({"PartitionCount": 2}, "Topic currently has 3 partitions, which is higher than the requested 2; partitions can only be increased."),
        ({"PartitionCount": 3}, "Topic already has 3 partitions."),
        ({"Configs": configs("retention.mss=1")}, "Invalid configs: unknown topic config name(s): retention.mss."),
    ]
    for change, message in refusals:
        with pytest.raises(ClientError) as err:
            kafka.update_topic(ClusterArn=arn, TopicName="orders", **change)
        assert client_error(err) == (400, "BadRequestException", message), change
    with pytest.raises(ClientError) as err:
        kafka.create_topic(ClusterArn=arn, TopicName="wide", PartitionCount=1, ReplicationFactor=4)
    assert client_error(err) == (400, "BadRequestException", "Replication factor: 4 larger than available brokers: 3.")
    assert topics.describe("orders")["PartitionCount"] == 3


def test_configs_merge_or_replace_and_read_as_properties_or_json(sandbox: Sandbox, topics: Topics) -> None:
    msk_settings(sandbox, topic_delay_ms=0)
    kafka, arn = topics.kafka, topics.arn
    kafka.create_topic(ClusterArn=arn, TopicName="orders", PartitionCount=1, ReplicationFactor=3, Configs=configs("retention.ms=1000\ncleanup.policy=compact"))
    assert eventually(lambda: topics.status("orders"), "ACTIVE") == "ACTIVE"
    # The topic's own configs over the server defaults.
    assert topics.configs("orders")["retention.ms"] == "1000"
    assert topics.configs("orders")["cleanup.policy"] == "compact"
    assert topics.configs("orders")["min.insync.replicas"] == "2"

    kafka.update_topic(ClusterArn=arn, TopicName="orders", Configs=configs(json.dumps({"retention.ms": 2000})))
    assert eventually(lambda: topics.status("orders"), "ACTIVE") == "ACTIVE"
    assert (topics.configs("orders")["retention.ms"], topics.configs("orders")["cleanup.policy"]) == ("2000", "compact")

    msk_settings(sandbox, update_configs_mode="replace", describe_configs_format="json")
    kafka.update_topic(ClusterArn=arn, TopicName="orders", Configs=configs("retention.ms=3000"))
    assert eventually(lambda: topics.status("orders"), "ACTIVE") == "ACTIVE"
    shown = json.loads(base64.b64decode(topics.describe("orders")["Configs"]))
    # Replaced: cleanup.policy is back to the server default.
    assert (shown["retention.ms"], shown["cleanup.policy"]) == ("3000", "delete")


def test_reads_lag_stale_ms_behind_and_mutations_see_the_present(sandbox: Sandbox, topics: Topics) -> None:
    msk_settings(sandbox, topic_delay_ms=0, stale_ms=SLOW_MS)
    kafka, arn = topics.kafka, topics.arn
    kafka.create_topic(ClusterArn=arn, TopicName="orders", PartitionCount=1, ReplicationFactor=3)
    # Reads: not there yet.
    assert topics.status("orders") is None
    assert kafka.list_topics(ClusterArn=arn)["Topics"] == []
    # Mutations: there.
    with pytest.raises(ClientError) as err:
        kafka.create_topic(ClusterArn=arn, TopicName="orders", PartitionCount=1, ReplicationFactor=3)
    assert client_error(err)[:2] == (409, "TopicExistsException")
    assert eventually(lambda: topics.status("orders"), "ACTIVE") == "ACTIVE"
    assert [t["TopicName"] for t in kafka.list_topics(ClusterArn=arn)["Topics"]] == ["orders"]


def test_settings_refuse_bad_values_and_reset_restores_them_and_forgets_topics(sandbox: Sandbox, topics: Topics) -> None:
    defaults = sandbox.get("/_sandbox/msk/settings")
    bad: Any
    for bad in ({"topic_delay_ms": -1}, {"stale_ms": "soon"}, {"describe_configs_format": "yaml"}, {"update_configs_mode": "append"}, {"delay": 1}):
        assert sandbox.post("/_sandbox/msk/settings", bad)[0] == 400, bad
    assert sandbox.get("/_sandbox/msk/settings") == defaults
    msk_settings(sandbox, topic_delay_ms=0)
    topics.kafka.create_topic(ClusterArn=topics.arn, TopicName="orders", PartitionCount=1, ReplicationFactor=3)

    http("POST", f"{sandbox.url}/moto-api/reset")
    assert sandbox.get("/_sandbox/msk/settings") == defaults
    # The cluster went with moto's state, and its topics with it.
    again = Topics(sandbox)
    assert again.kafka.list_topics(ClusterArn=again.arn)["Topics"] == []
    assert again.arn.startswith(f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/topics/")
