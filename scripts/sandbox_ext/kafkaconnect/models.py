"""MSK Connect's state: custom plugins, worker configurations, connectors and their operations,
per (account, region), and the store that moves them through their states (``KafkaConnect``)."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import io
import json
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .checks import (
    AUTHENTICATION_TYPES,
    CONTENT_TYPES,
    ENCRYPTION_TYPES,
    KAFKA_CONNECT_VERSIONS,
    MAX_TAGS,
    NETWORK_TYPES,
    Scope,
    check_capacity,
    check_choice,
    check_configuration,
    check_description,
    check_kafka_cluster,
    check_log_delivery,
    check_name,
    check_object,
    check_properties_file,
    check_role,
    check_tags,
    identical,
    is_int,
    new_version,
    plugin_file,
    rfc3339,
    version_mismatch,
)
from .controls import Failure, KafkaConnectSettings
from .exceptions import bad_request, conflict, not_found


# ----------------------------------------------------------------------------- resources
@dataclass
class CustomPlugin:
    arn: str
    name: str
    description: str | None
    content_type: str
    location: dict[str, Any]  # CustomPluginLocationDescription
    file_md5: str
    file_size: int
    created: float  # epoch
    tags: dict[str, str]
    state: str  # CREATING | ACTIVE | CREATE_FAILED | DELETING
    until: float  # monotonic end of CREATING / DELETING
    outcome: str  # where CREATING ends: ACTIVE | CREATE_FAILED
    failure: dict[str, str] | None  # stateDescription once CREATE_FAILED

    def revision(self) -> dict[str, Any]:
        """CustomPluginRevisionSummary of revision 1."""
        out: dict[str, Any] = {
            "contentType": self.content_type,
            "creationTime": rfc3339(self.created),
            "fileDescription": {"fileMd5": self.file_md5, "fileSize": self.file_size},
            "location": copy.deepcopy(self.location),
            "revision": 1,
        }
        if self.description is not None:
            out["description"] = self.description
        return out

    def summary(self) -> dict[str, Any]:
        """CustomPluginSummary."""
        out: dict[str, Any] = {
            "creationTime": rfc3339(self.created),
            "customPluginArn": self.arn,
            "customPluginState": self.state,
            "name": self.name,
        }
        if self.description is not None:
            out["description"] = self.description
        if self.state in ("ACTIVE", "DELETING"):
            out["latestRevision"] = self.revision()
        return out

    def describe(self) -> dict[str, Any]:
        """DescribeCustomPluginResponse."""
        out = self.summary()
        if self.state == "CREATE_FAILED" and self.failure:
            out["stateDescription"] = dict(self.failure)
        return out


@dataclass
class WorkerConfiguration:
    arn: str
    name: str
    description: str | None
    content: str  # propertiesFileContent (Base64)
    created: float  # epoch
    tags: dict[str, str]
    state: str = "ACTIVE"  # ACTIVE | DELETING
    until: float = 0.0  # monotonic end of DELETING

    def revision(self, with_content: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"creationTime": rfc3339(self.created), "revision": 1}
        if self.description is not None:
            out["description"] = self.description
        if with_content:
            out["propertiesFileContent"] = self.content
        return out

    def summary(self, with_content: bool = False) -> dict[str, Any]:
        """WorkerConfigurationSummary (DescribeWorkerConfiguration: with the content)."""
        out: dict[str, Any] = {
            "creationTime": rfc3339(self.created),
            "latestRevision": self.revision(with_content),
            "name": self.name,
            "workerConfigurationArn": self.arn,
            "workerConfigurationState": self.state,
        }
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass
class ConnectorOperation:
    """One UpdateConnector, as DescribeConnectorOperation reports it."""

    arn: str
    connector_arn: str
    kind: str  # UPDATE_WORKER_SETTING | UPDATE_CONNECTOR_CONFIGURATION
    started: float  # epoch
    done: float  # monotonic
    duration: float
    origin: dict[str, Any]  # WorkerSetting, or the connector configuration
    target: dict[str, Any]
    failure: Failure | None  # armed fail-next: where the operation ends
    state: str = "UPDATE_IN_PROGRESS"
    error: dict[str, str] | None = None

    @property
    def finished(self) -> bool:
        return self.state != "UPDATE_IN_PROGRESS"

    def steps(self) -> list[dict[str, str]]:
        middle = self.kind  # UPDATE_WORKER_SETTING / UPDATE_CONNECTOR_CONFIGURATION are step types too
        if self.state == "UPDATE_IN_PROGRESS":
            states = ("COMPLETED", "IN_PROGRESS", "PENDING")
        elif self.state == "UPDATE_COMPLETE":
            states = ("COMPLETED", "COMPLETED", "COMPLETED")
        else:
            states = ("COMPLETED", "FAILED", "CANCELLED")
        return [
            {"stepType": step, "stepState": state}
            for step, state in zip(("INITIALIZE_UPDATE", middle, "FINALIZE_UPDATE"), states, strict=True)
        ]

    def _times(self) -> dict[str, str]:
        out = {"creationTime": rfc3339(self.started)}
        if self.finished:
            out["endTime"] = rfc3339(self.started + self.duration)
        return out

    def summary(self) -> dict[str, Any]:
        """ConnectorOperationSummary."""
        return {
            "connectorOperationArn": self.arn,
            "connectorOperationType": self.kind,
            "connectorOperationState": self.state,
            **self._times(),
        }

    def describe(self) -> dict[str, Any]:
        """DescribeConnectorOperationResponse."""
        out: dict[str, Any] = {
            "connectorArn": self.connector_arn,
            "connectorOperationArn": self.arn,
            "connectorOperationState": self.state,
            "connectorOperationType": self.kind,
            "operationSteps": self.steps(),
            **self._times(),
        }
        if self.kind == "UPDATE_WORKER_SETTING":
            out["originWorkerSetting"] = copy.deepcopy(self.origin)
            out["targetWorkerSetting"] = copy.deepcopy(self.target)
        else:
            # AWS redacts sensitive values here; the sandbox keeps them as given.
            out["originConnectorConfiguration"] = dict(self.origin)
            out["targetConnectorConfiguration"] = dict(self.target)
        if self.error is not None:
            out["errorInfo"] = dict(self.error)
        return out


@dataclass
class Connector:
    arn: str
    name: str
    uuid: str
    created: float  # epoch
    settings: dict[str, Any]  # ConnectorSummary members fixed at creation (kafkaCluster, plugins, …)
    capacity: dict[str, Any]  # CapacityDescription
    configuration: dict[str, str]
    tags: dict[str, str]
    version: str
    state: str  # CREATING | RUNNING | UPDATING | DELETING | FAILED
    until: float  # monotonic end of CREATING / UPDATING / DELETING
    create_failure: Failure | None = None  # armed fail-next: CREATING ends FAILED
    state_description: dict[str, str] | None = None
    operation: ConnectorOperation | None = None

    def plugin_arns(self) -> set[str]:
        return {p["customPlugin"]["customPluginArn"] for p in self.settings["plugins"]}

    def worker_configuration_arn(self) -> str | None:
        worker = self.settings.get("workerConfiguration")
        return worker["workerConfigurationArn"] if worker else None

    def worker_setting(self, capacity: dict[str, Any]) -> dict[str, Any]:
        """WorkerSetting with ``capacity``."""
        out: dict[str, Any] = {"capacity": copy.deepcopy(capacity), "plugins": copy.deepcopy(self.settings["plugins"])}
        if self.settings.get("workerConfiguration"):
            out["workerConfiguration"] = copy.deepcopy(self.settings["workerConfiguration"])
        return out

    def summary(self) -> dict[str, Any]:
        """ConnectorSummary."""
        return {
            "capacity": copy.deepcopy(self.capacity),
            "connectorArn": self.arn,
            "connectorName": self.name,
            "connectorState": self.state,
            "creationTime": rfc3339(self.created),
            "currentVersion": self.version,
            **copy.deepcopy(self.settings),
        }

    def describe(self) -> dict[str, Any]:
        """DescribeConnectorResponse."""
        out = {**self.summary(), "connectorConfiguration": dict(self.configuration)}
        if self.state_description is not None:
            out["stateDescription"] = dict(self.state_description)
        return out


@dataclass
class RegionState:
    plugins: dict[str, CustomPlugin] = field(default_factory=dict)
    worker_configurations: dict[str, WorkerConfiguration] = field(default_factory=dict)
    connectors: dict[str, Connector] = field(default_factory=dict)
    operations: dict[str, ConnectorOperation] = field(default_factory=dict)  # outlive their connector


@dataclass(frozen=True)
class RunningConnector:
    """A RUNNING connector, for a data-path emulation (``running_connectors``)."""

    arn: str
    name: str
    region: str
    configuration: dict[str, str]
    bootstrap_servers: list[str]
    authentication_type: str  # NONE | IAM
    encryption_type: str  # PLAINTEXT | TLS
    subnets: tuple[str, ...] = ()  # kafkaCluster.apacheKafkaCluster.vpc: where the workers run
    security_groups: tuple[str, ...] = ()  # … and their groups (none given: the VPC's default)
    service_execution_role_arn: str | None = None  # the IAM role the workers act as (MSK IAM)

    @property
    def topics(self) -> list[str]:
        return [t.strip() for t in self.configuration.get("topics", "").split(",") if t.strip()]

    @property
    def topics_regex(self) -> str | None:
        return self.configuration.get("topics.regex")

    @property
    def bucket(self) -> str | None:
        return self.configuration.get("s3.bucket.name")

    @property
    def flush_size(self) -> int | None:
        raw = self.configuration.get("flush.size", "").strip()
        return int(raw) if raw.isdigit() else None


# ----------------------------------------------------------------------------------- paging
def first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def encode_token(after: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode("ascii")


def decode_token(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request("Invalid nextToken.") from None


def paginate(items: list[Any], key: Callable[[Any], Any], query: dict[str, list[str]]) -> tuple[list[Any], str | None]:
    """One page of ``items`` in ``key`` order (maxResults 1-100, default 100; opaque nextToken)."""
    max_results = 100
    raw = first(query, "maxResults")
    if raw is not None:
        if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= 100:
            raise bad_request(f"maxResults must be an integer between 1 and 100, got {raw!r}.")
        max_results = int(raw)
    ordered = sorted(items, key=key)
    token = first(query, "nextToken")
    if token:
        after = decode_token(token)
        try:
            ordered = [item for item in ordered if json.loads(json.dumps(key(item))) > after]
        except TypeError:
            raise bad_request("Invalid nextToken.") from None
    page = ordered[:max_results]
    return page, (encode_token(key(page[-1])) if len(ordered) > max_results else None)


# ------------------------------------------------------------------------------ the store
class KafkaConnect:
    """All MSK Connect state; every method takes the lock."""

    def __init__(self, settings: KafkaConnectSettings) -> None:
        self.lock = threading.RLock()
        self.settings = settings
        self.regions: dict[tuple[str, str], RegionState] = {}
        self.failures: list[Failure] = []

    def reset(self) -> None:
        with self.lock:
            self.regions.clear()
            self.failures.clear()

    # ------------------------------------------------------------------ helpers
    def region(self, scope: Scope) -> RegionState:
        """The region's state, with every transition that is due done."""
        with self.lock:
            state = self.regions.setdefault((scope.account, scope.region), RegionState())
            self.settle(state)
            return state

    def settle(self, state: RegionState) -> None:
        now = time.monotonic()
        with self.lock:
            for arn, plugin in list(state.plugins.items()):
                if now < plugin.until:
                    continue
                if plugin.state == "CREATING":
                    plugin.state = plugin.outcome
                elif plugin.state == "DELETING":
                    del state.plugins[arn]
            for arn, worker in list(state.worker_configurations.items()):
                if worker.state == "DELETING" and now >= worker.until:
                    del state.worker_configurations[arn]
            for arn, connector in list(state.connectors.items()):
                if now < connector.until:
                    continue
                if connector.state == "CREATING":
                    if connector.create_failure is not None:
                        connector.state = "FAILED"
                        connector.state_description = connector.create_failure.info()
                    else:
                        connector.state = "RUNNING"
                elif connector.state == "UPDATING":
                    self._finish(connector)
                    connector.state = "RUNNING"
                elif connector.state == "DELETING":
                    del state.connectors[arn]

    @staticmethod
    def _finish(connector: Connector) -> None:
        op = connector.operation
        connector.operation = None
        if op is None:
            return
        if op.failure is not None:
            # The connector keeps its old capacity/configuration and currentVersion.
            op.state, op.error = op.failure.state, op.failure.info()
            return
        if op.kind == "UPDATE_WORKER_SETTING":
            connector.capacity = copy.deepcopy(op.target["capacity"])
        else:
            connector.configuration = dict(op.target)
        connector.version = new_version()
        op.state = "UPDATE_COMPLETE"

    def take_failure(self, operation: str) -> Failure | None:
        with self.lock:
            failure = next((f for f in self.failures if f.operation == operation and f.fired < f.count), None)
            if failure is not None:
                failure.fired += 1
            return failure

    def arm(self, failure: Failure) -> None:
        with self.lock:
            self.failures.append(failure)

    def disarm(self) -> None:
        with self.lock:
            self.failures.clear()

    def armed(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(f) for f in self.failures]

    def running(self, account: str, region: str) -> list[RunningConnector]:
        with self.lock:
            state = self.regions.get((account, region))
            if state is None:
                return []
            self.settle(state)
            out = []
            for c in state.connectors.values():
                if c.state != "RUNNING":
                    continue
                apache = c.settings["kafkaCluster"]["apacheKafkaCluster"]
                servers = apache["bootstrapServers"]
                vpc = apache.get("vpc") or {}
                out.append(
                    RunningConnector(
                        arn=c.arn,
                        name=c.name,
                        region=region,
                        configuration=dict(c.configuration),
                        bootstrap_servers=[s.strip() for s in servers.split(",") if s.strip()],
                        authentication_type=c.settings["kafkaClusterClientAuthentication"]["authenticationType"],
                        encryption_type=c.settings["kafkaClusterEncryptionInTransit"]["encryptionType"],
                        subnets=tuple(vpc.get("subnets") or ()),
                        security_groups=tuple(vpc.get("securityGroups") or ()),
                        service_execution_role_arn=c.settings.get("serviceExecutionRoleArn"),
                    )
                )
            return sorted(out, key=lambda r: r.name)

    # ------------------------------------------------------------------ custom plugins
    def create_plugin(self, scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
        name = check_name(body.get("name"), "name")
        content_type = body.get("contentType")
        if content_type not in CONTENT_TYPES:
            raise bad_request(f"contentType must be one of {', '.join(CONTENT_TYPES)}, got {content_type!r}.")
        description = check_description(body.get("description"), "description")
        tags = check_tags(body.get("tags"))
        location, data = plugin_file(scope, body.get("location"))
        outcome, failure = "ACTIVE", None
        if content_type == "ZIP" and not zipfile.is_zipfile(io.BytesIO(data)):
            outcome = "CREATE_FAILED"
            s3 = location["s3Location"]
            failure = {
                "code": "InvalidCustomPluginFile",
                "message": f"The custom plugin file {s3['fileKey']} in {s3['bucketArn']} is not a valid ZIP file.",
            }
        with self.lock:
            state = self.region(scope)
            if any(p.name == name for p in state.plugins.values()):
                raise conflict(f"A custom plugin with the name {name} already exists.")
            plugin = CustomPlugin(
                arn=scope.arn(f"custom-plugin/{name}/{uuid.uuid4()}"),
                name=name,
                description=description,
                content_type=content_type,
                location=location,
                file_md5=hashlib.md5(data).hexdigest(),
                file_size=len(data),
                created=time.time(),
                tags=tags,
                state="CREATING",
                until=time.monotonic() + self.settings.seconds("plugin_delay_ms"),
                outcome=outcome,
                failure=failure,
            )
            state.plugins[plugin.arn] = plugin
        return {"customPluginArn": plugin.arn, "customPluginState": "CREATING", "name": name, "revision": 1}

    def plugin(self, scope: Scope, arn: str) -> CustomPlugin:
        with self.lock:
            plugin = self.region(scope).plugins.get(arn)
        if plugin is None:
            raise not_found(f"The custom plugin {arn} does not exist.")
        return plugin

    def describe_plugin(self, scope: Scope, arn: str) -> dict[str, Any]:
        with self.lock:
            return self.plugin(scope, arn).describe()

    def list_plugins(self, scope: Scope, query: dict[str, list[str]]) -> dict[str, Any]:
        prefix = first(query, "namePrefix") or ""
        with self.lock:
            plugins = [p for p in self.region(scope).plugins.values() if p.name.startswith(prefix)]
            page, token = paginate(plugins, lambda p: p.name, query)
            out: dict[str, Any] = {"customPlugins": [p.summary() for p in page]}
        if token:
            out["nextToken"] = token
        return out

    def delete_plugin(self, scope: Scope, arn: str) -> dict[str, Any]:
        with self.lock:
            state = self.region(scope)
            plugin = self.plugin(scope, arn)
            if plugin.state == "DELETING":
                raise not_found(f"The custom plugin {arn} is already being deleted.")
            users = sorted(c.name for c in state.connectors.values() if arn in c.plugin_arns())
            if users:
                raise bad_request(
                    f"The custom plugin {arn} is used by connector(s) {', '.join(users)}; delete them before the plugin."
                )
            plugin.state, plugin.until = "DELETING", time.monotonic() + self.settings.seconds("plugin_delay_ms")
        return {"customPluginArn": arn, "customPluginState": "DELETING"}

    # ------------------------------------------------------------------ worker configurations
    def create_worker_configuration(self, scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
        name = check_name(body.get("name"), "name")
        description = check_description(body.get("description"), "description")
        content = check_properties_file(body.get("propertiesFileContent"))
        tags = check_tags(body.get("tags"))
        with self.lock:
            state = self.region(scope)
            if any(w.name == name for w in state.worker_configurations.values()):
                raise conflict(f"A worker configuration with the name {name} already exists.")
            worker = WorkerConfiguration(
                arn=scope.arn(f"worker-configuration/{name}/{uuid.uuid4()}"),
                name=name,
                description=description,
                content=content,
                created=time.time(),
                tags=tags,
            )
            state.worker_configurations[worker.arn] = worker
            out = worker.summary()
        out.pop("description", None)  # CreateWorkerConfigurationResponse has no description
        return out

    def worker_configuration(self, scope: Scope, arn: str) -> WorkerConfiguration:
        with self.lock:
            worker = self.region(scope).worker_configurations.get(arn)
        if worker is None:
            raise not_found(f"The worker configuration {arn} does not exist.")
        return worker

    def describe_worker_configuration(self, scope: Scope, arn: str) -> dict[str, Any]:
        with self.lock:
            return self.worker_configuration(scope, arn).summary(with_content=True)

    def list_worker_configurations(self, scope: Scope, query: dict[str, list[str]]) -> dict[str, Any]:
        prefix = first(query, "namePrefix") or ""
        with self.lock:
            workers = [w for w in self.region(scope).worker_configurations.values() if w.name.startswith(prefix)]
            page, token = paginate(workers, lambda w: w.name, query)
            out: dict[str, Any] = {"workerConfigurations": [w.summary() for w in page]}
        if token:
            out["nextToken"] = token
        return out

    def delete_worker_configuration(self, scope: Scope, arn: str) -> dict[str, Any]:
        with self.lock:
            state = self.region(scope)
            worker = self.worker_configuration(scope, arn)
            if worker.state == "DELETING":
                raise not_found(f"The worker configuration {arn} is already being deleted.")
            users = sorted(c.name for c in state.connectors.values() if c.worker_configuration_arn() == arn)
            if users:
                raise bad_request(
                    f"The worker configuration {arn} is used by connector(s) {', '.join(users)}; delete them before it."
                )
            worker.state, worker.until = "DELETING", time.monotonic() + self.settings.seconds("plugin_delay_ms")
        return {"workerConfigurationArn": arn, "workerConfigurationState": "DELETING"}

    # ------------------------------------------------------------------ connectors
    def _check_plugins(self, state: RegionState, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list) or len(value) != 1:
            raise bad_request("plugins must be a single-element list holding one customPlugin.")
        out = []
        for entry in value:
            custom = check_object(check_object(entry, "plugins[]").get("customPlugin"), "plugins[].customPlugin")
            arn, revision = custom.get("customPluginArn"), custom.get("revision")
            plugin = state.plugins.get(arn) if isinstance(arn, str) else None
            if plugin is None:
                raise bad_request(f"The custom plugin {arn} does not exist.")
            if plugin.state != "ACTIVE":
                raise bad_request(f"The custom plugin {arn} is {plugin.state}; a connector needs an ACTIVE plugin.")
            if not is_int(revision) or revision != 1:
                raise bad_request(f"The custom plugin {arn} has no revision {revision!r} (its latest revision is 1).")
            out.append({"customPlugin": {"customPluginArn": arn, "revision": revision}})
        return out

    def _check_worker_configuration(self, state: RegionState, value: Any) -> dict[str, Any]:
        spec = check_object(value, "workerConfiguration")
        arn, revision = spec.get("workerConfigurationArn"), spec.get("revision")
        worker = state.worker_configurations.get(arn) if isinstance(arn, str) else None
        if worker is None or worker.state != "ACTIVE":
            raise bad_request(f"The worker configuration {arn} does not exist or is being deleted.")
        if not is_int(revision) or revision != 1:
            raise bad_request(f"The worker configuration {arn} has no revision {revision!r} (its latest revision is 1).")
        return {"revision": revision, "workerConfigurationArn": arn}

    def create_connector(self, scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
        name = check_name(body.get("connectorName"), "connectorName")
        description = check_description(body.get("connectorDescription"), "connectorDescription")
        capacity = check_capacity(body.get("capacity"), update=False)
        configuration = check_configuration(body.get("connectorConfiguration"))
        settings: dict[str, Any] = {}
        if description is not None:
            settings["connectorDescription"] = description
        settings["kafkaCluster"] = check_kafka_cluster(body.get("kafkaCluster"))
        settings["kafkaClusterClientAuthentication"] = check_choice(
            body.get("kafkaClusterClientAuthentication"), "kafkaClusterClientAuthentication", "authenticationType", AUTHENTICATION_TYPES
        )
        settings["kafkaClusterEncryptionInTransit"] = check_choice(
            body.get("kafkaClusterEncryptionInTransit"), "kafkaClusterEncryptionInTransit", "encryptionType", ENCRYPTION_TYPES
        )
        version = body.get("kafkaConnectVersion")
        if version not in KAFKA_CONNECT_VERSIONS:
            raise bad_request(f"kafkaConnectVersion must be one of {', '.join(KAFKA_CONNECT_VERSIONS)}, got {version!r}.")
        settings["kafkaConnectVersion"] = version
        if body.get("logDelivery") is not None:
            settings["logDelivery"] = check_log_delivery(body["logDelivery"])
        network = body.get("networkType", "IPV4")
        if network not in NETWORK_TYPES:
            raise bad_request(f"networkType must be one of {', '.join(NETWORK_TYPES)}, got {network!r}.")
        settings["networkType"] = network
        settings["serviceExecutionRoleArn"] = check_role(scope, body.get("serviceExecutionRoleArn"))
        tags = check_tags(body.get("tags"))
        with self.lock:
            state = self.region(scope)
            settings["plugins"] = self._check_plugins(state, body.get("plugins"))
            if body.get("workerConfiguration") is not None:
                settings["workerConfiguration"] = self._check_worker_configuration(state, body["workerConfiguration"])
            if any(c.name == name for c in state.connectors.values()):
                raise conflict(f"A connector with the name {name} already exists.")
            connector_uuid = str(uuid.uuid4())
            connector = Connector(
                arn=scope.arn(f"connector/{name}/{connector_uuid}"),
                name=name,
                uuid=connector_uuid,
                created=time.time(),
                settings=settings,
                capacity=capacity,
                configuration=configuration,
                tags=tags,
                version=new_version(),
                state="CREATING",
                until=time.monotonic() + self.settings.seconds("connector_delay_ms"),
                create_failure=self.take_failure("create"),
            )
            state.connectors[connector.arn] = connector
        return {"connectorArn": connector.arn, "connectorName": name, "connectorState": "CREATING"}

    def connector(self, scope: Scope, arn: str) -> Connector:
        with self.lock:
            connector = self.region(scope).connectors.get(arn)
        if connector is None:
            raise not_found(f"The connector {arn} does not exist.")
        return connector

    def describe_connector(self, scope: Scope, arn: str) -> dict[str, Any]:
        with self.lock:
            return self.connector(scope, arn).describe()

    def list_connectors(self, scope: Scope, query: dict[str, list[str]]) -> dict[str, Any]:
        prefix = first(query, "connectorNamePrefix") or ""
        with self.lock:
            connectors = [c for c in self.region(scope).connectors.values() if c.name.startswith(prefix)]
            page, token = paginate(connectors, lambda c: c.name, query)
            out: dict[str, Any] = {"connectors": [c.summary() for c in page]}
        if token:
            out["nextToken"] = token
        return out

    def update_connector(self, scope: Scope, arn: str, query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
        version = first(query, "currentVersion")
        if not version:
            raise bad_request("currentVersion is required.")
        new_capacity, new_configuration = body.get("capacity"), body.get("connectorConfiguration")
        other_worker = [k for k in ("plugins", "workerConfiguration", "useDefaultWorkerConfiguration") if body.get(k) is not None]
        worker_given = new_capacity is not None or bool(other_worker)
        if worker_given and new_configuration is not None:
            raise bad_request(
                "You can update either the connector's worker setting (capacity, plugins, workerConfiguration) "
                "or its connector configuration, but not both in the same request."
            )
        if other_worker:
            raise bad_request(
                f"Updating {', '.join(other_worker)} is not emulated by the pinfra sandbox; update capacity or connectorConfiguration."
            )
        if not worker_given and new_configuration is None:
            raise bad_request("Specify capacity or connectorConfiguration to update.")
        with self.lock:
            state = self.region(scope)
            connector = self.connector(scope, arn)
            if connector.state != "RUNNING":
                raise bad_request(f"The connector {connector.name} is {connector.state}; it can be updated only when RUNNING.")
            if version != connector.version:
                raise version_mismatch(connector, version)
            if new_capacity is not None:
                target_capacity = check_capacity(new_capacity, update=True)
                if target_capacity == connector.capacity:
                    raise identical(next(iter(target_capacity)))
                kind = "UPDATE_WORKER_SETTING"
                origin, target = connector.worker_setting(connector.capacity), connector.worker_setting(target_capacity)
            else:
                target_configuration = check_configuration(new_configuration)
                if target_configuration == connector.configuration:
                    raise identical("connectorConfiguration")
                kind = "UPDATE_CONNECTOR_CONFIGURATION"
                origin, target = dict(connector.configuration), target_configuration
            delay = self.settings.seconds("update_delay_ms")
            op = ConnectorOperation(
                arn=scope.arn(f"connector-operation/{connector.name}/{connector.uuid}/{uuid.uuid4()}"),
                connector_arn=arn,
                kind=kind,
                started=time.time(),
                done=time.monotonic() + delay,
                duration=delay,
                origin=origin,
                target=target,
                failure=self.take_failure("update"),
            )
            state.operations[op.arn] = op
            connector.state, connector.until, connector.operation = "UPDATING", op.done, op
        return {"connectorArn": arn, "connectorState": "UPDATING", "connectorOperationArn": op.arn}

    def delete_connector(self, scope: Scope, arn: str, query: dict[str, list[str]]) -> dict[str, Any]:
        version = first(query, "currentVersion")
        with self.lock:
            connector = self.connector(scope, arn)
            if connector.state == "DELETING":
                raise not_found(f"The connector {arn} is already being deleted.")
            if connector.state == "UPDATING":
                raise bad_request(f"The connector {connector.name} is UPDATING; delete it once the update is done.")
            if version is not None and version != connector.version:
                raise version_mismatch(connector, version)
            connector.state, connector.until = "DELETING", time.monotonic() + self.settings.seconds("connector_delay_ms")
            connector.create_failure = None
        return {"connectorArn": arn, "connectorState": "DELETING"}

    def describe_operation(self, scope: Scope, arn: str) -> dict[str, Any]:
        with self.lock:
            op = self.region(scope).operations.get(arn)
            if op is None:
                raise not_found(f"The connector operation {arn} does not exist.")
            return op.describe()

    def list_operations(self, scope: Scope, arn: str, query: dict[str, list[str]]) -> dict[str, Any]:
        with self.lock:
            state = self.region(scope)
            self.connector(scope, arn)
            ops = [op for op in state.operations.values() if op.connector_arn == arn]
            # Newest first.
            page, token = paginate(ops, lambda op: [-op.started, op.arn], query)
            out: dict[str, Any] = {"connectorOperations": [op.summary() for op in page]}
        if token:
            out["nextToken"] = token
        return out

    # ------------------------------------------------------------------ tags
    def tagged(self, scope: Scope, arn: str) -> CustomPlugin | WorkerConfiguration | Connector:
        with self.lock:
            state = self.region(scope)
            resource = state.plugins.get(arn) or state.worker_configurations.get(arn) or state.connectors.get(arn)
        if resource is None:
            raise not_found(f"The resource {arn} does not exist.")
        return resource

    def tag(self, scope: Scope, arn: str, body: dict[str, Any]) -> dict[str, Any]:
        tags = check_tags(body.get("tags"), required=True)
        with self.lock:
            resource = self.tagged(scope, arn)
            merged = {**resource.tags, **tags}
            if len(merged) > MAX_TAGS:
                raise bad_request(f"A resource can have at most {MAX_TAGS} tags; this would make {len(merged)}.")
            resource.tags = merged
        return {}

    def untag(self, scope: Scope, arn: str, query: dict[str, list[str]]) -> dict[str, Any]:
        keys = query.get("tagKeys")
        if keys is None:
            raise bad_request("tagKeys is required.")
        with self.lock:
            resource = self.tagged(scope, arn)
            resource.tags = {k: v for k, v in resource.tags.items() if k not in keys}
        return {}

    def list_tags(self, scope: Scope, arn: str) -> dict[str, Any]:
        with self.lock:
            return {"tags": dict(self.tagged(scope, arn).tags)}
