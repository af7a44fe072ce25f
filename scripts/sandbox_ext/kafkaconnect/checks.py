"""What a request may say: MSK Connect's values (names, ARNs, versions, times) and the checks of
every request member, answered as the model's descriptions or ``BadRequestException``."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from ..core import AwsRequest
from ..msk_topics import request_account
from .exceptions import KafkaConnectError, bad_request

if TYPE_CHECKING:
    from .models import Connector


# -------------------------------------------------------------------------------- values
VERSION_ALPHABET = string.ascii_uppercase + string.digits
NAME = re.compile(r"^[^/\s]{1,128}$")
BUCKET_ARN = re.compile(r"^arn:[^:]+:s3:::(?P<bucket>[^/:]+)$")
ROLE_ARN = re.compile(r"^arn:[^:]+:iam::\d{12}:role/.+$")
# connector/<name>/<uuid>: the ARN in ListConnectorOperations' path, before "/operations".
CONNECTOR_ARN = r"arn:[^:/]+:kafkaconnect:[^:/]+:[^:/]*:connector/[^/]+/[^/]+"
CONTENT_TYPES = ("JAR", "ZIP")
AUTHENTICATION_TYPES = ("NONE", "IAM")
ENCRYPTION_TYPES = ("PLAINTEXT", "TLS")
NETWORK_TYPES = ("IPV4", "DUAL")
# The Kafka Connect versions MSK Connect offers.
KAFKA_CONNECT_VERSIONS = ("2.7.1", "3.7.x")
MCU_COUNTS = (1, 2, 4, 8)
MAX_WORKERS = 10
# What MSK Connect reports for an autoScaling capacity created without scale-in/out policies.
DEFAULT_SCALE_IN_PERCENT = 20
DEFAULT_SCALE_OUT_PERCENT = 80
MAX_TAGS = 200


def new_version() -> str:
    """An opaque connector version (14 characters [A-Z0-9])."""
    return "".join(secrets.choice(VERSION_ALPHABET) for _ in range(14))


def rfc3339(epoch: float) -> str:
    """The model's timestampFormat iso8601: RFC 3339 UTC with ``Z`` (the Rust SDK's
    DateTimeWithOffset needs the offset)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Scope:
    """Where a request lands: the account and the region of its credential scope."""

    account: str
    region: str
    partition: str

    def arn(self, resource: str) -> str:
        return f"arn:{self.partition}:kafkaconnect:{self.region}:{self.account}:{resource}"


def scope_of(request: AwsRequest) -> Scope:
    from moto.utilities.utils import get_partition

    region = request.call.region or "us-east-1"
    return Scope(request_account(request), region, get_partition(region))


# -------------------------------------------------------------------------------- checks
def check_name(value: Any, member: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise bad_request(f"{member} must be 1-128 characters without '/' or whitespace, got {value!r}.")
    return value


def check_description(value: Any, member: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 1024:
        raise bad_request(f"{member} must be a string of at most 1024 characters.")
    return value


def check_tags(value: Any, required: bool = False) -> dict[str, str]:
    if value is None:
        if required:
            raise bad_request("tags is required.")
        return {}
    if not isinstance(value, dict):
        raise bad_request("tags must be a map of strings.")
    if len(value) > MAX_TAGS:
        raise bad_request(f"A resource can have at most {MAX_TAGS} tags; got {len(value)}.")
    for key, tag_value in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise bad_request(f"Tag keys must be 1-128 characters, got {key!r}.")
        if not isinstance(tag_value, str) or len(tag_value) > 256:
            raise bad_request(f"Tag values must be strings of at most 256 characters, got {tag_value!r} for {key!r}.")
    return dict(value)


def check_object(value: Any, member: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{member} is required and must be an object.")
    return value


def check_int(value: Any, member: str, low: int, high: int | None = None) -> int:
    if not is_int(value) or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise bad_request(f"{member} must be an integer {bounds}, got {value!r}.")
    return int(value)


def check_mcu_count(value: Any, member: str) -> int:
    if not is_int(value) or value not in MCU_COUNTS:
        raise bad_request(f"{member} must be one of 1, 2, 4, 8, got {value!r}.")
    return int(value)


def check_policy(value: Any, member: str, required: bool, default: int) -> dict[str, int]:
    if value is None:
        if required:
            raise bad_request(f"{member} is required.")
        return {"cpuUtilizationPercentage": default}
    policy = check_object(value, member)
    return {"cpuUtilizationPercentage": check_int(policy.get("cpuUtilizationPercentage"), f"{member}.cpuUtilizationPercentage", 1, 100)}


def check_capacity(value: Any, update: bool) -> dict[str, Any]:
    """Capacity (create) or CapacityUpdate (update), answered as a CapacityDescription."""
    capacity = check_object(value, "capacity")
    auto, provisioned = capacity.get("autoScaling"), capacity.get("provisionedCapacity")
    if (auto is None) == (provisioned is None):
        raise bad_request("capacity: specify exactly one of autoScaling or provisionedCapacity.")
    if provisioned is not None:
        prov = check_object(provisioned, "provisionedCapacity")
        return {
            "provisionedCapacity": {
                "mcuCount": check_mcu_count(prov.get("mcuCount"), "provisionedCapacity.mcuCount"),
                "workerCount": check_int(prov.get("workerCount"), "provisionedCapacity.workerCount", 1, MAX_WORKERS),
            }
        }
    scaling = check_object(auto, "autoScaling")
    mcu = check_mcu_count(scaling.get("mcuCount"), "autoScaling.mcuCount")
    low = check_int(scaling.get("minWorkerCount"), "autoScaling.minWorkerCount", 1, MAX_WORKERS)
    high = check_int(scaling.get("maxWorkerCount"), "autoScaling.maxWorkerCount", 1, MAX_WORKERS)
    if low > high:
        raise bad_request(f"autoScaling.minWorkerCount ({low}) must not be greater than autoScaling.maxWorkerCount ({high}).")
    out: dict[str, Any] = {
        "maxWorkerCount": high,
        "mcuCount": mcu,
        "minWorkerCount": low,
        "scaleInPolicy": check_policy(scaling.get("scaleInPolicy"), "autoScaling.scaleInPolicy", update, DEFAULT_SCALE_IN_PERCENT),
        "scaleOutPolicy": check_policy(scaling.get("scaleOutPolicy"), "autoScaling.scaleOutPolicy", update, DEFAULT_SCALE_OUT_PERCENT),
    }
    if scaling.get("maxAutoscalingTaskCount") is not None:
        # "Must be at least equal to maxWorkerCount."
        out["maxAutoscalingTaskCount"] = check_int(scaling["maxAutoscalingTaskCount"], "autoScaling.maxAutoscalingTaskCount", high)
    return {"autoScaling": out}


def check_configuration(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise bad_request("connectorConfiguration is required and must be a map of strings.")
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise bad_request(f"connectorConfiguration must map non-empty strings to strings; {key!r} does not.")
    if not value.get("connector.class", "").strip():
        raise bad_request("connectorConfiguration must set connector.class.")
    return dict(value)


def check_string_list(value: Any, member: str, required: bool) -> list[str] | None:
    if value is None and not required:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value) or (required and not value):
        raise bad_request(f"{member} must be a {'non-empty ' if required else ''}list of non-empty strings.")
    return list(value)


def check_kafka_cluster(value: Any) -> dict[str, Any]:
    """KafkaCluster, answered as a KafkaClusterDescription."""
    apache = check_object(check_object(value, "kafkaCluster").get("apacheKafkaCluster"), "kafkaCluster.apacheKafkaCluster")
    servers = apache.get("bootstrapServers")
    if not isinstance(servers, str) or not servers.strip():
        raise bad_request("kafkaCluster.apacheKafkaCluster.bootstrapServers must be a non-empty string.")
    vpc = check_object(apache.get("vpc"), "kafkaCluster.apacheKafkaCluster.vpc")
    vpc_out: dict[str, Any] = {}
    groups = check_string_list(vpc.get("securityGroups"), "vpc.securityGroups", required=False)
    if groups is not None:
        vpc_out["securityGroups"] = groups
    vpc_out["subnets"] = check_string_list(vpc.get("subnets"), "vpc.subnets", required=True)
    return {"apacheKafkaCluster": {"bootstrapServers": servers, "vpc": vpc_out}}


def check_choice(value: Any, member: str, inner: str, choices: tuple[str, ...]) -> dict[str, str]:
    chosen = check_object(value, member).get(inner)
    if chosen not in choices:
        raise bad_request(f"{member}.{inner} must be one of {', '.join(choices)}, got {chosen!r}.")
    return {inner: chosen}


def check_log_delivery(value: Any) -> dict[str, Any]:
    """LogDelivery, answered as a LogDeliveryDescription."""
    worker = check_object(check_object(value, "logDelivery").get("workerLogDelivery"), "logDelivery.workerLogDelivery")
    targets = {"cloudWatchLogs": ("logGroup",), "firehose": ("deliveryStream",), "s3": ("bucket", "prefix")}
    out: dict[str, Any] = {}
    for kind, members in targets.items():
        if worker.get(kind) is None:
            continue
        spec = check_object(worker[kind], f"workerLogDelivery.{kind}")
        if not isinstance(spec.get("enabled"), bool):
            raise bad_request(f"workerLogDelivery.{kind}.enabled is required and must be a boolean.")
        entry: dict[str, Any] = {"enabled": spec["enabled"]}
        for member in members:
            if spec.get(member) is not None:
                if not isinstance(spec[member], str):
                    raise bad_request(f"workerLogDelivery.{kind}.{member} must be a string.")
                entry[member] = spec[member]
        if spec["enabled"] and not entry.get(members[0]):
            raise bad_request(f"workerLogDelivery.{kind}.{members[0]} is required when {kind} delivery is enabled.")
        out[kind] = entry
    return {"workerLogDelivery": out}


def check_role(scope: Scope, arn: Any) -> str:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    if not isinstance(arn, str) or not ROLE_ARN.match(arn):
        raise bad_request(f"serviceExecutionRoleArn must be an IAM role ARN, got {arn!r}.")
    try:
        iam_backends[scope.account][scope.partition].get_role_by_arn(arn)
    except NotFoundException:
        raise bad_request(f"The service execution role {arn} does not exist.") from None
    return arn


def plugin_file(scope: Scope, value: Any) -> tuple[dict[str, Any], bytes]:
    """CustomPluginLocation checked against moto's S3: (CustomPluginLocationDescription, bytes)."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    s3 = check_object(check_object(value, "location").get("s3Location"), "location.s3Location")
    bucket_arn, key, version = s3.get("bucketArn"), s3.get("fileKey"), s3.get("objectVersion")
    match = BUCKET_ARN.match(bucket_arn) if isinstance(bucket_arn, str) else None
    if match is None:
        raise bad_request(f"s3Location.bucketArn must be an S3 bucket ARN (arn:aws:s3:::<bucket>), got {bucket_arn!r}.")
    if not isinstance(key, str) or not key:
        raise bad_request("s3Location.fileKey is required.")
    if version is not None and (not isinstance(version, str) or not version):
        raise bad_request("s3Location.objectVersion must be a non-empty string.")
    bucket = match["bucket"]
    backend = s3_backends[scope.account][scope.partition]
    try:
        backend.get_bucket(bucket)
    except MissingBucket:
        raise bad_request(f"The S3 bucket {bucket} does not exist.") from None
    obj = backend.get_object(bucket, key, version_id=version)
    if obj is None:
        which = f" (version {version})" if version else ""
        raise bad_request(f"The S3 object s3://{bucket}/{key}{which} does not exist.")
    location: dict[str, Any] = {"bucketArn": bucket_arn, "fileKey": key}
    if version:
        location["objectVersion"] = version
    return {"s3Location": location}, bytes(obj.value)


def check_properties_file(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request("propertiesFileContent is required (Base64 of the worker properties).")
    try:
        base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise bad_request("propertiesFileContent must be valid Base64 of UTF-8 text.") from None
    return value


def identical(parameter: str) -> KafkaConnectError:
    # AWS's wording (aws/aws-cdk#28128).
    return bad_request(
        f"Invalid parameter {parameter}: The specified parameter value is identical to the current value for the connector. "
        "Specify a different value, then try again."
    )


def version_mismatch(connector: Connector, given: str) -> KafkaConnectError:
    return bad_request(
        f"The connector version {given} does not match the current version {connector.version}; "
        "describe the connector for its currentVersion and retry."
    )
