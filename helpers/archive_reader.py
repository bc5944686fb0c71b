"""Read the archive (an S3 bucket, or a local folder copy of one) into pandas.

The archive is what Firehose wrote: objects under the archive prefix, keyed
``<prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<random>``, each holding
newline-terminated JSON lines in the format of ``docs/architecture.md`` ("Archive line format").
:func:`read_archive` lists them, downloads them concurrently, decodes GZIP or plain text by content
(the magic bytes ``1f 8b``, never the name), parses every line, joins split records (``part_of`` lines),
removes duplicate deliveries and returns an :class:`ArchiveReadResult`: the rows as a DataFrame plus an
honest report of what was read, what was skipped and why.

What the frame holds
--------------------
One row per archived item (per TTL delete). Envelope columns first:

=================  =========================================================================
event_id           the stream record's eventID (unique per delete; duplicates are removed)
table, region      where the item lived (``category`` dtype)
sequence_number    the stream record's SequenceNumber (text: it can exceed 64 bits)
event_source_arn   the stream ARN
keys               the item's key attributes, a dict
deleted_at         when the stream saw the delete, ``datetime64[ns, UTC]``
ttl_attribute      the TTL attribute's name (``category``)
ttl                the TTL value as a time, ``datetime64[s, UTC]``; NaT when the item had none
record_bytes       UTF-8 bytes of the archived line with its newline: what the item weighs in the archive and the
                   Firehose record size (billed rounded up to 5 KB)
object_key         the archive object the row came from, and ``object_line`` its line number
=================  =========================================================================

then one column per top-level attribute of the items (an attribute whose name collides with an
envelope column is renamed ``item.<name>``). Attributes are converted as the archive format says
(S -> str, B -> base64 str, BOOL -> bool, NULL -> None, M -> dict, L -> list, SS/NS/BS -> sorted lists)
and a column gets the narrowest dtype that holds every value exactly:

* whole numbers that fit in 64 bits -> ``int64`` (``Int64`` when some rows lack the attribute);
* numbers with a fraction -> ``float64`` **only if every value survives the trip through float**
  (``Decimal(repr(float(v))) == v``, i.e. about 15 significant digits); otherwise the column stays
  ``object`` holding exact :class:`decimal.Decimal` (and ``int`` for whole numbers beyond 64 bits).
  Lines are parsed with ``json.loads(..., parse_float=Decimal)``, so no digit is lost before that choice;
* true/false -> ``bool`` (``boolean`` with missing values); text -> pandas' string dtype;
* maps, lists, sets and mixed-type attributes -> ``object``, values kept intact (nested numbers are
  ``int`` or ``Decimal``, never rounded).

Damaged data never raises and is never silent: a line that is not JSON, not an archive record, or an
object that cannot be downloaded or decompressed (a truncated GZIP keeps the lines before the damage)
becomes a :class:`Problem` (object key, line number, reason), is logged, and is skipped. Objects under
the Firehose error prefix (``errors/``) are read separately into ``error_records``.

Speed and memory: objects are downloaded on ``max_workers`` threads in jobs of consecutive objects
(a bounded window of jobs in flight). The objects of a job that pyarrow can read exactly are parsed
in one ``pyarrow.json.read_json`` call over their joined text (pyarrow's cost per call dominates for
small objects) on a pool of as many threads as CPUs, and the table is sliced back per object. Each
object's bytes are dropped as soon as they are parsed; rows stay in Arrow until the end, where the
frame is built one column at a time, releasing each column's Arrow chunks once converted. Memory
follows the data kept, not every raw byte plus its parsed copy. Objects pyarrow cannot read exactly
go line by line into per-column lists (see "the fast path" below).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import zlib
from array import array
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

LOG = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
ARCHIVE_FORMAT = 1
DEFAULT_PREFIX = "archive/"
DEFAULT_ERROR_PREFIX = "errors/"
DEFAULT_WORKERS = 8
JOB_STORED_BYTES = 256 * 1024  # a thread-pool job reads consecutive objects up to this many stored bytes
PROGRESS_MIN_OBJECTS = 20  # progress bar from this many objects on (progress=None)
MAX_LOGGED_PROBLEMS = 20  # then one summary line, the rest are in result.problems
# Firehose names an object after the arrival of its first record; a buffer holds records up to
# 900 s (the maximum interval), so an object of hour H holds records that arrived before H + 1h + 15 min.
_OBJECT_SPAN = timedelta(hours=1, minutes=15)
_MAX_DAY_PREFIXES = 62  # list per day prefix for ranges up to this many days, else list everything
_NAT = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_PARQUET_JSON_KEY = b"ttl_archive.json_columns"

ENVELOPE_COLUMNS = (
    "event_id",
    "table",
    "region",
    "sequence_number",
    "event_source_arn",
    "keys",
    "deleted_at",
    "ttl_attribute",
    "ttl",
    "record_bytes",
    "object_key",
    "object_line",
)

_DATED_FOLDERS = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/")
_FIREHOSE_NAME_TIME = re.compile(r"-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[^/]*$")
_YEAR_FOLDER = re.compile(r"\d{4}/$")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Problem:
    """Something that was skipped: ``line`` is None when the whole object (or its tail) is concerned."""

    key: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.key if self.line is None else f"{self.key} line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class ArchiveReadResult:
    """What :func:`read_archive` read.

    ``frame``: one row per archived item (see the module docstring for the columns).
    ``objects``: one row per archive object read (key, size, stored_at, hour, compressed,
    decompressed_bytes, lines, rows, problems). ``error_objects`` / ``error_records``: the same for the
    Firehose error prefix, one row per failed record (error_code, error_message, event_id...).
    ``problems``: every damaged line or object skipped. ``duplicates``: rows whose event id had
    already been read (removed unless ``drop_duplicates=False``). ``out_of_range``: rows outside
    ``[start, end)`` dropped. ``skipped_objects``: listed but not downloaded (outside the time range).
    ``missing``: the bucket or folder does not exist (only with ``missing_ok=True``).
    """

    frame: pd.DataFrame
    objects: pd.DataFrame
    error_objects: pd.DataFrame
    error_records: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    duplicates: int = 0
    out_of_range: int = 0
    skipped_objects: int = 0
    source: str = ""
    missing: bool = False

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def summary(self) -> str:
        """One paragraph a person can read: what was found, what was dropped and why."""
        if self.missing:
            return f"{self.source} does not exist: nothing to read (has the pipeline been deployed and run?)."
        parts = [
            f"{len(self.frame):,} items from {len(self.objects):,} objects "
            f"({int(self.objects['size'].sum()) if len(self.objects) else 0:,} bytes stored) in {self.source}"
        ]
        if self.frame.empty and not len(self.objects):
            parts = [f"The archive in {self.source} is empty: no objects under the prefix"]
        if self.skipped_objects:
            parts.append(f"{self.skipped_objects:,} objects outside the time range not downloaded")
        if self.out_of_range:
            parts.append(f"{self.out_of_range:,} rows outside the time range dropped")
        parts.append(f"{self.duplicates:,} duplicate deliveries {'removed' if self._dropped else 'kept'}")
        parts.append(f"{len(self.problems):,} problems (damaged lines or objects skipped)")
        parts.append(f"{len(self.error_records):,} records in {len(self.error_objects):,} error objects")
        return "; ".join(parts) + "."

    _dropped: bool = True

    def problems_frame(self) -> pd.DataFrame:
        """The problems as a table (key, line, reason)."""
        return pd.DataFrame([(p.key, p.line, p.reason) for p in self.problems], columns=["key", "line", "reason"]).astype({"line": "Int64"})

    def to_parquet(self, path: str | Path) -> Path:
        """Write ``frame`` to a Parquet file (see :func:`write_parquet`). Returns the path."""
        return write_parquet(self.frame, path)


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _ObjectRef:
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

    def list(self, prefix: str) -> Iterator[_ObjectRef]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    yield _ObjectRef(obj["Key"], int(obj["Size"]), pd.Timestamp(obj["LastModified"]).tz_convert("UTC"))

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

    def list(self, prefix: str) -> Iterator[_ObjectRef]:
        base = self._base(prefix)
        if not base.is_dir():
            return
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                st = path.stat()
                yield _ObjectRef(key, st.st_size, pd.Timestamp(st.st_mtime, unit="s", tz="UTC"))

    def read(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except OSError as err:
            raise ReadFailed(f"cannot read the file: {err}") from None


# --------------------------------------------------------------------------- keys and time ranges


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


def _utc(value: Any) -> pd.Timestamp | None:
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


# --------------------------------------------------------------------------- decoding one object


def _decompress(data: bytes) -> tuple[bytes, bool, str | None]:
    """(text, was_gzip, damage). Decides by the magic bytes; reads concatenated GZIP members; a
    truncated or corrupt stream keeps what decompressed before the damage and says so."""
    if not data.startswith(GZIP_MAGIC):
        return data, False, None
    out: list[bytes] = []
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            out.append(d.decompress(rest))
            if not d.eof:
                return b"".join(out), True, "truncated GZIP stream: the object ends before the compressed data does"
            rest = d.unused_data
            if rest and not rest.startswith(GZIP_MAGIC):
                if rest.strip(b"\x00"):
                    return b"".join(out), True, f"{len(rest)} bytes of trailing garbage after the GZIP data"
                break
    except zlib.error as err:
        return b"".join(out), True, f"corrupt GZIP data ({err})"
    return b"".join(out), True, None


def object_lines(data: bytes) -> list[bytes]:
    """The non-empty lines of one archive object as stored, without their newlines: GZIP or plain
    decided by content (the magic bytes, never the name), concatenated GZIP members read. Damaged
    GZIP keeps the whole lines before the damage (the line it cuts is dropped) and logs a warning."""
    text, _compressed, damage = _decompress(data)
    lines = text.split(b"\n")
    del text
    if damage:
        LOG.warning("%s; the whole lines before it are read", damage)
        lines.pop()  # cut by the damage (or the empty rest after the last newline)
    return [line for line in lines if line and not line.isspace()]


class PartJoiner:
    """Joins the ``part_of`` lines of split records (docs/architecture.md) as they arrive, in any order
    and across objects: :meth:`add` each part line's record; it returns the joined text once every part
    is there."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, Any]] = {}  # event id -> {"parts": n, "data": {i: text}, "where": (key, line)}
        self.completed: set[str] = set()

    def add(self, key: str, line: int, rec: dict) -> tuple[str, str, int] | Problem | None:
        """``(joined text, key, line of the first part seen)`` when this part completes its record,
        None while parts are missing, a :class:`Problem` for a malformed or inconsistent part line."""
        event_id, index, total, data = rec.get("part_of"), rec.get("part"), rec.get("parts"), rec.get("data")
        if not (isinstance(event_id, str) and type(index) is int and type(total) is int and 0 <= index < total and isinstance(data, str)):
            return Problem(key, line, "malformed part line (needs part_of, part, parts, data)")
        slot = self.pending.setdefault(event_id, {"parts": total, "data": {}, "where": (key, line)})
        if slot["parts"] != total:
            return Problem(key, line, f"part {index} of {event_id} says {total} parts, an earlier one said {slot['parts']}")
        slot["data"][index] = data
        if len(slot["data"]) < total:
            return None
        del self.pending[event_id]
        self.completed.add(event_id)
        return "".join(slot["data"][i] for i in range(total)), *slot["where"]

    def incomplete(self) -> list[Problem]:
        """A problem per record still missing parts (a partial re-delivery of a record already joined is not one)."""
        return [
            Problem(*slot["where"], f"record {event_id} incomplete: parts {sorted(slot['data'])} of {slot['parts']} found; skipped")
            for event_id, slot in self.pending.items()
            if event_id not in self.completed
        ]


@dataclass
class _Decoded:
    ref: _ObjectRef
    compressed: bool = False
    decompressed_bytes: int = 0
    lines: int = 0
    rows: list[tuple] = field(default_factory=list)
    parts: list[tuple[int, dict]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    errors: list[tuple] = field(default_factory=list)
    table: Any = None  # a pyarrow Table when the fast path read the object
    origin: Any = None  # (the job's table, first row) when ``table`` is a slice of it
    failed: bool = False


def _ns(text: Any) -> int:
    """ISO 8601 text (or epoch seconds) -> nanoseconds since the epoch, UTC; _NAT when unusable."""
    if isinstance(text, str):
        try:
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            return _NAT
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        delta = dt - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(text, (int, Decimal)) and not isinstance(text, bool):
        try:
            return int(Decimal(text) * 1_000_000_000)
        except (InvalidOperation, OverflowError):
            return _NAT
    return _NAT


def _seconds(value: Any) -> int:
    """An epoch-seconds TTL value -> int seconds; _NAT when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return _NAT
    try:
        seconds = int(value)
    except (InvalidOperation, OverflowError, ValueError):
        return _NAT
    return seconds if -(2**62) < seconds < 2**62 else _NAT


def _record_row(rec: dict, size: int) -> tuple[tuple | None, str | None]:
    """An archive record -> a compact row tuple, or the reason it is not one."""
    fmt = rec.get("format", ARCHIVE_FORMAT)
    if fmt != ARCHIVE_FORMAT:
        return None, f"archive format {fmt!r} unknown to this reader (it reads format {ARCHIVE_FORMAT})"
    event_id = rec.get("event_id")
    item = rec.get("item")
    if not isinstance(event_id, str) or not event_id:
        return None, "not an archive record: no event_id"
    if not isinstance(item, dict):
        return None, "not an archive record: item is not a JSON object"
    keys = rec.get("keys")
    return (
        event_id,
        rec.get("table"),
        rec.get("region"),
        rec.get("sequence_number"),
        rec.get("event_source_arn"),
        keys if isinstance(keys, dict) else None,
        _ns(rec.get("deleted_at")),
        rec.get("ttl_attribute"),
        _seconds(rec.get("ttl")),
        item,
        size,
    ), None


def _error_row(rec: dict) -> tuple:
    """A Firehose error-output record -> (error_code, error_message, attempts, arrived_ms, event_id, raw_bytes)."""
    raw = rec.get("rawData")
    event_id = None
    raw_len = None
    if isinstance(raw, str):
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            decoded = raw.encode()
        raw_len = len(decoded)
        try:
            inner = json.loads(decoded.split(b"\n", 1)[0], parse_float=Decimal)
            if isinstance(inner, dict):
                event_id = inner.get("event_id") or inner.get("part_of")
        except ValueError:
            pass
    arrived = rec.get("approximateArrivalTimestamp", rec.get("arrivalTimestamp"))
    return (
        rec.get("errorCode"),
        rec.get("errorMessage"),
        rec.get("attemptsMade"),
        arrived if isinstance(arrived, int) and not isinstance(arrived, bool) else None,
        event_id,
        raw_len,
    )


def _fetch(source: Any, ref: _ObjectRef) -> tuple[_Decoded, bytes | None, str | None]:
    """Download and decompress one object: (result so far, text or None when it failed, damage)."""
    out = _Decoded(ref)
    try:
        raw = source.read(ref.key)
    except ReadFailed as err:
        out.problems.append(Problem(ref.key, None, str(err)))
        out.failed = True
        return out, None, None
    text, out.compressed, damage = _decompress(raw)
    del raw
    out.decompressed_bytes = len(text)
    return out, text, damage


def _parse_lines(out: _Decoded, text: bytes, damage: str | None, errors_mode: bool) -> None:
    """The exact path: every line with ``json.loads(parse_float=Decimal)``. Never raises for damaged data."""
    ref = out.ref
    lines = text.split(b"\n")
    del text
    last = len(lines)
    if damage:
        out.problems.append(Problem(ref.key, None, f"{damage}; {max(last - 1, 0)} lines before the damage were read, the rest of the object is lost"))
        if lines and lines[-1]:
            out.problems.append(Problem(ref.key, last, "incomplete last line (cut by the damage above): skipped"))
            lines[-1] = b""
    for number, line in enumerate(lines, 1):
        if not line or line.isspace():
            continue
        out.lines += 1
        try:
            rec = json.loads(line, parse_float=Decimal)
        except ValueError as err:  # includes UnicodeDecodeError
            out.problems.append(Problem(ref.key, number, f"not valid JSON ({err})" + (" - missing newline at the end of the object?" if number == last else "")))
            continue
        if not isinstance(rec, dict):
            out.problems.append(Problem(ref.key, number, f"not an archive record: a JSON {type(rec).__name__}, not an object"))
            continue
        if errors_mode:
            out.errors.append((number, *_error_row(rec)))
            continue
        if "part_of" in rec:
            out.parts.append((number, rec))
            continue
        row, reason = _record_row(rec, len(line) + 1)
        if row is None:
            out.problems.append(Problem(ref.key, number, reason or "not an archive record"))
        else:
            out.rows.append((number, row))


def _read_objects(source: Any, refs: tuple[_ObjectRef, ...], errors_mode: bool, fast: bool, parser: ThreadPoolExecutor | None = None) -> list[Any]:
    """Download, decompress and parse consecutive objects (one job of the thread pool): one
    :class:`_Decoded` per object, in order, or the unexpected exception that object raised.

    With ``fast``, the objects pyarrow may read are parsed in ONE ``read_json`` call over their
    concatenated text (each ends with a newline, so lines stay whole) and the table is sliced back
    per object: pyarrow's cost per call is large next to a small object (about half of the parse
    time for 100 KB objects). When the joined text is declined (one object with a type the others
    lack a common form for, a blank line...), each object is tried on its own, then line by line.
    ``parser``: the pool that runs pyarrow (as many threads as CPUs; pyarrow's allocator keeps memory
    per thread, so parsing on every download thread would hold several times the memory for no gain).
    """
    results: list[Any] = []
    batch: list[tuple[_Decoded, bytes]] = []
    for ref in refs:
        try:
            out, text, damage = _fetch(source, ref)
            if text is not None:
                if fast and not errors_mode and not damage and _fast_eligible(text):
                    batch.append((out, text))
                else:
                    _parse_lines(out, text, damage, errors_mode)
            del text
        except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
            results.append(err)
        else:
            results.append(out)
    if batch:
        if parser is None:
            _parse_batch(batch)
        else:
            parser.submit(_parse_batch, batch).result()
    return results


def _parse_batch(batch: list[tuple[_Decoded, bytes]]) -> None:
    """Fill ``table`` (or, when pyarrow declines an object, ``rows``) of fast-eligible objects."""
    import pyarrow as pa

    if len(batch) > 1:
        joined = b"".join(text for _, text in batch)
        try:
            table = _arrow_table(joined)
        except Exception as err:  # noqa: BLE001 - any doubt: each object on its own below
            LOG.debug("fast path declined %d objects read together (%s): each on its own", len(batch), err)
        else:
            del joined
            # Each object's rows: its text ends where the running total of record_bytes reaches it.
            ends = np.cumsum(np.asarray(table.column("record_bytes")))
            bounds = np.searchsorted(ends, np.cumsum([len(text) for _, text in batch]), side="right")
            starts = np.concatenate(([0], bounds[:-1]))
            lines = np.arange(1, table.num_rows + 1, dtype=np.int64) - np.repeat(starts, bounds - starts)
            table = table.append_column("object_line", pa.array(lines))
            for (out, _), first, stop in zip(batch, starts.tolist(), bounds.tolist()):
                out.table, out.lines, out.origin = table.slice(first, stop - first), stop - first, (table, first)
            return
        del joined
    for out, text in batch:
        try:
            table = _arrow_table(text)
        except Exception as err:  # noqa: BLE001 - any doubt: the exact path reads it
            LOG.debug("fast path declined %s: %s", out.ref.key, err)
            _parse_lines(out, text, None, False)
        else:
            n = table.num_rows
            out.table = table.append_column("object_line", pa.array(np.arange(1, n + 1, dtype=np.int64)))
            out.lines = n


# --------------------------------------------------------------------------- the fast path (pyarrow)
# pyarrow's JSON reader parses a whole object in C++ (about twice as fast as json.loads per line on the
# benchmark, releasing the GIL so threads overlap) and keeps
# the values in compact Arrow arrays. It is used only where it gives the same values as the exact path:
# objects with no part lines, no JSON null (Arrow cannot tell null from absent), no number literal of
# 16 characters or more (Arrow reads fractions as float64: exact up to 15 digits), no text that
# looks like a date other than deleted_at (Arrow would turn it into a timestamp: seen in its schema), one record per line,
# every record of format 1 with an event_id and an item. Anything else, or any Arrow error, and the
# object is read line by line with json.loads(parse_float=Decimal).

# Each byte classified in one C pass (bytes.translate): "1" may be part of a number, "2" may precede
# one (``:,[`` or whitespace), "0" anything else. A JSON number of 16+ characters outside a string is
# then a "2" (or the start of the text) followed by sixteen "1"s: one substring search, no Python loop.
_NUMBER_MAP = bytes(0x31 if c in b"0123456789.eE+-" else 0x32 if c in b":,[ \t\r\n" else 0x30 for c in range(256))
_LONG_RUN = b"1" * 16
_LONG_NUMBER = b"2" + _LONG_RUN


def _has_long_number(text: bytes) -> bool:
    """True when a JSON number of 16+ characters may be present: a run of number characters that
    long which does not start inside a string (right after a quote or a letter). Conservative: a
    digit run after a space inside a string counts too."""
    mapped = text.translate(_NUMBER_MAP)
    return mapped.startswith(_LONG_RUN) or _LONG_NUMBER in mapped


def _fast_eligible(text: bytes) -> bool:
    """Cheap byte checks before pyarrow. Blank lines and part lines need no scan here: a blank line
    makes the row count differ from the line count, a part line shows up as a ``part_of`` column
    (both checked in :func:`_arrow_table`)."""
    if not text.endswith(b"\n") or text.startswith(b"\n"):
        return False
    return b"null" not in text and not _has_long_number(text)


def _has_timestamp(t: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_timestamp(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_timestamp(t.value_type)
    return False


def _arrow_table(text: bytes) -> Any:
    """The records of one object, or of consecutive objects' texts joined, as a pyarrow Table with
    ``record_bytes`` (checked; raises when the exact path must read them). ``object_line`` is the
    caller's: it knows where each object starts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    # BufferReader reads the bytes in place (BytesIO would copy them through Python calls); one block
    # holds the whole object, and threads run across objects (read_json releases the GIL).
    table = pj.read_json(pa.BufferReader(text), read_options=pj.ReadOptions(use_threads=False, block_size=len(text) + 1))
    n = table.num_rows
    schema = table.schema
    if "part_of" in schema.names:
        raise ValueError("part lines")
    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
    if n != len(ends):
        raise ValueError("row count differs from line count")
    for name, check in _ARROW_TYPES.items():
        if name in _ARROW_REQUIRED and name not in schema.names:
            raise ValueError(f"no {name}")
        if name in schema.names and not check(schema.field(name).type):
            raise ValueError(f"{name} is {schema.field(name).type}")
    if any(_has_timestamp(f.type) for f in schema if f.name != "deleted_at"):
        raise ValueError("text that looks like a date: pyarrow would turn it into a timestamp")
    if table.column("event_id").null_count or table.column("item").null_count:
        raise ValueError("a record without event_id or item")
    fmt = table.column("format")
    if fmt.null_count or pc.min_max(fmt).as_py() != {"min": ARCHIVE_FORMAT, "max": ARCHIVE_FORMAT}:
        raise ValueError("a record of another format")
    if "deleted_at" in schema.names:
        i = schema.get_field_index("deleted_at")
        table = table.set_column(i, "deleted_at", table.column(i).cast(pa.timestamp("ns", tz="UTC")))
    return table.append_column("record_bytes", pa.array(np.diff(ends, prepend=-1), type=pa.int64()))


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    text = pa.types.is_string
    return {
        "event_id": text,
        "item": pa.types.is_struct,
        "format": pa.types.is_integer,
        "sequence_number": text,
        "table": text,
        "region": text,
        "event_source_arn": text,
        "ttl_attribute": text,
        "deleted_at": pa.types.is_timestamp,
        "ttl": pa.types.is_integer,
        "keys": pa.types.is_struct,
    }


_ARROW_REQUIRED = frozenset({"event_id", "item", "format"})


class _LazyTypes(dict):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)

    def items(self):  # type: ignore[override]
        if not len(self):
            self.update(_arrow_types())
        return super().items()


_ARROW_TYPES = _LazyTypes()


def _arrow_column(values: Any) -> Any:
    """An Arrow column -> the pandas dtype the exact path would choose (nested: Arrow-backed)."""
    import pyarrow as pa

    t = values.type
    if pa.types.is_nested(t):
        return pd.array(values, dtype=pd.ArrowDtype(t))
    if pa.types.is_null(t):
        return _object_array([None] * len(values))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.array(values, dtype="str")
    if values.null_count and pa.types.is_integer(t):
        return pd.array(values.to_pandas(), dtype="Int64")
    if values.null_count and pa.types.is_boolean(t):
        return pd.array(values.to_pylist(), dtype="boolean")
    return values.to_pandas()


def _arrow_frame(tables: list[Any], keys_of: list[list[tuple[str, int]]]) -> pd.DataFrame:
    """Frame of the fast path's tables (already filtered): envelope cast, item attributes flattened.
    ``keys_of``: for each table, the objects its rows come from, in order, as (key, rows).

    Takes the tables out of ``tables`` (the list is emptied) and converts one column at a time,
    dropping each column's Arrow chunks once it is converted: the peak is the data plus one
    column, not the data twice."""
    import pyarrow as pa

    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Objects disagree on a type (text in one, a number in another): each on its own, then pandas
        # puts the disagreeing columns in object dtype.
        pairs = list(zip(tables, keys_of))
        tables.clear()
        return pd.concat([_arrow_frame([t], [k]) for t, k in pairs], ignore_index=True)
    tables.clear()
    runs = [run for keys in keys_of for run in keys]
    n = table.num_rows
    columns = {name: table.column(name) for name in ENVELOPE_COLUMNS if name in table.column_names}
    item = table.column("item")
    attributes = [(f, pa.chunked_array([chunk.field(i) for chunk in item.chunks], type=f.type)) for i, f in enumerate(item.type)]
    del table, item
    data: dict[str, Any] = {}
    for name in ENVELOPE_COLUMNS:
        if name == "object_key":
            data[name] = pd.Categorical.from_codes(np.repeat(np.arange(len(runs)), [rows for _, rows in runs]), categories=pd.Index([key for key, _ in runs], dtype="str"))
        elif name not in columns:
            data[name] = _object_array([None] * n) if name not in {"deleted_at", "ttl"} else pd.DatetimeIndex(np.full(n, _NAT).view("M8[ns]")).tz_localize("UTC")
        elif name == "ttl":
            data[name] = _arrow_column(columns.pop(name).cast(pa.timestamp("s", tz="UTC")))
        else:
            data[name] = _arrow_column(_one_chunk(columns.pop(name)))
    for i, (f, values) in enumerate(attributes):
        attributes[i] = (f, None)
        data[f"item.{f.name}" if f.name in _ENVELOPE_SET else f.name] = _arrow_column(_one_chunk(values))
        del values
    return pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)


def _one_chunk(values: Any) -> Any:
    """A ChunkedArray as one Array (a frame of many small chunks is slow to use)."""
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


# --------------------------------------------------------------------------- building columns


class _Columns:
    """Per-column lists filled row by row; item attributes may appear at any row (padded with None)."""

    def __init__(self) -> None:
        self.n = 0
        self.text: dict[str, list] = {name: [] for name in ("event_id", "table", "region", "sequence_number", "event_source_arn", "keys", "ttl_attribute", "object_key")}
        self.ints: dict[str, array] = {name: array("q") for name in ("deleted_at", "ttl", "record_bytes", "object_line")}
        self.items: dict[str, list] = {}
        self._interned: dict[str, str] = {}

    def _intern(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._interned.setdefault(value, value)
        return value

    def add(self, row: tuple, key: str, line: int) -> None:
        event_id, table, region, seq, arn, keys, deleted_ns, ttl_attr, ttl_s, item, record_bytes = row
        t = self.text
        t["event_id"].append(event_id)
        t["table"].append(self._intern(table))
        t["region"].append(self._intern(region))
        t["sequence_number"].append(seq)
        t["event_source_arn"].append(self._intern(arn))
        t["keys"].append(keys)
        t["ttl_attribute"].append(self._intern(ttl_attr))
        t["object_key"].append(key)
        i = self.ints
        i["deleted_at"].append(deleted_ns)
        i["ttl"].append(ttl_s)
        i["record_bytes"].append(record_bytes)
        i["object_line"].append(line)
        n = self.n
        items = self.items
        for name, value in item.items():
            if name in _ENVELOPE_SET:
                name = f"item.{name}"
            col = items.get(name)
            if col is None:
                col = items[name] = [None] * n
            elif len(col) < n:
                col.extend([None] * (n - len(col)))
            col.append(value)
        self.n = n + 1

    def frame(self) -> pd.DataFrame:
        n = self.n
        data: dict[str, Any] = {}
        t, i = self.text, self.ints
        data["event_id"] = pd.array(t.pop("event_id"), dtype="str")
        for name in ("table", "region"):
            data[name] = pd.Categorical(t.pop(name))
        data["sequence_number"] = pd.array(t.pop("sequence_number"), dtype="str")
        data["event_source_arn"] = pd.Categorical(t.pop("event_source_arn"))
        data["keys"] = _object_array(t.pop("keys"))
        data["deleted_at"] = pd.DatetimeIndex(np.frombuffer(i.pop("deleted_at"), dtype=np.int64).view("M8[ns]")).tz_localize("UTC")
        data["ttl_attribute"] = pd.Categorical(t.pop("ttl_attribute"))
        data["ttl"] = pd.DatetimeIndex(np.frombuffer(i.pop("ttl"), dtype=np.int64).view("M8[s]")).tz_localize("UTC")
        data["record_bytes"] = np.frombuffer(i.pop("record_bytes"), dtype=np.int64).copy()
        data["object_key"] = pd.Categorical(t.pop("object_key"))
        data["object_line"] = np.frombuffer(i.pop("object_line"), dtype=np.int64).copy()
        for name in list(self.items):
            col = self.items.pop(name)
            if len(col) < n:
                col.extend([None] * (n - len(col)))
            data[name] = _column(col)
            del col
        return pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)


_ENVELOPE_SET = frozenset(ENVELOPE_COLUMNS)


def _object_array(values: list) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _float_exact(value: Any) -> bool:
    if type(value) is int:
        return -(2**53) <= value <= 2**53
    return value.is_finite() and Decimal(repr(float(value))) == value


def _column(values: list) -> Any:
    """The narrowest dtype that holds every value exactly (see the module docstring)."""
    kinds = set(map(type, values))
    has_none = type(None) in kinds
    kinds.discard(type(None))
    if not kinds:
        return _object_array(values)
    if kinds == {bool}:
        return pd.array(values, dtype="boolean") if has_none else np.array(values, dtype=bool)
    if kinds == {int}:
        try:
            return pd.array(values, dtype="Int64") if has_none else np.array(values, dtype=np.int64)
        except (OverflowError, TypeError, ValueError):
            return _object_array(values)  # beyond 64 bits: exact Python ints
    if kinds <= {int, Decimal}:
        if all(_float_exact(v) for v in values if v is not None):
            return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        return _object_array(values)
    if kinds == {str}:
        return pd.array(values, dtype="str")
    return _object_array(values)


def _empty_frame() -> pd.DataFrame:
    return _Columns().frame()


def _frame_of(rows: list[tuple], columns: list[str], dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype(dtypes) if dtypes else frame


_OBJECT_COLUMNS = ["key", "size", "stored_at", "hour", "compressed", "decompressed_bytes", "lines", "rows", "problems"]
_OBJECT_DTYPES = {"size": "int64", "compressed": "boolean", "decompressed_bytes": "Int64", "lines": "Int64", "rows": "Int64", "problems": "int64"}
_ERROR_COLUMNS = ["object_key", "object_line", "error_code", "error_message", "attempts", "arrived_at", "event_id", "raw_bytes"]


def _objects_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = _frame_of(rows, _OBJECT_COLUMNS, _OBJECT_DTYPES)
    for name in ("stored_at", "hour"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def _error_records_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = _frame_of(rows, _ERROR_COLUMNS, {"object_line": "int64", "attempts": "Int64", "raw_bytes": "Int64"})
    frame["arrived_at"] = pd.to_datetime(frame["arrived_at"].astype("Int64"), unit="ms", utc=True)
    return frame


_CATEGORIES = ("table", "region", "event_source_arn", "ttl_attribute", "object_key")


def _assemble(cols: _Columns, arrow_tables: list[Any], arrow_keys: list[list[tuple[str, int]]]) -> pd.DataFrame:
    """The frame: rows of the fast path and of the exact path, in object-key and line order."""
    frames = []
    if arrow_tables:
        frames.append(_arrow_frame(arrow_tables, arrow_keys))
        arrow_tables.clear()
    if cols.n or not frames:
        frames.append(cols.frame())
    if len(frames) == 1:
        frame = frames[0]
    else:
        everywhere = set.intersection(*(set(f.columns) for f in frames))
        for f in frames:  # a column some rows lack must hold missing values without changing type
            for name in set(f.columns) - everywhere:
                if f[name].dtype == np.int64:
                    f[name] = f[name].astype("Int64")
                elif f[name].dtype == bool:
                    f[name] = f[name].astype("boolean")
        frame = pd.concat(frames, ignore_index=True)
    for name in _CATEGORIES:
        if not isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype("category")
    if len(frames) > 1:
        frame = frame.sort_values(["object_key", "object_line"], kind="stable", ignore_index=True)
    items = [c for c in frame.columns if c not in _ENVELOPE_SET]
    return frame[[*ENVELOPE_COLUMNS, *items]]


# --------------------------------------------------------------------------- the reader


def read_archive(
    source: Any,
    bucket: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    *,
    start: Any = None,
    end: Any = None,
    late_delivery: timedelta = timedelta(hours=1),
    error_prefix: str | None = DEFAULT_ERROR_PREFIX,
    drop_duplicates: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    progress: bool | None = None,
    missing_ok: bool = False,
    engine: str = "auto",
) -> ArchiveReadResult:
    """Read the archive into a DataFrame and report what was skipped; never raises for damaged data.

    ``source`` is a ``boto3.Session`` (then ``bucket`` is required) or the path of a local folder that
    is a copy of the bucket (same key layout, e.g. made with ``aws s3 sync``). ``prefix`` is the
    archive's literal prefix (the part before Firehose's ``YYYY/MM/DD/HH/`` folders or the
    ``!{timestamp:...}`` expressions).

    ``start``/``end`` (datetimes or ISO text; naive means UTC) keep the items deleted in
    ``[start, end)``. Objects are chosen from the date in their key before any download: only the
    day prefixes of a short range are listed, and objects filed before ``start`` or ``late_delivery``
    or more after ``end`` are not downloaded (an item delivered later than that is missed; stream
    records live 24 h, so ``late_delivery=timedelta(hours=25)`` cannot miss one).

    Objects under ``error_prefix`` (None: skip) are read into ``error_records``. Duplicates (the same
    event id delivered twice, which Firehose retries cause) are counted and, by default, removed
    (the first delivery is kept). Downloads run on ``max_workers`` threads, a bounded number of
    objects in flight. ``progress`` shows a tqdm bar (None: when there are 20 objects or more).

    ``engine="auto"`` parses objects with pyarrow where that gives the same values (see "the fast
    path" below) and line by line otherwise; ``engine="python"`` parses every line with ``json.loads``.
    Flat columns are identical either way. Nested values differ in form: from the fast path a map
    or list attribute is an Arrow-backed column (``pd.ArrowDtype`` struct/list; a row's value is a
    dict or list, compact in memory), where a map holds the union of the keys its column has in that
    object, absent ones as None, and fractions as float (exact: the fast path takes no number of
    more than 15 digits). ``engine="python"`` keeps every nested value exactly as written (ints and
    Decimals, only the keys the item had) as Python objects, at several times the memory and time.

    Raises ``FileNotFoundError`` when the bucket or folder does not exist (``missing_ok=True``
    returns an empty result with ``missing=True`` instead) and ``PermissionError`` when it cannot be
    listed.
    """
    if engine not in {"auto", "python"}:
        raise ValueError(f"engine must be 'auto' or 'python', not {engine!r}")
    src = _source(source, bucket, max_workers)
    start_ts, end_ts = _utc(start), _utc(end)
    if start_ts is not None and end_ts is not None and end_ts <= start_ts:
        raise ValueError(f"end ({end_ts}) must be after start ({start_ts})")
    empty_errors = _error_records_frame([])
    if not src.exists():
        if not missing_ok:
            raise FileNotFoundError(f"{src} does not exist: deploy the pipeline (notebooks 01-04) or check the name")
        return ArchiveReadResult(_empty_frame(), _objects_frame([]), _objects_frame([]), empty_errors, source=str(src), missing=True)

    def select(pfx: str, exclude: str | None) -> tuple[list[_ObjectRef], int]:
        refs, skipped = [], 0
        seen: set[str] = set()
        for listing in listing_prefixes(src, pfx, start_ts, end_ts, late_delivery):
            for ref in src.list(listing):
                if ref.key in seen or (exclude and ref.key.startswith(exclude)):
                    continue
                seen.add(ref.key)
                if _may_hold(object_hour(ref.key), start_ts, end_ts, late_delivery):
                    refs.append(ref)
                else:
                    skipped += 1
        return sorted(refs, key=lambda r: r.key), skipped

    error_in_archive = bool(error_prefix) and error_prefix.startswith(prefix) and error_prefix != prefix
    refs, skipped = select(prefix, error_prefix if error_in_archive else None)
    error_refs, error_skipped = select(error_prefix, None) if error_prefix and error_prefix != prefix else ([], 0)
    LOG.info("reading %d archive objects and %d error objects from %s (%d outside the time range skipped)", len(refs), len(error_refs), src, skipped + error_skipped)

    cols = _Columns()
    problems: list[Problem] = []
    object_rows: list[tuple] = []
    error_object_rows: list[tuple] = []
    error_rows: list[tuple] = []
    seen_ids: set[str] = set()
    arrow_tables: list[Any] = []
    arrow_keys: list[list[tuple[str, int]]] = []  # per table in arrow_tables: (object key, rows) in order
    arrow_runs: list[list] = []  # per table: [job table, first row, end row] when a run of its rows

    def add_table(table: Any, key: str, origin: Any) -> None:
        """Keep a fast-path table; consecutive unfiltered objects of one job become one slice again
        (fewer, larger chunks: cheaper to assemble and to use)."""
        n = table.num_rows
        last = arrow_runs[-1] if arrow_runs else None
        if origin is not None and last is not None and last[0] is origin[0] and last[2] == origin[1]:
            last[2] += n  # arrow_tables[-1] becomes the slice of the whole run in _assemble's call
            arrow_keys[-1].append((key, n))
            return
        arrow_tables.append(table)
        arrow_keys.append([(key, n)])
        arrow_runs.append([origin[0], origin[1], origin[1] + n] if origin is not None else [None, 0, 0])
    parts = PartJoiner()
    counts = {"duplicates": 0, "out_of_range": 0, "rows": 0}
    start_ns = start_ts.value if start_ts is not None else None
    end_ns = end_ts.value if end_ts is not None else None

    def keep(row: tuple, key: str, line: int) -> int:
        deleted_ns = row[6]
        if (start_ns is not None or end_ns is not None) and (
            deleted_ns == _NAT or (start_ns is not None and deleted_ns < start_ns) or (end_ns is not None and deleted_ns >= end_ns)
        ):
            counts["out_of_range"] += 1
            return 0
        if row[0] in seen_ids:
            counts["duplicates"] += 1
            if drop_duplicates:
                return 0
        else:
            seen_ids.add(row[0])
        cols.add(row, key, line)
        return 1

    def keep_table(table: Any, key: str, origin: Any = None) -> int:
        import pyarrow as pa
        import pyarrow.compute as pc

        if start_ts is not None or end_ts is not None:
            deleted = table.column("deleted_at")
            mask = pc.is_valid(deleted)
            if start_ts is not None:
                mask = pc.and_(mask, pc.greater_equal(deleted, pa.scalar(start_ts.value, pa.timestamp("ns", tz="UTC"))))
            if end_ts is not None:
                mask = pc.and_(mask, pc.less(deleted, pa.scalar(end_ts.value, pa.timestamp("ns", tz="UTC"))))
            mask = pc.fill_null(mask, False)
            before = table.num_rows
            table = table.filter(mask)
            counts["out_of_range"] += before - table.num_rows
            if table.num_rows != before:
                origin = None
        ids = table.column("event_id").to_pylist()
        if seen_ids.isdisjoint(ids):  # the usual case, checked and recorded in C
            before = len(seen_ids)
            seen_ids.update(ids)
            if len(seen_ids) - before == len(ids):
                if table.num_rows:
                    add_table(table, key, origin)
                return table.num_rows
            seen_ids.difference_update(ids)  # a duplicate within the object: row by row below
        wanted = []
        for event_id in ids:
            if event_id in seen_ids:
                counts["duplicates"] += 1
                wanted.append(not drop_duplicates)
            else:
                seen_ids.add(event_id)
                wanted.append(True)
        if not all(wanted):
            table = table.filter(pa.array(wanted, type=pa.bool_()))
        if table.num_rows:
            add_table(table, key, origin if all(wanted) else None)
        return table.num_rows

    def join_part(key: str, line: int, rec: dict) -> tuple[tuple, str, int] | Problem | None:
        joined = parts.add(key, line, rec)
        if not isinstance(joined, tuple):
            return joined
        text, first_key, first_line = joined
        event_id, total = rec["part_of"], rec["parts"]
        try:
            rec = json.loads(text, parse_float=Decimal)
        except ValueError as err:
            return Problem(first_key, first_line, f"record {event_id} joined from {total} parts is not valid JSON ({err})")
        row, reason = _record_row(rec, len(text.encode()) + 1) if isinstance(rec, dict) else (None, "joined parts are not a JSON object")
        if row is None:
            return Problem(first_key, first_line, f"record {event_id} joined from {total} parts: {reason}")
        return row, first_key, first_line

    def consume(decoded: _Decoded, errors_mode: bool) -> None:
        ref = decoded.ref
        problems.extend(decoded.problems)
        kept = 0
        if errors_mode:
            error_rows.extend((ref.key, *err) for err in decoded.errors)
            kept = len(decoded.errors)
        elif decoded.table is not None:
            kept = keep_table(decoded.table, ref.key, decoded.origin)
            decoded.table = decoded.origin = None
        else:
            for line, row in decoded.rows:
                kept += keep(row, ref.key, line)
            for line, rec in decoded.parts:
                joined = join_part(ref.key, line, rec)
                if isinstance(joined, Problem):
                    problems.append(joined)
                elif joined is not None:
                    kept += keep(*joined)
        if not errors_mode:
            counts["rows"] += kept
        target = error_object_rows if errors_mode else object_rows
        target.append(
            (
                ref.key,
                ref.size,
                ref.stored_at,
                object_hour(ref.key),
                None if decoded.failed else decoded.compressed,
                None if decoded.failed else decoded.decompressed_bytes,
                None if decoded.failed else decoded.lines,
                None if decoded.failed else kept,
                len(decoded.problems),
            )
        )

    jobs = _jobs(refs, False, max_workers) + _jobs(error_refs, True, max_workers)
    total = len(refs) + len(error_refs)
    show = progress if progress is not None else total >= PROGRESS_MIN_OBJECTS
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="obj", desc=f"reading {src}")
    fast = engine == "auto"
    parse_threads = max(1, min(max_workers, os.cpu_count() or 1))
    # The parser pool is shut down last: a download thread may still be waiting on it.
    with ThreadPoolExecutor(max_workers=parse_threads, thread_name_prefix="archive-parser") as parser, ThreadPoolExecutor(
        max_workers=max(1, max_workers), thread_name_prefix="archive-reader"
    ) as pool:
        for (group, errors_mode), results in zip(jobs, _bounded_map(pool, jobs, src, max(1, max_workers) * 2, fast, parser)):
            if isinstance(results, BaseException):
                results = [results] * len(group)
            for ref, decoded in zip(group, results):
                if isinstance(decoded, BaseException):
                    LOG.error("unexpected failure reading %s", ref.key, exc_info=decoded)
                    decoded = _Decoded(ref, failed=True, problems=[Problem(ref.key, None, f"unexpected {type(decoded).__name__}: {decoded}")])
                consume(decoded, errors_mode)
            if bar is not None:
                bar.update(len(group))
                bar.set_postfix(rows=counts["rows"], refresh=False)
    if bar is not None:
        bar.close()
    problems.extend(parts.incomplete())

    for i, p in enumerate(problems):
        if i == MAX_LOGGED_PROBLEMS:
            LOG.warning("... and %d more problems (see result.problems)", len(problems) - i)
            break
        LOG.warning("skipped %s", p)
    # One slice per run of consecutive objects; nothing else may hold the tables (see _arrow_frame).
    tables = [t if run[0] is None else run[0].slice(run[1], run[2] - run[1]) for t, run in zip(arrow_tables, arrow_runs)]
    arrow_tables.clear()
    arrow_runs.clear()
    result = ArchiveReadResult(
        frame=_assemble(cols, tables, arrow_keys),
        objects=_objects_frame(object_rows),
        error_objects=_objects_frame(error_object_rows),
        error_records=_error_records_frame(error_rows),
        problems=problems,
        duplicates=counts["duplicates"],
        out_of_range=counts["out_of_range"],
        skipped_objects=skipped + error_skipped,
        source=str(src),
    )
    result._dropped = drop_duplicates
    LOG.info("%s", result.summary())
    return result


def _jobs(refs: list[_ObjectRef], errors_mode: bool, workers: int) -> list[tuple[tuple[_ObjectRef, ...], bool]]:
    """The objects in key order, cut into jobs of consecutive objects for the thread pool.

    A job holds at most :data:`JOB_STORED_BYTES` of stored data (so several small objects share one
    pyarrow call, see :func:`_read_objects`) and at most a quarter of an even share per worker (so
    every worker has work: a few objects, or a few large ones, are one object per job).
    """
    if errors_mode:
        return [((ref,), True) for ref in refs]
    most = max(1, -(-len(refs) // (max(1, workers) * 4)))
    jobs: list[tuple[tuple[_ObjectRef, ...], bool]] = []
    group: list[_ObjectRef] = []
    size = 0
    for ref in refs:
        group.append(ref)
        size += ref.size
        if len(group) >= most or size >= JOB_STORED_BYTES:
            jobs.append((tuple(group), False))
            group, size = [], 0
    if group:
        jobs.append((tuple(group), False))
    return jobs


def _bounded_map(pool: ThreadPoolExecutor, jobs: list[tuple[tuple[_ObjectRef, ...], bool]], src: Any, window: int, fast: bool, parser: ThreadPoolExecutor | None = None) -> Iterator[Any]:
    """Results of ``_read_objects`` in job order, at most ``window`` jobs in flight (bounded memory).
    An unexpected exception is yielded, not raised."""
    it = iter(jobs)
    futures: deque = deque(pool.submit(_read_objects, src, group, mode, fast, parser) for group, mode in islice(it, window))
    while futures:
        fut = futures.popleft()
        nxt = next(it, None)
        if nxt is not None:
            futures.append(pool.submit(_read_objects, src, nxt[0], nxt[1], fast, parser))
        try:
            yield fut.result()
        except Exception as err:  # noqa: BLE001 - reported as a Problem by the caller, never a crash
            yield err


def _source(source: Any, bucket: str | None, max_workers: int) -> Any:
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


# --------------------------------------------------------------------------- Parquet


_DECIMAL_MARK = "\x00decimal:"
_DECIMAL_TOKEN = re.compile(r'"\\u0000decimal:([^"]+)"')


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_DECIMAL_MARK}{value}"
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json_text(value: Any) -> str | None:
    """JSON text for a value, numbers exact (a Decimal is written with its own digits). None stays None."""
    if value is None:
        return None
    return _DECIMAL_TOKEN.sub(r"\1", json.dumps(value, default=_json_default, ensure_ascii=True, separators=(",", ":")))


def _parquet_ready(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    import pyarrow as pa

    out = {}
    json_columns: list[str] = []
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.ArrowDtype) and pa.types.is_nested(col.dtype.pyarrow_dtype):
            col = pd.Series(_object_array(col.tolist()), index=col.index)  # nested from the fast path
        elif col.dtype != object:
            out[name] = col
            continue
        kinds = {type(v) for v in col if v is not None}
        if kinds <= {str}:
            out[name] = col
            continue
        if kinds <= {int, Decimal}:
            exact = [None if v is None else Decimal(v) for v in col]
            try:
                pa.array(exact)  # fits a Parquet decimal (up to 76 digits)?
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError):
                pass
            else:
                out[name] = pd.Series(_object_array(exact), index=col.index)
                continue
        out[name] = col.map(to_json_text)
        json_columns.append(name)
    return pd.DataFrame(out), json_columns


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame from :func:`read_archive` to one Parquet file (creating its folder).

    Flat columns keep their types (datetimes with UTC, categories, nullable ints, exact numbers as
    Parquet decimals). Columns holding maps, lists, sets or mixed types (``keys`` and nested
    attributes) are written as JSON text, exact numbers kept, and listed in the file's metadata
    (``ttl_archive.json_columns``) so :func:`read_parquet` turns them back into dicts and lists.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ready, json_columns = _parquet_ready(frame)
    table = pa.Table.from_pandas(ready, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[_PARQUET_JSON_KEY] = json.dumps(json_columns).encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a file written by :func:`write_parquet`: JSON text columns come back as dicts and lists
    (numbers as int and Decimal, as :func:`read_archive` gives them)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    json_columns = json.loads((table.schema.metadata or {}).get(_PARQUET_JSON_KEY, b"[]"))
    frame = table.to_pandas()
    for name in json_columns:
        frame[name] = _object_array([json.loads(v, parse_float=Decimal) if isinstance(v, str) else None for v in frame[name]])
    return frame


def iter_items(frame: pd.DataFrame) -> Iterable[dict[str, Any]]:
    """The items back as plain dicts (attribute -> value), missing attributes left out: handy to
    compare with the originals or to re-load them. ``item.<name>`` columns get their name back."""
    item_columns = [c for c in frame.columns if c not in _ENVELOPE_SET]
    for values in frame[item_columns].itertuples(index=False, name=None):
        item = {}
        for name, value in zip(item_columns, values):
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                continue
            item[name[5:] if name.startswith("item.") else name] = value.item() if isinstance(value, np.generic) else value
        yield item
