"""MSK (kafka) fixes so that the AWS Rust SDK can talk to moto 5.2.5.

1. ``creationTime``: moto writes ``datetime.now().isoformat()``, e.g.
   ``2025-01-01T12:00:00.123456`` with no offset. The Rust SDK parses it as
   RFC 3339 (``Format::DateTimeWithOffset``), which requires ``Z`` or an
   offset, so every DescribeCluster(V2)/ListClusters(V2) response failed to
   deserialize. The sandbox answers it in UTC with a ``Z``, as MSK does, reading moto's value
   (local time, as ``datetime.now()`` gives it) when DescribeCluster(V2) or ListClusters(V2)
   answers; the cluster itself keeps moto's.
2. Unknown cluster ARN: moto raises KeyError (HTTP 500, which SDKs retry).
   MSK answers 404 ``NotFoundException``; so do we, for DescribeCluster,
   DescribeClusterV2 and DeleteCluster.
3. Cluster ARNs as MSK makes them: ``arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>-<n>``
   (e.g. ``…:cluster/demo/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-25``), Serverless
   ``cluster/<name>/<uuid>-s<n>`` (as in AWS's MSK Serverless getting-started output,
   ``…-s2``); moto: ``cluster/<uuid>`` and ``serverless-cluster/<uuid>``. ``<n>`` is a small
   number MSK does not document (1-25 here, random). Topic (and group, cluster-operation)
   ARNs derive from it: ``topic/<name>/<uuid>-<n>/<topic>`` (``msk_topics.ClusterRef``).
"""

from __future__ import annotations

import functools
import random
from datetime import UTC, datetime
from typing import Any

from .core import Sandbox


def utc_rfc3339(value: str) -> str:
    """A ``creation_time`` as MSK writes it: moto's ``datetime.now().isoformat()`` (local time, no
    offset) in UTC, to the millisecond, with ``Z``. A time with an offset is converted likewise."""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def with_utc_creation_time(info: dict[str, Any]) -> dict[str, Any]:
    if isinstance(info.get("creationTime"), str):
        info["creationTime"] = utc_rfc3339(info["creationTime"])
    return info


def install(_sandbox: Sandbox) -> None:
    from moto.kafka import models
    from moto.kafka.exceptions import NotFoundException
    from moto.utilities.utils import get_partition

    class ClusterNotFound(NotFoundException):
        code = 404

    def msk_arn(self: Any) -> str:
        partition = get_partition(self.region_name)
        suffix = f"s{random.randint(1, 9)}" if self.cluster_type == "SERVERLESS" else str(random.randint(1, 25))
        return f"arn:{partition}:kafka:{self.region_name}:{self.account_id}:cluster/{self.cluster_name}/{self.cluster_id}-{suffix}"

    models.FakeKafkaCluster._generate_arn = msk_arn  # type: ignore[method-assign]

    def not_found_if_unknown(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: Any, cluster_arn: str, *args: Any, **kwargs: Any) -> Any:
            if cluster_arn not in self.clusters:
                raise ClusterNotFound(f"Cluster {cluster_arn} not found")
            return method(self, cluster_arn, *args, **kwargs)

        return wrapper

    for name in ("describe_cluster", "describe_cluster_v2", "delete_cluster"):
        setattr(models.KafkaBackend, name, not_found_if_unknown(getattr(models.KafkaBackend, name)))

    # ListClustersV2 answers each cluster through describe_cluster_v2, so it is covered here too.
    def utc_description(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            return with_utc_creation_time(method(self, *args, **kwargs))

        return wrapper

    for name in ("describe_cluster", "describe_cluster_v2"):
        setattr(models.KafkaBackend, name, utc_description(getattr(models.KafkaBackend, name)))

    original_list = models.KafkaBackend.list_clusters

    @functools.wraps(original_list)
    def list_clusters(self: Any, *args: Any, **kwargs: Any) -> Any:
        return [with_utc_creation_time(info) for info in original_list(self, *args, **kwargs)]

    models.KafkaBackend.list_clusters = list_clusters  # type: ignore[method-assign]
