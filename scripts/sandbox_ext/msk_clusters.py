"""MSK cluster lifecycle for the sandbox: creation with real MSK's checks, states, in-place
updates, cluster operations and deletion (moto 5.2.5 keeps clusters CREATING forever, drops
most of CreateClusterV2's ``provisioned`` and has no update operations).

Answered here, as a request hook for service ``kafka`` (wire format from botocore's kafka
2018-11-14 model; REST JSON, camelCase members; errors as in ``msk_topics``):

    POST   /api/v2/clusters                              CreateClusterV2 (moto's backend creates)
    POST   /v1/clusters                                  CreateCluster: checked here, moto creates
    DELETE /v1/clusters/{clusterArn}?currentVersion=     DeleteCluster
    PUT    /v1/clusters/{clusterArn}/nodes/storage       UpdateBrokerStorage
    PUT    /v1/clusters/{clusterArn}/nodes/count         UpdateBrokerCount
    PUT    /v1/clusters/{clusterArn}/nodes/type          UpdateBrokerType
    PUT    /v1/clusters/{clusterArn}/configuration       UpdateClusterConfiguration
    GET    /api/v2/operations/{clusterOperationArn}      DescribeClusterOperationV2
    GET    /v1/operations/{clusterOperationArn}          DescribeClusterOperation
    GET    /api/v2/clusters/{clusterArn}/operations      ListClusterOperationsV2
    GET    /v1/clusters/{clusterArn}/operations          ListClusterOperations

DescribeCluster(V2) and ListClusters(V2) stay moto's, with the state from here and their
answers tidied (``tidy_description``).

States (a ``Lifecycle`` per cluster ARN in the store, ``MskClusters.lifecycles``, made when this
hook sees the create: CreateClusterV2 it answers itself, CreateCluster it forwards to moto and
then looks for the new cluster; moto's ``state`` reads it; settings in ``msk_settings``, each
delay read when its transition starts):

    CREATING --cluster_delay_ms--> ACTIVE --update--> UPDATING --cluster_update_delay_ms--> ACTIVE
    CREATING/ACTIVE --DeleteCluster--> DELETING --cluster_delay_ms--> gone (404)

Transitions happen when a kafka request arrives (``settle``, run by this hook before moto and
``msk_topics`` see the request), so every answer to one request shows one consistent state. An
update's change and a new ``currentVersion`` take effect when it completes.
"""

from __future__ import annotations

import copy
import functools
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard
from urllib.parse import parse_qs

from werkzeug.wrappers import Response

from . import msk_settings
from .core import AwsRequest, Sandbox, json_response, read_body
from .msk_settings import MskSettings
from .msk_topics import ClusterRef, MskError, bad_request, find_cluster, json_object, not_found, request_account

# ----------------------------------------------------------------------------------- values
HOOK_NAME = "msk_clusters"
VERSION_ALPHABET = string.ascii_uppercase + string.digits
DEFAULT_VOLUME_GIB = 1000  # MSK's EBS volume size when storageInfo is not given
MAX_VOLUME_GIB = 16384
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")
INSTANCE_TYPE = re.compile(r"^(kafka|express)\.[a-z0-9-]+\.[a-z0-9]+$")
CONFIGURATION_ARN = re.compile(r"^arn:[^:]+:kafka:[^:]+:[^:]*:configuration/.+")
CLIENT_BROKER = ("TLS", "TLS_PLAINTEXT", "PLAINTEXT")
# Real MSK (and the sandbox, see msk_compat): cluster/<name>/<uuid>-<n>, Serverless
# cluster/<name>/<uuid>-s<n>; plain moto: (serverless-)cluster/<uuid>.
CLUSTER_ARN = (
    r"arn:[^:/]+:kafka:[^:/]+:[^:/]*:(?:serverless-)?cluster/(?:[^/]+/)?"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-s?\d+)?"
)
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in [
        ("POST", r"^/api/v2/clusters/?$", "create_v2"),
        ("POST", r"^/v1/clusters/?$", "create_v1"),
        ("DELETE", rf"^/v1/clusters/(?P<arn>{CLUSTER_ARN})/?$", "delete"),
        ("PUT", rf"^/v1/clusters/(?P<arn>{CLUSTER_ARN})/nodes/storage/?$", "storage"),
        ("PUT", rf"^/v1/clusters/(?P<arn>{CLUSTER_ARN})/nodes/count/?$", "count"),
        ("PUT", rf"^/v1/clusters/(?P<arn>{CLUSTER_ARN})/nodes/type/?$", "type"),
        ("PUT", rf"^/v1/clusters/(?P<arn>{CLUSTER_ARN})/configuration/?$", "configuration"),
        ("GET", r"^/api/v2/operations/(?P<op>.+?)/?$", "operation_v2"),
        ("GET", r"^/v1/operations/(?P<op>.+?)/?$", "operation_v1"),
        ("GET", rf"^/api/v2/clusters/(?P<arn>{CLUSTER_ARN})/operations/?$", "operations_v2"),
        ("GET", rf"^/v1/clusters/(?P<arn>{CLUSTER_ARN})/operations/?$", "operations_v1"),
    ]
]


def new_version() -> str:
    """A cluster version as MSK writes them, e.g. K3AEGXETSR30VB."""
    return "K" + "".join(secrets.choice(VERSION_ALPHABET) for _ in range(13))


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def volume_size(cluster: Any) -> int:
    ebs = ((cluster.broker_node_group_info or {}).get("storageInfo") or {}).get("ebsStorageInfo") or {}
    return int(ebs.get("volumeSize") or DEFAULT_VOLUME_GIB)


def client_subnets(cluster: Any) -> list[str]:
    return list((cluster.broker_node_group_info or {}).get("clientSubnets") or [])


# ------------------------------------------------------------------------------- lifecycle
@dataclass
class Operation:
    """One in-place update (a cluster operation, as MSK reports it)."""

    arn: str
    cluster_arn: str
    kind: str  # operationType: UPDATE_BROKER_STORAGE, INCREASE_BROKER_COUNT, ...
    started: float  # epoch
    done: float  # monotonic
    duration: float
    source: dict[str, Any]  # MutableClusterInfo before
    target: dict[str, Any]  # MutableClusterInfo after
    apply: Callable[[Any], None]
    completed: bool = False

    @property
    def state(self) -> str:
        return "UPDATE_COMPLETE" if self.completed else "UPDATE_IN_PROGRESS"

    def _times(self, start_key: str) -> dict[str, str]:
        out = {start_key: rfc3339(self.started)}
        if self.completed:
            out["endTime"] = rfc3339(self.started + self.duration)
        return out

    def summary(self) -> dict[str, Any]:
        """ClusterOperationV2Summary."""
        return {
            "clusterArn": self.cluster_arn,
            "clusterType": "PROVISIONED",
            **self._times("startTime"),
            "operationArn": self.arn,
            "operationState": self.state,
            "operationType": self.kind,
        }

    def v2(self) -> dict[str, Any]:
        """ClusterOperationV2."""
        return {**self.summary(), "provisioned": {"sourceClusterInfo": self.source, "targetClusterInfo": self.target}}

    def v1(self) -> dict[str, Any]:
        """ClusterOperationInfo."""
        return {
            "clusterArn": self.cluster_arn,
            **self._times("creationTime"),
            "operationArn": self.arn,
            "operationState": self.state,
            "operationType": self.kind,
            "sourceClusterInfo": self.source,
            "targetClusterInfo": self.target,
        }


@dataclass
class Lifecycle:
    state: str  # CREATING | ACTIVE | UPDATING | DELETING
    until: float  # monotonic end of the transition under way (CREATING, UPDATING, DELETING)
    operation: Operation | None = None


def complete_provisioned(cluster: Any) -> None:
    """Fill in what MSK reports for a Provisioned cluster even when it was not asked for."""
    if cluster.cluster_type != "PROVISIONED":
        return
    # moto's CreateCluster (v1) stores None for members that were not sent.
    cluster.enhanced_monitoring = cluster.enhanced_monitoring or "DEFAULT"
    cluster.storage_mode = cluster.storage_mode or "LOCAL"
    group = copy.deepcopy(cluster.broker_node_group_info or {})
    ebs = group.setdefault("storageInfo", {}).setdefault("ebsStorageInfo", {})
    ebs.setdefault("volumeSize", DEFAULT_VOLUME_GIB)
    cluster.broker_node_group_info = group
    partition, region, account = cluster.arn.split(":")[1], cluster.region_name, cluster.account_id
    encryption = copy.deepcopy(cluster.encryption_info or {})
    encryption.setdefault("encryptionAtRest", {"dataVolumeKMSKeyId": f"arn:{partition}:kms:{region}:{account}:key/{uuid.uuid4()}"})
    in_transit = encryption.setdefault("encryptionInTransit", {})
    in_transit.setdefault("clientBroker", "TLS")
    in_transit.setdefault("inCluster", True)
    cluster.encryption_info = encryption


def tidy_description(info: dict[str, Any], cluster: Any, lc: Lifecycle) -> dict[str, Any]:
    """DescribeCluster(V2): drop moto's placeholders (stateInfo, a made-up activeOperationArn,
    configurationArn "string" for a cluster without a configuration)."""
    info.pop("stateInfo", None)
    op = lc.operation
    if op is not None:
        info["activeOperationArn"] = op.arn
    else:
        info.pop("activeOperationArn", None)
    software = (info.get("provisioned") or info).get("currentBrokerSoftwareInfo")
    if isinstance(software, dict) and not cluster.configuration_info:
        software.pop("configurationArn", None)
        software.pop("configurationRevision", None)
    return info


def install_model_patches(store: MskClusters) -> None:
    from moto.kafka import models

    def get_state(self: Any) -> str:
        """The store's lifecycle; CREATING for a cluster moto has made and the store not yet seen
        (CreateCluster's own answer)."""
        lc = store.lifecycles.get(self.arn)
        return lc.state if lc is not None else "CREATING"

    def set_state(self: Any, value: str) -> None:
        """moto's __init__ assigns CREATING; the lifecycle decides from then on."""

    models.FakeKafkaCluster.state = property(get_state, set_state)  # type: ignore[assignment]

    for name in ("describe_cluster", "describe_cluster_v2"):
        original = getattr(models.KafkaBackend, name)

        def tidied(original: Any) -> Any:
            @functools.wraps(original)
            def wrapper(self: Any, cluster_arn: str, *args: Any, **kwargs: Any) -> Any:
                info = original(self, cluster_arn, *args, **kwargs)
                return tidy_description(info, self.clusters[cluster_arn], store.lifecycle(cluster_arn))

            return wrapper

        setattr(models.KafkaBackend, name, tidied(original))


# ---------------------------------------------------------------------------------- checks
def subnet_zones(account: str, region: str, subnet_ids: list[str]) -> dict[str, str]:
    """Availability zone of each subnet moto's EC2 knows (unknown ids are left out)."""
    from moto.ec2.models import ec2_backends

    wanted = set(subnet_ids)
    zones: dict[str, str] = {}
    try:
        backend = ec2_backends[account][region]
    except KeyError:
        return zones
    for per_zone in list(backend.subnets.values()):
        for subnet_id, subnet in list(per_zone.items()):
            if subnet_id in wanted:
                zones[subnet_id] = subnet.availability_zone
    return zones


def check_configuration_info(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("configurationInfo must be an object with arn and revision.", "configurationInfo")
    arn, revision = value.get("arn"), value.get("revision")
    if not isinstance(arn, str) or not CONFIGURATION_ARN.match(arn):
        raise bad_request(f"configurationInfo.arn must be an MSK configuration ARN, got {arn!r}.", "configurationInfo")
    if not is_int(revision) or revision < 1:
        raise bad_request(f"configurationInfo.revision must be a positive integer, got {revision!r}.", "configurationInfo")
    return {"arn": arn, "revision": revision}


def check_instance_type(value: Any, parameter: str) -> str:
    if not isinstance(value, str) or not INSTANCE_TYPE.match(value):
        raise bad_request(f"Invalid broker instance type {value!r} (expected e.g. kafka.m5.large or express.m7g.large).", parameter)
    return value


def check_provisioned(spec: dict[str, Any], account: str, region: str) -> None:
    """Real MSK's checks on a Provisioned cluster (CreateCluster body / CreateClusterV2's
    ``provisioned``), in MSK's member names."""
    group = spec.get("brokerNodeGroupInfo")
    if not isinstance(group, dict):
        raise bad_request("brokerNodeGroupInfo is required.", "brokerNodeGroupInfo")
    instance_type = check_instance_type(group.get("instanceType"), "instanceType")
    subnets = group.get("clientSubnets")
    if not isinstance(subnets, list) or not all(isinstance(s, str) and s for s in subnets):
        raise bad_request("clientSubnets must be a list of subnet ids.", "clientSubnets")
    if len(set(subnets)) != len(subnets):
        raise bad_request("clientSubnets must not repeat a subnet.", "clientSubnets")
    if instance_type.startswith("express.") and len(subnets) != 3:
        raise bad_request("Express brokers need exactly three client subnets in three different Availability Zones.", "clientSubnets")
    if len(subnets) not in (2, 3):
        raise bad_request(f"Specify either two or three client subnets in different Availability Zones; got {len(subnets)}.", "clientSubnets")
    zones = subnet_zones(account, region, subnets)
    if len(set(zones.values())) != len(zones):
        raise bad_request(f"The client subnets must be in different Availability Zones; got {zones}.", "clientSubnets")
    if not isinstance(spec.get("kafkaVersion"), str) or not spec["kafkaVersion"]:
        raise bad_request("kafkaVersion is required.", "kafkaVersion")
    brokers = spec.get("numberOfBrokerNodes")
    if not is_int(brokers) or brokers < 1:
        raise bad_request(f"numberOfBrokerNodes must be a positive integer, got {brokers!r}.", "numberOfBrokerNodes")
    if brokers % len(subnets):
        raise bad_request(
            "The number of broker nodes must be a multiple of Availability Zones in the Client Subnets parameter.", "numberOfBrokerNodes"
        )
    ebs = (group.get("storageInfo") or {}).get("ebsStorageInfo") or {}
    size = ebs.get("volumeSize")
    if size is not None and (not is_int(size) or not 1 <= size <= MAX_VOLUME_GIB):
        raise bad_request(f"volumeSize must be an integer from 1 to {MAX_VOLUME_GIB} (GiB), got {size!r}.", "volumeSize")
    if spec.get("configurationInfo") is not None:
        check_configuration_info(spec["configurationInfo"])
    client_broker = ((spec.get("encryptionInfo") or {}).get("encryptionInTransit") or {}).get("clientBroker")
    if client_broker is not None and client_broker not in CLIENT_BROKER:
        raise bad_request(f"clientBroker must be one of {', '.join(CLIENT_BROKER)}, got {client_broker!r}.", "clientBroker")


def check_cluster_name(name: Any, backend: Any) -> str:
    if not isinstance(name, str) or not CLUSTER_NAME.match(name):
        raise bad_request(
            f"Invalid cluster name {name!r}: 1-64 letters, digits and hyphens, starting with a letter or digit.", "clusterName"
        )
    if any(c.cluster_name == name for c in list(backend.clusters.values())):
        raise MskError("ConflictException", f"A cluster with the name {name} already exists.", "clusterName")
    return name


# ------------------------------------------------------------------------------ the store
class MskClusters:
    """Cluster states, operations and transitions; every method takes the lock."""

    def __init__(self, settings: MskSettings) -> None:
        self.lock = threading.RLock()
        self.settings = settings
        self.lifecycles: dict[str, Lifecycle] = {}  # cluster ARN
        self.operations: dict[str, Operation] = {}

    def reset(self) -> None:
        with self.lock:
            self.lifecycles.clear()
            self.operations.clear()

    def lifecycle(self, arn: str) -> Lifecycle:
        """The cluster's lifecycle (ACTIVE for one the store has not seen). Without the lock, as
        moto's describe calls it: setdefault is atomic."""
        return self.lifecycles.setdefault(arn, Lifecycle("ACTIVE", 0.0))

    def created(self, cluster: Any) -> None:
        """A cluster moto has just made: CREATING for ``cluster_delay_ms``, a version as MSK
        writes them (moto: 1.0) and what MSK reports for a Provisioned cluster unasked."""
        with self.lock:
            self.lifecycles[cluster.arn] = Lifecycle("CREATING", time.monotonic() + self.settings.seconds("cluster_delay_ms"))
            cluster.current_version = new_version()
            complete_provisioned(cluster)

    def settle(self, backend: Any) -> None:
        """Finish every transition of this backend's clusters that is due."""
        with self.lock:
            now = time.monotonic()
            for arn, cluster in list(backend.clusters.items()):
                lc = self.lifecycle(arn)
                if lc.state == "ACTIVE" or now < lc.until:
                    continue
                if lc.state == "CREATING":
                    lc.state = "ACTIVE"
                elif lc.state == "UPDATING":
                    if lc.operation is not None:
                        lc.operation.apply(cluster)
                        lc.operation.completed = True
                        lc.operation = None
                    cluster.current_version = new_version()
                    lc.state = "ACTIVE"
                elif lc.state == "DELETING":
                    backend.clusters.pop(arn, None)
                    self.lifecycles.pop(arn, None)

    # ------------------------------------------------------------------ create / delete
    def create_v2(self, backend: Any, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        provisioned, serverless = body.get("provisioned"), body.get("serverless")
        if (provisioned is None) == (serverless is None):
            raise bad_request("Specify exactly one of provisioned or serverless.", "provisioned")
        if provisioned is not None:
            if not isinstance(provisioned, dict):
                raise bad_request("provisioned must be an object.", "provisioned")
            check_provisioned(provisioned, account, region)
        elif not isinstance(serverless, dict) or not isinstance(serverless.get("vpcConfigs"), list) or not serverless["vpcConfigs"]:
            raise bad_request("serverless.vpcConfigs is required.", "vpcConfigs")
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())):
            raise bad_request("tags must be a map of strings.", "tags")
        with self.lock:
            name = check_cluster_name(body.get("clusterName"), backend)
            arn, name, _state, cluster_type = backend.create_cluster_v2(
                cluster_name=name, tags=tags, provisioned=copy.deepcopy(provisioned), serverless=copy.deepcopy(serverless)
            )
            cluster = backend.clusters[arn]
            self.created(cluster)
            if provisioned is not None:
                # moto keeps only brokerNodeGroupInfo, kafkaVersion, numberOfBrokerNodes, storageMode.
                cluster.client_authentication = copy.deepcopy(provisioned.get("clientAuthentication"))
                cluster.encryption_info = copy.deepcopy(provisioned.get("encryptionInfo"))
                if provisioned.get("configurationInfo") is not None:
                    cluster.configuration_info = check_configuration_info(provisioned["configurationInfo"])
                cluster.enhanced_monitoring = provisioned.get("enhancedMonitoring") or "DEFAULT"
                cluster.open_monitoring = copy.deepcopy(provisioned.get("openMonitoring"))
                cluster.logging_info = copy.deepcopy(provisioned.get("loggingInfo"))
                complete_provisioned(cluster)
        return {"clusterArn": arn, "clusterName": name, "state": "CREATING", "clusterType": cluster_type}

    def create_v1(self, backend: Any, account: str, region: str, body: dict[str, Any], create: Callable[[], Response]) -> Response:
        """CreateCluster: checked here, made by ``create`` (moto, which keeps all of its members),
        then seen. The lock is held throughout, so no other kafka request (each settles first)
        finds the cluster before the store has seen it."""
        check_provisioned(body, account, region)
        with self.lock:
            check_cluster_name(body.get("clusterName"), backend)
            before = set(backend.clusters)
            answer = create()
            for arn, cluster in list(backend.clusters.items()):
                if arn not in before:
                    self.created(cluster)
        return answer

    def delete(self, ref: ClusterRef, current_version: str | None) -> dict[str, Any]:
        with self.lock:
            cluster, lc = ref.cluster, self.lifecycle(ref.arn)
            if lc.state in ("DELETING", "UPDATING"):
                # Real MSK's wording for DELETING (UPDATING: our choice).
                raise bad_request(f"You can't delete cluster in {lc.state} state.", "clusterArn")
            if current_version is not None and current_version != cluster.current_version:
                raise version_mismatch(cluster, current_version)
            lc.state, lc.until, lc.operation = "DELETING", time.monotonic() + self.settings.seconds("cluster_delay_ms"), None
        return {"clusterArn": ref.arn, "state": "DELETING"}

    # ------------------------------------------------------------------ updates
    def update(self, ref: ClusterRef, body: dict[str, Any], kind: str, parse: Callable[[Any, dict[str, Any]], Change]) -> dict[str, Any]:
        version = body.get("currentVersion")
        if not isinstance(version, str) or not version:
            raise bad_request("currentVersion is required.", "currentVersion")
        with self.lock:
            cluster = ref.cluster
            if cluster.cluster_type != "PROVISIONED":
                raise bad_request(f"This operation is supported only for MSK Provisioned clusters; {ref.arn} is {cluster.cluster_type}.", "clusterArn")
            lc = self.lifecycle(ref.arn)
            if lc.state != "ACTIVE":
                raise bad_request(f"You can't update cluster in {lc.state} state; wait until it is ACTIVE.", "clusterArn")
            if version != cluster.current_version:
                raise version_mismatch(cluster, version)
            change = parse(cluster, body)
            delay = self.settings.seconds("cluster_update_delay_ms")
            op = Operation(
                arn=operation_arn(ref),
                cluster_arn=ref.arn,
                kind=kind,
                started=time.time(),
                done=time.monotonic() + delay,
                duration=delay,
                source=change.source,
                target=change.target,
                apply=change.apply,
            )
            self.operations[op.arn] = op
            lc.state, lc.until, lc.operation = "UPDATING", op.done, op
        return {"clusterArn": ref.arn, "clusterOperationArn": op.arn}

    def operation(self, arn: str) -> Operation:
        with self.lock:
            op = self.operations.get(arn)
        if op is None:
            raise not_found(f"Cluster operation {arn} not found.", "clusterOperationArn")
        return op

    def cluster_operations(self, cluster_arn: str) -> list[Operation]:
        with self.lock:
            ops = [op for op in self.operations.values() if op.cluster_arn == cluster_arn]
        return sorted(ops, key=lambda op: op.started, reverse=True)


def version_mismatch(cluster: Any, given: str) -> MskError:
    return bad_request(
        f"The cluster version {given} does not match the current version {cluster.current_version}; "
        "describe the cluster for its currentVersion and retry.",
        "currentVersion",
    )


def operation_arn(ref: ClusterRef) -> str:
    return f"arn:{ref.partition}:kafka:{ref.region}:{ref.account}:cluster-operation/{ref.name}/{ref.uuid}/{uuid.uuid4()}"


# ------------------------------------------------------------------------------- changes
@dataclass
class Change:
    source: dict[str, Any]
    target: dict[str, Any]
    apply: Callable[[Any], None]


def storage_change(cluster: Any, body: dict[str, Any]) -> Change:
    targets = body.get("targetBrokerEBSVolumeInfo")
    if not isinstance(targets, list) or len(targets) != 1 or not isinstance(targets[0], dict):
        raise bad_request("targetBrokerEBSVolumeInfo must hold one entry, for kafkaBrokerNodeId All.", "targetBrokerEBSVolumeInfo")
    target = targets[0]
    if target.get("kafkaBrokerNodeId") != "All":
        raise bad_request(f"kafkaBrokerNodeId must be All, got {target.get('kafkaBrokerNodeId')!r}.", "kafkaBrokerNodeId")
    size, throughput = target.get("volumeSizeGB"), target.get("provisionedThroughput")
    if size is None and throughput is None:
        raise bad_request("Specify volumeSizeGB or provisionedThroughput.", "volumeSizeGB")
    current = volume_size(cluster)
    if size is not None:
        if not is_int(size) or not 1 <= size <= MAX_VOLUME_GIB:
            raise bad_request(f"volumeSizeGB must be an integer from 1 to {MAX_VOLUME_GIB}, got {size!r}.", "volumeSizeGB")
        if size < current:
            raise bad_request(f"The broker storage can only grow: it is {current} GiB, the request asks for {size} GiB.", "volumeSizeGB")
        if size == current and throughput is None:
            raise bad_request(f"The brokers already have {current} GiB of storage.", "volumeSizeGB")
    if throughput is not None and not isinstance(throughput, dict):
        raise bad_request("provisionedThroughput must be an object.", "provisionedThroughput")

    def apply(cluster: Any) -> None:
        group = copy.deepcopy(cluster.broker_node_group_info or {})
        ebs = group.setdefault("storageInfo", {}).setdefault("ebsStorageInfo", {})
        if size is not None:
            ebs["volumeSize"] = size
        if throughput is not None:
            ebs["provisionedThroughput"] = copy.deepcopy(throughput)
        cluster.broker_node_group_info = group

    return Change(
        {"brokerEBSVolumeInfo": [{"kafkaBrokerNodeId": "All", "volumeSizeGB": current}]},
        {"brokerEBSVolumeInfo": [copy.deepcopy(target)]},
        apply,
    )


def count_change(cluster: Any, body: dict[str, Any]) -> Change:
    target = body.get("targetNumberOfBrokerNodes")
    if not is_int(target) or target < 1:
        raise bad_request(f"targetNumberOfBrokerNodes must be a positive integer, got {target!r}.", "targetNumberOfBrokerNodes")
    current = int(cluster.number_of_broker_nodes or 0)
    if target < current:
        raise bad_request(
            f"The number of broker nodes can only grow: the cluster has {current}, the request asks for {target}.",
            "targetNumberOfBrokerNodes",
        )
    if target == current:
        raise bad_request(f"The cluster already has {current} broker nodes.", "targetNumberOfBrokerNodes")
    zones = len(client_subnets(cluster)) or 1
    if target % zones:
        raise bad_request(
            f"The number of broker nodes must be a multiple of Availability Zones in the Client Subnets parameter ({zones}).",
            "targetNumberOfBrokerNodes",
        )

    def apply(cluster: Any) -> None:
        cluster.number_of_broker_nodes = target

    return Change({"numberOfBrokerNodes": current}, {"numberOfBrokerNodes": target}, apply)


def type_change(cluster: Any, body: dict[str, Any]) -> Change:
    target = check_instance_type(body.get("targetInstanceType"), "targetInstanceType")
    current = str((cluster.broker_node_group_info or {}).get("instanceType") or "")
    if target == current:
        raise bad_request(f"The brokers are already {current}.", "targetInstanceType")
    if target.split(".")[0] != current.split(".")[0]:
        raise bad_request(f"Cannot change the broker type from {current} to {target} (Standard and Express brokers do not mix).", "targetInstanceType")

    def apply(cluster: Any) -> None:
        group = copy.deepcopy(cluster.broker_node_group_info or {})
        group["instanceType"] = target
        cluster.broker_node_group_info = group

    return Change({"instanceType": current}, {"instanceType": target}, apply)


def configuration_change(cluster: Any, body: dict[str, Any]) -> Change:
    if body.get("configurationInfo") is None:
        raise bad_request("configurationInfo is required.", "configurationInfo")
    target = check_configuration_info(body["configurationInfo"])
    source = {"configurationInfo": copy.deepcopy(cluster.configuration_info)} if cluster.configuration_info else {}

    def apply(cluster: Any) -> None:
        cluster.configuration_info = dict(target)

    return Change(source, {"configurationInfo": dict(target)}, apply)


UPDATES: dict[str, tuple[str, Callable[[Any, dict[str, Any]], Change]]] = {
    "storage": ("UPDATE_BROKER_STORAGE", storage_change),
    "count": ("INCREASE_BROKER_COUNT", count_change),
    "type": ("UPDATE_BROKER_TYPE", type_change),
    "configuration": ("UPDATE_CLUSTER_CONFIGURATION", configuration_change),
}


# ------------------------------------------------------------------------------- routing
def read_json(request: AwsRequest) -> dict[str, Any]:
    """The JSON body; the stream is put back so that moto can read it too."""
    return json_object(read_body(request.environ))


def kafka_backend(request: AwsRequest) -> tuple[Any, str, str] | None:
    from moto.kafka.models import kafka_backends

    region = request.call.region
    if not region:
        return None
    account = request_account(request)
    try:
        return kafka_backends[account][region], account, region
    except KeyError:
        return None


def install(sandbox: Sandbox) -> None:
    settings = msk_settings.current()
    store = MskClusters(settings)
    install_model_patches(store)

    def handle(request: AwsRequest, route: str, match: re.Match[str]) -> Response | None:
        found = kafka_backend(request)
        if found is None:
            return None
        backend, account, region = found
        if route == "create_v2":
            return json_response(store.create_v2(backend, account, region, read_json(request)))
        if route == "create_v1":
            return store.create_v1(backend, account, region, read_json(request), lambda: sandbox.forward(request, after=HOOK_NAME))
        if route == "operation_v2":
            return json_response({"clusterOperationInfo": store.operation(match["op"]).v2()})
        if route == "operation_v1":
            return json_response({"clusterOperationInfo": store.operation(match["op"]).v1()})
        ref = find_cluster(request, match["arn"])
        if route == "operations_v2":
            return json_response({"clusterOperationInfoList": [op.summary() for op in store.cluster_operations(ref.arn)]})
        if route == "operations_v1":
            return json_response({"clusterOperationInfoList": [op.v1() for op in store.cluster_operations(ref.arn)]})
        if route == "delete":
            query = parse_qs(str(request.environ.get("QUERY_STRING", "")))
            versions = query.get("currentVersion")
            return json_response(store.delete(ref, versions[0] if versions else None))
        kind, parse = UPDATES[route]
        body = read_json(request)
        return json_response(store.update(ref, body, kind, parse))

    def hook(request: AwsRequest) -> Response | None:
        if request.call.service != "kafka":
            return None
        found = kafka_backend(request)
        if found is not None:
            store.settle(found[0])
        for method, pattern, route in ROUTES:
            if request.method == method and (match := pattern.match(request.path)):
                try:
                    return handle(request, route, match)
                except MskError as err:
                    return err.response()
        return None

    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(store.reset)
