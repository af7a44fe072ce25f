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

HeadBucket across Regions: S3 answers a HEAD on a bucket that lives in another Region than the
request's with 301 Moved Permanently and the bucket's Region in ``x-amz-bucket-region`` (S3 API
reference, HeadBucket: "If the bucket exists in a different Region, you get a 301 Moved
Permanently"); moto answers 200. The AWS SDK does not follow it, so a client that probes a
bucket with HeadBucket sees a bare 301. GetBucketLocation still answers from any Region.

Refused deletes (a test control; moto deletes whatever it is asked to): S3 may refuse some keys of
a DeleteObjects request and still answer 200, naming each refused key in an ``<Error>`` entry
(``Key``, ``VersionId``, ``Code``, ``Message``; S3 API reference, DeleteObjects, "Errors"), e.g.
``AccessDenied`` "Access Denied" when a bucket policy denies ``s3:DeleteObject`` on it, or
"Access Denied because object protected by object lock." for a locked version. Arm it with

    POST   /_sandbox/s3/refuse-delete  {"bucket": "b", "prefix": "topics/", "code": "AccessDenied",
                                        "message": "Access Denied", "status": 403, "count": null}
    GET    /_sandbox/s3/refuse-delete  {"rules": [{…, "refused": n}]}
    DELETE /_sandbox/s3/refuse-delete  disarm all (POST /moto-api/reset too)

(``bucket`` required; ``prefix`` default "" (every key); ``count``: how many keys it refuses, null
(default): always). A DeleteObjects whose keys match has those entries answered as ``<Error>``
entries (with the request's ``VersionId``) and only the others deleted (moto gets the request
without them; when none is left, moto is not asked); ``Quiet`` does not hide errors, as in S3. A
DeleteObject (``DELETE /b/key``, with or without ``versionId``) of a matching key gets the error
itself: HTTP ``status`` (default 403) with S3's XML ``<Error>``; nothing is deleted. Keys are
matched in request order, the first matching rule with ``count`` left refuses.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import re
import threading
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree

from werkzeug.wrappers import Request, Response

from .core import AwsRequest, Sandbox, json_response, read_body

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


def bucket_region(bucket: str) -> str | None:
    """The Region of ``bucket``, or None when no account has it."""
    from moto.s3.models import s3_backends

    owner = bucket_owner(bucket)
    entry = s3_backends.bucket_accounts.get(bucket)
    if owner is None or entry is None:
        return None
    found = s3_backends[owner][entry[0]].buckets.get(bucket)
    return str(found.region_name) if found is not None else None


def moved_elsewhere(request: AwsRequest) -> Response | None:
    """HeadBucket on a bucket of another Region: S3's bare 301 with ``x-amz-bucket-region``."""
    bucket, key = bucket_and_key(request)
    if request.method != "HEAD" or bucket is None or key or request.call.region is None:
        return None
    region = bucket_region(bucket)
    if region is None or region == request.call.region:
        return None
    return Response(b"", status=301, headers={"x-amz-bucket-region": region})


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


# ---------------------------------------------------------------------------- refused deletes
@dataclass
class RefuseRule:
    bucket: str
    prefix: str = ""
    code: str = "AccessDenied"
    message: str = "Access Denied"
    status: int = 403
    count: int | None = None  # keys left to refuse; None: always
    refused: int = field(default=0)

    def matches(self, bucket: str, key: str) -> bool:
        return self.bucket == bucket and key.startswith(self.prefix) and (self.count is None or self.count > 0)

    def take(self) -> None:
        self.refused += 1
        if self.count is not None:
            self.count -= 1


RULE_TYPES: dict[str, tuple[type, ...]] = {"bucket": (str,), "prefix": (str,), "code": (str,), "message": (str,), "status": (int,), "count": (int, type(None))}


def rule_from_spec(spec: Any) -> RefuseRule:
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(spec) - set(RULE_TYPES))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(RULE_TYPES)}")
    for key, value in spec.items():
        if not isinstance(value, RULE_TYPES[key]) or isinstance(value, bool):
            raise ValueError(f"{key}: bad value {value!r}")
    if not spec.get("bucket"):
        raise ValueError("bucket: required")
    if not spec.get("code", "AccessDenied"):
        raise ValueError("code: must not be empty")
    if "status" in spec and not 400 <= spec["status"] <= 599:
        raise ValueError("status: expected 400-599")
    if spec.get("count") is not None and spec["count"] < 1:
        raise ValueError("count: expected a positive number or null")
    return RefuseRule(**spec)


class RefusedDeletes:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[RefuseRule] = []

    def reset(self) -> None:
        with self.lock:
            self.rules.clear()

    def arm(self, rule: RefuseRule) -> None:
        with self.lock:
            self.rules.append(rule)

    def listing(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(r) for r in self.rules]

    def armed_for(self, bucket: str) -> bool:
        with self.lock:
            return any(r.matches(bucket, r.prefix) for r in self.rules)

    def refuse(self, bucket: str, key: str) -> RefuseRule | None:
        """The rule that refuses this key (its count taken), or None."""
        with self.lock:
            for rule in self.rules:
                if rule.matches(bucket, key):
                    rule.take()
                    return RefuseRule(rule.bucket, rule.prefix, rule.code, rule.message, rule.status)
        return None


def xml_bytes(root: ElementTree.Element) -> bytes:
    """The element as S3 writes it: S3's namespace as the default one (not ``ns0:``)."""
    ElementTree.register_namespace("", NAMESPACE)
    return ElementTree.tostring(root, encoding="unicode").encode()


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child_text(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if local(child.tag) == name:
            return child.text or ""
    return None


def replace_body(environ: dict[str, Any], data: bytes) -> None:
    """A new request body, with the integrity headers S3 clients send for it recomputed."""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    if "HTTP_CONTENT_MD5" in environ:
        environ["HTTP_CONTENT_MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()  # S3's Content-MD5, not security
    if "HTTP_X_AMZ_CHECKSUM_CRC32" in environ:
        environ["HTTP_X_AMZ_CHECKSUM_CRC32"] = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    for name in [n for n in environ if n.startswith("HTTP_X_AMZ_CHECKSUM_") and n != "HTTP_X_AMZ_CHECKSUM_CRC32"]:
        del environ[name]


def error_element(key: str, version: str | None, rule: RefuseRule) -> ElementTree.Element:
    element = ElementTree.Element(f"{{{NAMESPACE}}}Error")
    for name, value in (("Key", key), ("VersionId", version), ("Code", rule.code), ("Message", rule.message)):
        if value is not None:
            ElementTree.SubElement(element, f"{{{NAMESPACE}}}{name}").text = value
    return element


def delete_result(errors: list[ElementTree.Element], moto_body: bytes | None) -> bytes:
    """moto's DeleteResult (or an empty one) with the refused keys' ``<Error>`` entries added."""
    root = ElementTree.fromstring(moto_body) if moto_body else ElementTree.Element(f"{{{NAMESPACE}}}DeleteResult")
    for element in errors:
        root.append(element)
    return XML_HEAD.encode() + xml_bytes(root)


def wsgi_text(value: str) -> str:
    """A WSGI path (UTF-8 bytes as latin-1, already percent-decoded) as text."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def bucket_exists(bucket: str) -> bool:
    return bucket_owner(bucket) is not None


def is_delete_objects(request: AwsRequest) -> bool:
    query = parse_qs(request.environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return request.method == "POST" and "delete" in query


def is_delete_object(request: AwsRequest, key: str) -> bool:
    query = parse_qs(request.environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return request.method == "DELETE" and bool(key) and not set(query) - {"versionId", "x-id"}


def refuse_deletes(sandbox: Sandbox, refused: RefusedDeletes, request: AwsRequest) -> Response | None:
    """DeleteObjects/DeleteObject with the armed refusals applied; None: not concerned."""
    bucket, key = bucket_and_key(request)
    if bucket is None or not refused.armed_for(bucket) or not bucket_exists(bucket):
        return None
    if is_delete_object(request, key):
        rule = refused.refuse(bucket, wsgi_text(key))
        return error_response(request, rule.status, rule.code, rule.message) if rule else None
    if not is_delete_objects(request) or key.strip("/"):
        return None
    body = read_body(request.environ)
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None  # moto's MalformedXML
    errors: list[ElementTree.Element] = []
    kept = 0
    for element in [e for e in root if local(e.tag) == "Object"]:
        name = child_text(element, "Key")
        if name is None:
            kept += 1
            continue
        rule = refused.refuse(bucket, name)
        if rule is None:
            kept += 1
            continue
        errors.append(error_element(name, child_text(element, "VersionId"), rule))
        root.remove(element)
    if not errors:
        return None
    if kept == 0:
        return Response(delete_result(errors, None), status=200, mimetype="application/xml")
    replace_body(request.environ, xml_bytes(root))
    answer = sandbox.forward(request, after=HOOK_NAME)
    if answer.status_code != 200:
        return answer
    response = Response(delete_result(errors, answer.get_data()), status=200, mimetype="application/xml")
    for name, value in answer.headers.items():
        if name.lower() not in ("content-length", "content-type"):
            response.headers[name] = value
    return response


def install(sandbox: Sandbox) -> None:
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_versioning

    @functools.wraps(original)
    def get_bucket_versioning(self: Any) -> Any:
        status = self.backend.get_bucket_versioning(self.bucket_name)
        return 200, {"Content-Type": "application/xml"}, versioning_body(status)

    S3Response.get_bucket_versioning = get_bucket_versioning  # type: ignore[method-assign]

    refused = RefusedDeletes()

    def hook(request: AwsRequest) -> Response | None:
        if not is_s3(request):
            return None
        moved = moved_elsewhere(request)
        if moved is not None:
            return moved
        if EXPECTED_OWNER in request.environ or EXPECTED_SOURCE_OWNER in request.environ:
            answer = owner_condition(request)
            if answer is not None:
                return answer
        if request.method in ("POST", "DELETE") and refused.rules:
            return refuse_deletes(sandbox, refused, request)
        return None

    def arm(request: Request) -> Response:
        try:
            rule = rule_from_spec(json.loads(request.get_data() or b"null"))
        except (ValueError, TypeError) as err:
            return json_response({"error": str(err), "keys": list(RULE_TYPES)}, 400)
        refused.arm(rule)
        return json_response({"rules": refused.listing()})

    def disarm(_request: Request) -> Response:
        refused.reset()
        return json_response({"rules": []})

    sandbox.add_control_route("POST", "/_sandbox/s3/refuse-delete", arm)
    sandbox.add_control_route("GET", "/_sandbox/s3/refuse-delete", lambda _r: json_response({"rules": refused.listing()}))
    sandbox.add_control_route("DELETE", "/_sandbox/s3/refuse-delete", disarm)
    sandbox.add_request_hook(HOOK_NAME, hook)
    sandbox.add_reset_hook(refused.reset)
