"""The stand-in Confluent REST Proxy (7.6.1, API v2): its settings as the instance's user-data
writes them (``kafka-rest.properties`` through a here-document: ``ProxyConfig``), the EC2
instances it may run on, and the v2 API's wire format: a produce request parsed as kafka-rest
parses it, errors (``ProxyError``) and answers. ``models.DataPath`` serves the requests."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import kafka_iam
from ..apigateway_compat import EndpointAnswer
from ..msk_topics import PROPERTY_LINE
from .kafka import broker_key

V2_JSON = "application/vnd.kafka.v2+json"
EMBEDDED_FORMATS = {"application/vnd.kafka.json.v2+json": "json", "application/vnd.kafka.binary.v2+json": "binary"}
DEFAULT_PORT = 8082
DEFAULT_MAX_BLOCK_MS = 60000
DEFAULT_API_TIMEOUT_MS = 60000
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


# ------------------------------------------------------------------------ proxy answers
class ProxyError(Exception):
    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


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


# ---------------------------------------------------------------- the instances it runs on
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
