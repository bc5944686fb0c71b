"""Where :mod:`helpers.sample` writes a generated archive: a folder laid out as a bucket copy, or an S3 bucket.

A destination never overwrites or deletes: the generator asks :meth:`holds_objects` first and refuses a
prefix that holds anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

GZIP_LEVEL = 6  # what the local runtime's Firehose writes


def gzip_object(raw: bytes, mtime: float) -> bytes:
    """GZIP of ``raw`` (one member, level 6), its header stamped with ``mtime``: the same bytes for the same
    input, so a seeded sample is reproducible."""
    import gzip

    return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=int(mtime))


class Destination(Protocol):
    def holds_objects(self, prefix: str) -> bool: ...
    def read_manifest(self, key: str) -> dict[str, Any] | None: ...
    def write_manifest(self, key: str, doc: dict[str, Any]) -> None: ...
    def write_object(self, key: str, data: bytes, written: float) -> None: ...


class FolderDestination:
    """A folder that looks like ``aws s3 sync s3://<bucket> <folder>``: a key is a path under it. Each file's
    modification time is set to when Firehose would have written it (S3's LastModified)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"{self.root} exists and is not a folder")

    def __str__(self) -> str:
        return f"folder {self.root}"

    def holds_objects(self, prefix: str) -> bool:
        base = self.root / prefix
        return base.is_dir() and any(p.is_file() for p in base.rglob("*"))

    def read_manifest(self, key: str) -> dict[str, Any] | None:
        path = self.root / key
        return json.loads(path.read_text()) if path.is_file() else None

    def write_manifest(self, key: str, doc: dict[str, Any]) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1, default=str))

    def write_object(self, key: str, data: bytes, written: float) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (written, written))


class S3Destination:
    """A bucket (it must exist: the generator creates nothing but objects). S3 sets LastModified to the
    upload time; the historical time is in the key and the object name, as Firehose writes them."""

    def __init__(self, session: Any, bucket: str) -> None:
        from botocore.exceptions import ClientError

        from . import validation

        validation.bucket_name(bucket)
        self.bucket = bucket
        self.client = session.client("s3")
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise ValueError(f"bucket {bucket} does not exist: create it first (notebook 02) or write to a folder") from None
            raise

    def __str__(self) -> str:
        return f"s3://{self.bucket}/"

    def holds_objects(self, prefix: str) -> bool:
        return bool(self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1).get("KeyCount"))

    def read_manifest(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as err:
            if err.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise

    def write_manifest(self, key: str, doc: dict[str, Any]) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(doc, indent=1, default=str).encode(), ContentType="application/json")

    def write_object(self, key: str, data: bytes, written: float) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
