"""The emulated Confluent S3 sink's parts: a consumer group's committed offsets and the objects
its sink wrote (``GroupState``), a connector's view as ``/_sandbox/sink`` shows it (``SinkView``),
the value converters (``convert_value``) and the object keys of JsonFormat with
DefaultPartitioner (``object_key``). ``models.DataPath.tick`` runs the sink."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from .kafka import KafkaLog
from .restproxy import compact

S3_SINK = "io.confluent.connect.s3.S3SinkConnector"
JSON_FORMAT = "io.confluent.connect.s3.format.json.JsonFormat"
DEFAULT_PARTITIONER = "io.confluent.connect.storage.partitioner.DefaultPartitioner"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
BYTES_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
# What the sink's task logs when it cannot reach the brokers (its consumer's metadata fetch) or S3
# (S3SinkTask.start: the bucket check's SdkClientException, wrapped in a ConnectException).
BROKERS_UNREACHABLE = "org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata"
S3_UNREACHABLE = (
    "org.apache.kafka.connect.errors.ConnectException: com.amazonaws.SdkClientException: Unable to execute HTTP request: "
    "Connect to {bucket}.s3.{region}.amazonaws.com:443 failed: connect timed out"
)


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
