"""DeleteObjects refusing some keys, as S3 does (s3_compat, ``/_sandbox/s3/refuse-delete``): a 200
answer with an ``<Error>`` entry per refused key, the other keys deleted; DeleteObject of a
refused key gets the error itself."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support import Sandbox, http

BUCKET = "sink"


def keys(s3: Any, bucket: str = BUCKET) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def fill(s3: Any, *names: str, bucket: str = BUCKET) -> None:
    for name in names:
        s3.put_object(Bucket=bucket, Key=name, Body=b"x")


def arm(sandbox: Sandbox, **rule: Any) -> dict[str, Any]:
    status, answer = sandbox.post("/_sandbox/s3/refuse-delete", {"bucket": BUCKET, **rule})
    assert status == 200, answer
    return dict(answer)


def test_delete_objects_answers_per_key_errors(sandbox: Sandbox) -> None:
    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    fill(s3, "topics/a.json", "topics/b.json", "keep/c.json", "other.json")
    arm(sandbox, prefix="topics/")
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in ("topics/a.json", "other.json", "topics/b.json")]})
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [d["Key"] for d in answer["Deleted"]] == ["other.json"]
    assert answer["Errors"] == [
        {"Key": "topics/a.json", "Code": "AccessDenied", "Message": "Access Denied"},
        {"Key": "topics/b.json", "Code": "AccessDenied", "Message": "Access Denied"},
    ]
    assert keys(s3) == ["keep/c.json", "topics/a.json", "topics/b.json"]

    # Quiet: only the errors; every key refused: moto is not asked at all; VersionId echoed.
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "topics/a.json", "VersionId": "null"}], "Quiet": True})
    assert answer["Errors"] == [{"Key": "topics/a.json", "VersionId": "null", "Code": "AccessDenied", "Message": "Access Denied"}]
    assert "Deleted" not in answer
    # DeleteObject: the error itself (S3's XML error, 403).
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket=BUCKET, Key="topics/b.json")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and err.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.delete_object(Bucket=BUCKET, Key="keep/c.json")["ResponseMetadata"]["HTTPStatusCode"] == 204
    listing = sandbox.get("/_sandbox/s3/refuse-delete")["rules"]
    assert [(r["bucket"], r["prefix"], r["refused"], r["count"]) for r in listing] == [(BUCKET, "topics/", 4, None)]

    # Disarmed: the keys go.
    status, _headers, _body = http("DELETE", f"{sandbox.url}/_sandbox/s3/refuse-delete")
    assert status == 200 and sandbox.get("/_sandbox/s3/refuse-delete") == {"rules": []}
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "topics/a.json"}, {"Key": "topics/b.json"}]})
    assert "Errors" not in answer and keys(s3) == []


def test_count_code_and_message(sandbox: Sandbox) -> None:
    s3 = sandbox.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    fill(s3, "a", "b", "c")
    locked = "Access Denied because object protected by object lock."
    arm(sandbox, count=2, message=locked)
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "c"}]})
    assert [(e["Key"], e["Message"]) for e in answer["Errors"]] == [("a", locked), ("b", locked)]
    assert [d["Key"] for d in answer["Deleted"]] == ["c"]
    # The count is spent: the next call deletes.
    answer = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    assert "Errors" not in answer and keys(s3) == []
    # Another bucket is not touched; a bad rule is refused; reset disarms.
    s3.create_bucket(Bucket="elsewhere")
    fill(s3, "a", bucket="elsewhere")
    arm(sandbox, code="InternalError", message="We encountered an internal error. Please try again.")
    assert "Errors" not in s3.delete_objects(Bucket="elsewhere", Delete={"Objects": [{"Key": "a"}]})
    bad: Any
    for bad in ({"prefix": "x"}, {"bucket": BUCKET, "count": 0}, {"bucket": BUCKET, "colour": "red"}, {"bucket": BUCKET, "status": 200}, []):
        assert sandbox.post("/_sandbox/s3/refuse-delete", bad)[0] == 400, bad
    http("POST", f"{sandbox.url}/moto-api/reset")
    assert sandbox.get("/_sandbox/s3/refuse-delete") == {"rules": []}


def test_head_bucket_of_another_region_is_a_bare_301(sandbox: Sandbox) -> None:
    """S3 answers HeadBucket on a bucket of another Region with 301 and ``x-amz-bucket-region``
    (S3 API reference, HeadBucket); GetBucketLocation answers from any Region. (boto3 follows
    the 301 by itself, the Rust SDK does not: the HEAD is sent by hand, signed for us-east-1.)"""
    import urllib.error
    import urllib.request

    here = sandbox.client("s3", region="eu-west-1")
    here.create_bucket(Bucket="far-away", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    scope = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/{}/s3/aws4_request, SignedHeaders=host, Signature=0"

    def head(region: str) -> tuple[int, str | None]:
        request = urllib.request.Request(f"{sandbox.url}/far-away", method="HEAD", headers={"Authorization": scope.format(region)})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as answer:
                return answer.status, answer.headers.get("x-amz-bucket-region")
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("x-amz-bucket-region")

    assert head("eu-west-1")[0] == 200
    assert head("us-east-1") == (301, "eu-west-1")
    assert sandbox.client("s3", region="us-east-1").get_bucket_location(Bucket="far-away")["LocationConstraint"] == "eu-west-1"
