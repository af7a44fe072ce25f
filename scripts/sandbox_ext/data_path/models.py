"""``DataPath``, the data path's state and what moves it: the Kafka log, the stand-ins' boot
configurations and start/stop switches, the consumer groups and the sink's views, the network and
MSK IAM switches. It serves a stand-in's requests (``deliver``: the network, the configuration,
the cluster, MSK IAM, then the v2 API), runs the sink (``tick``) and answers the
``/_sandbox/restproxy`` and ``/_sandbox/sink`` views."""

from __future__ import annotations

import gzip
import re
import threading
from typing import Any
from urllib.parse import unquote

from .. import apigateway_compat, kafka_iam, network
from ..apigateway_compat import EndpointAnswer, EndpointRequest
from ..core import SettingsStore
from ..msk_topics import DEFAULT_TOPIC_CONFIGS, ClusterRef, TopicView
from .controls import network_settings_from_env, validate_network_setting
from .kafka import (
    IAM_BROKERS,
    KafkaAuth,
    KafkaLog,
    Record,
    broker_network,
    cluster_by_arn,
    cluster_topics,
    connector_broker_key,
    find_cluster,
    producible,
    server_port,
    topic_view,
)
from .restproxy import (
    EMBEDDED_FORMATS,
    KAFKA_AUTHENTICATION_ERROR,
    KAFKA_AUTHORIZATION_ERROR,
    ProxyConfig,
    ProxyError,
    all_instances,
    answer,
    error_entry,
    find_instance,
    jersey,
    media_type,
    parse_produce,
    proxy_config,
    request_status,
    serialize,
    user_data_text,
)
from .sink import (
    BROKERS_UNREACHABLE,
    DEFAULT_PARTITIONER,
    JSON_FORMAT,
    S3_SINK,
    S3_UNREACHABLE,
    ConversionError,
    GroupState,
    SinkView,
    convert_value,
    object_key,
)


# ------------------------------------------------------------------------------ the state
class DataPath:
    """Log, stand-in proxies and sink; every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # A request asked for a tick while one ran: the running one goes round again.
        self.again = False
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

    def tick(self, wait: bool = True) -> None:
        """Let every RUNNING S3 sink connector consume what it can. With ``wait`` false (a
        request passing by), a tick already running is not waited for: it goes round once more
        instead, and the request is answered meanwhile, as MSK Connect's sink runs beside the
        requests, not inside them. Requests of a fleet would otherwise queue behind one tick
        each, every one checking every connector's network paths."""
        if not self.lock.acquire(blocking=wait):
            self.again = True
            return
        try:
            while True:
                self.again = False
                self.tick_locked()
                if not self.again:
                    return
        finally:
            self.lock.release()

    def tick_locked(self) -> None:
        from moto.kafka.models import kafka_backends

        from .. import kafkaconnect

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
