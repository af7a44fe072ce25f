"""S3 fixes so that the AWS Rust SDK can talk to moto 5.2.5, and S3 behaviour moto lacks.

GetBucketVersioning: moto answers with a ``<GetBucketVersioningResponse>`` root
element, which the Rust SDK rejects (it expects ``VersioningConfiguration``, as S3
sends). We answer what S3 sends: a ``VersioningConfiguration`` with the status, or
empty when versioning was never enabled.

Bucket owner condition: moto ignores ``x-amz-expected-bucket-owner`` (boto3/Rust SDK
``ExpectedBucketOwner``) and ``x-amz-source-expected-bucket-owner`` (CopyObject /
UploadPartCopy ``ExpectedSourceBucketOwner``). S3 refuses a request whose header is not
a 12-digit account id (400 ``InvalidBucketOwnerAWSAccountID``) or names an account that
does not own the bucket (403 ``AccessDenied`` "Access Denied"), for every bucket and
object operation; a HEAD gets the status without a body. The owner of a bucket is the
account whose moto backend holds it (``s3_backends.bucket_accounts``, moto's global
bucket namespace). Without the header nothing changes; a missing bucket is left to moto
(``NoSuchBucket``); CreateBucket and ListBuckets have no such parameter and are left
alone.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qs, unquote

from werkzeug.wrappers import Response

from .core import AwsRequest, Sandbox

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
HOOK_NAME = "s3_compat"
ACCOUNT_ID = re.compile(r"\d{12}")
# WSGI names of the headers, and how to find the bucket each one is about.
EXPECTED_OWNER = "HTTP_X_AMZ_EXPECTED_BUCKET_OWNER"
EXPECTED_SOURCE_OWNER = "HTTP_X_AMZ_SOURCE_EXPECTED_BUCKET_OWNER"
COPY_SOURCE = "HTTP_X_AMZ_COPY_SOURCE"


def versioning_body(status: str | None) -> str:
    if status is None:
        return f'{XML_HEAD}<VersioningConfiguration xmlns="{NAMESPACE}"/>'
    return f'{XML_HEAD}<VersioningConfiguration xmlns="{NAMESPACE}"><Status>{status}</Status></VersioningConfiguration>'


def error_response(request: AwsRequest, status: int, code: str, message: str) -> Response:
    """S3's XML error (as ``faults`` sends it); a HEAD answer has no body."""
    body = f"{XML_HEAD}<Error><Code>{code}</Code><Message>{message}</Message><RequestId>sandbox</RequestId></Error>"
    return Response(b"" if request.method == "HEAD" else body, status=status, mimetype="application/xml")


def is_s3(request: AwsRequest) -> bool:
    """Signed for S3: the Authorization header's scope, or a presigned URL's X-Amz-Credential."""
    if request.call.service == "s3":
        return True
    credential = parse_qs(request.environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    return "/s3/" in credential


def bucket_and_key(request: AwsRequest) -> tuple[str | None, str]:
    """The bucket and key a request addresses, as moto routes it (path-style unless the Host
    names the bucket, moto's ``S3Response.subdomain_based_buckets``)."""
    from moto.s3.responses import S3Response
    from moto.s3.utils import bucket_name_from_url

    path = request.path
    if S3Response.subdomain_based_buckets(request.werkzeug()):
        host = request.environ.get("HTTP_HOST", "")
        return bucket_name_from_url(f"http://{host}/"), path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket or None, key


def copy_source_bucket(value: str) -> str | None:
    """The bucket of ``x-amz-copy-source`` (``[/]bucket/key[?versionId=…]``, URL-encoded)."""
    bucket = unquote(value.split("?", 1)[0]).lstrip("/").split("/", 1)[0]
    return bucket or None


def bucket_owner(bucket: str) -> str | None:
    """The account whose S3 backend holds ``bucket``, or None when no account has it."""
    from moto.s3.models import s3_backends

    entry = s3_backends.bucket_accounts.get(bucket)
    if entry is None:
        return None
    partition, account = entry
    backend = s3_backends[account][partition]
    if bucket in backend.buckets or bucket in backend.table_buckets:
        return account
    return None


def is_create_bucket(request: AwsRequest, key: str) -> bool:
    query = parse_qs(request.environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return request.method == "PUT" and not key.strip("/") and not set(query) - {"x-id"}


def owner_condition(request: AwsRequest) -> Response | None:
    """The bucket owner condition S3 checks; None lets the request through."""
    checks: list[tuple[str, str | None]] = []
    if EXPECTED_OWNER in request.environ:
        bucket, key = bucket_and_key(request)
        if bucket is not None and not is_create_bucket(request, key):
            checks.append((request.environ[EXPECTED_OWNER], bucket))
    if EXPECTED_SOURCE_OWNER in request.environ and COPY_SOURCE in request.environ:
        checks.append((request.environ[EXPECTED_SOURCE_OWNER], copy_source_bucket(request.environ[COPY_SOURCE])))
    for expected, _bucket in checks:
        if not ACCOUNT_ID.fullmatch(expected):
            message = f"The value of the expected bucket owner parameter must be an AWS Account ID... [{expected}]"
            return error_response(request, 400, "InvalidBucketOwnerAWSAccountID", message)
    for expected, bucket in checks:
        owner = bucket_owner(bucket) if bucket else None
        if owner is not None and owner != expected:
            return error_response(request, 403, "AccessDenied", "Access Denied")
    return None


def install(sandbox: Sandbox) -> None:
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_versioning

    @functools.wraps(original)
    def get_bucket_versioning(self: Any) -> Any:
        status = self.backend.get_bucket_versioning(self.bucket_name)
        return 200, {"Content-Type": "application/xml"}, versioning_body(status)

    S3Response.get_bucket_versioning = get_bucket_versioning  # type: ignore[method-assign]

    def hook(request: AwsRequest) -> Response | None:
        if EXPECTED_OWNER not in request.environ and EXPECTED_SOURCE_OWNER not in request.environ:
            return None
        if not is_s3(request):
            return None
        return owner_condition(request)

    sandbox.add_request_hook(HOOK_NAME, hook)
