#!/usr/bin/env python3
"""Probe the running sandbox for the moto behaviour pinfra relies on.

    .venv/bin/python scripts/sandbox_probe.py http://127.0.0.1:PORT

Resets moto, runs IAM, S3, STS, MSK, EC2 and MSK Connect calls through boto3, then the data path
(execute-api -> stand-in REST proxy -> Kafka log -> emulated S3 sink), and prints one line per
fact, including raw wire snippets (boto3 decodes IAM policy documents; the Rust SDK does not).
Re-run it after bumping moto and compare with the "moto 5.2.5 behaviour we rely on" section of
docs/sandbox.md. ``scripts/sandbox_probe_check.py`` (run by ./scripts/test) compares its facts with
``scripts/sandbox_probe.expected``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import zipfile
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ["NO_PROXY"] = "127.0.0.1,localhost,::1"

URL = sys.argv[1] if len(sys.argv) > 1 else os.environ["PINFRA_SANDBOX_URL"]
RAW: dict[str, bytes] = {}


def client(service: str, region: str = "us-east-1", **credentials: Any) -> Any:
    c = boto3.client(
        service,
        endpoint_url=URL,
        region_name=region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        **credentials,
    )

    def keep_raw(http_response: Any, model: Any, **_: Any) -> None:
        RAW[model.name] = http_response.content

    c.meta.events.register(f"after-call.{c.meta.service_model.endpoint_prefix}", keep_raw)
    return c


def fact(name: str, value: Any) -> None:
    print(f"{name}: {value}")


def attempt(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a call; print the error code (or OK) as a fact; return the response or None."""
    try:
        resp = fn(*args, **kwargs)
    except ClientError as err:
        e = err.response["Error"]
        status = err.response["ResponseMetadata"].get("HTTPStatusCode")
        fact(name, f"ERROR {e.get('Code')} (HTTP {status}): {e.get('Message')}")
        return None
    except Exception as err:  # noqa: BLE001 - we want to see everything
        fact(name, f"EXCEPTION {type(err).__name__}: {err}")
        return None
    fact(name, "OK")
    return resp


def raw_tag(op: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>(.*?)</{tag}>".encode(), RAW.get(op, b""), re.S)
    return m.group(1).decode() if m else None


def iam_facts() -> None:
    iam = client("iam")
    trust: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "kafkaconnect.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    r = attempt("iam.create_role(Tags)", iam.create_role, RoleName="r1", AssumeRolePolicyDocument=json.dumps(trust), Tags=[{"Key": "owner", "Value": "pinfra"}], Description="d")
    fact("iam.create_role response Role.Tags", r and r["Role"].get("Tags"))
    fact("iam.create_role raw CreateDate", raw_tag("CreateRole", "CreateDate"))
    attempt("iam.create_role duplicate", iam.create_role, RoleName="r1", AssumeRolePolicyDocument=json.dumps(trust))
    r = attempt("iam.get_role", iam.get_role, RoleName="r1")
    fact("iam.get_role Tags", r and r["Role"].get("Tags"))
    fact("iam.get_role boto3 AssumeRolePolicyDocument type", r and type(r["Role"]["AssumeRolePolicyDocument"]).__name__)
    fact("iam.get_role raw AssumeRolePolicyDocument", raw_tag("GetRole", "AssumeRolePolicyDocument"))
    fact("iam.get_role raw Arn", raw_tag("GetRole", "Arn"))
    attempt("iam.get_role missing", iam.get_role, RoleName="nope")

    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    attempt("iam.put_role_policy", iam.put_role_policy, RoleName="r1", PolicyName="p1", PolicyDocument=json.dumps(policy))
    r = attempt("iam.get_role_policy", iam.get_role_policy, RoleName="r1", PolicyName="p1")
    fact("iam.get_role_policy boto3 PolicyDocument type", r and type(r["PolicyDocument"]).__name__)
    fact("iam.get_role_policy raw PolicyDocument", raw_tag("GetRolePolicy", "PolicyDocument"))
    attempt("iam.get_role_policy missing", iam.get_role_policy, RoleName="r1", PolicyName="nope")
    r = attempt("iam.list_role_policies", iam.list_role_policies, RoleName="r1")
    fact("iam.list_role_policies names", r and r["PolicyNames"])

    attempt("iam.tag_role", iam.tag_role, RoleName="r1", Tags=[{"Key": "env", "Value": "dev"}, {"Key": "owner", "Value": "other"}])
    fact("iam.get_role Tags after tag_role", iam.get_role(RoleName="r1")["Role"].get("Tags"))
    attempt("iam.untag_role", iam.untag_role, RoleName="r1", TagKeys=["env"])
    fact("iam.list_role_tags after untag", iam.list_role_tags(RoleName="r1")["Tags"])

    trust2 = dict(trust, Statement=[dict(trust["Statement"][0], Principal={"Service": "ec2.amazonaws.com"})])
    attempt("iam.update_assume_role_policy", iam.update_assume_role_policy, RoleName="r1", PolicyDocument=json.dumps(trust2))
    iam.get_role(RoleName="r1")
    fact("iam.get_role raw AssumeRolePolicyDocument after update", raw_tag("GetRole", "AssumeRolePolicyDocument"))

    r = attempt("iam.create_instance_profile(Tags)", iam.create_instance_profile, InstanceProfileName="ip1", Tags=[{"Key": "owner", "Value": "pinfra"}])
    fact("iam.create_instance_profile response Tags", r and r["InstanceProfile"].get("Tags"))
    attempt("iam.add_role_to_instance_profile", iam.add_role_to_instance_profile, InstanceProfileName="ip1", RoleName="r1")
    attempt("iam.add_role_to_instance_profile second time", iam.add_role_to_instance_profile, InstanceProfileName="ip1", RoleName="r1")
    r = attempt("iam.get_instance_profile", iam.get_instance_profile, InstanceProfileName="ip1")
    if r:
        ip = r["InstanceProfile"]
        fact("iam.get_instance_profile Tags", ip.get("Tags"))
        fact("iam.get_instance_profile Roles", [x["RoleName"] for x in ip.get("Roles", [])])
        fact("iam.get_instance_profile Arn", ip["Arn"])
        fact("iam.get_instance_profile raw CreateDate", raw_tag("GetInstanceProfile", "CreateDate"))
    attempt("iam.get_instance_profile missing", iam.get_instance_profile, InstanceProfileName="nope")
    r = attempt("iam.list_instance_profiles_for_role", iam.list_instance_profiles_for_role, RoleName="r1")
    fact("iam.list_instance_profiles_for_role names", r and [x["InstanceProfileName"] for x in r["InstanceProfiles"]])
    attempt("iam.tag_instance_profile", iam.tag_instance_profile, InstanceProfileName="ip1", Tags=[{"Key": "env", "Value": "dev"}])
    r = attempt("iam.list_instance_profile_tags", iam.list_instance_profile_tags, InstanceProfileName="ip1")
    fact("iam.list_instance_profile_tags value", r and r["Tags"])
    r = iam.get_instance_profile(InstanceProfileName="ip1")
    fact("iam.get_instance_profile Tags after tag_instance_profile", r["InstanceProfile"].get("Tags"))

    attempt("iam.delete_role while in profile + inline policy", iam.delete_role, RoleName="r1")
    iam.remove_role_from_instance_profile(InstanceProfileName="ip1", RoleName="r1")
    attempt("iam.delete_role with inline policy only", iam.delete_role, RoleName="r1")
    arn = iam.create_policy(PolicyName="mp", PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
    iam.delete_role_policy(RoleName="r1", PolicyName="p1")
    iam.attach_role_policy(RoleName="r1", PolicyArn=arn)
    attempt("iam.delete_role with attached managed policy only", iam.delete_role, RoleName="r1")
    iam.detach_role_policy(RoleName="r1", PolicyArn=arn)
    attempt("iam.attach_role_policy AWS-managed AmazonS3ReadOnlyAccess", iam.attach_role_policy, RoleName="r1", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    try:
        iam.detach_role_policy(RoleName="r1", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    except ClientError:
        pass
    attempt("iam.delete_role clean", iam.delete_role, RoleName="r1")
    attempt("iam.delete_role missing", iam.delete_role, RoleName="r1")
    iam.create_role(RoleName="r2", AssumeRolePolicyDocument=json.dumps(trust))
    iam.add_role_to_instance_profile(InstanceProfileName="ip1", RoleName="r2")
    attempt("iam.delete_instance_profile with a role in it", iam.delete_instance_profile, InstanceProfileName="ip1")


def s3_facts() -> None:
    s3 = client("s3")
    attempt("s3 us-east-1 create_bucket (no config)", s3.create_bucket, Bucket="b-use1")
    attempt("s3 us-east-1 create_bucket again (owned)", s3.create_bucket, Bucket="b-use1")
    r = attempt("s3 head_bucket", s3.head_bucket, Bucket="b-use1")
    fact("s3 head_bucket x-amz-bucket-region", r and r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region"))
    attempt("s3 head_bucket missing", s3.head_bucket, Bucket="nope-bucket")
    r = attempt("s3 get_bucket_location us-east-1", s3.get_bucket_location, Bucket="b-use1")
    fact("s3 get_bucket_location us-east-1 LocationConstraint", r and repr(r.get("LocationConstraint")))
    fact("s3 get_bucket_location raw", RAW.get("GetBucketLocation", b"")[-120:])

    eu = client("s3", "eu-west-1")
    attempt("s3 eu-west-1 create_bucket LocationConstraint=eu-west-1", eu.create_bucket, Bucket="b-euw1", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    attempt("s3 eu-west-1 create_bucket again (owned)", eu.create_bucket, Bucket="b-euw1", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    attempt("s3 eu-west-1 create_bucket without LocationConstraint", eu.create_bucket, Bucket="b-euw1-noloc")
    attempt("s3 us-east-1 client create_bucket LocationConstraint=eu-west-1", s3.create_bucket, Bucket="b-mismatch", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    attempt("s3 us-east-1 create_bucket LocationConstraint=us-east-1", s3.create_bucket, Bucket="b-use1-explicit", CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    r = attempt("s3 get_bucket_location eu-west-1 (eu client)", eu.get_bucket_location, Bucket="b-euw1")
    fact("s3 get_bucket_location eu-west-1 LocationConstraint", r and r.get("LocationConstraint"))
    r = attempt("s3 get_bucket_location eu-west-1 (us-east-1 client)", s3.get_bucket_location, Bucket="b-euw1")
    fact("s3 get_bucket_location eu-west-1 via us-east-1 client", r and r.get("LocationConstraint"))
    r = attempt("s3 head_bucket eu bucket via us-east-1 client", s3.head_bucket, Bucket="b-euw1")
    fact("s3 head_bucket eu x-amz-bucket-region", r and r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region"))

    for b, c in (("b-use1", s3), ("b-euw1", eu)):
        attempt(f"s3 get_public_access_block absent [{b}]", c.get_public_access_block, Bucket=b)
        cfg = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
        attempt(f"s3 put_public_access_block [{b}]", c.put_public_access_block, Bucket=b, PublicAccessBlockConfiguration=cfg)
        r = attempt(f"s3 get_public_access_block [{b}]", c.get_public_access_block, Bucket=b)
        fact(f"s3 get_public_access_block value [{b}]", r and r["PublicAccessBlockConfiguration"])
        attempt(f"s3 delete_public_access_block [{b}]", c.delete_public_access_block, Bucket=b)
        attempt(f"s3 get_public_access_block after delete [{b}]", c.get_public_access_block, Bucket=b)
        attempt(f"s3 delete_public_access_block again [{b}]", c.delete_public_access_block, Bucket=b)

        r = attempt(f"s3 get_bucket_encryption absent [{b}]", c.get_bucket_encryption, Bucket=b)
        fact(f"s3 get_bucket_encryption default [{b}]", r and r["ServerSideEncryptionConfiguration"])
        attempt(
            f"s3 put_bucket_encryption aws:kms [{b}]",
            c.put_bucket_encryption,
            Bucket=b,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/aws/s3"}, "BucketKeyEnabled": True}]},
        )
        r = attempt(f"s3 get_bucket_encryption [{b}]", c.get_bucket_encryption, Bucket=b)
        fact(f"s3 get_bucket_encryption value [{b}]", r and r["ServerSideEncryptionConfiguration"])
        attempt(f"s3 delete_bucket_encryption [{b}]", c.delete_bucket_encryption, Bucket=b)
        attempt(f"s3 get_bucket_encryption after delete [{b}]", c.get_bucket_encryption, Bucket=b)

        r = attempt(f"s3 get_bucket_versioning fresh [{b}]", c.get_bucket_versioning, Bucket=b)
        fact(f"s3 get_bucket_versioning fresh Status [{b}]", r and repr(r.get("Status")))
        attempt(f"s3 put_bucket_versioning Enabled [{b}]", c.put_bucket_versioning, Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        fact(f"s3 get_bucket_versioning after Enabled [{b}]", c.get_bucket_versioning(Bucket=b).get("Status"))
        c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
        fact(f"s3 get_bucket_versioning after Suspended [{b}]", c.get_bucket_versioning(Bucket=b).get("Status"))

        attempt(f"s3 get_bucket_tagging absent [{b}]", c.get_bucket_tagging, Bucket=b)
        attempt(f"s3 put_bucket_tagging [{b}]", c.put_bucket_tagging, Bucket=b, Tagging={"TagSet": [{"Key": "owner", "Value": "pinfra"}]})
        r = attempt(f"s3 get_bucket_tagging [{b}]", c.get_bucket_tagging, Bucket=b)
        fact(f"s3 get_bucket_tagging value [{b}]", r and r["TagSet"])
        attempt(f"s3 delete_bucket_tagging [{b}]", c.delete_bucket_tagging, Bucket=b)
        attempt(f"s3 get_bucket_tagging after delete [{b}]", c.get_bucket_tagging, Bucket=b)
        attempt(f"s3 put_bucket_tagging empty TagSet [{b}]", c.put_bucket_tagging, Bucket=b, Tagging={"TagSet": []})
        attempt(f"s3 get_bucket_tagging after empty put [{b}]", c.get_bucket_tagging, Bucket=b)

        c.put_object(Bucket=b, Key="k", Body=b"x")
        attempt(f"s3 delete_bucket non-empty (versioned/suspended) [{b}]", c.delete_bucket, Bucket=b)
    s3.create_bucket(Bucket="b-plain")
    s3.put_object(Bucket="b-plain", Key="k", Body=b"x")
    attempt("s3 delete_bucket non-empty (never versioned)", s3.delete_bucket, Bucket="b-plain")
    s3.delete_object(Bucket="b-plain", Key="k")
    attempt("s3 delete_bucket emptied", s3.delete_bucket, Bucket="b-plain")
    attempt("s3 delete_bucket missing", s3.delete_bucket, Bucket="b-plain")
    s3.list_buckets()
    fact("s3 list_buckets raw CreationDate", raw_tag("ListBuckets", "CreationDate"))


def s3_owner_facts() -> None:
    """A bucket of another account (sts.assume_role into it) and the bucket owner condition
    (x-amz-expected-bucket-owner, sandbox extension s3_compat)."""
    creds = client("sts").assume_role(RoleArn="arn:aws:iam::111111111111:role/probe", RoleSessionName="probe")["Credentials"]
    other = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"], "aws_session_token": creds["SessionToken"]}
    fact("sts.assume_role 111111111111 credentials: get_caller_identity Account", client("sts", **other).get_caller_identity()["Account"])
    s3, s3o, eu = client("s3"), client("s3", **other), client("s3", "eu-west-1")
    b = "probe-locks-123456789012-us-east-1"
    attempt("s3 create_bucket as 111111111111", s3o.create_bucket, Bucket=b)
    attempt("s3 us-east-1 create_bucket of another account's name", s3.create_bucket, Bucket=b)
    attempt("s3 eu-west-1 create_bucket of another account's name", eu.create_bucket, Bucket=b, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    attempt("s3 put_object ExpectedBucketOwner=123456789012 (owner 111111111111)", s3.put_object, Bucket=b, Key="k", Body=b"x", ExpectedBucketOwner="123456789012")
    attempt("s3 put_object ExpectedBucketOwner=111111111111 as 111111111111", s3o.put_object, Bucket=b, Key="k", Body=b"x", ExpectedBucketOwner="111111111111")
    attempt("s3 get_object ExpectedBucketOwner=123456789012 (owner 111111111111)", s3.get_object, Bucket=b, Key="k", ExpectedBucketOwner="123456789012")
    fact("s3 get_object wrong owner raw", RAW.get("GetObject"))
    attempt("s3 head_object ExpectedBucketOwner=123456789012 (owner 111111111111)", s3.head_object, Bucket=b, Key="k", ExpectedBucketOwner="123456789012")
    fact("s3 head_object wrong owner raw", RAW.get("HeadObject"))
    attempt("s3 list_objects_v2 ExpectedBucketOwner=123456789012 (owner 111111111111)", s3.list_objects_v2, Bucket=b, ExpectedBucketOwner="123456789012")
    attempt("s3 get_object without ExpectedBucketOwner (another account's bucket)", s3.get_object, Bucket=b, Key="k")
    attempt("s3 get_object ExpectedBucketOwner=abc", s3o.get_object, Bucket=b, Key="k", ExpectedBucketOwner="abc")
    attempt("s3 get_object ExpectedBucketOwner, missing bucket", s3.get_object, Bucket="probe-nope", Key="k", ExpectedBucketOwner="123456789012")
    s3.create_bucket(Bucket="probe-own")
    attempt(
        "s3 copy_object ExpectedSourceBucketOwner=123456789012 (source owner 111111111111)",
        s3.copy_object, Bucket="probe-own", Key="k", CopySource={"Bucket": b, "Key": "k"}, ExpectedSourceBucketOwner="123456789012",
    )
    attempt("s3 put_object ExpectedBucketOwner=123456789012 (own bucket)", s3.put_object, Bucket="probe-own", Key="k", Body=b"x", ExpectedBucketOwner="123456789012")


def msk_facts() -> None:
    kafka = client("kafka")
    bngi = {"InstanceType": "kafka.m5.large", "ClientSubnets": ["subnet-1", "subnet-2", "subnet-3"], "SecurityGroups": ["sg-1"]}
    iam_auth = {"Sasl": {"Iam": {"Enabled": True}}, "Unauthenticated": {"Enabled": False}}
    r = attempt("kafka.create_cluster (v1)", kafka.create_cluster, ClusterName="demo-v1", KafkaVersion="3.6.0", NumberOfBrokerNodes=3, BrokerNodeGroupInfo=bngi, ClientAuthentication=iam_auth, Tags={"owner": "pinfra"})
    arn1 = r and r["ClusterArn"]
    fact("kafka.create_cluster ClusterArn", arn1)
    fact("kafka.create_cluster State", r and r["State"])
    r = attempt(
        "kafka.create_cluster_v2 (Provisioned)",
        kafka.create_cluster_v2,
        ClusterName="demo-v2",
        Provisioned={"BrokerNodeGroupInfo": bngi, "KafkaVersion": "3.6.0", "NumberOfBrokerNodes": 3, "ClientAuthentication": iam_auth},
    )
    arn2 = r and r["ClusterArn"]
    fact("kafka.create_cluster_v2 ClusterArn", arn2)

    r = attempt("kafka.list_clusters_v2 ClusterNameFilter=demo-v1", kafka.list_clusters_v2, ClusterNameFilter="demo-v1")
    fact("kafka.list_clusters_v2 filter=demo-v1 names", r and [c["ClusterName"] for c in r["ClusterInfoList"]])
    r = attempt("kafka.list_clusters_v2 ClusterNameFilter=demo", kafka.list_clusters_v2, ClusterNameFilter="demo")
    fact("kafka.list_clusters_v2 filter=demo (prefix) names", r and [c["ClusterName"] for c in r["ClusterInfoList"]])
    fact("kafka.list_clusters_v2 raw creationTime", re.findall(rb'"creationTime": "[^"]*"', RAW.get("ListClustersV2", b""))[:1])
    r = attempt("kafka.list_clusters ClusterNameFilter=demo-v2", kafka.list_clusters, ClusterNameFilter="demo-v2")
    fact("kafka.list_clusters names", r and [c["ClusterName"] for c in r["ClusterInfoList"]])
    for label, arn in (("v1-created", arn1), ("v2-created", arn2)):
        if not arn:
            continue
        r = attempt(f"kafka.describe_cluster_v2 [{label}]", kafka.describe_cluster_v2, ClusterArn=arn)
        if r:
            ci = r["ClusterInfo"]
            prov = ci.get("Provisioned", {})
            fact(f"kafka.describe_cluster_v2 [{label}] State/Type", (ci["State"], ci["ClusterType"]))
            fact(f"kafka.describe_cluster_v2 [{label}] ClientAuthentication", prov.get("ClientAuthentication"))
            fact(f"kafka.describe_cluster_v2 [{label}] KafkaVersion/Brokers", (prov.get("CurrentBrokerSoftwareInfo", {}).get("KafkaVersion"), prov.get("NumberOfBrokerNodes")))
            fact(f"kafka.describe_cluster_v2 [{label}] BrokerNodeGroupInfo", prov.get("BrokerNodeGroupInfo"))
        r = attempt(f"kafka.describe_cluster [{label}]", kafka.describe_cluster, ClusterArn=arn)
        if r:
            ci = r["ClusterInfo"]
            fact(f"kafka.describe_cluster [{label}] ClientAuthentication", ci.get("ClientAuthentication"))
    fact("kafka.describe_cluster raw creationTime", re.findall(rb'"creationTime": "[^"]*"', RAW.get("DescribeCluster", b""))[:1])
    missing = "arn:aws:kafka:us-east-1:123456789012:cluster/nope/00000000-0000-0000-0000-000000000000-1"
    attempt("kafka.describe_cluster_v2 missing", kafka.describe_cluster_v2, ClusterArn=missing)
    attempt("kafka.describe_cluster missing", kafka.describe_cluster, ClusterArn=missing)
    if arn1:
        r = attempt("kafka.get_bootstrap_brokers", kafka.get_bootstrap_brokers, ClusterArn=arn1)
        fact("kafka.get_bootstrap_brokers raw", RAW.get("GetBootstrapBrokers", b"")[:160])
        r = attempt("kafka.list_tags_for_resource", kafka.list_tags_for_resource, ResourceArn=arn1)
        fact("kafka.list_tags_for_resource value", r and r["Tags"])
        msk_topic_facts(kafka, arn1)
    msk_cluster_facts(kafka)


def ec2_default_vpc_facts() -> None:
    """The default VPC and its default subnets, as pinfra finds them for a new MSK cluster."""
    for region in ("us-east-1", "eu-west-1"):
        ec2 = client("ec2", region)
        r = attempt(f"ec2.describe_vpcs isDefault=true [{region}]", ec2.describe_vpcs, Filters=[{"Name": "isDefault", "Values": ["true"]}])
        vpcs = (r or {}).get("Vpcs", [])
        fact(f"ec2 default vpcs [{region}]", [(v["VpcId"], v["CidrBlock"]) for v in vpcs])
        if not vpcs:
            continue
        filters = [{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}, {"Name": "default-for-az", "Values": ["true"]}]
        r = attempt(f"ec2.describe_subnets vpc-id+default-for-az [{region}]", ec2.describe_subnets, Filters=filters)
        fact(f"ec2 default subnets [{region}]", sorted((s["AvailabilityZone"], s["SubnetId"]) for s in (r or {}).get("Subnets", [])))


def control(method: str, path: str, body: Any = None) -> Any:
    """A /_sandbox control request; answers the JSON (or the error text with its status)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(body).encode() if body is not None else None
    try:
        return json.load(opener.open(urllib.request.Request(f"{URL}{path}", data=data, method=method)))
    except urllib.error.HTTPError as err:
        return (err.code, err.read().decode())


def ec2_instance_facts() -> None:
    """The Kafka client instance as pinfra launches it (sandbox extension ec2_compat)."""
    iam = client("iam")
    iam.create_role(RoleName="probe-ec2", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    iam.create_instance_profile(InstanceProfileName="probe-ec2")
    iam.add_role_to_instance_profile(InstanceProfileName="probe-ec2", RoleName="probe-ec2")
    user_data = b"#!/bin/bash\necho kafka client\n"
    timing_launch: dict[str, Any] = {}
    for region in ("us-east-1", "eu-west-1"):
        ssm, ec2 = client("ssm", region), client("ec2", region)
        r = attempt(f"ssm.get_parameter al2023 [{region}]", ssm.get_parameter, Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
        ami = r and r["Parameter"]["Value"]
        fact(f"ssm al2023 raw [{region}]", RAW.get("GetParameter"))
        r = attempt(f"ec2.describe_images al2023 [{region}]", ec2.describe_images, ImageIds=[ami])
        fact(f"ec2 al2023 image RootDeviceName/Name [{region}]", r and (r["Images"][0]["RootDeviceName"], r["Images"][0]["Name"]))
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        sg = ec2.create_security_group(GroupName="probe-client", Description="probe", VpcId=vpc)["GroupId"]
        tags = [{"Key": "Name", "Value": "probe-client"}, {"Key": "pinfra", "Value": "probe"}]
        launch = dict(
            ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", ClientToken=f"probe-{region}",
            IamInstanceProfile={"Name": "probe-ec2"}, SecurityGroupIds=[sg], UserData=user_data,  # boto3 base64-encodes it
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 20, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}}],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}, {"ResourceType": "volume", "Tags": tags}],
        )
        r = attempt(f"ec2.run_instances [{region}]", ec2.run_instances, **launch)
        if not r:
            continue
        first = r["Instances"][0]
        iid = first["InstanceId"]
        fact(f"ec2.run_instances State/PublicDnsName [{region}]", (first["State"]["Name"], first.get("PublicDnsName")))
        r = attempt(f"ec2.run_instances same ClientToken [{region}]", ec2.run_instances, **launch)
        fact(f"ec2.run_instances same ClientToken: same instance [{region}]", r and r["Instances"][0]["InstanceId"] == iid)
        attempt(f"ec2.run_instances same ClientToken, t3.small [{region}]", ec2.run_instances, **{**launch, "InstanceType": "t3.small"})
        filters = [{"Name": "tag:Name", "Values": ["probe-client"]}, {"Name": "instance-state-name", "Values": ["pending", "running"]}]
        r = attempt(f"ec2.describe_instances tag:Name+instance-state-name [{region}]", ec2.describe_instances, Filters=filters)
        inst = r["Reservations"][0]["Instances"][0] if r and r["Reservations"] else {}
        fact(f"ec2 instance State [{region}]", inst.get("State"))
        fact(f"ec2 instance PublicDnsName/PublicIpAddress [{region}]", (inst.get("PublicDnsName"), inst.get("PublicIpAddress")))
        fact(f"ec2 instance PrivateIpAddress/SubnetId [{region}]", (inst.get("PrivateIpAddress"), inst.get("SubnetId")))
        fact(f"ec2 instance IamInstanceProfile [{region}]", inst.get("IamInstanceProfile"))
        fact(f"ec2 instance MetadataOptions [{region}]", inst.get("MetadataOptions"))
        fact(f"ec2 instance SecurityGroups/Tags/ClientToken [{region}]", (inst.get("SecurityGroups"), inst.get("Tags"), inst.get("ClientToken")))
        fact(f"ec2 instance RootDeviceName/BlockDeviceMappings [{region}]", (inst.get("RootDeviceName"), inst.get("BlockDeviceMappings")))
        fact(f"ec2 instance raw launchTime [{region}]", raw_tag("DescribeInstances", "launchTime"))
        r = attempt(f"ec2.describe_instances client-token filter [{region}]", ec2.describe_instances, Filters=[{"Name": "client-token", "Values": [f"probe-{region}"]}])
        volume_ids = [m["Ebs"]["VolumeId"] for m in inst.get("BlockDeviceMappings", [])]
        r = attempt(f"ec2.describe_volumes root [{region}]", ec2.describe_volumes, VolumeIds=volume_ids)
        fact(f"ec2 root volume Size/VolumeType/Encrypted/Tags [{region}]", r and [(v["Size"], v["VolumeType"], v["Encrypted"], v.get("Tags")) for v in r["Volumes"]])
        volumes = (r or {}).get("Volumes", [])
        extra = [(v.get("Throughput"), v.get("MultiAttachEnabled"), [a.get("DeleteOnTermination") for a in v["Attachments"]]) for v in volumes]
        fact(f"ec2 root volume Throughput/MultiAttachEnabled/Attachments.DeleteOnTermination [{region}]", extra)
        r = attempt(f"ec2.describe_instance_attribute userData [{region}]", ec2.describe_instance_attribute, InstanceId=iid, Attribute="userData")
        fact(f"ec2 userData round-trips [{region}]", r and base64.b64decode(r["UserData"]["Value"]) == user_data)
        if region != "us-east-1":
            continue
        attempt("ec2.modify_instance_attribute InstanceType while running", ec2.modify_instance_attribute, InstanceId=iid, InstanceType={"Value": "t3.small"})
        r = attempt("ec2.stop_instances", ec2.stop_instances, InstanceIds=[iid])
        fact("ec2.stop_instances CurrentState", r and r["StoppingInstances"][0]["CurrentState"])
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        fact("ec2 stopped: State/PublicIpAddress/PublicDnsName", (inst["State"], inst.get("PublicIpAddress"), inst.get("PublicDnsName")))
        attempt("ec2.modify_instance_attribute InstanceType while stopped", ec2.modify_instance_attribute, InstanceId=iid, InstanceType={"Value": "t3.small"})
        r = attempt("ec2.start_instances", ec2.start_instances, InstanceIds=[iid])
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        fact("ec2 started: State/InstanceType/new PublicIpAddress", (inst["State"], inst["InstanceType"], inst.get("PublicIpAddress")))
        r = attempt("ec2.terminate_instances", ec2.terminate_instances, InstanceIds=[iid])
        fact("ec2.terminate_instances CurrentState", r and r["TerminatingInstances"][0]["CurrentState"])
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        fact("ec2 terminated: State/BlockDeviceMappings", (inst["State"], inst.get("BlockDeviceMappings")))
        attempt("ec2.describe_volumes root after terminate", ec2.describe_volumes, VolumeIds=volume_ids)
        attempt("ec2.start_instances terminated", ec2.start_instances, InstanceIds=[iid])
        r = attempt("ec2.run_instances same ClientToken after terminate", ec2.run_instances, **launch)
        fact("ec2 replay after terminate: InstanceId same/State", r and (r["Instances"][0]["InstanceId"] == iid, r["Instances"][0]["State"]))
        attempt("ec2.run_instances unknown profile", ec2.run_instances, **{**launch, "ClientToken": "probe-2", "IamInstanceProfile": {"Name": "nope"}})
        fact("ec2.run_instances unknown profile raw", RAW.get("RunInstances"))
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvQk3VUKpVtGKdVqQ4S2zqWPzD8Gz6QE7Kq7gXgk+3Q probe"
        r = attempt("ec2.import_key_pair", ec2.import_key_pair, KeyName="probe", PublicKeyMaterial=key.encode())
        fact("ec2.import_key_pair raw", RAW.get("ImportKeyPair"))
        attempt("ec2.import_key_pair again", ec2.import_key_pair, KeyName="probe", PublicKeyMaterial=key.encode())
        attempt("ec2.create_key_pair (no KeyType)", ec2.create_key_pair, KeyName="probe-created")
        r = attempt("ec2.describe_key_pairs created", ec2.describe_key_pairs, KeyNames=["probe-created"])
        fact("ec2 created key pair KeyType", r and r["KeyPairs"][0].get("KeyType"))
        timing_launch = {**launch, "ClientToken": "probe-timing", "IamInstanceProfile": {"Name": "probe-ec2-new"}}
    ec2_timing_facts(client("ec2"), timing_launch)


def ec2_timing_facts(ec2: Any, launch: dict[str, Any]) -> None:
    """state_delay_ms and profile_propagation_ms (/_sandbox/ec2/settings)."""
    fact("ec2 settings", control("POST", "/_sandbox/ec2/settings", {"state_delay_ms": 300, "profile_propagation_ms": 300}))
    client("iam").create_instance_profile(InstanceProfileName="probe-ec2-new")
    attempt("ec2.run_instances profile created just now", ec2.run_instances, **launch)
    time.sleep(0.35)
    r = attempt("ec2.run_instances 350 ms later", ec2.run_instances, **launch)
    iid = r and r["Instances"][0]["InstanceId"]
    state = lambda: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]  # noqa: E731
    fact("ec2 state right after launch", state())
    attempt("ec2.stop_instances pending", ec2.stop_instances, InstanceIds=[iid])
    time.sleep(0.35)
    fact("ec2 state 350 ms later", state())
    ec2.stop_instances(InstanceIds=[iid])
    fact("ec2 state right after stop", state())
    attempt("ec2.start_instances stopping", ec2.start_instances, InstanceIds=[iid])
    time.sleep(0.35)
    fact("ec2 state 350 ms later", state())
    r = attempt("ec2.stop_instances stopped", ec2.stop_instances, InstanceIds=[iid])
    fact("ec2.stop_instances stopped: Current/Previous", r and (r["StoppingInstances"][0]["CurrentState"]["Name"], r["StoppingInstances"][0]["PreviousState"]["Name"]))
    ec2.terminate_instances(InstanceIds=[iid])
    fact("ec2 state right after terminate", state())
    control("POST", "/moto-api/reset")
    fact("ec2 settings after reset", control("GET", "/_sandbox/ec2/settings"))


def fault_facts() -> None:
    """Faults that hit after the call took effect, and dropped connections (faults extension)."""
    control("POST", "/moto-api/reset")
    fact("fault unknown key", control("POST", "/_sandbox/faults", {"service": "ec2", "afer": True}))
    retrying = boto3.client("ec2", endpoint_url=URL, region_name="us-east-1", config=Config(retries={"mode": "standard", "max_attempts": 3}))
    attempts: list[int] = []
    retrying.meta.events.register("before-send.ec2.RunInstances", lambda **_: attempts.append(1))
    ami = client("ssm").get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    for spec in ({"after": True}, {"after": True, "reset": True}, {"reset": True}):
        control("DELETE", "/_sandbox/faults")
        control("POST", "/_sandbox/faults", {"service": "ec2", "operation": "RunInstances", "status": 503, "code": "Unavailable", **spec})
        attempts.clear()
        before = sum(len(r["Instances"]) for r in client("ec2").describe_instances()["Reservations"])
        attempt(f"ec2.run_instances, fault {spec}, SDK retries", retrying.run_instances, ImageId=ami, MinCount=1, MaxCount=1)
        after = sum(len(r["Instances"]) for r in client("ec2").describe_instances()["Reservations"])
        fact("  attempts/instances launched", (len(attempts), after - before))
    control("DELETE", "/_sandbox/faults")
    control("POST", "/_sandbox/faults", {"service": "ec2", "operation": "DescribeVpcs", "status": 403, "code": "UnauthorizedOperation"})
    attempt("ec2.describe_vpcs with a fault", client("ec2").describe_vpcs)
    fact("ec2 fault raw", RAW.get("DescribeVpcs"))
    control("DELETE", "/_sandbox/faults")


def chaos_facts() -> None:
    """Random faults at a seeded rate and killing a client at its N-th mutating call (chaos)."""
    import subprocess

    control("POST", "/moto-api/reset")
    fact("chaos bad specs", [control("POST", "/_sandbox/chaos", spec)[0] for spec in ({"rate": 0.1, "sed": 1}, {"rate": 1.5}, {"rate": 0.1, "kinds": ["boom"]}, {})])
    once = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 1})

    def bare(service: str) -> Any:
        return boto3.client(service, endpoint_url=URL, region_name="us-east-1", config=once)

    reads = {
        "iam": lambda: bare("iam").list_roles(),
        "sts": lambda: bare("sts").get_caller_identity(),
        "ec2": lambda: bare("ec2").describe_vpcs(),
        "s3": lambda: bare("s3").list_buckets(),
        "kafka": lambda: bare("kafka").list_clusters_v2(),
        "kafkaconnect": lambda: bare("kafkaconnect").list_connectors(),
        "apigateway": lambda: bare("apigateway").get_rest_apis(),
        "ssm": lambda: bare("ssm").describe_parameters(),
    }
    for kind in ("throttle", "500", "503", "reset", "slow"):
        control("POST", "/_sandbox/chaos", {"rate": 1.0, "seed": 7, "kinds": [kind], "slow_ms": 50})
        seen = {}
        for service, call in reads.items():
            try:
                call()
                seen[service] = "OK"
            except ClientError as err:
                seen[service] = f"{err.response['Error'].get('Code')} {err.response['ResponseMetadata'].get('HTTPStatusCode')}"
            except Exception as err:  # noqa: BLE001
                seen[service] = type(err).__name__
        fact(f"chaos rate 1.0 kind {kind}", seen)
        fact("  injected", control("GET", "/_sandbox/chaos")["injected"])
    before = control("GET", "/_sandbox/chaos")["requests"]
    status, _body = invoke("GET", "/restapis/nope/prod/_user_request_/x")
    fact("chaos: execute-api invocation not hit (status, requests counted)", (status, control("GET", "/_sandbox/chaos")["requests"] - before))

    control("POST", "/_sandbox/chaos", {"rate": 1.0, "seed": 3, "kinds": ["reset"], "services": ["s3"]})
    for i in range(6):
        try:
            bare("s3").create_bucket(Bucket=f"probe-chaos-{i}")
        except Exception:  # noqa: BLE001 - every one is dropped
            pass
    log = control("GET", "/_sandbox/chaos")["log"]
    control("DELETE", "/_sandbox/chaos")
    buckets = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    fact("chaos reset: (kind, bucket created) per CreateBucket", [(e["kind"], f"probe-chaos-{i}" in buckets) for i, e in enumerate(log)])

    def seeded_run() -> tuple[list[str], dict[str, Any]]:
        control("POST", "/_sandbox/chaos", {"rate": 0.1, "seed": 42, "slow_ms": 10})
        outcomes = []
        for i in range(50):
            try:
                bare("iam").get_user(UserName=f"probe-chaos-{i % 10}")
                outcomes.append("OK")
            except ClientError as err:
                outcomes.append(err.response["Error"]["Code"])
            except Exception as err:  # noqa: BLE001
                outcomes.append(type(err).__name__)
        state = control("GET", "/_sandbox/chaos")
        control("DELETE", "/_sandbox/chaos")
        return outcomes, state

    (first, a), (second, b) = seeded_run(), seeded_run()
    fact("chaos rate 0.1 seed 42 twice: same outcomes, same log", (first == second, a["log"] == b["log"]))
    fact("  requests/injected/identical_repeats/sdk_retries", (a["requests"], a["injected"], a["identical_repeats"], a["sdk_retries"]))
    control("POST", "/_sandbox/chaos", {"rate": 1.0, "kinds": ["throttle"], "mutating_only": True, "services": ["iam"]})
    retrying = boto3.client("iam", endpoint_url=URL, region_name="us-east-1", config=Config(retries={"mode": "standard", "max_attempts": 3}))
    attempt("chaos mutating_only: iam.list_roles", retrying.list_roles)
    attempt("chaos mutating_only: iam.create_role (max_attempts 3)", retrying.create_role, RoleName="probe-chaos", AssumeRolePolicyDocument="{}")
    state = control("GET", "/_sandbox/chaos")
    fact("  requests/eligible/identical_repeats/sdk_retries", (state["requests"], state["eligible"], state["identical_repeats"], state["sdk_retries"]))
    control("POST", "/moto-api/reset")
    state = control("GET", "/_sandbox/chaos")
    fact("chaos after reset: enabled/requests/total_injected", (state["enabled"], state["requests"], state["total_injected"]))

    victim = subprocess.Popen(["sleep", "60"])
    fact("kill bad pid", control("POST", "/_sandbox/kill", {"pid": 0})[0])
    control("POST", "/_sandbox/kill", {"pid": victim.pid, "after_mutating": 2, "signal": "KILL"})
    s3 = client("s3")
    s3.list_buckets()
    s3.create_bucket(Bucket="probe-kill-1")
    time.sleep(0.3)
    fact("kill: victim alive after mutating call 1", victim.poll() is None)
    s3.create_bucket(Bucket="probe-kill-2")
    try:
        victim.wait(5)
    except subprocess.TimeoutExpired:
        victim.kill()
    fact("kill: victim exit after mutating call 2", victim.returncode)
    fact("kill: call 2 took effect", "probe-kill-2" in {b["Name"] for b in s3.list_buckets()["Buckets"]})
    state = control("GET", "/_sandbox/kill")
    fact("kill state", {k: state[k] for k in ("armed", "seen", "fired", "operation", "error")})
    control("POST", "/_sandbox/kill", {"pid": victim.pid, "after_mutating": 1})
    s3.create_bucket(Bucket="probe-kill-3")
    fact("kill of a gone pid: error", control("GET", "/_sandbox/kill")["error"])
    control("POST", "/moto-api/reset")
    fact("kill after reset: armed/seen/fired", tuple(control("GET", "/_sandbox/kill")[k] for k in ("armed", "seen", "fired")))


def msk_cluster_facts(kafka: Any) -> None:
    """Cluster lifecycle (sandbox extension msk_clusters), with fast delays."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    settings = json.dumps({"cluster_delay_ms": 0, "cluster_update_delay_ms": 200}).encode()
    opener.open(urllib.request.Request(f"{URL}/_sandbox/msk/settings", data=settings, method="POST")).read()
    bngi = {"InstanceType": "kafka.m5.large", "ClientSubnets": ["subnet-1", "subnet-2", "subnet-3"], "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 100}}}
    provisioned = {"BrokerNodeGroupInfo": bngi, "KafkaVersion": "3.6.0", "NumberOfBrokerNodes": 3}
    r = attempt("kafka.create_cluster_v2 [life]", kafka.create_cluster_v2, ClusterName="life", Provisioned=provisioned)
    if not r:
        return
    arn = r["ClusterArn"]
    attempt("kafka.create_cluster_v2 same name", kafka.create_cluster_v2, ClusterName="life", Provisioned=provisioned)
    attempt("kafka.create_cluster_v2 4 brokers in 3 subnets", kafka.create_cluster_v2, ClusterName="life-4", Provisioned={**provisioned, "NumberOfBrokerNodes": 4})
    info = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    version = info["CurrentVersion"]
    fact("kafka.describe_cluster_v2 [life] State/CurrentVersion", (info["State"], version))
    fact("kafka.describe_cluster_v2 [life] EncryptionInfo", info["Provisioned"].get("EncryptionInfo"))
    attempt("kafka.update_broker_count wrong version", kafka.update_broker_count, ClusterArn=arn, CurrentVersion="K0", TargetNumberOfBrokerNodes=6)
    attempt("kafka.update_broker_count 4 (3 subnets)", kafka.update_broker_count, ClusterArn=arn, CurrentVersion=version, TargetNumberOfBrokerNodes=4)
    attempt("kafka.update_broker_storage shrink", kafka.update_broker_storage, ClusterArn=arn, CurrentVersion=version, TargetBrokerEBSVolumeInfo=[{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 50}])
    r = attempt("kafka.update_broker_storage 200", kafka.update_broker_storage, ClusterArn=arn, CurrentVersion=version, TargetBrokerEBSVolumeInfo=[{"KafkaBrokerNodeId": "All", "VolumeSizeGB": 200}])
    fact("kafka.update_broker_storage raw", RAW.get("UpdateBrokerStorage"))
    info = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    fact("kafka.describe_cluster_v2 right after: State/version/size", (info["State"], info["CurrentVersion"] == version, info["Provisioned"]["BrokerNodeGroupInfo"]["StorageInfo"]))
    attempt("kafka.update_broker_type while UPDATING", kafka.update_broker_type, ClusterArn=arn, CurrentVersion=version, TargetInstanceType="kafka.m5.xlarge")
    time.sleep(0.3)
    info = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    fact("kafka.describe_cluster_v2 later: State/version changed/size", (info["State"], info["CurrentVersion"] != version, info["Provisioned"]["BrokerNodeGroupInfo"]["StorageInfo"]))
    if r:
        op = attempt("kafka.describe_cluster_operation_v2", kafka.describe_cluster_operation_v2, ClusterOperationArn=r["ClusterOperationArn"])
        fact("kafka.describe_cluster_operation_v2 state/type", op and (op["ClusterOperationInfo"]["OperationState"], op["ClusterOperationInfo"]["OperationType"]))
    r = attempt("kafka.delete_cluster", kafka.delete_cluster, ClusterArn=arn)
    fact("kafka.delete_cluster State", r and r["State"])
    attempt("kafka.describe_cluster_v2 after delete (delay 0)", kafka.describe_cluster_v2, ClusterArn=arn)


def msk_topic_facts(kafka: Any, arn: str) -> None:
    """The topic API (sandbox extension msk_topics), with its default settings."""
    configs = base64.b64encode(json.dumps({"retention.ms": "100"}).encode()).decode()
    r = attempt("kafka.create_topic", kafka.create_topic, ClusterArn=arn, TopicName="t1", PartitionCount=3, ReplicationFactor=3, Configs=configs)
    fact("kafka.create_topic raw", RAW.get("CreateTopic"))
    attempt("kafka.create_topic again", kafka.create_topic, ClusterArn=arn, TopicName="t1", PartitionCount=3, ReplicationFactor=3)
    attempt("kafka.create_topic replicationFactor 4 (3 brokers)", kafka.create_topic, ClusterArn=arn, TopicName="t2", PartitionCount=1, ReplicationFactor=4)
    r = attempt("kafka.describe_topic", kafka.describe_topic, ClusterArn=arn, TopicName="t1")
    fact("kafka.describe_topic Status", r and r["Status"])
    fact("kafka.describe_topic configs decoded", r and base64.b64decode(r["Configs"]).decode().replace("\n", " | "))
    attempt("kafka.describe_topic missing", kafka.describe_topic, ClusterArn=arn, TopicName="nope")
    attempt("kafka.update_topic partitions+configs", kafka.update_topic, ClusterArn=arn, TopicName="t1", PartitionCount=4, Configs=configs)
    attempt("kafka.update_topic while CREATING", kafka.update_topic, ClusterArn=arn, TopicName="t1", PartitionCount=4)
    r = attempt("kafka.list_topics", kafka.list_topics, ClusterArn=arn)
    fact("kafka.list_topics raw", RAW.get("ListTopics"))
    r = attempt("kafka.delete_topic", kafka.delete_topic, ClusterArn=arn, TopicName="t1")
    fact("kafka.delete_topic Status", r and r["Status"])


def kafkaconnect_facts() -> None:
    """MSK Connect (sandbox extension kafkaconnect; moto has none), with fast delays."""
    control("POST", "/moto-api/reset")
    fact("kafkaconnect settings (defaults)", control("GET", "/_sandbox/kafkaconnect/settings"))
    fact("kafkaconnect settings", control("POST", "/_sandbox/kafkaconnect/settings", {"plugin_delay_ms": 200, "connector_delay_ms": 200, "update_delay_ms": 200}))
    kc, s3, iam = client("kafkaconnect"), client("s3"), client("iam")
    s3.create_bucket(Bucket="probe-plugins")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("lib/sink.jar", b"jar")
    s3.put_object(Bucket="probe-plugins", Key="sink.zip", Body=archive.getvalue())
    s3.put_object(Bucket="probe-plugins", Key="broken.zip", Body=b"not a zip")
    role = iam.create_role(RoleName="probe-connect", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]

    def location(key: str, bucket: str = "probe-plugins") -> dict[str, Any]:
        return {"s3Location": {"bucketArn": f"arn:aws:s3:::{bucket}", "fileKey": key}}

    r = attempt("kafkaconnect.create_custom_plugin ZIP", lambda: kc.create_custom_plugin(name="probe-sink", contentType="ZIP", location=location("sink.zip"), tags={"owner": "pinfra"}))
    fact("kafkaconnect.create_custom_plugin raw", RAW.get("CreateCustomPlugin"))
    plugin = r and r["customPluginArn"]
    attempt("kafkaconnect.create_custom_plugin same name", lambda: kc.create_custom_plugin(name="probe-sink", contentType="ZIP", location=location("sink.zip")))
    attempt("kafkaconnect.create_custom_plugin missing object", lambda: kc.create_custom_plugin(name="probe-x", contentType="ZIP", location=location("nope.zip")))
    attempt("kafkaconnect.create_custom_plugin missing bucket", lambda: kc.create_custom_plugin(name="probe-x", contentType="ZIP", location=location("sink.zip", "probe-nope")))
    broken = kc.create_custom_plugin(name="probe-broken", contentType="ZIP", location=location("broken.zip"))["customPluginArn"]
    if not plugin:
        return
    r = kc.describe_custom_plugin(customPluginArn=plugin)
    fact("kafkaconnect plugin right after create: state/latestRevision", (r["customPluginState"], r.get("latestRevision")))
    time.sleep(0.25)
    r = kc.describe_custom_plugin(customPluginArn=plugin)
    fact("kafkaconnect plugin 250 ms later: state/latestRevision", (r["customPluginState"], r.get("latestRevision")))
    fact("kafkaconnect.describe_custom_plugin raw creationTime", re.findall(rb'"creationTime": "[^"]*"', RAW.get("DescribeCustomPlugin", b""))[:1])
    r = kc.describe_custom_plugin(customPluginArn=broken)
    fact("kafkaconnect plugin from a broken ZIP: state/stateDescription", (r["customPluginState"], r.get("stateDescription")))
    fact("kafkaconnect.list_tags_for_resource plugin", kc.list_tags_for_resource(resourceArn=plugin)["tags"])

    config = {"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "orders", "s3.bucket.name": "probe-sink", "flush.size": "10"}
    spec: dict[str, Any] = dict(
        capacity={"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}},
        connectorConfiguration=config,
        kafkaCluster={"apacheKafkaCluster": {"bootstrapServers": "b-1.demo:9098,b-2.demo:9098", "vpc": {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-1"]}}},
        kafkaClusterClientAuthentication={"authenticationType": "IAM"},
        kafkaClusterEncryptionInTransit={"encryptionType": "TLS"},
        kafkaConnectVersion="2.7.1",
        plugins=[{"customPlugin": {"customPluginArn": plugin, "revision": 1}}],
        serviceExecutionRoleArn=role,
    )
    attempt("kafkaconnect.create_connector unknown role", kc.create_connector, connectorName="probe-x", **{**spec, "serviceExecutionRoleArn": "arn:aws:iam::123456789012:role/nope"})
    attempt("kafkaconnect.create_connector CREATE_FAILED plugin", kc.create_connector, connectorName="probe-x", **{**spec, "plugins": [{"customPlugin": {"customPluginArn": broken, "revision": 1}}]})
    attempt("kafkaconnect.create_connector mcuCount 3", kc.create_connector, connectorName="probe-x", **{**spec, "capacity": {"provisionedCapacity": {"mcuCount": 3, "workerCount": 1}}})
    attempt("kafkaconnect.create_connector no connector.class", kc.create_connector, connectorName="probe-x", **{**spec, "connectorConfiguration": {"topics": "orders"}})
    r = attempt("kafkaconnect.create_connector", kc.create_connector, connectorName="probe-sink", tags={"owner": "pinfra"}, **spec)
    fact("kafkaconnect.create_connector raw", RAW.get("CreateConnector"))
    attempt("kafkaconnect.create_connector same name", kc.create_connector, connectorName="probe-sink", **spec)
    if not r:
        return
    arn = r["connectorArn"]
    fact("kafkaconnect connector right after create", kc.describe_connector(connectorArn=arn)["connectorState"])
    time.sleep(0.25)
    d = kc.describe_connector(connectorArn=arn)
    fact("kafkaconnect connector 250 ms later: state/capacity/plugins", (d["connectorState"], d["capacity"], d["plugins"]))
    fact("kafkaconnect.describe_connector raw (head)", RAW.get("DescribeConnector", b"")[:220])
    version = d["currentVersion"]
    attempt("kafkaconnect.update_connector unchanged capacity", kc.update_connector, connectorArn=arn, currentVersion=version, capacity={"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}})
    attempt("kafkaconnect.update_connector capacity + configuration", kc.update_connector, connectorArn=arn, currentVersion=version, capacity={"provisionedCapacity": {"mcuCount": 2, "workerCount": 1}}, connectorConfiguration=config)
    attempt("kafkaconnect.update_connector neither", kc.update_connector, connectorArn=arn, currentVersion=version)
    attempt("kafkaconnect.update_connector stale currentVersion", kc.update_connector, connectorArn=arn, currentVersion="STALE", connectorConfiguration={**config, "flush.size": "5"})
    r = attempt("kafkaconnect.update_connector configuration", kc.update_connector, connectorArn=arn, currentVersion=version, connectorConfiguration={**config, "flush.size": "5"})
    fact("kafkaconnect.update_connector raw", RAW.get("UpdateConnector"))
    attempt("kafkaconnect.update_connector while UPDATING", kc.update_connector, connectorArn=arn, currentVersion=version, connectorConfiguration=config)
    if r:
        op = kc.describe_connector_operation(connectorOperationArn=r["connectorOperationArn"])
        fact("kafkaconnect operation right after: state/steps", (op["connectorOperationState"], [(s["stepType"], s["stepState"]) for s in op["operationSteps"]]))
        time.sleep(0.25)
        op = kc.describe_connector_operation(connectorOperationArn=r["connectorOperationArn"])
        fact("kafkaconnect operation 250 ms later: state/type/endTime set", (op["connectorOperationState"], op["connectorOperationType"], "endTime" in op))
        fact("kafkaconnect operation origin/target flush.size", (op["originConnectorConfiguration"]["flush.size"], op["targetConnectorConfiguration"]["flush.size"]))
    d = kc.describe_connector(connectorArn=arn)
    fact("kafkaconnect connector after update: state/flush.size/new currentVersion", (d["connectorState"], d["connectorConfiguration"]["flush.size"], d["currentVersion"] != version))
    version = d["currentVersion"]

    fact("kafkaconnect fail-next bad spec", control("POST", "/_sandbox/kafkaconnect/fail-next", {"operation": "update", "state": "FAILED"}))
    fact("kafkaconnect fail-next update", control("POST", "/_sandbox/kafkaconnect/fail-next", {"operation": "update", "state": "UPDATE_FAILED", "code": "InvalidInput", "message": "probe"}))
    r = attempt("kafkaconnect.update_connector capacity (fail-next armed)", kc.update_connector, connectorArn=arn, currentVersion=version, capacity={"provisionedCapacity": {"mcuCount": 2, "workerCount": 2}})
    time.sleep(0.25)
    if r:
        op = kc.describe_connector_operation(connectorOperationArn=r["connectorOperationArn"])
        fact("kafkaconnect failed update operation: state/errorInfo/steps", (op["connectorOperationState"], op.get("errorInfo"), [s["stepState"] for s in op["operationSteps"]]))
    d = kc.describe_connector(connectorArn=arn)
    fact("kafkaconnect connector after failed update: state/capacity/same currentVersion", (d["connectorState"], d["capacity"], d["currentVersion"] == version))
    ops = kc.list_connector_operations(connectorArn=arn)["connectorOperations"]
    fact("kafkaconnect.list_connector_operations (newest first)", [(o["connectorOperationType"], o["connectorOperationState"]) for o in ops])
    fact("kafkaconnect fail-next create", control("POST", "/_sandbox/kafkaconnect/fail-next", {"operation": "create", "code": "InvalidInput", "message": "probe"}))
    doomed = kc.create_connector(connectorName="probe-doomed", **spec)["connectorArn"]
    time.sleep(0.25)
    d = kc.describe_connector(connectorArn=doomed)
    fact("kafkaconnect connector created with fail-next: state/stateDescription", (d["connectorState"], d.get("stateDescription")))
    control("DELETE", "/_sandbox/kafkaconnect/fail-next")

    r = kc.list_connectors(maxResults=1)
    r2 = kc.list_connectors(maxResults=1, nextToken=r["nextToken"]) if r.get("nextToken") else {"connectors": []}
    fact("kafkaconnect.list_connectors maxResults=1, two pages", [c["connectorName"] for c in r["connectors"] + r2["connectors"]])
    fact("kafkaconnect.list_connectors connectorNamePrefix=probe-d", [c["connectorName"] for c in kc.list_connectors(connectorNamePrefix="probe-d")["connectors"]])
    attempt("kafkaconnect.tag_resource connector", kc.tag_resource, resourceArn=arn, tags={"env": "dev"})
    attempt("kafkaconnect.untag_resource connector", kc.untag_resource, resourceArn=arn, tagKeys=["owner"])
    fact("kafkaconnect.list_tags_for_resource connector", kc.list_tags_for_resource(resourceArn=arn)["tags"])
    attempt("kafkaconnect.delete_custom_plugin in use", kc.delete_custom_plugin, customPluginArn=plugin)
    r = attempt("kafkaconnect.delete_connector", kc.delete_connector, connectorArn=arn, currentVersion=version)
    fact("kafkaconnect.delete_connector state", r and r["connectorState"])
    kc.delete_connector(connectorArn=doomed)
    attempt("kafkaconnect.delete_connector again (DELETING)", kc.delete_connector, connectorArn=arn)
    attempt("kafkaconnect.delete_custom_plugin while its connectors are DELETING", kc.delete_custom_plugin, customPluginArn=plugin)
    time.sleep(0.25)
    attempt("kafkaconnect.describe_connector 250 ms after delete", kc.describe_connector, connectorArn=arn)
    r = attempt("kafkaconnect.delete_custom_plugin unused", kc.delete_custom_plugin, customPluginArn=plugin)
    fact("kafkaconnect.delete_custom_plugin state", r and r["customPluginState"])
    attempt("kafkaconnect.describe_custom_plugin other region", client("kafkaconnect", "eu-west-1").describe_custom_plugin, customPluginArn=broken)
    attempt("kafkaconnect.pause_connector (not emulated)", kc.pause_connector, connectorArn=arn)
    control("POST", "/moto-api/reset")
    fact("kafkaconnect after reset: plugins/settings", (kc.list_custom_plugins()["customPlugins"], control("GET", "/_sandbox/kafkaconnect/settings")))


def invoke(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """A plain (unsigned) HTTP request to the sandbox, as execute-api clients send them."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    try:
        with opener.open(urllib.request.Request(f"{URL}{path}", data=data, method=method, headers=headers or {})) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def rendered_user_data(bootstrap_servers: str, port: int) -> str:
    """templates/user-data.sh.j2 with its two here-documents, rendered as pinfra renders them."""
    import jinja2

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(root), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    common = {"environment": "dev", "role_arn": "arn:aws:iam::123456789012:role/probe-ec2", "bootstrap_servers": bootstrap_servers, "zookeeper_connect": None, "rest_proxy_port": port}
    newline = lambda text: text if text.endswith("\n") else text + "\n"  # noqa: E731
    return env.get_template("user-data.sh.j2").render(
        kafka_version="3.6.0", scala_version="2.13", msk_iam_auth_version="2.2.0", confluent_version="7.6.1",
        kafka_url="https://example.invalid/kafka.tgz", msk_iam_auth_url="https://example.invalid/iam.jar", confluent_url="https://example.invalid/confluent.tgz",
        client_properties=newline(env.get_template("client.properties.j2").render(**common)),
        rest_properties=newline(env.get_template("kafka-rest.properties.j2").render(**common)),
    )


def data_path_facts() -> None:
    """The data path (sandbox extensions apigateway_compat and data_path): execute-api -> stand-in
    REST proxy on the EC2 instance -> Kafka log -> emulated S3 sink -> S3."""
    control("POST", "/moto-api/reset")
    control("POST", "/_sandbox/kafkaconnect/settings", {"plugin_delay_ms": 0, "connector_delay_ms": 0, "update_delay_ms": 0})
    control("POST", "/_sandbox/msk/settings", {"topic_delay_ms": 0})
    # The facts below are about formats, not MSK IAM: the instance has no instance profile and the
    # connector's role no policy, so MSK IAM access control would refuse both (see
    # scripts/sandbox_tests/test_authz.py). The reset at the end turns it back on.
    fact("authz settings", control("POST", "/_sandbox/authz/settings", {"enforce": False}))
    kafka, ec2, apigw, s3, kc, iam = (client(s) for s in ("kafka", "ec2", "apigateway", "s3", "kafkaconnect", "iam"))
    bngi = {"InstanceType": "kafka.m5.large", "ClientSubnets": ["subnet-1", "subnet-2", "subnet-3"], "SecurityGroups": ["sg-1"]}
    cluster = kafka.create_cluster(
        ClusterName="probe-data", KafkaVersion="3.6.0", NumberOfBrokerNodes=3, BrokerNodeGroupInfo=bngi,
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}, "Unauthenticated": {"Enabled": False}},
    )["ClusterArn"]
    brokers = kafka.get_bootstrap_brokers(ClusterArn=cluster)["BootstrapBrokerStringSaslIam"]
    for topic in ("u1.pin", "u1.geo", "other"):
        kafka.create_topic(ClusterArn=cluster, TopicName=topic, PartitionCount=3, ReplicationFactor=3)
    ami = client("ssm").get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", UserData=rendered_user_data(brokers, 8082))["Instances"][0]["InstanceId"]
    dns = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["PublicDnsName"]
    proxies = control("GET", "/_sandbox/restproxy")["proxies"]
    fact("restproxy stand-in from the rendered user-data: listeners/cluster found", [(p["listeners"], p["cluster_arn"] == cluster) for p in proxies])

    api = apigw.create_rest_api(name="probe-pipeline")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    resource = apigw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigw.put_method(restApiId=api, resourceId=resource, httpMethod="ANY", authorizationType="NONE", requestParameters={"method.request.path.proxy": True})

    def integrate(port: int) -> None:
        apigw.put_integration(
            restApiId=api, resourceId=resource, httpMethod="ANY", type="HTTP_PROXY", integrationHttpMethod="ANY",
            uri=f"http://{dns}:{port}/{{proxy}}", requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
        )

    integrate(8082)
    base = f"/restapis/{api}/prod/_user_request_"
    json_v2 = {"Content-Type": "application/vnd.kafka.json.v2+json"}
    fact("execute-api before any deployment (no stage)", invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 0}}]}, json_v2))
    apigw.create_deployment(restApiId=api, stageName="prod")
    fact("execute-api POST /topics/u1.pin (v2 JSON)", invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 1}}]}, json_v2))
    fact("execute-api unknown path (nothing matches /)", invoke("GET", f"/restapis/{api}/prod/_user_request_/"))
    fact("execute-api unknown stage", invoke("GET", f"/restapis/{api}/nope/_user_request_/topics"))
    fact("restproxy topic not in the cluster (gateway times out first)", invoke("POST", f"{base}/topics/u1.nope", {"records": [{"value": 1}]}, json_v2))
    fact("restproxy GET /topics", invoke("GET", f"{base}/topics"))
    fact("restproxy GET /topics/u1.nope", invoke("GET", f"{base}/topics/u1.nope"))
    fact("restproxy application/json", invoke("POST", f"{base}/topics/u1.pin", b'{"records":[{"value":1}]}', {"Content-Type": "application/json"}))
    fact("restproxy no records", invoke("POST", f"{base}/topics/u1.pin", b'{"records":[]}', json_v2))
    fact("restproxy not JSON", invoke("POST", f"{base}/topics/u1.pin", b'{"records":', json_v2))
    fact("restproxy keyed records (murmur2)", invoke("POST", f"{base}/topics/u1.geo", {"records": [{"key": "k1", "value": {"a": 1}}, {"key": "k2", "value": {"a": 2}}]}, json_v2))

    s3.create_bucket(Bucket="probe-sink")
    s3.create_bucket(Bucket="probe-plugins")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("lib/kafka-connect-s3.jar", b"jar")
    s3.put_object(Bucket="probe-plugins", Key="s3.zip", Body=archive.getvalue())
    plugin = kc.create_custom_plugin(name="probe-s3", contentType="ZIP", location={"s3Location": {"bucketArn": "arn:aws:s3:::probe-plugins", "fileKey": "s3.zip"}})["customPluginArn"]
    kc.describe_custom_plugin(customPluginArn=plugin)
    role = iam.create_role(RoleName="probe-sink", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]

    def connector(name: str, config: dict[str, str]) -> str:
        arn = kc.create_connector(
            connectorName=name,
            capacity={"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}},
            connectorConfiguration={
                "connector.class": "io.confluent.connect.s3.S3SinkConnector", "s3.bucket.name": "probe-sink",
                "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
                "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false", **config,
            },
            kafkaCluster={"apacheKafkaCluster": {"bootstrapServers": brokers, "vpc": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}}},
            kafkaClusterClientAuthentication={"authenticationType": "IAM"},
            kafkaClusterEncryptionInTransit={"encryptionType": "TLS"},
            kafkaConnectVersion="2.7.1",
            plugins=[{"customPlugin": {"customPluginArn": plugin, "revision": 1}}],
            serviceExecutionRoleArn=role,
        )["connectorArn"]
        kc.describe_connector(connectorArn=arn)  # CREATING -> RUNNING (delay 0)
        return arn

    # Without client()'s after-call hook, which reads (and so empties) GetObject's streamed body.
    reader = boto3.client("s3", endpoint_url=URL, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def content(key: str) -> bytes:
        return bytes(reader.get_object(Bucket="probe-sink", Key=key)["Body"].read())

    def objects(prefix: str) -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket="probe-sink", Prefix=prefix).get("Contents", [])]

    fact("s3 objects before any connector", objects(""))
    connector("probe-sink", {"topics.regex": "u1\\..*", "flush.size": "1"})
    keys = objects("topics/")
    fact("s3 objects once a connector (topics.regex u1\\..*, flush.size 1) runs", keys)
    fact("s3 object content", [content(k) for k in keys[:2]])
    invoke("POST", f"{base}/topics/other", {"records": [{"value": {"x": 1}}]}, json_v2)
    fact("s3 objects for a topic the regex does not match", objects("topics/other/"))

    connector("probe-three", {"topics": "u1.pin", "flush.size": "3", "topics.dir": "three"})
    invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 2}, "partition": 0}]}, json_v2)
    fact("flush.size 3, two records in partition 0", objects("three/"))
    invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 3}, "partition": 0}]}, json_v2)
    three = objects("three/")
    fact("flush.size 3, three records in partition 0", (three, [content(k) for k in three]))
    sink = control("GET", "/_sandbox/sink")["connectors"]
    fact("sink state (name, group, offsets, pending, error)", [(c["name"], c["group"], c["offsets"], c["pending"], c["error"]) for c in sink])

    integrate(9999)
    fact("integration port changed, not redeployed", invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 4}}]}, json_v2)[0])
    apigw.update_stage(restApiId=api, stageName="prod", patchOperations=[{"op": "replace", "path": "/description", "value": "probe"}])
    deployment = apigw.create_deployment(restApiId=api, stageName="prod")["id"]
    stage = apigw.get_stage(restApiId=api, stageName="prod")
    fact("stage after CreateDeployment(stageName=prod): description/deploymentId new", (stage.get("description"), stage["deploymentId"] == deployment))
    fact("integration port changed, redeployed", invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 5}}]}, json_v2))
    keyed = apigw.create_resource(restApiId=api, parentId=root, pathPart="keyed")["id"]
    apigw.put_method(restApiId=api, resourceId=keyed, httpMethod="POST", authorizationType="NONE", apiKeyRequired=True)
    apigw.put_integration(restApiId=api, resourceId=keyed, httpMethod="POST", type="HTTP_PROXY", integrationHttpMethod="POST", uri=f"http://{dns}:8082/topics/u1.pin")
    integrate(8082)
    apigw.create_deployment(restApiId=api, stageName="prod")
    key = apigw.create_api_key(name="probe", enabled=True)
    fact("apiKeyRequired, no x-api-key", invoke("POST", f"{base}/keyed", {"records": [{"value": 1}]}, json_v2))
    fact("apiKeyRequired, a key in no usage plan", invoke("POST", f"{base}/keyed", {"records": [{"value": 1}]}, {**json_v2, "x-api-key": key["value"]})[0])
    plan = apigw.create_usage_plan(name="probe", apiStages=[{"apiId": api, "stage": "prod"}])["id"]
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=key["id"], keyType="API_KEY")
    fact("apiKeyRequired, a key in the stage's usage plan", invoke("POST", f"{base}/keyed", {"records": [{"value": 1}]}, {**json_v2, "x-api-key": key["value"]})[0])
    spare = apigw.create_usage_plan(name="probe-spare", apiStages=[{"apiId": api, "stage": "prod"}])["id"]
    attempt("apigateway.delete_usage_plan with an API stage (sandbox: refused)", apigw.delete_usage_plan, usagePlanId=spare)
    r = attempt("apigateway.update_usage_plan remove /apiStages", apigw.update_usage_plan, usagePlanId=spare, patchOperations=[{"op": "remove", "path": "/apiStages", "value": f"{api}:prod"}])
    fact("usage plan apiStages after remove", r and r.get("apiStages"))
    fact("apigateway.delete_usage_plan without stages", attempt("apigateway.delete_usage_plan", apigw.delete_usage_plan, usagePlanId=spare) is not None)
    fact("GET /keyed (only POST)", invoke("GET", f"{base}/keyed"))
    fact("deployment snapshots (uri of {proxy+} ANY)", [[r["methods"]["ANY"]["integration"]["uri"].rsplit(":", 1)[-1] for r in d["resources"] if "ANY" in r["methods"]] for d in control("GET", "/_sandbox/apigateway")["deployments"]])
    fact("restproxy stop (all)", control("POST", "/_sandbox/restproxy/stop", {})["default"])
    fact("execute-api, REST proxy stopped", invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 6}}]}, json_v2))
    control("POST", "/_sandbox/restproxy/start", {"instance_id": iid})
    fact("execute-api, that instance's REST proxy started again", invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 7}}]}, json_v2)[0])
    fact("restproxy control bad key", control("POST", "/_sandbox/restproxy/stop", {"instance": iid}))
    ec2.stop_instances(InstanceIds=[iid])
    fact("execute-api, instance stopped", invoke("POST", f"{base}/topics/u1.pin", {"records": [{"value": {"n": 8}}]}, json_v2)[0])
    fact("restproxy record counts", [(t["topic"], t["partitions"]) for t in control("GET", "/_sandbox/restproxy")["topics"]])
    control("POST", "/moto-api/reset")
    fact("after reset: restproxy/sink/apigateway", (control("GET", "/_sandbox/restproxy")["topics"], control("GET", "/_sandbox/sink"), control("GET", "/_sandbox/apigateway")))


def apigateway_tags_facts() -> None:
    apigw = client("apigateway")
    api = apigw.create_rest_api(name="probe-tags", tags={"a": "1"})["id"]
    arn = f"arn:aws:apigateway:us-east-1::/restapis/{api}"
    r = attempt("apigateway.tag_resource REST API ARN", apigw.tag_resource, resourceArn=arn, tags={"b": "2"})
    fact("apigateway.tag_resource status", r and r["ResponseMetadata"]["HTTPStatusCode"])
    r = attempt("apigateway.get_tags REST API ARN", apigw.get_tags, resourceArn=arn)
    fact("apigateway.get_tags tags", r and r.get("tags"))
    fact("apigateway.get_rest_apis tags", [a.get("tags") for a in apigw.get_rest_apis()["items"] if a["id"] == api])
    attempt("apigateway.untag_resource REST API ARN", apigw.untag_resource, resourceArn=arn, tagKeys=["a", "missing"])
    fact("apigateway.get_rest_api tags after untag", apigw.get_rest_api(restApiId=api).get("tags"))
    attempt("apigateway.get_tags unknown REST API", apigw.get_tags, resourceArn="arn:aws:apigateway:us-east-1::/restapis/nope")
    attempt("apigateway.tag_resource aws: key", apigw.tag_resource, resourceArn=arn, tags={"aws:x": "1"})
    root = next(r["id"] for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api, stageName="dev")
    attempt("apigateway.tag_resource stage ARN", apigw.tag_resource, resourceArn=f"{arn}/stages/dev", tags={"s": "1"})
    fact("apigateway.get_tags stage ARN", apigw.get_tags(resourceArn=f"{arn}/stages/dev").get("tags"))
    patch = [{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "10000"}]
    apigw.update_stage(restApiId=api, stageName="dev", patchOperations=patch)
    stage = apigw.get_stage(restApiId=api, stageName="dev")
    fact("apigateway.get_stage description/methodSettings */*", (stage.get("description"), stage.get("methodSettings", {}).get("*/*")))


def main() -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(f"{URL}/moto-api/reset", method="POST")).read()
    opener.open(urllib.request.Request(f"{URL}/_sandbox/calls/reset", method="POST")).read()
    r = attempt("sts.get_caller_identity", client("sts").get_caller_identity)
    fact("sts account", r and r["Account"])
    iam_facts()
    s3_facts()
    s3_owner_facts()
    msk_facts()
    ec2_default_vpc_facts()
    ec2_instance_facts()
    fault_facts()
    chaos_facts()
    kafkaconnect_facts()
    data_path_facts()
    apigateway_tags_facts()
    calls = json.load(opener.open(f"{URL}/_sandbox/calls"))["calls"]
    fact("sandbox calls recorded", len(calls))
    for c in calls[:3] + calls[-3:]:
        fact("  call", {k: c[k] for k in ("service", "operation", "mutating")})


if __name__ == "__main__":
    main()
