"""The Kafka side of the data path: what a Kafka client of it (the stand-in proxy's producer and
admin client, the sink's consumer) finds. The topics as they are now (``msk_topics``' store, not
``stale_ms`` ago), the serving cluster whose bootstrap broker string holds one of its
``bootstrap.servers``, the in-memory log per (cluster ARN, topic, partition) with Kafka's default
partitioner, and how MSK IAM access control treats the client (``KafkaAuth``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeGuard

from .. import kafka_iam, msk_topics, network
from ..msk_topics import ClusterRef, MskTopics, TopicView, bootstrap_brokers, view_at

SERVING = ("ACTIVE", "UPDATING")
PRODUCIBLE = ("ACTIVE", "UPDATING")
IAM_BROKERS = "bootstrapBrokerStringSaslIam"  # MSK IAM access control applies to SASL/IAM clients only


# ------------------------------------------------------------------ msk_topics' topic store
def topic_store() -> MskTopics:
    return msk_topics.store()


def topic_view(cluster_arn: str, name: str) -> TopicView | None:
    """The topic now (not ``stale_ms`` ago: Kafka itself is not stale)."""
    store = topic_store()
    with store.lock:
        history = list(store.topics.get(cluster_arn, {}).get(name) or [])
    return view_at(name, history, time.monotonic()) if history else None


def producible(view: TopicView | None) -> TypeGuard[TopicView]:
    return view is not None and view.status in PRODUCIBLE


def cluster_topics(cluster_arn: str) -> list[TopicView]:
    store = topic_store()
    with store.lock:
        names = list(store.topics.get(cluster_arn, {}))
    views = [topic_view(cluster_arn, n) for n in names]
    return sorted((v for v in views if producible(v)), key=lambda v: v.name)


# ------------------------------------------------------------------------------ clusters
def cluster_refs(account: str, region: str) -> list[ClusterRef]:
    from moto.kafka.models import kafka_backends

    backend = dict.get(kafka_backends[account], region)
    if backend is None:
        return []
    return [ClusterRef(arn, c, account, region, arn.split(":")[1]) for arn, c in list(backend.clusters.items())]


def cluster_by_arn(account: str, arn: str) -> ClusterRef | None:
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    return next((r for r in cluster_refs(account, parts[3]) if r.arn == arn), None)


def broker_key(protocol: str, mechanism: str) -> str | None:
    """Which GetBootstrapBrokers string a Kafka client with these settings connects to."""
    protocol, mechanism = protocol.strip().upper(), mechanism.strip().upper()
    if protocol == "SASL_SSL":
        return {"AWS_MSK_IAM": "bootstrapBrokerStringSaslIam", "SCRAM-SHA-512": "bootstrapBrokerStringSaslScram"}.get(mechanism)
    return {"SSL": "bootstrapBrokerStringTls", "PLAINTEXT": "bootstrapBrokerString"}.get(protocol)


def connector_broker_key(authentication: str, encryption: str) -> str | None:
    if authentication == "IAM":
        return "bootstrapBrokerStringSaslIam"
    return "bootstrapBrokerStringTls" if encryption == "TLS" else "bootstrapBrokerString"


def server_set(servers: Any) -> set[str]:
    """host:port entries, lower-cased, without a ``PROTOCOL://`` prefix."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    return {s.strip().split("://")[-1].lower() for s in items if s.strip()}


def server_port(servers: Any, default: int = network.BROKER_PORT) -> int:
    """The port of the first ``host:port`` of ``servers`` (a list or a comma-separated string)."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    for server in items:
        _host, _, port = str(server).strip().split("://")[-1].rpartition(":")
        if port.isdigit():
            return int(port)
    return default


def broker_network(ref: ClusterRef) -> tuple[list[str], list[str]]:
    """The cluster's broker subnets and security groups (BrokerNodeGroupInfo)."""
    group = ref.cluster.broker_node_group_info or {}
    return list(group.get("clientSubnets") or []), list(group.get("securityGroups") or [])


def find_cluster(account: str, region: str, servers: Any, key: str | None) -> ClusterRef | None:
    """The serving cluster of the region whose ``key`` broker string holds one of ``servers``."""
    wanted = server_set(servers)
    if key is None or not wanted:
        return None
    for ref in cluster_refs(account, region):
        if ref.cluster.state in SERVING and wanted & server_set(bootstrap_brokers(ref).get(key, "")):
            return ref
    return None


# ----------------------------------------------------------------------------------- Kafka
@dataclass(frozen=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # epoch


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (32-bit, signed result)."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(length // 4):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length % 4
    base = length & ~3
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def key_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class KafkaLog:
    """Records per (cluster ARN, topic, partition); the caller holds the data path's lock."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, str, int], list[Record]] = {}
        self.round_robin: dict[tuple[str, str], int] = {}

    def reset(self) -> None:
        self.partitions.clear()
        self.round_robin.clear()

    def records(self, cluster_arn: str, topic: str, partition: int) -> list[Record]:
        return self.partitions.get((cluster_arn, topic, partition), [])

    def append(self, cluster_arn: str, view: TopicView, partition: int | None, key: bytes | None, value: bytes | None) -> tuple[int, int]:
        if partition is None:
            if key is not None:
                partition = key_partition(key, view.partition_count)
            else:
                n = self.round_robin.get((cluster_arn, view.name), 0)
                self.round_robin[(cluster_arn, view.name)] = n + 1
                partition = n % view.partition_count
        log = self.partitions.setdefault((cluster_arn, view.name, partition), [])
        log.append(Record(len(log), key, value, time.time()))
        return partition, len(log) - 1

    def topics(self) -> list[tuple[str, str]]:
        return sorted({(arn, topic) for arn, topic, _p in self.partitions})

    def drop(self, cluster_arn: str, topic: str | None = None) -> None:
        for key in [k for k in self.partitions if k[0] == cluster_arn and (topic is None or k[1] == topic)]:
            del self.partitions[key]
        for topic_key in [k for k in self.round_robin if k[0] == cluster_arn and (topic is None or k[1] == topic)]:
            del self.round_robin[topic_key]


@dataclass(frozen=True)
class KafkaAuth:
    """How a Kafka client of the data path fares with MSK IAM access control
    (``PINFRA_SANDBOX_AUTHZ=enforce``): the role it acts as (None: no credentials) on a cluster."""

    cluster_arn: str
    principal: kafka_iam.Principal | None
    idempotent: bool = False  # the producer sends InitProducerId (needs WriteDataIdempotently)

    def authentication_error(self) -> str | None:
        """Why the SASL/IAM handshake fails (no credentials; kafka-cluster:Connect denied), or None."""
        if self.principal is None:
            return kafka_iam.NO_CREDENTIALS
        if not self.principal.kafka(kafka_iam.CONNECT, self.cluster_arn, self.cluster_arn).allowed:
            return kafka_iam.access_denied(self.principal.arn, self.cluster_arn)
        return None

    def resource(self, action: str, name: str | None = None) -> str:
        if action in (kafka_iam.DESCRIBE_GROUP, kafka_iam.ALTER_GROUP):
            return kafka_iam.group_arn(self.cluster_arn, name or "")
        if name is None:
            return self.cluster_arn
        return kafka_iam.topic_arn(self.cluster_arn, name)

    def decide(self, action: str, name: str | None = None) -> kafka_iam.Decision:
        if self.principal is None:
            return kafka_iam.Decision(False, "no credentials")
        return self.principal.kafka(action, self.resource(action, name), self.cluster_arn)

    def allowed(self, action: str, name: str | None = None) -> bool:
        return self.decide(action, name).allowed

    def denial(self, action: str, name: str | None = None) -> str | None:
        """``<action> on <resource>: <why> (role …)`` when denied, else None."""
        decision = self.decide(action, name)
        if decision.allowed:
            return None
        who = self.principal.arn if self.principal else "no role"
        return f"{action} on {self.resource(action, name)}: {decision.reason} ({who})"
