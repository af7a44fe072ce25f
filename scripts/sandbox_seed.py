#!/usr/bin/env python3
"""Seed resources into a running sandbox (see scripts/sandbox).

    sandbox_seed.py --endpoint URL cluster NAME [REGION]

``cluster`` creates an MSK provisioned cluster: Kafka 3.6.0, 3 x kafka.m5.large,
IAM (SASL/IAM) client authentication on, unauthenticated access off, made-up
subnets and security group (moto does not check them). Prints the cluster ARN
as the last line of stdout.

It uses CreateCluster (v1): moto 5.2.5's CreateClusterV2 drops
``provisioned.clientAuthentication``, so a V2-created cluster would describe
with empty client authentication.
"""

from __future__ import annotations

import argparse
import os
import sys

import boto3
from botocore.config import Config


def kafka_client(endpoint: str, region: str):  # noqa: ANN201 - boto3 client type is dynamic
    return boto3.client(
        "kafka",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
        config=Config(retries={"max_attempts": 1}, proxies={}),
    )


def seed_cluster(endpoint: str, name: str, region: str) -> str:
    kafka = kafka_client(endpoint, region)
    existing = [c for c in kafka.list_clusters_v2(ClusterNameFilter=name)["ClusterInfoList"] if c["ClusterName"] == name]
    if existing:
        arn = existing[0]["ClusterArn"]
        print(f"cluster {name} already exists in {region}", file=sys.stderr)
        return arn
    response = kafka.create_cluster(
        ClusterName=name,
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={
            "InstanceType": "kafka.m5.large",
            "ClientSubnets": ["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2", "subnet-0a0a0a0a0a0a0a0a3"],
            "SecurityGroups": ["sg-0a0a0a0a0a0a0a0a1"],
            "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 100}},
        },
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}, "Unauthenticated": {"Enabled": False}},
        EncryptionInfo={"EncryptionInTransit": {"ClientBroker": "TLS", "InCluster": True}},
        Tags={"seeded-by": "pinfra-sandbox"},
    )
    return str(response["ClusterArn"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed resources into a running pinfra sandbox.")
    parser.add_argument("--endpoint", required=True, help="sandbox URL, e.g. http://127.0.0.1:4566")
    sub = parser.add_subparsers(dest="what", required=True)
    cluster = sub.add_parser("cluster", help="create an MSK provisioned cluster with IAM auth")
    cluster.add_argument("name")
    cluster.add_argument("region", nargs="?", default="us-east-1")
    args = parser.parse_args(argv)

    # The sandbox is on loopback; never send its traffic through a proxy.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"
    if args.what == "cluster":
        print(seed_cluster(args.endpoint, args.name, args.region), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
