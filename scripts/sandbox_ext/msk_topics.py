"""MSK topic API and GetBootstrapBrokers for the sandbox (moto 5.2.5 has neither: HTTP 500).

Answered here, as a request hook for service ``kafka`` (wire format from botocore's
kafka 2018-11-14 model; REST JSON, camelCase members):

    GET    /v1/clusters/{clusterArn}/topics               ListTopics
    POST   /v1/clusters/{clusterArn}/topics               CreateTopic
    GET    /v1/clusters/{clusterArn}/topics/{topicName}   DescribeTopic
    PUT    /v1/clusters/{clusterArn}/topics/{topicName}   UpdateTopic
    DELETE /v1/clusters/{clusterArn}/topics/{topicName}   DeleteTopic
    GET    /v1/clusters/{clusterArn}/bootstrap-brokers    GetBootstrapBrokers

moto's kafka backend (``kafka_backends[account][region].clusters``, keyed by ARN) decides
which clusters exist, ``msk_clusters`` their states; topics live here, per cluster ARN. Errors
are ``{"message": ..., "invalidParameter": ...}`` with ``x-amzn-ErrorType: <Code>`` and the
model's status (``MskError``; ``msk_clusters`` uses the same).

Timing (all from time.monotonic(); settings in ``msk_settings``):

* CreateTopic -> CREATING, ACTIVE ``topic_delay_ms`` later; UpdateTopic -> UPDATING, ACTIVE
  ``topic_delay_ms`` later (new values visible at once); DeleteTopic -> DELETING, gone
  ``topic_delay_ms`` later.
* DescribeTopic and ListTopics show the topics as they were ``stale_ms`` ago (real MSK's
  answers lag about a minute). Mutations and their checks always use the current state.

``POST /moto-api/reset`` clears all topics.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Response

from . import msk_settings
from .core import AwsRequest, Sandbox, json_response
from .msk_settings import MskSettings

# -------------------------------------------------------------------------------- errors
ERROR_STATUS = {
    "BadRequestException": 400,
    "NotFoundException": 404,
    "ConflictException": 409,
    "TopicExistsException": 409,
}


class MskError(Exception):
    def __init__(self, code: str, message: str, invalid_parameter: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.invalid_parameter = invalid_parameter

    def response(self) -> Response:
        body: dict[str, str] = {"message": self.message}
        if self.invalid_parameter:
            body["invalidParameter"] = self.invalid_parameter
        resp = Response(json.dumps(body), status=ERROR_STATUS[self.code], mimetype="application/json")
        resp.headers["x-amzn-ErrorType"] = self.code
        return resp


def bad_request(message: str, parameter: str | None = None) -> MskError:
    return MskError("BadRequestException", message, parameter)


def not_found(message: str, parameter: str | None = None) -> MskError:
    return MskError("NotFoundException", message, parameter)


# ------------------------------------------------------------------------------- configs
# Server defaults that DescribeTopic reports under the topic's own configs (MSK Provisioned,
# Kafka 3.x, 3 AZs).
DEFAULT_TOPIC_CONFIGS: dict[str, str] = {
    "cleanup.policy": "delete",
    "compression.type": "producer",
    "max.message.bytes": "1048588",
    "message.timestamp.type": "CreateTime",
    "min.insync.replicas": "2",
    "retention.bytes": "-1",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "unclean.leader.election.enable": "false",
}

# Kafka 3.6 topic-level configs; anything else is refused, as Kafka does.
KNOWN_TOPIC_CONFIGS = frozenset(
    """cleanup.policy compression.type delete.retention.ms file.delete.delay.ms flush.messages
    flush.ms follower.replication.throttled.replicas index.interval.bytes
    leader.replication.throttled.replicas local.retention.bytes local.retention.ms
    max.compaction.lag.ms max.message.bytes message.downconversion.enable message.format.version
    message.timestamp.after.max.ms message.timestamp.before.max.ms
    message.timestamp.difference.max.ms message.timestamp.type min.cleanable.dirty.ratio
    min.compaction.lag.ms min.insync.replicas preallocate remote.storage.enable retention.bytes
    retention.ms segment.bytes segment.index.bytes segment.jitter.ms segment.ms
    unclean.leader.election.enable""".split()
)

PROPERTY_LINE = re.compile(r"^(?P<key>[^=:\s]+)\s*(?:[=:]\s*|\s+)(?P<value>.*)$")


def scalar_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise bad_request(f"Invalid configs: the value of {key!r} must be a string, number or boolean.", "configs")


def parse_configs(encoded: Any) -> dict[str, str]:
    """``configs`` as sent: base64 of a JSON object (Terraform) or of Java-properties lines."""
    if not isinstance(encoded, str):
        raise bad_request("configs must be a Base64 string.", "configs")
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise bad_request("configs must be a valid Base64 string (of a JSON object or of key=value lines).", "configs") from None
    configs: dict[str, str] = {}
    if text.lstrip().startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError as err:
            raise bad_request(f"Invalid configs: not a JSON object ({err}).", "configs") from None
        if not isinstance(obj, dict):
            raise bad_request("Invalid configs: not a JSON object.", "configs")
        configs = {str(k): scalar_text(str(k), v) for k, v in obj.items()}
    else:
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "!")):
                continue
            match = PROPERTY_LINE.match(line)
            if not match:
                raise bad_request(f"Invalid configs: cannot parse line {line!r} (expected key=value).", "configs")
            configs[match["key"]] = match["value"].strip()
    unknown = sorted(k for k in configs if k not in KNOWN_TOPIC_CONFIGS)
    if unknown:
        raise bad_request(f"Invalid configs: unknown topic config name(s): {', '.join(unknown)}.", "configs")
    return configs


def encode_configs(configs: dict[str, str], fmt: str) -> str:
    effective = {**DEFAULT_TOPIC_CONFIGS, **configs}
    if fmt == "json":
        text = json.dumps(dict(sorted(effective.items())), separators=(",", ":"))
    else:
        text = "\n".join(f"{k}={v}" for k, v in sorted(effective.items()))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# -------------------------------------------------------------------------------- topics
TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


@dataclass(frozen=True)
class Revision:
    """One mutation of a topic: in effect from ``start``; its transition ends at ``done``."""

    kind: str  # CREATE | UPDATE | DELETE
    start: float
    done: float
    partition_count: int
    replication_factor: int
    configs: dict[str, str]


@dataclass(frozen=True)
class TopicView:
    name: str
    partition_count: int
    replication_factor: int
    configs: dict[str, str]
    status: str  # CREATING | UPDATING | DELETING | ACTIVE


def view_at(name: str, history: list[Revision], t: float) -> TopicView | None:
    """The topic as it was at time ``t`` (None: it did not exist)."""
    rev = next((r for r in reversed(history) if r.start <= t), None)
    if rev is None:
        return None
    in_progress = t < rev.done
    if rev.kind == "DELETE":
        if not in_progress:
            return None
        status = "DELETING"
    elif in_progress:
        status = "CREATING" if rev.kind == "CREATE" else "UPDATING"
    else:
        status = "ACTIVE"
    return TopicView(name, rev.partition_count, rev.replication_factor, rev.configs, status)


def prune(history: list[Revision], horizon: float) -> list[Revision]:
    """Drop what no read at or after ``horizon`` can see (empty list: forget the topic)."""
    keep_from = 0
    for i, rev in enumerate(history):
        if rev.start <= horizon:
            keep_from = i
    history = history[keep_from:]
    last = history[-1]
    if last.kind == "DELETE" and last.done <= horizon:
        return []
    return history


# ------------------------------------------------------------------------------ clusters
@dataclass(frozen=True)
class ClusterRef:
    arn: str
    cluster: Any  # moto.kafka.models.FakeKafkaCluster
    account: str
    region: str
    partition: str

    @property
    def name(self) -> str:
        return str(self.cluster.cluster_name)

    @property
    def uuid(self) -> str:
        # cluster/<name>/<uuid>-<n> (MSK's form, made by msk_compat; plain moto: cluster/<uuid>).
        return self.arn.split(":", 5)[5].split("/")[-1]

    @property
    def brokers(self) -> int:
        return int(self.cluster.number_of_broker_nodes or 1)

    def topic_arn(self, topic: str) -> str:
        return f"arn:{self.partition}:kafka:{self.region}:{self.account}:topic/{self.name}/{self.uuid}/{topic}"


def request_account(request: AwsRequest) -> str:
    """The account moto would use for this request (see BaseResponse.get_current_account)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = request.environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return str(header)
    from moto.iam.models import get_account_id_from

    auth = request.environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=([^/]+)/", auth)
    return get_account_id_from(match.group(1) if match else "AKIAEXAMPLE")


def find_cluster(request: AwsRequest, arn: str) -> ClusterRef:
    from moto.kafka.models import kafka_backends

    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kafka":
        raise bad_request(f"Invalid cluster ARN: {arn}", "clusterArn")
    account = request_account(request)
    region = request.call.region or parts[3]
    try:
        cluster = kafka_backends[account][region].clusters.get(arn)
    except KeyError:
        cluster = None
    if cluster is None:
        raise not_found(f"Cluster {arn} not found.", "clusterArn")
    return ClusterRef(arn, cluster, account, region, parts[1])


def kafka_version_at_least(version: Any, minimum: tuple[int, int]) -> bool:
    match = re.match(r"^(\d+)\.(\d+)", str(version or ""))
    if not match:
        return True  # unparsable (e.g. moto's "default-kafka-version"): do not refuse
    return (int(match[1]), int(match[2])) >= minimum


def require_topic_api(ref: ClusterRef) -> None:
    cluster = ref.cluster
    if cluster.cluster_type != "PROVISIONED":
        raise bad_request(f"Topic operations are available only for MSK Provisioned clusters; {ref.arn} is {cluster.cluster_type}.", "clusterArn")
    if cluster.state != "ACTIVE":
        raise bad_request(f"Topic operations need an ACTIVE cluster; {ref.arn} is {cluster.state}.", "clusterArn")
    if not kafka_version_at_least(cluster.kafka_version, (3, 6)):
        raise bad_request(f"Topic operations need Apache Kafka 3.6.0 or later; {ref.arn} runs {cluster.kafka_version}.", "clusterArn")



def short_token(seed: str, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    out = []
    for _ in range(length):
        digest, i = divmod(digest, len(alphabet))
        out.append(alphabet[i])
    return "".join(out)


def bootstrap_brokers(ref: ClusterRef) -> dict[str, str]:
    cluster = ref.cluster
    suffix = "amazonaws.com.cn" if ref.partition == "aws-cn" else "amazonaws.com"
    cell = 1 + int(hashlib.sha256(ref.arn.encode()).hexdigest(), 16) % 3
    if cluster.cluster_type != "PROVISIONED":
        host = f"boot-{short_token(ref.arn, 8)}.c{cell}.kafka-serverless.{ref.region}.{suffix}"
        return {"bootstrapBrokerStringSaslIam": f"{host}:9098"}

    label = re.sub(r"[^a-z0-9-]", "", ref.name.lower())[:63] or "cluster"
    hosts = [f"b-{n}.{label}.{short_token(ref.arn, 6)}.c{cell}.kafka.{ref.region}.{suffix}" for n in range(1, ref.brokers + 1)]

    def joined(port: int) -> str:
        return ",".join(f"{h}:{port}" for h in hosts)

    auth = cluster.client_authentication or {}
    sasl = auth.get("sasl") or {}
    tls_auth = bool((auth.get("tls") or {}).get("enabled", bool(auth.get("tls"))))
    # No clientAuthentication at all means unauthenticated access (MSK's default).
    unauthenticated = bool((auth.get("unauthenticated") or {}).get("enabled", not auth))
    in_transit = ((cluster.encryption_info or {}).get("encryptionInTransit") or {}).get("clientBroker", "TLS")
    tls = in_transit in ("TLS", "TLS_PLAINTEXT")
    plaintext = in_transit in ("PLAINTEXT", "TLS_PLAINTEXT")

    out: dict[str, str] = {}
    if plaintext and unauthenticated:
        out["bootstrapBrokerString"] = joined(9092)
    if tls and (unauthenticated or tls_auth):
        out["bootstrapBrokerStringTls"] = joined(9094)
    if (sasl.get("scram") or {}).get("enabled"):
        out["bootstrapBrokerStringSaslScram"] = joined(9096)
    if (sasl.get("iam") or {}).get("enabled"):
        out["bootstrapBrokerStringSaslIam"] = joined(9098)
    return out


# --------------------------------------------------------------------------------- state
class MskTopics:
    """Topic store; every method takes the lock."""

    def __init__(self, settings: MskSettings) -> None:
        self.lock = threading.RLock()
        self.settings = settings
        # cluster ARN -> topic name -> revisions, oldest first
        self.topics: dict[str, dict[str, list[Revision]]] = {}

    def reset(self) -> None:
        with self.lock:
            self.topics.clear()

    # ------------------------------------------------------------------ helpers
    def _cluster_topics(self, ref: ClusterRef, now: float) -> dict[str, list[Revision]]:
        horizon = now - self.settings.seconds("stale_ms")
        topics = self.topics.setdefault(ref.arn, {})
        for name in list(topics):
            kept = prune(topics[name], horizon)
            if kept:
                topics[name] = kept
            else:
                del topics[name]
        return topics

    def _read_time(self, now: float) -> float:
        return now - self.settings.seconds("stale_ms")

    def _delay(self) -> float:
        return self.settings.seconds("topic_delay_ms")

    def _current(self, topics: dict[str, list[Revision]], name: str, now: float) -> TopicView | None:
        history = topics.get(name)
        return view_at(name, history, now) if history else None

    def _replica_ids(self, ref: ClusterRef, view: TopicView) -> list[int]:
        n = ref.brokers
        return sorted({(p + r) % n + 1 for p in range(view.partition_count) for r in range(min(view.replication_factor, n))})

    # ------------------------------------------------------------------ operations
    def create(self, ref: ClusterRef, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("topicName")
        if not isinstance(name, str) or not name:
            raise bad_request("topicName is required.", "topicName")
        if not TOPIC_NAME.match(name) or name in (".", ".."):
            raise bad_request(
                f"Invalid topic name {name!r}: use 1-249 characters from a-z, A-Z, 0-9, '.', '_' and '-' (not '.' or '..').",
                "topicName",
            )
        partitions = body.get("partitionCount")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise bad_request(f"partitionCount must be an integer of at least 1, got {partitions!r}.", "partitionCount")
        replication = body.get("replicationFactor")
        if isinstance(replication, bool) or not isinstance(replication, int) or replication < 1:
            raise bad_request(f"replicationFactor must be an integer of at least 1, got {replication!r}.", "replicationFactor")
        if replication > ref.brokers:
            raise bad_request(
                f"Replication factor: {replication} larger than available brokers: {ref.brokers}.", "replicationFactor"
            )
        configs = parse_configs(body["configs"]) if body.get("configs") is not None else {}
        with self.lock:
            now = time.monotonic()
            topics = self._cluster_topics(ref, now)
            current = self._current(topics, name, now)
            if current is not None:
                detail = "is marked for deletion" if current.status == "DELETING" else "already exists"
                raise MskError("TopicExistsException", f"Topic '{name}' {detail}.", "topicName")
            rev = Revision("CREATE", now, now + self._delay(), partitions, replication, configs)
            topics.setdefault(name, []).append(rev)
        return {"topicArn": ref.topic_arn(name), "topicName": name, "status": "CREATING"}

    def describe(self, ref: ClusterRef, name: str) -> dict[str, Any]:
        with self.lock:
            now = time.monotonic()
            topics = self._cluster_topics(ref, now)
            history = topics.get(name)
            view = view_at(name, history, self._read_time(now)) if history else None
            fmt = self.settings["describe_configs_format"]
        if view is None:
            raise not_found(f"Topic {name} does not exist in cluster {ref.arn}.", "topicName")
        return {
            "topicArn": ref.topic_arn(name),
            "topicName": name,
            "replicationFactor": view.replication_factor,
            "partitionCount": view.partition_count,
            "configs": encode_configs(view.configs, fmt),
            "status": view.status,
            "replicaIds": self._replica_ids(ref, view),
        }

    def update(self, ref: ClusterRef, name: str, body: dict[str, Any]) -> dict[str, Any]:
        partitions = body.get("partitionCount")
        configs_raw = body.get("configs")
        if partitions is None and configs_raw is None:
            raise bad_request("You must specify either configs or partitionCount to update.")
        if partitions is not None and configs_raw is not None:
            raise bad_request(
                "You can update only one of configs or partitionCount in a single request; make separate UpdateTopic calls."
            )
        if partitions is not None and (isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1):
            raise bad_request(f"partitionCount must be an integer of at least 1, got {partitions!r}.", "partitionCount")
        new_configs = parse_configs(configs_raw) if configs_raw is not None else None
        with self.lock:
            now = time.monotonic()
            topics = self._cluster_topics(ref, now)
            current = self._current(topics, name, now)
            if current is None:
                raise not_found(f"Topic {name} does not exist in cluster {ref.arn}.", "topicName")
            if current.status != "ACTIVE":
                raise bad_request(f"Topic {name} is {current.status}; it can be updated only when ACTIVE.", "topicName")
            rev = Revision("UPDATE", now, now + self._delay(), current.partition_count, current.replication_factor, current.configs)
            if partitions is not None:
                if partitions < current.partition_count:
                    raise bad_request(
                        f"Topic currently has {current.partition_count} partitions, which is higher than the requested {partitions}; partitions can only be increased.",
                        "partitionCount",
                    )
                if partitions == current.partition_count:
                    raise bad_request(f"Topic already has {partitions} partitions.", "partitionCount")
                rev = replace(rev, partition_count=partitions)
            else:
                assert new_configs is not None
                merged = {**current.configs, **new_configs} if self.settings["update_configs_mode"] == "merge" else new_configs
                rev = replace(rev, configs=merged)
            topics[name].append(rev)
        return {"topicArn": ref.topic_arn(name), "topicName": name, "status": "UPDATING"}

    def delete(self, ref: ClusterRef, name: str) -> dict[str, Any]:
        with self.lock:
            now = time.monotonic()
            topics = self._cluster_topics(ref, now)
            current = self._current(topics, name, now)
            if current is None:
                raise not_found(f"Topic {name} does not exist in cluster {ref.arn}.", "topicName")
            if current.status == "DELETING":
                raise not_found(f"Topic {name} is already being deleted.", "topicName")
            rev = Revision("DELETE", now, now + self._delay(), current.partition_count, current.replication_factor, current.configs)
            topics[name].append(rev)
        return {"topicArn": ref.topic_arn(name), "topicName": name, "status": "DELETING"}

    def list(self, ref: ClusterRef, query: dict[str, list[str]]) -> dict[str, Any]:
        max_results = 100
        if query.get("maxResults"):
            raw = query["maxResults"][0]
            if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= 100:
                raise bad_request(f"maxResults must be an integer between 1 and 100, got {raw!r}.", "maxResults")
            max_results = int(raw)
        prefix = (query.get("topicNameFilter") or [""])[0]
        after = ""
        if query.get("nextToken"):
            after = decode_token(query["nextToken"][0])
        with self.lock:
            now = time.monotonic()
            topics = self._cluster_topics(ref, now)
            t = self._read_time(now)
            views = [v for name, hist in topics.items() if (v := view_at(name, hist, t)) is not None]
        views = sorted((v for v in views if v.name.startswith(prefix) and v.name > after), key=lambda v: v.name)
        page = views[:max_results]
        out: dict[str, Any] = {
            "topics": [
                {
                    "topicArn": ref.topic_arn(v.name),
                    "topicName": v.name,
                    "replicationFactor": v.replication_factor,
                    "partitionCount": v.partition_count,
                    "outOfSyncReplicaCount": 0,
                    "replicaIds": self._replica_ids(ref, v),
                }
                for v in page
            ]
        }
        if len(views) > max_results:
            out["nextToken"] = encode_token(page[-1].name)
        return out


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode("ascii")


def decode_token(token: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["after"]
        if isinstance(after, str):
            return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise bad_request("Invalid nextToken.", "nextToken")


# ------------------------------------------------------------------------------- routing
TOPICS_PATH = re.compile(r"^/v1/clusters/(?P<arn>.+)/topics/?$")
TOPIC_PATH = re.compile(r"^/v1/clusters/(?P<arn>.+)/topics/(?P<topic>[^/]+)/?$")
BROKERS_PATH = re.compile(r"^/v1/clusters/(?P<arn>.+)/bootstrap-brokers/?$")


def json_body(request: AwsRequest) -> dict[str, Any]:
    return json_object(request.werkzeug().get_data())


def json_object(data: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (empty means `{}`), or MSK's BadRequest."""
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except ValueError:
        raise bad_request("Invalid request body: not JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid request body: expected a JSON object.")
    return body


_store: MskTopics | None = None


def store() -> MskTopics:
    """The topic store that ``install`` made, for the data path's Kafka log (which reads the topics
    as they are now); RuntimeError before ``install``."""
    if _store is None:
        raise RuntimeError("sandbox_ext.msk_topics is not installed (see EXTENSIONS)")
    return _store


def install(sandbox: Sandbox) -> None:
    global _store
    store = _store = MskTopics(msk_settings.current())

    def handle(request: AwsRequest) -> Response | None:
        path, method = request.path, request.method
        if match := TOPIC_PATH.match(path):
            ops = {"GET": "describe", "PUT": "update", "DELETE": "delete"}
        elif match := TOPICS_PATH.match(path):
            ops = {"GET": "list", "POST": "create"}
        elif match := BROKERS_PATH.match(path):
            ops = {"GET": "brokers"}
        else:
            return None
        op = ops.get(method)
        if op is None:
            return None
        try:
            ref = find_cluster(request, match["arn"])
            if op == "brokers":
                if ref.cluster.state != "ACTIVE":
                    raise bad_request(f"You can't get bootstrap broker nodes for a cluster in {ref.cluster.state} state.")
                return json_response(bootstrap_brokers(ref))
            require_topic_api(ref)
            if op == "list":
                return json_response(store.list(ref, parse_qs(str(request.environ.get("QUERY_STRING", "")))))
            if op == "create":
                return json_response(store.create(ref, json_body(request)))
            topic = match["topic"]
            if op == "describe":
                return json_response(store.describe(ref, topic))
            if op == "update":
                return json_response(store.update(ref, topic, json_body(request)))
            return json_response(store.delete(ref, topic))
        except MskError as err:
            return err.response()

    def hook(request: AwsRequest) -> Response | None:
        if request.call.service != "kafka":
            return None
        return handle(request)

    sandbox.add_request_hook("msk_topics", hook)
    sandbox.add_reset_hook(store.reset)
