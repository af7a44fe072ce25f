"""MSK (kafka) fixes so that the AWS Rust SDK can talk to moto 5.2.5.

1. ``creationTime``: moto writes ``datetime.now().isoformat()``, e.g.
   ``2025-01-01T12:00:00.123456`` with no offset. The Rust SDK parses it as
   RFC 3339 (``Format::DateTimeWithOffset``), which requires ``Z`` or an
   offset, so every DescribeCluster(V2)/ListClusters(V2) response failed to
   deserialize. We store UTC with a ``Z`` instead, as MSK does.
2. Unknown cluster ARN: moto raises KeyError (HTTP 500, which SDKs retry).
   MSK answers 404 ``NotFoundException``; so do we, for DescribeCluster,
   DescribeClusterV2 and DeleteCluster.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

from .core import Sandbox


def utc_now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def install(_sandbox: Sandbox) -> None:
    from moto.kafka import models
    from moto.kafka.exceptions import NotFoundException

    class ClusterNotFound(NotFoundException):
        code = 404

    original_init = models.FakeKafkaCluster.__init__

    @functools.wraps(original_init)
    def init_with_utc_time(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.creation_time = utc_now_rfc3339()

    models.FakeKafkaCluster.__init__ = init_with_utc_time  # type: ignore[method-assign]

    def not_found_if_unknown(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: Any, cluster_arn: str, *args: Any, **kwargs: Any) -> Any:
            if cluster_arn not in self.clusters:
                raise ClusterNotFound(f"Cluster {cluster_arn} not found")
            return method(self, cluster_arn, *args, **kwargs)

        return wrapper

    for name in ("describe_cluster", "describe_cluster_v2", "delete_cluster"):
        setattr(models.KafkaBackend, name, not_found_if_unknown(getattr(models.KafkaBackend, name)))
