"""The pipeline's data path inside the sandbox: stand-in Confluent REST Proxies on the EC2 Kafka
client instances, an in-memory Kafka log per MSK cluster, and an emulated Confluent S3 sink for
RUNNING MSK Connect connectors. Nothing here opens a socket: requests reach the stand-ins in
process, through ``apigateway_compat``'s HTTP_PROXY integrations.

Stand-in REST proxy (Confluent REST Proxy 7.6.1, API v2, only what verify and the seed's posting
emulator use). It listens on ``http://<instance public DNS name or IP>:<port>`` when all hold:

* the EC2 instance (moto's EC2 backend, any region of the account) is ``running`` (see
  ``ec2_compat`` for state delays; a stopped instance has no public address);
* its user-data writes ``kafka-rest.properties`` through a here-document (as
  templates/user-data.sh.j2 does) whose ``listeners`` (default: ``port``, else 8082) has that
  scheme and port. The user-data the instance first booted with counts: cloud-init runs a
  user-data script once per instance, so a UserData changed later (ModifyInstanceAttribute)
  does not reconfigure the proxy;
* the stand-in is started (``/_sandbox/restproxy/start|stop``).

Otherwise the gateway cannot connect. Routes (errors are ``{"error_code", "message"}``):

    POST /topics/{topic}   Content-Type application/vnd.kafka.json.v2+json or
                           application/vnd.kafka.binary.v2+json (values base64),
                           {"records": [{"key"?, "value"?, "partition"?}]}
                           -> 200 {"offsets": [{"partition", "offset", "error_code": null,
                                   "error": null}], "key_schema_id": null, "value_schema_id": null}
    GET  /topics           -> 200 ["topic", ...]
    GET  /topics/{topic}   -> 200 {"name", "configs", "partitions": [{"partition", "leader",
                                   "replicas": [{"broker", "leader", "in_sync"}]}]};
                              unknown -> 404 {"error_code": 40401, "message": "Topic not found."}

    other paths -> 404 {"error_code": 404, "message": "HTTP 404 Not Found"}; other methods on
    these -> 405 {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}; another content
    type (also avro/protobuf/jsonschema, which need a Schema Registry: not emulated) -> 415
    {"error_code": 415, "message": "HTTP 415 Unsupported Media Type"}; a body that is not JSON
    -> 400 {"error_code": 400, "message": <parser message>}; JSON of the wrong shape (records
    not a list, a record not an object, an unknown field, a partition that is not a number)
    -> 400; no records -> 422 {"error_code": 422, "message": "records must not be empty"};
    a binary value that is not base64 -> 400 {"error_code": 400, "message": "Bad Request:
    data=... is not a valid base64 string."}; a negative partition -> 500 {"error_code": 500,
    "message": "Internal Server Error"} (the records before it are produced, as the real one).

The cluster: the ACTIVE (or UPDATING) MSK cluster in the instance's region whose bootstrap broker
string for the proxy's ``client.security.protocol``/``client.sasl.mechanism`` (SASL_SSL +
AWS_MSK_IAM: ``bootstrapBrokerStringSaslIam``, as GetBootstrapBrokers in ``msk_topics`` answers)
contains one of ``bootstrap.servers``. A record whose topic is not ACTIVE/UPDATING in that
cluster (also: no such cluster, or a ``partition`` beyond the topic's count) is what Kafka's
producer gives the 7.6.1 proxy: it waits ``producer.max.block.ms`` (default 60000) for metadata,
then the record's offset entry is ``{"partition": null, "offset": null, "error_code": 50003,
"error": "Topic t not present in metadata after 60000 ms."}`` in a 200 answer. Through API
Gateway (integration timeout 29000 ms) that is a 504 ``Endpoint request timed out``: the
stand-in tells the gateway how long the real proxy would take (it answers at once).
``GET /topics`` without a cluster waits ``default.api.timeout.ms`` (60000), then 500 50003.

Records go to an in-memory log per (cluster ARN, topic, partition), offsets from 0. Partition:
the record's ``partition``; else Kafka's default partitioner for a key (murmur2 of the key's
serialized bytes, positive, modulo the partition count); else round-robin per topic (Kafka 3.x
uses sticky batches: our choice). A deleted topic (or cluster) loses its records and its
consumer-group offsets.

Emulated S3 sink: each RUNNING connector (``kafkaconnect.running_connectors``) with
``connector.class`` io.confluent.connect.s3.S3SinkConnector whose ``kafkaCluster`` bootstrap
servers are in the broker string of a cluster of its region (for its authentication and
encryption: IAM -> SASL/IAM, NONE+TLS -> TLS, NONE+PLAINTEXT -> plaintext) consumes every topic
of that cluster listed in ``topics`` (comma-separated) or fully matching ``topics.regex``
(``re.fullmatch``, as Java's ``Matcher.matches``). Its consumer group is
``consumer.override.group.id`` or ``connect-<connector name>``; a partition without a committed
offset starts at the earliest offset (``consumer.override.auto.offset.reset`` latest: the end).
Group offsets are kept per (cluster, group) until reset, as Kafka keeps them: a connector deleted
and created again under the same name resumes where the old one committed.

Every ``flush.size`` records of a topic-partition become one object (fewer stay pending; no
rotation intervals), written into moto's S3 (``put_object``) as the sink names them with
JsonFormat and DefaultPartitioner:
``<topics.dir>/<topic>/partition=<p>/<topic>+<p>+<start offset, %010d>.json``
(``topics.dir`` default ``topics``, ``directory.delim`` ``/``, ``file.delim`` ``+``,
``filename.offset.zero.pad.width`` 10; ``s3.compression.type`` gzip adds ``.gz``), content one
JSON value per line, each line ending in ``\\n``. Values through ``value.converter``:
JsonConverter (``schemas.enable`` default true: needs the ``{"schema", "payload"}`` envelope),
StringConverter (a JSON string), ByteArrayConverter (a base64 JSON string); unset: StringConverter
(MSK Connect's default worker configuration). Null values: ``behavior.on.null.values`` (default
fail). A record the converter refuses stops the connector's consumption (a failed task) unless
``errors.tolerance`` is ``all``. A missing bucket (``Non-existent S3 bucket``), a missing
``flush.size``, both or neither of ``topics``/``topics.regex``, or another ``format.class``/
``partitioner.class`` stop it too; the connector stays RUNNING and ``/_sandbox/sink`` shows the
error (consumption resumes once the cause is gone; a real task would wait for a restart).

The sink runs (a tick) after every produce and whenever an S3, kafka or kafkaconnect request
arrives, before it is answered.

The network (``PINFRA_SANDBOX_NETWORK=enforce``, read by scripts/sandbox.py; ``off`` by default;
``/_sandbox/network/settings`` at run time): data goes only where ``network``'s path checks
(the rules of docs/network.md on moto's EC2 state) say it can:

* execute-api to a running instance that the internet cannot reach on the port
  (``internet_to_instance``): the connection is dropped, API Gateway times out (504 "Endpoint
  request timed out"), whatever listens;
* an instance that cannot reach the internet on 443 (``instance_to_internet``): its user-data
  could not download the proxy, so nothing listens (as a stopped stand-in);
* a proxy whose instance cannot reach the brokers (``client_to_brokers``, the port of its
  ``bootstrap.servers``, the cluster's ``clientSubnets``/``securityGroups``): as with no cluster
  (the producer waits for metadata: 50003 after ``max.block.ms``);
* a sink connector whose workers cannot reach the brokers (``connector_to_brokers``) consumes
  nothing; one that cannot reach S3 (``connector_to_s3``) writes nothing and stays RUNNING. The
  worker's log line is the view's ``error`` (and ``last_error``, kept after the cause is gone),
  ``network`` the blocked hop.

MSK IAM access control (``PINFRA_SANDBOX_AUTHZ=enforce``, the default; ``off`` and
``/_sandbox/authz/settings`` as for the network): SASL/IAM clients may do only what their IAM
role's policies allow (``kafka_iam``: who acts, the resource ARNs, the evaluation):

* the REST proxy (as ``awsRoleArn`` of its JAAS line or the instance profile's role): no
  credentials or no ``kafka-cluster:Connect`` -> every record's entry 40101 (HTTP 401, as
  kafka-rest's ``ProduceResponse.getRequestStatus`` makes it); no ``DescribeTopic`` -> 40301 "Not
  authorized to access topics: [t]" (before the metadata wait); no ``WriteDataIdempotently``
  when the ``idempotent_producer`` setting is on (the real 7.6.1 producer is not idempotent:
  KREST-4606) -> 40301 "Cluster authorization failed."; no ``WriteData`` ->
  40301 "Not authorized to access topics: [t]" (HTTP 403). ``GET /topics`` lists only the topics
  it may describe; ``GET /topics/{t}`` without ``DescribeTopic`` (or
  ``DescribeTopicDynamicConfiguration``) -> 403 {"error_code": 40301, "message": "Topic
  authorization failed."};
* the sink (as the connector's service execution role): no ``Connect``, ``DescribeTopic`` of a
  listed topic, ``DescribeGroup``/``AlterGroup`` of its group or ``ReadData`` of a topic -> it
  consumes nothing, stays RUNNING, ``error``/``last_error`` the worker's exception
  (SaslAuthenticationException, TopicAuthorizationException, GroupAuthorizationException) and
  ``authz`` the denied action. With ``topics.regex`` topics it may not describe are left out.

    GET  /_sandbox/restproxy        {"enforce", "authz", "default": "started"|"stopped", "proxies":
                                     [{"instance_id", "region", "state", "host", "listeners",
                                     "started", "bootstrap_servers", "cluster_arn", "network":
                                     {"internet_to_instance": {"<port>": reason|null},
                                     "instance_to_internet", "client_to_brokers"},
                                     "principal": role ARN|null}], "topics":
                                     [{"cluster_arn", "topic", "records", "partitions": {"0": n}}]}
    POST /_sandbox/restproxy/stop   {} (all stand-ins) or {"instance_id": "i-..."}; answers as GET
    POST /_sandbox/restproxy/start  likewise
    GET  /_sandbox/sink             {"connectors": [{"name", "arn", "region", "cluster_arn",
                                     "group", "bucket", "flush_size", "topics", "offsets":
                                     {"<topic>": {"<p>": next offset}}, "pending": {...},
                                     "objects": [key, ...], "error", "last_error", "network",
                                     "authz"}]} (after a tick)
    GET  /_sandbox/network/settings {"enforce": bool}
    POST /_sandbox/network/settings {"enforce": bool}; 400 on anything else
    GET  /_sandbox/authz/settings   {"enforce": bool, "idempotent_producer": bool}
    POST /_sandbox/authz/settings   either or both; 400 on anything else

``POST /moto-api/reset`` forgets the logs, group offsets, boot configurations, controls and
``last_error``s, and restores the network and authz switches to their start-up values.

This module is installed before ``msk_topics``, so that its hook runs the sink before msk_topics
answers a topic call; it reads the topics through ``msk_topics.store()``, the store msk_topics'
install made.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import parse_qs, unquote, urlsplit

from werkzeug.wrappers import Request, Response

from . import apigateway_compat, kafka_iam, msk_topics, network
from .apigateway_compat import EndpointAnswer, EndpointRequest
from .core import AwsRequest, Sandbox, SettingsStore, json_response, read_body
from .msk_topics import DEFAULT_TOPIC_CONFIGS, PROPERTY_LINE, ClusterRef, MskTopics, TopicView, bootstrap_brokers, request_account, view_at

HOOK_NAME = "data_path"
V2_JSON = "application/vnd.kafka.v2+json"
EMBEDDED_FORMATS = {"application/vnd.kafka.json.v2+json": "json", "application/vnd.kafka.binary.v2+json": "binary"}
DEFAULT_PORT = 8082
DEFAULT_MAX_BLOCK_MS = 60000
DEFAULT_API_TIMEOUT_MS = 60000
SERVING = ("ACTIVE", "UPDATING")
PRODUCIBLE = ("ACTIVE", "UPDATING")
S3_SINK = "io.confluent.connect.s3.S3SinkConnector"
JSON_FORMAT = "io.confluent.connect.s3.format.json.JsonFormat"
DEFAULT_PARTITIONER = "io.confluent.connect.storage.partitioner.DefaultPartitioner"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
BYTES_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
IAM_BROKERS = "bootstrapBrokerStringSaslIam"  # MSK IAM access control applies to SASL/IAM clients only
NETWORK_ENV = "PINFRA_SANDBOX_NETWORK"
NETWORK_MODES = {"enforce": True, "off": False}
# What the sink's task logs when it cannot reach the brokers (its consumer's metadata fetch) or S3
# (S3SinkTask.start: the bucket check's SdkClientException, wrapped in a ConnectException).
BROKERS_UNREACHABLE = "org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata"
S3_UNREACHABLE = (
    "org.apache.kafka.connect.errors.ConnectException: com.amazonaws.SdkClientException: Unable to execute HTTP request: "
    "Connect to {bucket}.s3.{region}.amazonaws.com:443 failed: connect timed out"
)
# rest-utils KafkaExceptionMapper: AuthenticationException -> 401/40101, AuthorizationException
# (TopicAuthorizationException, ClusterAuthorizationException, ...) -> 403/40301; in a v2 produce
# answer the record's entry carries the code (AbstractProduceAction.errorCodeFromProducerException).
KAFKA_AUTHENTICATION_ERROR = 40101
KAFKA_AUTHORIZATION_ERROR = 40301
REQUEST_FIELDS = ("value_schema_id", "key_schema", "records", "key_schema_id", "value_schema")
RECORD_FIELDS = ("partition", "key", "value")

# cat >"$confluent_dir/etc/kafka-rest/kafka-rest.properties" <<'PINFRA_REST_PROPERTIES' ... PINFRA_REST_PROPERTIES
HEREDOC = re.compile(
    r"""cat\s*>\s*(?P<q>["']?)(?P<path>[^"'\s]*kafka-rest\.properties)(?P=q)\s*<<-?\s*(?P<q2>["']?)"""
    r"""(?P<tag>[A-Za-z_][A-Za-z0-9_]*)(?P=q2)[^\n]*\n(?P<body>.*?)^(?P=tag)[ \t]*$""",
    re.S | re.M,
)

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


def network_settings_from_env() -> dict[str, Any]:
    raw = (os.environ.get(NETWORK_ENV) or "off").strip().lower()
    if raw not in NETWORK_MODES:
        raise SystemExit(f"sandbox: ${NETWORK_ENV}: expected enforce or off, got {raw!r}")
    return {"enforce": NETWORK_MODES[raw]}


def validate_network_setting(key: str, value: Any) -> Any:
    if key != "enforce":
        raise ValueError(f"unknown setting {key!r}; known: enforce")
    if not isinstance(value, bool):
        raise ValueError(f"enforce: expected true or false, got {value!r}")
    return value


def find_cluster(account: str, region: str, servers: Any, key: str | None) -> ClusterRef | None:
    """The serving cluster of the region whose ``key`` broker string holds one of ``servers``."""
    wanted = server_set(servers)
    if key is None or not wanted:
        return None
    for ref in cluster_refs(account, region):
        if ref.cluster.state in SERVING and wanted & server_set(bootstrap_brokers(ref).get(key, "")):
            return ref
    return None


# -------------------------------------------------------------------- REST proxy settings
def parse_properties(text: str) -> dict[str, str]:
    """Java properties lines (``#``/``!`` comments, ``\\`` continuations)."""
    out: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.lstrip() if pending else raw.strip()
        if not pending and (not line or line.startswith(("#", "!"))):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2:
            pending = line[:-1]
            continue
        pending = ""
        match = PROPERTY_LINE.match(line)
        if match:
            out[match["key"]] = match["value"].strip()
    return out


@dataclass(frozen=True)
class ProxyConfig:
    """kafka-rest.properties as the instance's user-data writes it."""

    listeners: tuple[tuple[str, int], ...]  # (scheme, port)
    bootstrap_servers: tuple[str, ...]
    security_protocol: str
    sasl_mechanism: str
    max_block_ms: int
    api_timeout_ms: int
    role_arn: str | None = None  # awsRoleArn of client.sasl.jaas.config (aws-msk-iam-auth)

    @property
    def broker_key(self) -> str | None:
        return broker_key(self.security_protocol, self.sasl_mechanism)


def int_property(props: dict[str, str], key: str, default: int) -> int:
    raw = props.get(key, "").strip()
    return int(raw) if raw.isdigit() else default


def proxy_config(user_data: str) -> ProxyConfig | None:
    """The REST proxy settings the user-data script writes, or None if it writes none."""
    match = HEREDOC.search(user_data)
    if match is None:
        return None
    props = parse_properties(match["body"])
    listeners: list[tuple[str, int]] = []
    for item in props.get("listeners", "").split(","):
        parts = urlsplit(item.strip())
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme in ("http", "https") and port:
            listeners.append((parts.scheme, port))
    if not props.get("listeners", "").strip():
        listeners.append(("http", int_property(props, "port", DEFAULT_PORT)))
    return ProxyConfig(
        listeners=tuple(listeners),
        bootstrap_servers=tuple(s.strip() for s in props.get("bootstrap.servers", "").split(",") if s.strip()),
        security_protocol=props.get("client.security.protocol", "PLAINTEXT"),
        sasl_mechanism=props.get("client.sasl.mechanism", "GSSAPI"),
        max_block_ms=int_property(props, "producer.max.block.ms", DEFAULT_MAX_BLOCK_MS),
        api_timeout_ms=int_property(props, "admin.default.api.timeout.ms", DEFAULT_API_TIMEOUT_MS),
        role_arn=kafka_iam.jaas_role_arn(props.get("client.sasl.jaas.config", "")),
    )


def user_data_text(instance: Any) -> str:
    data = getattr(instance, "user_data", None)
    if data is None:
        return ""
    try:
        return str(data.decode())
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return ""


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


# ------------------------------------------------------------------------ proxy answers
class ProxyError(Exception):
    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


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


def request_status(offsets: list[dict[str, Any]]) -> int:
    """ProduceResponse.getRequestStatus (kafka-rest 7.6.1): the first entry whose error code is
    40101 makes it 401, 40301 403; otherwise 200."""
    for entry in offsets:
        if entry["error_code"] == KAFKA_AUTHENTICATION_ERROR:
            return 401
        if entry["error_code"] == KAFKA_AUTHORIZATION_ERROR:
            return 403
    return 200


def error_entry(code: int, message: str) -> dict[str, Any]:
    """A failed record's entry in a v2 produce answer (PartitionOffset)."""
    return {"partition": None, "offset": None, "error_code": code, "error": message}


def jersey(status: int, reason: str) -> ProxyError:
    return ProxyError(status, status, f"HTTP {status} {reason}")


def compact(value: Any) -> str:
    """JSON as Jackson writes it (no spaces, non-ASCII kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def answer(status: int, payload: Any, duration_ms: int = 0) -> EndpointAnswer:
    return EndpointAnswer(status, {"Content-Type": V2_JSON}, compact(payload).encode(), duration_ms)


def media_type(headers: dict[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return value.split(";")[0].strip().lower()


def mapping_error(message: str) -> ProxyError:
    return ProxyError(400, 400, message)


@dataclass(frozen=True)
class ProduceRecord:
    partition: int | None
    key: Any
    value: Any
    has_key: bool
    has_value: bool


def parse_partition(value: Any) -> int | None:
    """Jackson's coercions for an Integer: numbers (floats truncated), numeric strings, null."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise mapping_error("Cannot deserialize value of type `Integer` from Boolean value (token `JsonToken.VALUE_TRUE`)")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise mapping_error(f"Cannot deserialize value of type `Integer` from {type(value).__name__} value {compact(value)}: not a valid `Integer` value")


def parse_produce(body: bytes) -> list[ProduceRecord]:
    if not body.strip():
        raise ProxyError(422, 422, "request must not be null")
    try:
        data = json.loads(body)
    except UnicodeDecodeError as err:
        raise mapping_error(f"Invalid UTF-8 start byte: {err}") from None
    except ValueError as err:
        raise mapping_error(f"Unexpected character: {err.msg} (line {err.lineno}, column {err.colno})") from None  # type: ignore[attr-defined]
    if not isinstance(data, dict):
        raise mapping_error(f"Cannot deserialize value of type `ProduceRequest` from {type(data).__name__} value")
    for name in data:
        if name not in REQUEST_FIELDS:
            raise mapping_error(
                f'Unrecognized field "{name}" (class ProduceRequest), not marked as ignorable '
                f'({len(REQUEST_FIELDS)} known properties: {", ".join(chr(34) + f + chr(34) for f in REQUEST_FIELDS)})'
            )
    records = data.get("records")
    if records is None:
        records = []
    if not isinstance(records, list):
        raise mapping_error("Cannot deserialize value of type `ImmutableList<ProduceRecord>` from non-array value")
    out = []
    for record in records:
        if not isinstance(record, dict):
            raise mapping_error(f"Cannot construct instance of `ProduceRecord` from {type(record).__name__} value {compact(record)}")
        for name in record:
            if name not in RECORD_FIELDS:
                raise mapping_error(
                    f'Unrecognized field "{name}" (class ProduceRecord), not marked as ignorable '
                    f'(3 known properties: "partition", "key", "value")'
                )
        out.append(
            ProduceRecord(parse_partition(record.get("partition")), record.get("key"), record.get("value"), "key" in record, "value" in record)
        )
    if not out:
        raise ProxyError(422, 422, "records must not be empty")
    return out


def serialize(fmt: str, data: Any) -> bytes | None:
    """The bytes the proxy produces for a key or value (JSON null: no bytes)."""
    if data is None:
        return None
    if fmt == "json":
        return compact(data).encode()
    if not isinstance(data, str):
        raise ProxyError(400, 400, f"Bad Request: data={compact(data)} is not a base64 string.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProxyError(400, 400, f"Bad Request: data={compact(data)} is not a valid base64 string.") from None


# ------------------------------------------------------------------------------- the sink
@dataclass
class GroupState:
    """A consumer group's committed offsets and what its sink wrote."""

    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    objects: list[str] = field(default_factory=list)


@dataclass
class SinkView:
    name: str
    arn: str
    region: str
    cluster_arn: str | None
    group: str
    bucket: str | None
    flush_size: int | None
    topics: list[str] = field(default_factory=list)
    error: str | None = None
    last_error: str | None = None  # the latest error its worker logged, kept after the cause is gone
    network: str | None = None  # the hop that blocks it (PINFRA_SANDBOX_NETWORK=enforce)
    authz: str | None = None  # the action MSK IAM denies it (PINFRA_SANDBOX_AUTHZ=enforce)

    def to_json(self, state: GroupState | None, log: KafkaLog) -> dict[str, Any]:
        offsets: dict[str, dict[str, int]] = {}
        pending: dict[str, dict[str, int]] = {}
        if state is not None and self.cluster_arn:
            for (topic, partition), committed in sorted(state.committed.items()):
                if topic not in self.topics:
                    continue
                offsets.setdefault(topic, {})[str(partition)] = committed
                pending.setdefault(topic, {})[str(partition)] = len(log.records(self.cluster_arn, topic, partition)) - committed
        return {
            "name": self.name,
            "arn": self.arn,
            "region": self.region,
            "cluster_arn": self.cluster_arn,
            "group": self.group,
            "bucket": self.bucket,
            "flush_size": self.flush_size,
            "topics": list(self.topics),
            "offsets": offsets,
            "pending": pending,
            "objects": list(state.objects) if state else [],
            "error": self.error,
            "last_error": self.last_error,
            "network": self.network,
            "authz": self.authz,
        }


class ConversionError(Exception):
    pass


def convert_value(value: bytes | None, config: dict[str, str]) -> str | None:
    """The JSON line the S3 sink writes for a record value (None: the record is skipped)."""
    if value is None:
        behavior = config.get("behavior.on.null.values", "fail").strip().lower()
        if behavior == "ignore":
            return None
        if behavior == "write":
            return "null"
        raise ConversionError("Null valued records are not writeable with current behavior.on.null.values 'settings.")
    converter = config.get("value.converter", STRING_CONVERTER).strip()
    if converter == STRING_CONVERTER:
        return compact(value.decode("utf-8", "replace"))
    if converter == BYTES_CONVERTER:
        return compact(base64.b64encode(value).decode("ascii"))
    if converter != JSON_CONVERTER:
        raise ConversionError(f"value.converter {converter} is not emulated by the pinfra sandbox")
    try:
        parsed = json.loads(value)
    except (ValueError, UnicodeDecodeError) as err:
        raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error: {err}") from None
    if config.get("value.converter.schemas.enable", "true").strip().lower() == "true":
        if not isinstance(parsed, dict) or set(parsed) != {"schema", "payload"}:
            raise ConversionError(
                'JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields. '
                "If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration."
            )
        parsed = parsed["payload"]
    return compact(parsed)


def object_key(config: dict[str, str], topic: str, partition: int, start: int) -> str:
    """TopicPartitionWriter.fileKeyToCommit with DefaultPartitioner and JsonFormat."""
    topics_dir = config.get("topics.dir", "topics").strip()
    dir_delim = config.get("directory.delim", "/")
    file_delim = config.get("file.delim", "+")
    raw_width = config.get("filename.offset.zero.pad.width", "10").strip()
    width = int(raw_width) if raw_width.isdigit() else 10
    extension = ".json" + (".gz" if config.get("s3.compression.type", "none").strip().lower() == "gzip" else "")
    name = f"{topic}{file_delim}{partition}{file_delim}{start:0{width}d}{extension}"
    suffix = f"{topic}{dir_delim}partition={partition}{dir_delim}{name}"
    return f"{topics_dir}{dir_delim}{suffix}" if topics_dir else suffix


# ------------------------------------------------------------------------------ the state
class DataPath:
    """Log, stand-in proxies and sink; every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.log = KafkaLog()
        self.boot: dict[tuple[str, str], ProxyConfig | None] = {}  # (account, instance id)
        self.default_started = True
        self.started_overrides: dict[str, bool] = {}
        self.groups: dict[tuple[str, str, str], GroupState] = {}  # (account, cluster ARN, group)
        self.views: dict[str, tuple[SinkView, tuple[str, str, str] | None]] = {}  # connector ARN
        self.last_errors: dict[str, str] = {}  # connector ARN -> the latest error its worker logged
        self.network = SettingsStore(network_settings_from_env, validate_network_setting)
        self.authz = SettingsStore(kafka_iam.settings_from_env, kafka_iam.validate_setting)

    def reset(self) -> None:
        with self.lock:
            self.log.reset()
            self.boot.clear()
            self.default_started = True
            self.started_overrides.clear()
            self.groups.clear()
            self.views.clear()
            self.last_errors.clear()
            self.network.reset()
            self.authz.reset()

    def enforcing(self) -> bool:
        return bool(self.network["enforce"])

    def authorizing(self) -> bool:
        return bool(self.authz["enforce"])

    # ------------------------------------------------------------------ the network
    def proxy_network(self, account: str, region: str, instance: Any, config: ProxyConfig, cluster: ClusterRef | None) -> dict[str, Any]:
        """Each path of the stand-in's instance: None when open, else the hop that blocks it."""
        ports = sorted({port for _scheme, port in config.listeners})
        paths: dict[str, Any] = {
            "internet_to_instance": {str(p): network.internet_to_instance(account, region, instance, p) for p in ports},
            "instance_to_internet": network.instance_to_internet(account, region, instance),
        }
        if cluster is not None:
            subnets, groups = broker_network(cluster)
            port = server_port(config.bootstrap_servers)
            paths["client_to_brokers"] = network.client_to_brokers(account, region, instance, subnets, groups, port)
        else:
            paths["client_to_brokers"] = None
        return paths

    # ------------------------------------------------------------------ instances
    def config_of(self, account: str, instance: Any) -> ProxyConfig | None:
        with self.lock:
            key = (account, instance.id)
            if key in self.boot:
                return self.boot[key]
        return proxy_config(user_data_text(instance))

    def remember_boot_config(self, account: str, instance: Any) -> None:
        """Before a UserData change: keep the configuration the instance booted with."""
        with self.lock:
            self.boot.setdefault((account, instance.id), proxy_config(user_data_text(instance)))

    def started(self, instance_id: str) -> bool:
        with self.lock:
            return self.started_overrides.get(instance_id, self.default_started)

    def set_started(self, started: bool, instance_id: str | None) -> None:
        with self.lock:
            if instance_id is None:
                self.default_started = started
                self.started_overrides.clear()
            else:
                self.started_overrides[instance_id] = started

    # ------------------------------------------------------------------ the proxy
    def deliver(self, request: EndpointRequest) -> EndpointAnswer | None:
        """apigateway_compat's endpoint: answer for a listening stand-in, else None."""
        found = find_instance(request.account, request.host)
        if found is None:
            return None
        region, instance = found
        if instance.state != "running":
            return None
        enforce = self.enforcing()
        if enforce and network.internet_to_instance(request.account, region, instance, request.port) is not None:
            # The security group, network ACL or route drops the connection: no answer ever comes.
            return apigateway_compat.UNREACHABLE
        if not self.started(instance.id):
            return None
        if enforce and network.instance_to_internet(request.account, region, instance) is not None:
            # The user-data could not download Kafka, the IAM library and the REST proxy: nothing
            # was installed, nothing listens (as a stopped stand-in).
            return None
        config = self.config_of(request.account, instance)
        if config is None or (request.scheme, request.port) not in config.listeners:
            return None
        cluster = find_cluster(request.account, region, config.bootstrap_servers, config.broker_key)
        if enforce and cluster is not None:
            subnets, groups = broker_network(cluster)
            port = server_port(config.bootstrap_servers)
            if network.client_to_brokers(request.account, region, instance, subnets, groups, port) is not None:
                # The brokers cannot be reached: the proxy's producer and admin client wait for
                # metadata as they do for a cluster that is not there (see produce, GET /topics).
                cluster = None
        auth = None
        if cluster is not None and self.authorizing() and config.broker_key == IAM_BROKERS:
            principal = kafka_iam.proxy_principal(request.account, instance, config.role_arn)
            auth = KafkaAuth(cluster.arn, principal, bool(self.authz["idempotent_producer"]))
        try:
            result = self.serve(config, cluster, request, auth)
        except ProxyError as err:
            result = answer(err.status, {"error_code": err.error_code, "message": err.message})
        self.tick()
        return result

    def serve(self, config: ProxyConfig, cluster: ClusterRef | None, request: EndpointRequest, auth: KafkaAuth | None = None) -> EndpointAnswer:
        path = "/" + "/".join(unquote(s) for s in request.path.split("/") if s)
        method = request.method.upper()
        if path == "/topics":
            if method != "GET":
                raise jersey(405, "Method Not Allowed")
            if cluster is None:
                message = "Timed out waiting for a node assignment. Call: listTopics"
                return answer(500, {"error_code": 50003, "message": message}, config.api_timeout_ms)
            if auth is not None:
                failed = auth.authentication_error()
                if failed is not None:
                    raise ProxyError(401, KAFKA_AUTHENTICATION_ERROR, failed)
                # Kafka lists only the topics the principal may describe (Metadata for all topics).
                return answer(200, [v.name for v in cluster_topics(cluster.arn) if auth.allowed(kafka_iam.DESCRIBE_TOPIC, v.name)])
            return answer(200, [v.name for v in cluster_topics(cluster.arn)])
        match = re.fullmatch(r"/topics/([^/]+)", path)
        if match is None:
            raise jersey(404, "Not Found")
        topic = match[1]
        if method == "GET":
            return self.describe_topic(config, cluster, topic, auth)
        if method != "POST":
            raise jersey(405, "Method Not Allowed")
        fmt = EMBEDDED_FORMATS.get(media_type(request.headers))
        if fmt is None:
            raise jersey(415, "Unsupported Media Type")
        return self.produce(config, cluster, topic, fmt, request.body, auth)

    def describe_topic(self, config: ProxyConfig, cluster: ClusterRef | None, topic: str, auth: KafkaAuth | None = None) -> EndpointAnswer:
        if cluster is None:
            message = "Timed out waiting for a node assignment. Call: describeTopics"
            return answer(500, {"error_code": 50003, "message": message}, config.api_timeout_ms)
        if auth is not None:
            failed = auth.authentication_error()
            if failed is not None:
                raise ProxyError(401, KAFKA_AUTHENTICATION_ERROR, failed)
            # describeTopics, then listTopicConfigs (DESCRIBE_CONFIGS): TopicAuthorizationException.
            for action in (kafka_iam.DESCRIBE_TOPIC, kafka_iam.DESCRIBE_TOPIC_CONFIGS):
                if not auth.allowed(action, topic):
                    raise ProxyError(403, KAFKA_AUTHORIZATION_ERROR, kafka_iam.TOPIC_AUTHORIZATION_FAILED)
        view = topic_view(cluster.arn, topic)
        if not producible(view):
            raise ProxyError(404, 40401, "Topic not found.")
        assert view is not None
        brokers = cluster.brokers
        partitions = []
        for p in range(view.partition_count):
            replicas = [(p + r) % brokers + 1 for r in range(min(view.replication_factor, brokers))]
            partitions.append(
                {"partition": p, "leader": replicas[0], "replicas": [{"broker": b, "leader": b == replicas[0], "in_sync": True} for b in replicas]}
            )
        return answer(200, {"name": topic, "configs": {**DEFAULT_TOPIC_CONFIGS, **view.configs}, "partitions": partitions})

    def produce(self, config: ProxyConfig, cluster: ClusterRef | None, topic: str, fmt: str, body: bytes, auth: KafkaAuth | None = None) -> EndpointAnswer:
        records = parse_produce(body)
        serialized = [(r.partition, serialize(fmt, r.key), serialize(fmt, r.value)) for r in records]
        offsets: list[dict[str, Any]] = []
        waited = 0
        # MSK IAM, in the order the producer meets it: the SASL handshake (Connect), the metadata
        # of the topic (DescribeTopic, in send()), InitProducerId of an idempotent producer
        # (WriteDataIdempotently, before the first batch; kafka-rest 7.6.1 forces
        # enable.idempotence=false, so only with the idempotent_producer setting), the Produce
        # request (WriteData).
        failed = auth.authentication_error() if auth is not None else None
        with self.lock:
            for partition, key, value in serialized:
                if partition is not None and partition < 0:
                    # new ProducerRecord(...) throws IllegalArgumentException: GenericExceptionMapper.
                    raise ProxyError(500, 500, "Internal Server Error")
                if failed is not None:
                    offsets.append(error_entry(KAFKA_AUTHENTICATION_ERROR, failed))
                    continue
                if auth is not None and not auth.allowed(kafka_iam.DESCRIBE_TOPIC, topic):
                    offsets.append(error_entry(KAFKA_AUTHORIZATION_ERROR, kafka_iam.topics_denied([topic])))
                    continue
                view = topic_view(cluster.arn, topic) if cluster is not None else None
                if not producible(view):
                    error = f"Topic {topic} not present in metadata after {config.max_block_ms} ms."
                elif partition is not None and partition >= view.partition_count:
                    error = (
                        f"Partition {partition} of topic {topic} with partition count {view.partition_count} "
                        f"is not present in metadata after {config.max_block_ms} ms."
                    )
                elif auth is not None and auth.idempotent and not auth.allowed(kafka_iam.WRITE_IDEMPOTENTLY):
                    offsets.append(error_entry(KAFKA_AUTHORIZATION_ERROR, kafka_iam.CLUSTER_AUTHORIZATION_FAILED))
                    continue
                elif auth is not None and not auth.allowed(kafka_iam.WRITE_DATA, topic):
                    offsets.append(error_entry(KAFKA_AUTHORIZATION_ERROR, kafka_iam.topics_denied([topic])))
                    continue
                else:
                    assert cluster is not None and view is not None
                    p, offset = self.log.append(cluster.arn, view, partition, key, value)
                    offsets.append({"partition": p, "offset": offset, "error_code": None, "error": None})
                    continue
                waited += config.max_block_ms
                offsets.append(error_entry(50003, error))
        payload = {"offsets": offsets, "key_schema_id": None, "value_schema_id": None}
        return answer(request_status(offsets), payload, waited)

    # ------------------------------------------------------------------ the sink
    def prune(self) -> None:
        """Forget the records and group offsets of deleted topics and clusters."""
        for arn, topic in self.log.topics():
            gone = cluster_by_arn(arn.split(":")[4], arn) is None
            view = None if gone else topic_view(arn, topic)
            if view is None or view.status == "DELETING":
                self.log.drop(arn, None if gone else topic)
                for (_account, g_arn, _group), state in self.groups.items():
                    if g_arn == arn:
                        for tp in [tp for tp in state.committed if gone or tp[0] == topic]:
                            del state.committed[tp]

    def tick(self) -> None:
        """Let every RUNNING S3 sink connector consume what it can."""
        from moto.kafka.models import kafka_backends

        from . import kafkaconnect

        with self.lock:
            self.prune()
            seen: set[str] = set()
            for account in list(dict.keys(kafka_backends)):
                for region, backend in list(dict.items(kafka_backends[account])):
                    if not backend.clusters:
                        continue
                    for connector in kafkaconnect.running_connectors(region, account):
                        seen.add(connector.arn)
                        self.run(account, connector)
            for arn in [a for a in self.views if a not in seen]:
                del self.views[arn]
            for arn in [a for a in self.last_errors if a not in seen]:
                del self.last_errors[arn]

    def run(self, account: str, connector: Any) -> None:
        self.run_connector(account, connector)
        view = self.views[connector.arn][0]
        if view.error:
            self.last_errors[connector.arn] = view.error
        view.last_error = self.last_errors.get(connector.arn)

    def run_connector(self, account: str, connector: Any) -> None:
        config = connector.configuration
        group_id = config.get("consumer.override.group.id") or f"connect-{connector.name}"
        key = connector_broker_key(connector.authentication_type, connector.encryption_type)
        cluster = find_cluster(account, connector.region, connector.bootstrap_servers, key)
        view = SinkView(
            name=connector.name,
            arn=connector.arn,
            region=connector.region,
            cluster_arn=cluster.arn if cluster else None,
            group=group_id,
            bucket=connector.bucket,
            flush_size=connector.flush_size,
        )
        group_key = (account, cluster.arn, group_id) if cluster else None
        self.views[connector.arn] = (view, group_key)
        if config.get("connector.class", "").strip() != S3_SINK:
            view.error = f"connector.class {config.get('connector.class')} is not emulated by the pinfra sandbox"
            return
        if cluster is None:
            view.error = f"no ACTIVE MSK cluster in {connector.region} has the bootstrap servers {','.join(connector.bootstrap_servers)} ({key})"
            return
        enforce = self.enforcing()
        if enforce:
            subnets, groups = broker_network(cluster)
            port = server_port(connector.bootstrap_servers)
            blocked = network.connector_to_brokers(account, connector.region, connector.subnets, connector.security_groups, subnets, groups, port)
            if blocked is not None:
                view.error, view.network = BROKERS_UNREACHABLE, blocked
                return
        auth = None
        if self.authorizing() and key == IAM_BROKERS:
            # The workers act as the service execution role; their clients authenticate first.
            auth = KafkaAuth(cluster.arn, kafka_iam.connector_principal(account, connector.service_execution_role_arn))
            failed = auth.authentication_error()
            if failed is not None:
                view.error = f"org.apache.kafka.common.errors.SaslAuthenticationException: {failed}"
                view.authz = auth.denial(kafka_iam.CONNECT) if auth.principal else f"no credentials: role {connector.service_execution_role_arn} does not exist"
                return
        for member, expected in (("format.class", JSON_FORMAT), ("partitioner.class", DEFAULT_PARTITIONER)):
            if config.get(member, expected).strip() != expected:
                view.error = f"{member} {config.get(member)} is not emulated by the pinfra sandbox"
                return
        if view.flush_size is None:
            view.error = 'Missing required configuration "flush.size" which has no default value.'
            return
        topics, regex_text = connector.topics, connector.topics_regex
        if topics and regex_text:
            view.error = "topics and topics.regex are mutually exclusive."
            return
        if not topics and not regex_text:
            view.error = "Must configure one of topics or topics.regex"
            return
        try:
            regex = re.compile(regex_text) if regex_text else None
        except re.error as err:
            view.error = f"topics.regex {regex_text!r} is not a valid regular expression: {err}"
            return
        if enforce:
            blocked = network.connector_to_s3(account, connector.region, connector.subnets, connector.security_groups)
            if blocked is not None:
                view.error, view.network = S3_UNREACHABLE.format(bucket=view.bucket, region=connector.region), blocked
                return
        if not self.bucket_exists(account, connector.region, view.bucket):
            view.error = f"Non-existent S3 bucket: {view.bucket}"
            return
        selected = [t for t in cluster_topics(cluster.arn) if t.name in topics or (regex and regex.fullmatch(t.name))]
        if auth is not None:
            authorized = self.authorized_topics(auth, view, topics, selected, group_id)
            if authorized is None:
                return
            selected = authorized
        state = self.groups.setdefault(group_key, GroupState())  # type: ignore[arg-type]
        reset_policy = config.get("consumer.override.auto.offset.reset", "earliest").strip().lower()
        for topic in selected:
            view.topics.append(topic.name)
            for partition in range(topic.partition_count):
                records = self.log.records(cluster.arn, topic.name, partition)
                if (topic.name, partition) not in state.committed:
                    if reset_policy == "none":
                        view.error = f"Undefined offset with no reset policy for partitions: [{topic.name}-{partition}]"
                        return
                    state.committed[(topic.name, partition)] = len(records) if reset_policy == "latest" else 0
                try:
                    self.consume(account, connector, view, state, topic.name, partition, records)
                except ConversionError as err:
                    view.error = str(err)
                    return

    @staticmethod
    def authorized_topics(auth: KafkaAuth, view: SinkView, topics: list[str], selected: list[TopicView], group: str) -> list[TopicView] | None:
        """What the sink's consumer may read under MSK IAM, or None (``view.error``/``authz`` set):
        the metadata of its topics (DescribeTopic: a listed topic it may not describe fails the
        task; with ``topics.regex`` Kafka only shows it the topics it may describe), its group's
        coordinator and membership (DescribeGroup, AlterGroup), then fetching (ReadData)."""
        hidden = [name for name in topics if not auth.allowed(kafka_iam.DESCRIBE_TOPIC, name)]
        if hidden:
            view.error = f"org.apache.kafka.common.errors.TopicAuthorizationException: {kafka_iam.topics_denied(hidden)}"
            view.authz = auth.denial(kafka_iam.DESCRIBE_TOPIC, sorted(hidden)[0])
            return None
        selected = [t for t in selected if auth.allowed(kafka_iam.DESCRIBE_TOPIC, t.name)]
        for action in (kafka_iam.DESCRIBE_GROUP, kafka_iam.ALTER_GROUP):
            if not auth.allowed(action, group):
                view.error = f"org.apache.kafka.common.errors.GroupAuthorizationException: {kafka_iam.group_denied(group)}"
                view.authz = auth.denial(action, group)
                return None
        unreadable = [t.name for t in selected if not auth.allowed(kafka_iam.READ_DATA, t.name)]
        if unreadable:
            view.error = f"org.apache.kafka.common.errors.TopicAuthorizationException: {kafka_iam.topics_denied(unreadable)}"
            view.authz = auth.denial(kafka_iam.READ_DATA, sorted(unreadable)[0])
            return None
        return selected

    def consume(self, account: str, connector: Any, view: SinkView, state: GroupState, topic: str, partition: int, records: list[Record]) -> None:
        config = connector.configuration
        flush = max(view.flush_size or 1, 1)
        tolerate = config.get("errors.tolerance", "none").strip().lower() == "all"
        position = state.committed[(topic, partition)]
        lines: list[str] = []
        start: int | None = None
        while position < len(records):
            record = records[position]
            position += 1
            try:
                line = convert_value(record.value, config)
            except ConversionError:
                if tolerate:
                    continue
                raise
            if line is None:
                continue
            if start is None:
                start = record.offset
            lines.append(line)
            if len(lines) == flush:
                key = object_key(config, topic, partition, start)
                data = "".join(f"{line}\n" for line in lines).encode()
                if key.endswith(".gz"):
                    data = gzip.compress(data, mtime=0)
                self.put_object(account, connector.region, view.bucket, key, data)  # type: ignore[arg-type]
                state.objects.append(key)
                state.committed[(topic, partition)] = position
                lines, start = [], None

    @staticmethod
    def bucket_exists(account: str, region: str, bucket: str | None) -> bool:
        from moto.s3.exceptions import MissingBucket
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        if not bucket:
            return False
        try:
            s3_backends[account][get_partition(region)].get_bucket(bucket)
        except MissingBucket:
            return False
        return True

    @staticmethod
    def put_object(account: str, region: str, bucket: str, key: str, data: bytes) -> None:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        s3_backends[account][get_partition(region)].put_object(bucket, key, data)

    # ------------------------------------------------------------------ views
    def proxies_json(self) -> dict[str, Any]:
        from moto.ec2.models import ec2_backends

        with self.lock:
            proxies = []
            for account in list(dict.keys(ec2_backends)):
                for region, instance in all_instances(account):
                    config = self.config_of(account, instance)
                    if config is None:
                        continue
                    cluster = find_cluster(account, region, config.bootstrap_servers, config.broker_key)
                    paths = self.proxy_network(account, region, instance, config, cluster) if instance.state == "running" else None
                    principal = kafka_iam.proxy_principal(account, instance, config.role_arn)
                    proxies.append(
                        {
                            "instance_id": instance.id,
                            "region": region,
                            "state": instance.state,
                            "host": instance.public_dns_name,
                            "listeners": [f"{scheme}://0.0.0.0:{port}" for scheme, port in config.listeners],
                            "started": self.started(instance.id),
                            "bootstrap_servers": list(config.bootstrap_servers),
                            "cluster_arn": cluster.arn if cluster else None,
                            "network": paths,
                            "principal": principal.arn if principal else None,
                        }
                    )
            topics = []
            for arn, topic in self.log.topics():
                counts = {str(p): len(recs) for (a, t, p), recs in sorted(self.log.partitions.items()) if a == arn and t == topic}
                topics.append({"cluster_arn": arn, "topic": topic, "records": sum(counts.values()), "partitions": counts})
            return {
                "enforce": self.enforcing(),
                "authz": self.authorizing(),
                "default": "started" if self.default_started else "stopped",
                "overrides": {k: ("started" if v else "stopped") for k, v in sorted(self.started_overrides.items())},
                "proxies": proxies,
                "topics": topics,
            }

    def sink_json(self) -> dict[str, Any]:
        self.tick()
        with self.lock:
            out = []
            for view, group_key in sorted(self.views.values(), key=lambda v: (v[0].region, v[0].name)):
                out.append(view.to_json(self.groups.get(group_key) if group_key else None, self.log))
            return {"connectors": out}


def all_instances(account: str) -> list[tuple[str, Any]]:
    from moto.ec2.models import ec2_backends

    out: list[tuple[str, Any]] = []
    for region, backend in list(dict.items(ec2_backends[account])):
        for reservation in list(backend.reservations.values()):
            out.extend((region, instance) for instance in list(reservation.instances))
    return out


def find_instance(account: str, host: str) -> tuple[str, Any] | None:
    """The instance whose public DNS name or public IP is ``host``."""
    host = host.lower()
    for region, instance in all_instances(account):
        names = {instance.public_ip, (instance.public_dns_name or "").lower()} - {None, ""}
        if host in names:
            return region, instance
    return None


# ------------------------------------------------------------------------------- routing
def form_params(environ: dict[str, Any]) -> dict[str, list[str]]:
    """Query and form parameters; the body is put back for moto."""
    params = parse_qs(str(environ.get("QUERY_STRING", "")))
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        body = read_body(environ)
        for key, values in parse_qs(body.decode("utf-8", "replace")).items():
            params.setdefault(key, []).extend(values)
    return params


def changes_user_data(params: dict[str, list[str]]) -> bool:
    attribute = (params.get("Attribute") or [""])[0]
    return attribute.lower() == "userdata" or any(k.split(".")[0] == "UserData" for k in params)


def control_body(request: Request) -> dict[str, Any]:
    data = request.get_data()
    body = json.loads(data) if data.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(body) - {"instance_id"})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: instance_id")
    if "instance_id" in body and not (isinstance(body["instance_id"], str) and body["instance_id"]):
        raise ValueError("instance_id: expected an instance id")
    return body


def install(sandbox: Sandbox) -> None:
    state = DataPath()
    apigateway_compat.add_http_endpoint(state.deliver)

    def hook(request: AwsRequest) -> Response | None:
        service = request.call.service
        if service == "ec2" and request.call.operation == "ModifyInstanceAttribute":
            params = form_params(request.environ)
            instance_id = (params.get("InstanceId") or [""])[0]
            if instance_id and changes_user_data(params):
                account = request_account(request)
                for _region, instance in all_instances(account):
                    if instance.id == instance_id:
                        state.remember_boot_config(account, instance)
        elif service in ("s3", "kafka", "kafkaconnect"):
            state.tick()
        return None

    def control(started: bool) -> Any:
        def handler(request: Request) -> Response:
            try:
                body = control_body(request)
            except ValueError as err:
                return json_response({"error": str(err)}, 400)
            state.set_started(started, body.get("instance_id"))
            return json_response(state.proxies_json())

        return handler

    sandbox.add_control_route("GET", "/_sandbox/restproxy", lambda _r: json_response(state.proxies_json()))
    sandbox.add_control_route("POST", "/_sandbox/restproxy/stop", control(False))
    sandbox.add_control_route("POST", "/_sandbox/restproxy/start", control(True))
    sandbox.add_control_route("GET", "/_sandbox/sink", lambda _r: json_response(state.sink_json()))

    def post_network(request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return json_response(state.network.update(changes))
        except ValueError as err:
            return json_response({"error": str(err)}, 400)

    sandbox.add_control_route("GET", "/_sandbox/network/settings", lambda _r: json_response(state.network.snapshot()))
    sandbox.add_control_route("POST", "/_sandbox/network/settings", post_network)

    def post_authz(request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return json_response(state.authz.update(changes))
        except ValueError as err:
            return json_response({"error": str(err)}, 400)

    sandbox.add_control_route("GET", "/_sandbox/authz/settings", lambda _r: json_response(state.authz.snapshot()))
    sandbox.add_control_route("POST", "/_sandbox/authz/settings", post_authz)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(state.reset)
