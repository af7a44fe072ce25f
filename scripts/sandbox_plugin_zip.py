#!/usr/bin/env python3
"""Write a stand-in for the Confluent S3 sink's plugin zip, for the local sandbox and tests.

The real zip (confluentinc-kafka-connect-s3-<version>.zip from Confluent Hub) cannot be fetched
here, and the sandbox never runs its code: it only needs a zip with the layout MSK Connect and
pinfra check, which this writes byte for byte the same every time (fixed timestamps), so its
SHA-256 is stable:

    confluentinc-kafka-connect-s3-<version>/manifest.json
    confluentinc-kafka-connect-s3-<version>/lib/kafka-connect-s3-<version>.jar
        (a jar holding io/confluent/connect/s3/S3SinkConnector.class, a stub)

    sandbox_plugin_zip.py OUT [--version 10.0.3] [--marker TEXT] [--variant ok|no-class|no-jar|not-zip]

``--marker`` changes the content (a new hash: "a new release of the plugin"); the variants make
the broken zips that pinfra must refuse. Writes atomically (temporary file, then rename).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import zipfile

EPOCH = (2024, 1, 1, 0, 0, 0)


def entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_STORED  # no compressor version in the bytes: the hash is the same everywhere
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def jar(classes: list[str], marker: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry(archive, "META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nCreated-By: pinfra sandbox stand-in\r\n\r\n")
        for name in classes:
            entry(archive, name, b"\xca\xfe\xba\xbe" + marker.encode())
    return buffer.getvalue()


def build(version: str, marker: str, variant: str) -> bytes:
    if variant == "not-zip":
        return f"this is not a zip ({marker})\n".encode()
    top = f"confluentinc-kafka-connect-s3-{version}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        manifest = f'{{"name": "kafka-connect-s3", "version": "{version}", "sandbox_stand_in": true, "marker": "{marker}"}}\n'
        entry(archive, f"{top}/manifest.json", manifest.encode())
        if variant != "no-jar":
            classes = ["io/confluent/connect/s3/S3SinkConnector.class"] if variant == "ok" else ["io/example/Other.class"]
            entry(archive, f"{top}/lib/kafka-connect-s3-{version}.jar", jar(classes, marker))
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--version", default="10.0.3")
    parser.add_argument("--marker", default="")
    parser.add_argument("--variant", choices=("ok", "no-class", "no-jar", "not-zip"), default="ok")
    args = parser.parse_args()
    data = build(args.version, args.marker, args.variant)
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=directory, suffix=".partial")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(partial, args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
