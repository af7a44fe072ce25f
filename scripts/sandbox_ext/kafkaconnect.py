"""MSK Connect (service ``kafkaconnect``) for the sandbox: moto 5.2.5 has no kafkaconnect at all.

Answered here, as a request hook for every request whose SigV4 credential scope names
``kafkaconnect`` (wire format from botocore's kafkaconnect 2021-09-14 model; REST JSON, camelCase
members; the SDKs URL-encode the ARNs in the path, werkzeug hands them over decoded):

    POST   /v1/custom-plugins                                   CreateCustomPlugin
    GET    /v1/custom-plugins?namePrefix=&maxResults=&nextToken=  ListCustomPlugins
    GET    /v1/custom-plugins/{customPluginArn}                 DescribeCustomPlugin
    DELETE /v1/custom-plugins/{customPluginArn}                 DeleteCustomPlugin
    POST   /v1/worker-configurations                            CreateWorkerConfiguration
    GET    /v1/worker-configurations?namePrefix=&maxResults=&nextToken=  ListWorkerConfigurations
    GET    /v1/worker-configurations/{workerConfigurationArn}   DescribeWorkerConfiguration
    DELETE /v1/worker-configurations/{workerConfigurationArn}   DeleteWorkerConfiguration
    POST   /v1/connectors                                       CreateConnector
    GET    /v1/connectors?connectorNamePrefix=&maxResults=&nextToken=  ListConnectors
    GET    /v1/connectors/{connectorArn}                        DescribeConnector
    PUT    /v1/connectors/{connectorArn}?currentVersion=        UpdateConnector
    DELETE /v1/connectors/{connectorArn}?currentVersion=        DeleteConnector (version optional)
    GET    /v1/connectors/{connectorArn}/operations?maxResults=&nextToken=  ListConnectorOperations
    GET    /v1/connectorOperations/{connectorOperationArn}      DescribeConnectorOperation
    POST   /v1/tags/{resourceArn}                               TagResource
    DELETE /v1/tags/{resourceArn}?tagKeys=&tagKeys=             UntagResource
    GET    /v1/tags/{resourceArn}                               ListTagsForResource

Anything else for kafkaconnect (PauseConnector, ResumeConnector, RestartConnector, …) answers
400 ``BadRequestException`` "… is not emulated by the pinfra sandbox".

Errors are ``{"message": ...}`` with ``x-amzn-ErrorType: <Code>`` and the model's status
(``KafkaConnectError``): ``BadRequestException`` 400, ``NotFoundException`` 404 (any unknown ARN,
or one of another region than the request's), ``ConflictException`` 409 (a Create* whose name is
taken, even by a resource being deleted).

State is kept per (account, region of the credential scope). Timing (all from time.monotonic();
transitions are settled whenever a kafkaconnect request for the region arrives, so one answer
shows one consistent state; each delay is read when its transition starts):

* custom plugin: CREATING --plugin_delay_ms--> ACTIVE, or CREATE_FAILED when ``contentType`` is
  ZIP and the S3 object is not a ZIP archive; DeleteCustomPlugin: DELETING --plugin_delay_ms-->
  gone. ``latestRevision`` (revision 1) is absent until ACTIVE (the model: "If there are no
  successfully created revisions, this field will be absent").
* worker configuration: ACTIVE at once; DeleteWorkerConfiguration: DELETING --plugin_delay_ms-->
  gone.
* connector: CREATING --connector_delay_ms--> RUNNING (or FAILED, see fail-next);
  UpdateConnector: UPDATING --update_delay_ms--> RUNNING, the change and a new
  ``currentVersion`` taking effect at the end; DeleteConnector: DELETING --connector_delay_ms-->
  gone.

Choices where AWS's behaviour is not documented (docs/sandbox.md has the full list):

* DeleteCustomPlugin / DeleteWorkerConfiguration of one that a connector still uses (a connector
  in any state until it is gone): 400 ``BadRequestException``. The model declares no
  ``ConflictException`` for either (only Create*, TagResource and the pause/resume operations do),
  so the service cannot be sending one that SDKs would recognise: the Rust SDK's
  DeleteCustomPluginError has no ConflictException variant (a 409 would be ``Unhandled``).
* UpdateConnector on a connector that is not RUNNING: 400 ``BadRequestException`` (UpdateConnector
  declares no ConflictException either).
* An unchanged capacity: 400 "Invalid parameter autoScaling: The specified parameter value is
  identical to the current value for the connector. Specify a different value, then try again."
  (AWS's wording, quoted in aws/aws-cdk#28128; ``provisionedCapacity`` likewise). An unchanged
  ``connectorConfiguration`` gets the same (our extension of that rule).
* A failed update (fail-next) leaves the connector RUNNING with its old capacity/configuration
  and its old ``currentVersion`` (nothing changed, so the version read before stays good).

Test controls:

    POST   /_sandbox/kafkaconnect/fail-next  {"operation": "update" | "create",
                                              "state": "UPDATE_FAILED" | "ROLLBACK_COMPLETE" |
                                                       "ROLLBACK_FAILED" (update) | "FAILED" (create),
                                              "code": "...", "message": "...", "count": 1}
    DELETE /_sandbox/kafkaconnect/fail-next  disarm
    GET    /_sandbox/kafkaconnect/fail-next  armed failures and how often each fired
    GET    /_sandbox/kafkaconnect/settings   {"plugin_delay_ms", "connector_delay_ms", "update_delay_ms"}
    POST   /_sandbox/kafkaconnect/settings   set any subset; answers the new settings; 400 on an
                                             unknown key or a bad value

The next ``count`` connector creates/updates that pass their checks are accepted (HTTP 200) and
fail at the end of their delay: a create leaves the connector FAILED with ``stateDescription``
{code, message}; an update's operation ends in ``state`` with ``errorInfo`` {code, message}.
Settings default to ``PINFRA_SANDBOX_PLUGIN_DELAY_MS``, ``PINFRA_SANDBOX_CONNECTOR_DELAY_MS`` and
``PINFRA_SANDBOX_CONNECTOR_UPDATE_DELAY_MS`` (300 each; a bad value stops the sandbox at start).
``POST /moto-api/reset`` forgets everything, disarms fail-next and restores the settings.

For a later data-path emulation (a stand-in S3 sink), ``running_connectors(region)`` lists the
RUNNING connectors with their configuration and bootstrap servers.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import io
import json
import os
import re
import secrets
import string
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeGuard
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from .core import AwsRequest, Sandbox, SettingsStore, json_response
from .msk_topics import request_account

HOOK_NAME = "kafkaconnect"
DEFAULT_ACCOUNT = "123456789012"

# -------------------------------------------------------------------------------- errors
ERROR_STATUS = {
    "BadRequestException": 400,
    "NotFoundException": 404,
    "ConflictException": 409,
}


class KafkaConnectError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self) -> Response:
        resp = Response(json.dumps({"message": self.message}), status=ERROR_STATUS[self.code], mimetype="application/json")
        resp.headers["x-amzn-ErrorType"] = self.code
        return resp


def bad_request(message: str) -> KafkaConnectError:
    return KafkaConnectError("BadRequestException", message)


def not_found(message: str) -> KafkaConnectError:
    return KafkaConnectError("NotFoundException", message)


def conflict(message: str) -> KafkaConnectError:
    return KafkaConnectError("ConflictException", message)


# ------------------------------------------------------------------------------ settings
SETTINGS: dict[str, tuple[str, int]] = {
    "plugin_delay_ms": ("PINFRA_SANDBOX_PLUGIN_DELAY_MS", 300),
    "connector_delay_ms": ("PINFRA_SANDBOX_CONNECTOR_DELAY_MS", 300),
    "update_delay_ms": ("PINFRA_SANDBOX_CONNECTOR_UPDATE_DELAY_MS", 300),
}


def validate_setting(key: str, value: Any) -> int:
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key}: expected a non-negative integer (milliseconds), got {value!r}")
    return value


def settings_from_env() -> dict[str, int]:
    settings: dict[str, int] = {}
    for key, (env, default) in SETTINGS.items():
        raw = os.environ.get(env)
        try:
            settings[key] = default if raw in (None, "") else validate_setting(key, raw)
        except ValueError as err:
            raise ValueError(f"${env}: {err}") from None
    return settings


class KafkaConnectSettings(SettingsStore):
    """The delays; ``settings["plugin_delay_ms"]`` reads one, ``seconds(key)`` a delay in s."""

    def __init__(self) -> None:
        super().__init__(settings_from_env, validate_setting)


# ----------------------------------------------------------------------------- fail-next
FAIL_STATES: dict[str, tuple[str, ...]] = {
    "create": ("FAILED",),
    "update": ("UPDATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"),
}


@dataclass
class Failure:
    """An armed failure: the next ``count`` accepted creates/updates end in ``state``."""

    operation: str  # create | update
    state: str
    code: str = "SandboxInjectedFailure"
    message: str = "injected by the pinfra sandbox"
    count: int = 1
    fired: int = field(default=0)

    def info(self) -> dict[str, str]:
        """StateDescription (a failed create) / errorInfo (a failed update)."""
        return {"code": self.code, "message": self.message}


FAILURE_SPEC_TYPES: dict[str, type] = {"operation": str, "state": str, "code": str, "message": str, "count": int}


def failure_from_spec(spec: Any) -> Failure:
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(spec) - set(FAILURE_SPEC_TYPES))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(FAILURE_SPEC_TYPES)}")
    for key, value in spec.items():
        if not isinstance(value, FAILURE_SPEC_TYPES[key]) or isinstance(value, bool):
            raise ValueError(f"{key}: bad value {value!r}")
    operation = spec.get("operation")
    if operation not in FAIL_STATES:
        raise ValueError(f"operation: expected one of {', '.join(FAIL_STATES)}, got {operation!r}")
    states = FAIL_STATES[operation]
    state = spec.get("state", states[0])
    if state not in states:
        raise ValueError(f"state: for {operation}, expected one of {', '.join(states)}, got {state!r}")
    if spec.get("count", 1) < 1:
        raise ValueError("count: expected a positive integer")
    return Failure(**{**spec, "state": state})


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


# ------------------------------------------------------------------------------- routing
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in [
        ("POST", r"^/v1/custom-plugins/?$", "create_plugin"),
        ("GET", r"^/v1/custom-plugins/?$", "list_plugins"),
        ("GET", r"^/v1/custom-plugins/(?P<arn>.+?)/?$", "describe_plugin"),
        ("DELETE", r"^/v1/custom-plugins/(?P<arn>.+?)/?$", "delete_plugin"),
        ("POST", r"^/v1/worker-configurations/?$", "create_worker_configuration"),
        ("GET", r"^/v1/worker-configurations/?$", "list_worker_configurations"),
        ("GET", r"^/v1/worker-configurations/(?P<arn>.+?)/?$", "describe_worker_configuration"),
        ("DELETE", r"^/v1/worker-configurations/(?P<arn>.+?)/?$", "delete_worker_configuration"),
        ("POST", r"^/v1/connectors/?$", "create_connector"),
        ("GET", r"^/v1/connectors/?$", "list_connectors"),
        ("GET", rf"^/v1/connectors/(?P<arn>{CONNECTOR_ARN})/operations/?$", "list_operations"),
        ("PUT", rf"^/v1/connectors/(?P<arn>{CONNECTOR_ARN})/(?P<op>pause|resume)/?$", "not_emulated"),
        ("POST", rf"^/v1/connectors/(?P<arn>{CONNECTOR_ARN})/(?P<op>restart)/?$", "not_emulated"),
        ("GET", r"^/v1/connectors/(?P<arn>.+?)/?$", "describe_connector"),
        ("PUT", r"^/v1/connectors/(?P<arn>.+?)/?$", "update_connector"),
        ("DELETE", r"^/v1/connectors/(?P<arn>.+?)/?$", "delete_connector"),
        ("GET", r"^/v1/connectorOperations/(?P<arn>.+?)/?$", "describe_operation"),
        ("POST", r"^/v1/tags/(?P<arn>.+?)/?$", "tag"),
        ("DELETE", r"^/v1/tags/(?P<arn>.+?)/?$", "untag"),
        ("GET", r"^/v1/tags/(?P<arn>.+?)/?$", "list_tags"),
    ]
]
NOT_EMULATED = {"pause": "PauseConnector", "resume": "ResumeConnector", "restart": "RestartConnector"}


def json_body(request: AwsRequest) -> dict[str, Any]:
    """The request body as a JSON object (empty means ``{}``), or BadRequestException."""
    data = request.werkzeug().get_data()
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except ValueError:
        raise bad_request("Invalid request body: not JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid request body: expected a JSON object.")
    return body


def handle(store: KafkaConnect, request: AwsRequest, route: str, match: re.Match[str]) -> Any:
    scope = scope_of(request)
    query = parse_qs(str(request.environ.get("QUERY_STRING", "")), keep_blank_values=True)
    arn = match.groupdict().get("arn")
    if route == "not_emulated":
        raise bad_request(f"{NOT_EMULATED[match['op']]} is not emulated by the pinfra sandbox.")
    if route in ("create_plugin", "create_worker_configuration", "create_connector"):
        return getattr(store, route)(scope, json_body(request))
    if route in ("list_plugins", "list_worker_configurations", "list_connectors"):
        return getattr(store, route)(scope, query)
    assert arn is not None
    if route == "update_connector":
        return store.update_connector(scope, arn, query, json_body(request))
    if route in ("delete_connector", "list_operations", "untag"):
        return getattr(store, route)(scope, arn, query)
    if route == "tag":
        return store.tag(scope, arn, json_body(request))
    return getattr(store, route)(scope, arn)


_store: KafkaConnect | None = None


def running_connectors(region: str, account: str = DEFAULT_ACCOUNT) -> list[RunningConnector]:
    """The RUNNING connectors of ``region`` (sorted by name), with their configuration (``topics``,
    ``topics.regex``, ``s3.bucket.name``, ``flush.size``, …) and bootstrap servers; for a
    data-path emulation inside the sandbox process. Empty before ``install``."""
    return _store.running(account, region) if _store is not None else []


def install(sandbox: Sandbox) -> None:
    global _store
    try:
        settings = KafkaConnectSettings()
    except ValueError as err:
        raise SystemExit(f"sandbox: {err}") from None
    store = _store = KafkaConnect(settings)

    def hook(request: AwsRequest) -> Response | None:
        if request.call.service != "kafkaconnect":
            return None
        try:
            for method, pattern, route in ROUTES:
                if request.method == method and (match := pattern.match(request.path)):
                    return json_response(handle(store, request, route, match))
            raise bad_request(f"{request.method} {request.path} is not emulated by the pinfra sandbox (kafkaconnect).")
        except KafkaConnectError as err:
            return err.response()

    def get_settings(_request: Request) -> Response:
        return json_response(settings.snapshot())

    def post_settings(request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            return json_response(settings.update(changes))
        except ValueError as err:
            return json_response({"error": str(err)}, 400)

    def arm(request: Request) -> Response:
        try:
            failure = failure_from_spec(json.loads(request.get_data() or b"null"))
        except (ValueError, TypeError) as err:
            keys = [f.name for f in fields(Failure) if f.name != "fired"]
            return json_response({"error": str(err), "keys": keys, "states": FAIL_STATES}, 400)
        store.arm(failure)
        return json_response({"armed": asdict(failure)})

    def disarm(_request: Request) -> Response:
        store.disarm()
        return json_response({"status": "ok"})

    def listing(_request: Request) -> Response:
        return json_response({"failures": store.armed()})

    def reset() -> None:
        store.reset()
        settings.reset()

    sandbox.add_control_route("GET", "/_sandbox/kafkaconnect/settings", get_settings)
    sandbox.add_control_route("POST", "/_sandbox/kafkaconnect/settings", post_settings)
    sandbox.add_control_route("POST", "/_sandbox/kafkaconnect/fail-next", arm)
    sandbox.add_control_route("DELETE", "/_sandbox/kafkaconnect/fail-next", disarm)
    sandbox.add_control_route("GET", "/_sandbox/kafkaconnect/fail-next", listing)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(reset)
