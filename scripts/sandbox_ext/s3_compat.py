"""S3 fixes so that the AWS Rust SDK can talk to moto 5.2.5.

GetBucketVersioning: moto answers with a ``<GetBucketVersioningResponse>`` root
element, which the Rust SDK rejects (it expects ``VersioningConfiguration``, as S3
sends). We answer what S3 sends: a ``VersioningConfiguration`` with the status, or
empty when versioning was never enabled.
"""

from __future__ import annotations

import functools
from typing import Any

from .core import Sandbox

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def versioning_body(status: str | None) -> str:
    if status is None:
        return f'{XML_HEAD}<VersioningConfiguration xmlns="{NAMESPACE}"/>'
    return f'{XML_HEAD}<VersioningConfiguration xmlns="{NAMESPACE}"><Status>{status}</Status></VersioningConfiguration>'


def install(_sandbox: Sandbox) -> None:
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_versioning

    @functools.wraps(original)
    def get_bucket_versioning(self: Any) -> Any:
        status = self.backend.get_bucket_versioning(self.bucket_name)
        return 200, {"Content-Type": "application/xml"}, versioning_body(status)

    S3Response.get_bucket_versioning = get_bucket_versioning  # type: ignore[method-assign]
