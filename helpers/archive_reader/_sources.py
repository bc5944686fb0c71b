"""Where the archive is and which of its objects to read: an S3 bucket or a folder copy of one, listed
by day prefixes when a time range allows, objects chosen by the hour in their key before any download."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pandas as pd

# Firehose names an object after the arrival of its first record; a buffer holds records up to
# 900 s (the maximum interval), so an object of hour H holds records that arrived before H + 1h + 15 min.
_OBJECT_SPAN = timedelta(hours=1, minutes=15)
_MAX_DAY_PREFIXES = 62  # list per day prefix for ranges up to this many days, else list everything
_DATED_FOLDERS = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/")
_FIREHOSE_NAME_TIME = re.compile(r"-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[^/]*$")
_YEAR_FOLDER = re.compile(r"\d{4}/$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FIRST_PAGE_KEYS = 100  # the first listing page of S3 (then 1,000 a page): downloads start while the rest is listed


@dataclass(frozen=True)
class ObjectRef:
    key: str
    size: int
    stored_at: pd.Timestamp | None


class ReadFailed(Exception):
    """An object could not be downloaded; the message says why and what to do."""


class S3Source:
    """The archive in an S3 bucket, read through one boto3 client shared by the download threads."""

    def __init__(self, session: Any, bucket: str, max_workers: int) -> None:
        from botocore.config import Config

        self.bucket = bucket
        self.client = session.client("s3", config=Config(max_pool_connections=max(10, max_workers), retries={"mode": "standard"}))
        # The server runs on this machine (the embedded local AWS): it competes with parsing for the cores.
        endpoint = getattr(getattr(self.client, "meta", None), "endpoint_url", None) or ""
        self.server_is_local = urlsplit(endpoint).hostname in _LOOPBACK

    def __str__(self) -> str:
        return f"s3://{self.bucket}/"

    def exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code in {"404", "NoSuchBucket", "NotFound"}:
                return False
            if code in {"403", "AccessDenied", "Forbidden"}:
                raise PermissionError(f"access to bucket {self.bucket} denied: the caller needs s3:ListBucket on it and s3:GetObject on its objects") from None
            raise
        return True

    def folders(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
        return [cp["Prefix"] for page in pages for cp in page.get("CommonPrefixes", [])]

    def list(self, prefix: str) -> Iterator[ObjectRef]:
        for page in self.list_pages(prefix):
            yield from page

    def list_pages(self, prefix: str) -> Iterator[list[ObjectRef]]:
        """The objects under ``prefix`` page by page, in key order (S3 lists a general purpose bucket in
        UTF-8 binary order, which is the order of Python's strings). The first page asks for
        :data:`FIRST_PAGE_KEYS` keys only, so a reader can start downloading while the rest is listed."""
        request = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": FIRST_PAGE_KEYS}
        while True:
            page = self.client.list_objects_v2(**request)
            yield [ObjectRef(obj["Key"], int(obj["Size"]), pd.Timestamp(obj["LastModified"]).tz_convert("UTC"))
                   for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            if not token:
                return
            request = {"Bucket": self.bucket, "Prefix": prefix, "ContinuationToken": token}

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code in {"NoSuchKey", "404"}:
                raise ReadFailed("deleted between listing and download (NoSuchKey)") from None
            if code == "InvalidObjectState":
                raise ReadFailed("stored in an archive storage class (Glacier Flexible Retrieval / Deep Archive): run RestoreObject first, then read again") from None
            if code in {"AccessDenied", "403"}:
                raise ReadFailed(f"access denied: the caller needs s3:GetObject on arn:aws:s3:::{self.bucket}/{key} (and kms:Decrypt if SSE-KMS)") from None
            raise ReadFailed(f"GetObject failed: {code}: {err.response['Error'].get('Message', '')}") from None
        except BotoCoreError as err:
            raise ReadFailed(f"GetObject failed: {err}") from None


class FolderSource:
    """A local copy of the bucket (``aws s3 sync s3://<bucket> <folder>``): keys are paths relative to it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def __str__(self) -> str:
        return f"folder {self.root}"

    def exists(self) -> bool:
        return self.root.is_dir()

    def _base(self, prefix: str) -> Path:
        return self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root

    def folders(self, prefix: str) -> list[str]:
        base = self._base(prefix)
        if not base.is_dir():
            return []
        return sorted(f"{p.relative_to(self.root).as_posix()}/" for p in base.iterdir() if p.is_dir() and f"{p.relative_to(self.root).as_posix()}/".startswith(prefix))

    def list(self, prefix: str) -> Iterator[ObjectRef]:
        """The files under ``prefix`` in key order (the order S3 lists the bucket in)."""
        base = self._base(prefix)
        if not base.is_dir():
            return
        keyed = ((path.relative_to(self.root).as_posix(), path) for path in base.rglob("*") if path.is_file())
        for key, path in sorted(keyed, key=lambda pair: pair[0]):
            if key.startswith(prefix):
                st = path.stat()
                yield ObjectRef(key, st.st_size, pd.Timestamp(st.st_mtime, unit="s", tz="UTC"))

    def list_pages(self, prefix: str) -> Iterator[list[ObjectRef]]:
        """One page: a folder is listed at once."""
        yield list(self.list(prefix))

    def read(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except OSError as err:
            raise ReadFailed(f"cannot read the file: {err}") from None


def object_hour(key: str) -> pd.Timestamp | None:
    """The UTC hour Firehose filed the object under, from its key; None when the key has no date.

    Uses the ``YYYY/MM/DD/HH/`` folders (Firehose's default layout, or a prefix built from
    ``!{timestamp:yyyy}``-style expressions), else the ``YYYY-MM-DD-HH-MM-SS`` in the object name.
    """
    m = _DATED_FOLDERS.search(key) or _FIREHOSE_NAME_TIME.search(key)
    if not m:
        return None
    try:
        return pd.Timestamp(datetime(*(int(g) for g in m.groups()[:4]), tzinfo=timezone.utc))
    except ValueError:
        return None


def utc(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _may_hold(hour: pd.Timestamp | None, start: pd.Timestamp | None, end: pd.Timestamp | None, late_delivery: timedelta) -> bool:
    """Can an object filed under ``hour`` hold items deleted in ``[start, end)``?

    A record is delivered after its delete, so an object whose records all arrived before ``start``
    cannot; one filed ``late_delivery`` or more after ``end`` is assumed not to either.
    """
    if hour is None:
        return True  # no date in the key: read it, rows are filtered by deleted_at
    if start is not None and hour + _OBJECT_SPAN <= start:
        return False
    if end is not None and hour >= end + late_delivery:
        return False
    return True


def listing_prefixes(source: Any, prefix: str, start: pd.Timestamp | None, end: pd.Timestamp | None, late_delivery: timedelta) -> list[str]:
    """Day prefixes (``<prefix>YYYY/MM/DD/``) covering the range when the layout is dated and the
    range is short, so only those days are listed; otherwise the prefix itself."""
    if start is None or end is None:
        return [prefix]
    first = (start - _OBJECT_SPAN).floor("D")
    last = (end + late_delivery).floor("D")
    days = int((last - first) / pd.Timedelta(days=1)) + 1
    if days > _MAX_DAY_PREFIXES or (prefix and not prefix.endswith("/")):
        return [prefix]
    children = source.folders(prefix)
    if not children or not all(_YEAR_FOLDER.fullmatch(c[len(prefix):]) for c in children):
        return [prefix]
    return [f"{prefix}{(first + pd.Timedelta(days=i)):%Y/%m/%d}/" for i in range(days)]


def make_source(source: Any, bucket: str | None, max_workers: int) -> Any:
    if isinstance(source, (str, Path)):
        if bucket is not None:
            raise ValueError("bucket is only for an S3 source; a folder source is the bucket's copy itself")
        if str(source).startswith("s3://"):
            raise ValueError("for S3 pass the boto3 session and the bucket: read_archive(session, bucket, prefix)")
        return FolderSource(source)
    if hasattr(source, "client"):
        if not bucket:
            raise ValueError("read_archive(session, bucket, prefix): the bucket name is required for an S3 source")
        return S3Source(source, bucket, max_workers)
    raise TypeError(f"source must be a boto3.Session or a folder path, not {type(source).__name__}")
