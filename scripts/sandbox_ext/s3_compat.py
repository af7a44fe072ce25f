"""S3 fixes so that the AWS Rust SDK can talk to moto 5.2.5.

GetBucketVersioning on a bucket whose versioning was never enabled: moto answers
``<GetBucketVersioningResponse/>``, which the Rust SDK rejects (it expects the
``VersioningConfiguration`` root element, as S3 sends). We answer what S3 sends:
an empty ``VersioningConfiguration``.
"""

from __future__ import annotations

import functools
from typing import Any

from .core import Sandbox

EMPTY_VERSIONING = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
)


def install(_sandbox: Sandbox) -> None:
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_versioning

    @functools.wraps(original)
    def get_bucket_versioning(self: Any) -> Any:
        if self.backend.get_bucket_versioning(self.bucket_name) is None:
            return 200, {"Content-Type": "application/xml"}, EMPTY_VERSIONING
        return original(self)

    S3Response.get_bucket_versioning = get_bucket_versioning  # type: ignore[method-assign]
