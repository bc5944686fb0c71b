"""The archiver Lambda: DynamoDB stream batch -> newline-terminated JSON lines -> Firehose.

Self-contained (standard library and boto3 only, no imports from the rest of ``helpers``): this file is
zipped as it is and deployed with the handler ``archiver.handler``. The line format is documented in
``docs/archive-format.md``.

What a call of :func:`handler` guarantees
-----------------------------------------
* Only TTL deletes are archived: ``eventName == "REMOVE"`` with ``userIdentity == {"type": "Service",
  "principalId": "dynamodb.amazonaws.com"}`` and an old image. Everything else is skipped and counted by
  reason (``insert``, ``modify``, ``user_delete``, ``no_old_image``, ``other_event``); a skipped record is done.
* One JSON line per archived item in archive format 2 (numbers keep every digit, binary as base64, sets
  sorted, and a sparse ``types`` tree naming every B, SS, NS and BS so that the exact item can be rebuilt; a
  plain item carries none). A line longer than one Firehose record is split into part lines, never dropped.
* Lines are packed into Firehose records of at most ``MAX_RECORD_BYTES`` (1,024,000) and records into
  PutRecordBatch calls of at most ``MAX_BATCH_RECORDS`` (500) records and ``MAX_BATCH_BYTES`` (4 MiB) of Data.
* Only failed Firehose records are sent again (per-record ``ErrorCode``, or the whole call on a retryable
  error), with exponential backoff and full jitter, while the invocation has more than ``SAFETY_MARGIN_MS``
  left.
* Return value (the trigger must use ``FunctionResponseTypes: ["ReportBatchItemFailures"]``):
  ``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}, ...]}`` naming the first stream record
  whose lines were not all confirmed delivered **and every record after it** in batch order. The event
  source mapping resumes from the lowest reported sequence number and delivers everything after it again,
  so reporting the tail is exactly what will happen anyway; naming only the undelivered records would be
  equally correct for AWS but misleading to read. Records after the first failure that did reach Firehose
  are therefore archived twice (at-least-once; readers deduplicate on ``event_id``). An empty list means
  every archivable record was confirmed delivered.
* Errors are never swallowed into a normal return. Invalid configuration, a malformed record and a
  non-retryable Firehose error (for example ResourceNotFoundException, AccessDeniedException) are logged and
  **re-raised**: the invocation fails and the mapping retries the whole batch (BisectBatchOnFunctionError
  and an OnFailure destination on the mapping isolate a poison record). Only retryable Firehose failures
  that outlast the invocation's time end in a normal return, and then every affected record is reported.
* One structured log line (a JSON object) per invocation with the counts: seen, archived, skipped by reason,
  retried, failed, and Firehose calls / records / bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring as _json_str  # the C encoder when available

# ---------------------------------------------------------------------------------------------------
# AWS limits (Firehose PutRecordBatch API reference) and format constants
# ---------------------------------------------------------------------------------------------------
FIREHOSE_MAX_RECORD_BYTES = 1_024_000  # 1,000 KiB per record (before base64)
FIREHOSE_MAX_BATCH_RECORDS = 500
FIREHOSE_MAX_BATCH_BYTES = 4 * 1024 * 1024  # 4 MiB of record Data per call
FORMAT_VERSION = 2  # format 1: no ``types``; docs/archive-format.md
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
DEFAULT_TTL_ATTRIBUTE = "expires_at"
DEFAULT_SAFETY_MARGIN_MS = 3_000
DEFAULT_BUDGET_MS = 60_000  # assumed remaining time when no Lambda context is given
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 5.0

# Whole-call errors worth sending again; anything else is a configuration or code problem: re-raised.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "ThrottlingException",
        "Throttling",
        "LimitExceededException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "InternalFailure",
        "InternalFailureException",
        "InternalServerError",
        "InternalError",
        "ServiceFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_ACTIONABLE = {
    "ResourceNotFoundException": "delivery stream {stream!r} does not exist in this account and region: "
    "check DELIVERY_STREAM_NAME",
    "AccessDeniedException": "the function's role may not call firehose:PutRecordBatch on {stream!r}",
    "InvalidArgumentException": "Firehose rejected the request for {stream!r} (stream not ACTIVE, or not a "
    "DirectPut stream)",
    "InvalidKMSResourceException": "Firehose cannot use the KMS key of {stream!r}",
}

_STREAM_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,64}\Z")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

LOGGER = logging.getLogger("ttl_archiver")


# ---------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------
class ConfigError(ValueError):
    """The function's environment variables are missing or invalid (raised before any work)."""


@dataclass(frozen=True)
class Config:
    """Validated configuration; build it with :func:`load_config`."""

    delivery_stream_name: str
    ttl_attribute: str = DEFAULT_TTL_ATTRIBUTE
    log_level: str = "INFO"
    max_record_bytes: int = FIREHOSE_MAX_RECORD_BYTES
    max_batch_records: int = FIREHOSE_MAX_BATCH_RECORDS
    max_batch_bytes: int = FIREHOSE_MAX_BATCH_BYTES
    safety_margin_ms: int = DEFAULT_SAFETY_MARGIN_MS

    @property
    def target_record_bytes(self) -> int:
        """Size lines are packed up to: the largest record size that fills a call exactly.

        With the AWS limits that is 4 MiB / 5 = 838,860 bytes: five full records make one full call, where
        1,024,000-byte records would leave 98,304 bytes of every call unused. A single line between this
        size and ``max_record_bytes`` still travels whole in a record of its own.
        """
        per_call = -(-self.max_batch_bytes // self.max_record_bytes)  # ceil
        per_call = min(per_call, self.max_batch_records)
        return min(self.max_record_bytes, self.max_batch_bytes // per_call)


def _int_env(environ, name: str, default: int, low: int, high: int, why: str) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer ({why})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: it must be between {low:,} and {high:,} ({why})")
    return value


def load_config(environ=None) -> Config:
    """Read and validate the configuration from ``environ`` (default ``os.environ``).

    Variables: ``DELIVERY_STREAM_NAME`` (required, the Firehose stream), ``TTL_ATTRIBUTE`` (default
    ``expires_at``), ``LOG_LEVEL`` (default INFO), ``MAX_RECORD_BYTES`` / ``MAX_BATCH_RECORDS`` /
    ``MAX_BATCH_BYTES`` (default and maximum: the Firehose limits; lower values exist for tests),
    ``SAFETY_MARGIN_MS`` (default 3000: no new Firehose call or backoff sleep starts with less time left).
    Raises :class:`ConfigError` naming the variable and the rule; never calls AWS.
    """
    env = os.environ if environ is None else environ
    stream = (env.get("DELIVERY_STREAM_NAME") or "").strip()
    if not stream:
        raise ConfigError(
            "DELIVERY_STREAM_NAME is not set: set it to the name of the Firehose delivery stream that "
            "receives the archive (environment variable of the Lambda function)"
        )
    if not _STREAM_NAME_RE.match(stream):
        raise ConfigError(
            f"DELIVERY_STREAM_NAME={stream!r} is not a Firehose stream name: 1-64 characters of "
            "[a-zA-Z0-9_.-] (give the name, not the ARN)"
        )
    ttl_attribute = env.get("TTL_ATTRIBUTE") or DEFAULT_TTL_ATTRIBUTE
    if len(ttl_attribute.encode("utf-8")) > 255:
        raise ConfigError("TTL_ATTRIBUTE is longer than 255 bytes, DynamoDB's limit for a key attribute name")
    log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={log_level!r} must be one of {', '.join(_LOG_LEVELS)}")
    return Config(
        delivery_stream_name=stream,
        ttl_attribute=ttl_attribute,
        log_level=log_level,
        max_record_bytes=_int_env(
            env, "MAX_RECORD_BYTES", FIREHOSE_MAX_RECORD_BYTES, 1024, FIREHOSE_MAX_RECORD_BYTES,
            "Firehose accepts at most 1,000 KiB per record",
        ),
        max_batch_records=_int_env(
            env, "MAX_BATCH_RECORDS", FIREHOSE_MAX_BATCH_RECORDS, 1, FIREHOSE_MAX_BATCH_RECORDS,
            "PutRecordBatch accepts at most 500 records",
        ),
        max_batch_bytes=_int_env(
            env, "MAX_BATCH_BYTES", FIREHOSE_MAX_BATCH_BYTES, 1024, FIREHOSE_MAX_BATCH_BYTES,
            "PutRecordBatch accepts at most 4 MiB per call",
        ),
        safety_margin_ms=_int_env(
            env, "SAFETY_MARGIN_MS", DEFAULT_SAFETY_MARGIN_MS, 0, 900_000,
            "milliseconds kept free before the Lambda timeout",
        ),
    )


# ---------------------------------------------------------------------------------------------------
# DynamoDB AttributeValue (Lambda event shape) -> JSON text
# ---------------------------------------------------------------------------------------------------
# Written directly as text: strings through json's C encoder, numbers verbatim. No Decimal, no dicts,
# no json.dumps of an intermediate structure. Non-ASCII characters are written as UTF-8 (not \\u escapes).

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z").match
_key_cache: dict = {}


def _number(text: str) -> str:
    """DynamoDB's number string as a JSON number: verbatim when it already is one, else normalised by
    Decimal (which keeps every digit: ``+1`` -> ``1``, ``.50`` -> ``0.50``, ``007`` -> ``7``)."""
    if _JSON_NUMBER(text):
        return text
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError, TypeError):
        raise ValueError(f"not a DynamoDB number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a DynamoDB number: {text!r}")
    normal = str(value)
    if not _JSON_NUMBER(normal):  # pragma: no cover - str(Decimal) of a finite value always matches
        raise ValueError(f"cannot write {text!r} as a JSON number")
    return normal


def _key(name: str) -> str:
    text = _json_str(name) + ":"
    if len(_key_cache) < 4096:  # attribute names repeat across items; bound the cache all the same
        _key_cache[name] = text
    return text


def _b64(value) -> str:
    """B value: the Lambda event carries base64 text (written as it is); bytes are encoded."""
    if isinstance(value, str):
        return _json_str(value)
    return '"' + base64.b64encode(bytes(value)).decode("ascii") + '"'


def _raw_bytes(value) -> bytes:
    if isinstance(value, str):
        return base64.b64decode(value)
    return bytes(value)


def _num_key(text: str) -> Decimal:
    return Decimal(_number(text))


_TYPED = {k: f'"{k}"' for k in ("B", "SS", "NS", "BS")}  # types plain JSON cannot tell, as JSON text


def _enc_map(value, types=None) -> str:
    """An M value (or a whole image) as a JSON object text. With ``types`` (a list), also append to it the
    members of format 2's sparse type tree as JSON text: ``"name":"B"`` (or SS, NS, BS) for such values,
    ``"name":{...}`` for a nested M or L holding one, nothing for plain values."""
    parts = []
    add = parts.append
    keys = _key_cache
    for name, av in value.items():
        prefix = keys.get(name) or _key(name)
        kind, = av  # ValueError unless exactly one type key
        inner = av[kind]
        if kind == "S":
            add(prefix + _json_str(inner))
        elif kind == "N":
            # Fast path: a plain ASCII integer without leading zero is already a JSON number.
            if inner.isdigit() and inner.isascii() and inner[0] != "0":
                add(prefix + inner)
            else:
                add(prefix + _number(inner))
        elif types is None:
            add(prefix + (_enc_map(inner) if kind == "M" else _ENCODERS[kind](inner)))
        elif kind == "M" or kind == "L":
            sub: list = []
            add(prefix + (_enc_map(inner, sub) if kind == "M" else _enc_list(inner, sub)))
            if sub:
                types.append(prefix + "{" + ",".join(sub) + "}")
        else:
            add(prefix + _ENCODERS[kind](inner))
            code = _TYPED.get(kind)
            if code is not None:
                types.append(prefix + code)
    return "{" + ",".join(parts) + "}"


def _enc_list(value, types=None) -> str:
    """An L value as a JSON array text; ``types`` as for :func:`_enc_map`, the members keyed by the position
    as a decimal string (``"0"``, ``"1"``...)."""
    parts = []
    add = parts.append
    for index, av in enumerate(value):
        kind, = av
        inner = av[kind]
        if kind == "S":
            add(_json_str(inner))
        elif kind == "N":
            if inner.isdigit() and inner.isascii() and inner[0] != "0":
                add(inner)
            else:
                add(_number(inner))
        elif types is None:
            add(_enc_map(inner) if kind == "M" else _ENCODERS[kind](inner))
        elif kind == "M" or kind == "L":
            sub: list = []
            add(_enc_map(inner, sub) if kind == "M" else _enc_list(inner, sub))
            if sub:
                types.append(f'"{index}":{{' + ",".join(sub) + "}")
        else:
            add(_ENCODERS[kind](inner))
            code = _TYPED.get(kind)
            if code is not None:
                types.append(f'"{index}":{code}')
    return "[" + ",".join(parts) + "]"


_ENCODERS = {
    "S": _json_str,
    "N": _number,
    "M": _enc_map,
    "L": _enc_list,
    "BOOL": lambda v: "true" if v else "false",
    "NULL": lambda v: "null",
    "B": _b64,
    "SS": lambda v: "[" + ",".join([_json_str(s) for s in sorted(v)]) + "]",
    "NS": lambda v: "[" + ",".join([_number(n) for n in sorted(v, key=_num_key)]) + "]",
    "BS": lambda v: "[" + ",".join([_b64(b) for b in sorted(v, key=_raw_bytes)]) + "]",
}


def attribute_value_to_json(av: dict) -> str:
    """One DynamoDB AttributeValue (``{"S": "x"}``, ``{"M": {...}}``...) as JSON text.

    Conversion rules (docs/archive-format.md): S string; N JSON number with DynamoDB's digits; B base64
    string; BOOL; NULL null; M object; L array; SS sorted by code point; NS sorted numerically; BS base64
    strings sorted by the raw bytes. Raises ValueError on an unknown type or a malformed value.
    """
    try:
        if len(av) != 1:
            raise ValueError(f"an AttributeValue has exactly one type key, got {sorted(av)!r}")
        for kind, inner in av.items():
            return _ENCODERS[kind](inner)
    except KeyError as err:
        raise ValueError(f"unknown DynamoDB type {err.args[0]!r}") from None
    except (AttributeError, TypeError, binascii.Error) as err:
        raise ValueError(f"malformed AttributeValue: {err}") from None
    raise ValueError("empty AttributeValue")  # pragma: no cover - len check above


def image_to_json(image: dict) -> str:
    """A whole item image (attribute name -> AttributeValue) as one JSON object text; see
    :func:`attribute_value_to_json` for the rules. Raises ValueError on malformed input."""
    return image_to_json_typed(image, with_types=False)[0]


def image_to_json_typed(image: dict, with_types: bool = True) -> tuple:
    """``(item JSON text, types JSON text or None)``: the item as plain JSON and, when it holds a B, SS,
    NS or BS anywhere, the sparse type tree of format 2 (docs/archive-format.md) as compact JSON text.
    None when plain JSON tells every type (S, N, BOOL, NULL, M, L only). Raises ValueError on malformed
    input."""
    types = [] if with_types else None
    try:
        text = _enc_map(image, types)
    except KeyError as err:
        raise ValueError(f"unknown DynamoDB type {err.args[0]!r}") from None
    except (AttributeError, TypeError, binascii.Error) as err:
        raise ValueError(f"malformed item image: {err}") from None
    return text, ("{" + ",".join(types) + "}" if types else None)


# ---------------------------------------------------------------------------------------------------
# Stream records -> lines
# ---------------------------------------------------------------------------------------------------
def skip_reason(record: dict):
    """Why a stream record is not archived (``insert``, ``modify``, ``user_delete``, ``no_old_image``,
    ``other_event``), or None for a TTL delete with an old image."""
    name = record.get("eventName")
    if name != "REMOVE":
        return {"INSERT": "insert", "MODIFY": "modify"}.get(name, "other_event")
    identity = record.get("userIdentity")
    if (
        not isinstance(identity, dict)
        or identity.get("type") != "Service"
        or identity.get("principalId") != TTL_PRINCIPAL
    ):
        return "user_delete"
    if not (record.get("dynamodb") or {}).get("OldImage"):
        return "no_old_image"
    return None


_EPOCH = datetime(1970, 1, 1)
_day_cache: dict = {}  # days since the epoch -> "YYYY-MM-DDT"


def _iso_utc(value):
    """ApproximateCreationDateTime (epoch seconds, maybe fractional) as ISO 8601 UTC with 'Z'.
    Whole seconds: ``2026-11-26T18:00:00Z``; otherwise microseconds: ``...T18:00:00.250000Z``.
    Also accepts a datetime (naive = UTC) or a numeric string; None gives None."""
    if value.__class__ is int:
        days, rest = divmod(value, 86_400)
        day = _day_cache.get(days)
        if day is None:
            day = (_EPOCH + timedelta(days=days)).strftime("%Y-%m-%dT")
            if len(_day_cache) < 1024:
                _day_cache[days] = day
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{day}{hours:02d}:{minutes:02d}:{seconds:02d}Z"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        stamp = stamp.astimezone(timezone.utc)
        micros = stamp.microsecond
        stamp = stamp.replace(microsecond=0, tzinfo=None)
    else:
        exact = Decimal(value)  # Decimal(float) is exact: no double rounding
        if not exact.is_finite():
            raise ValueError(f"not a time: {value!r}")
        seconds, micros = divmod(int(round(exact * 1_000_000)), 1_000_000)
        stamp = _EPOCH + timedelta(seconds=seconds)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{micros:06d}Z" if micros else text + "Z"


def _table_from_arn(arn):
    # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    try:
        return arn.split(":", 5)[5].split("/")[1]
    except (AttributeError, IndexError):
        return None


def _region_from_arn(arn):
    try:
        return arn.split(":")[3] or None
    except (AttributeError, IndexError):
        return None


def _opt_str(value) -> str:
    if value.__class__ is str:
        return _json_str(value)
    return "null" if value is None else _json_str(str(value))


def archive_line(record: dict, ttl_attribute: str = DEFAULT_TTL_ATTRIBUTE) -> str:
    """The archive line (JSON text, no newline) for one TTL-delete stream record (Lambda event shape).

    Fields in order: event_id, sequence_number, table, region, event_source_arn, deleted_at, ttl_attribute,
    ttl (the old image's TTL attribute if it is a Number, else null), keys, item, types (format 2: only when
    the item holds a B, SS, NS or BS anywhere), format. Raises ValueError
    (or KeyError for a record without ``dynamodb``) on malformed input.
    """
    ddb = record["dynamodb"]
    image = ddb["OldImage"]
    arn = record.get("eventSourceARN")
    ttl_av = image.get(ttl_attribute)
    ttl = "null"
    if ttl_av.__class__ is dict and "N" in ttl_av:
        ttl = ttl_av["N"]
        if not (ttl.__class__ is str and ttl.isdigit() and ttl.isascii() and ttl[0] != "0"):
            ttl = _number(ttl)
    keys = ddb.get("Keys")
    try:
        deleted_at = _iso_utc(ddb.get("ApproximateCreationDateTime"))
    except (ValueError, ArithmeticError, OverflowError, OSError) as err:
        raise ValueError(f"bad ApproximateCreationDateTime: {err}") from None
    item, types = image_to_json_typed(image)
    typed = "" if types is None else ',"types":' + types
    source = _source_cache.get((arn, record.get("awsRegion")))
    if source is None:
        source = _source_text(arn, record.get("awsRegion"))
    return (
        f'{{"event_id":{_opt_str(record.get("eventID"))}'
        f',"sequence_number":{_opt_str(ddb.get("SequenceNumber"))}'
        f"{source}"
        f',"deleted_at":{_opt_str(deleted_at)}'
        f',"ttl_attribute":{_json_str(ttl_attribute)}'
        f',"ttl":{ttl}'
        f',"keys":{"null" if keys is None else image_to_json(keys)}'
        f',"item":{item}'
        f"{typed}"
        f',"format":{FORMAT_VERSION}}}'
    )


_source_cache: dict = {}  # (eventSourceARN, awsRegion) -> the table/region/arn fields as text


def _source_text(arn, region) -> str:
    text = (
        f',"table":{_opt_str(_table_from_arn(arn))}'
        f',"region":{_opt_str(region or _region_from_arn(arn))}'
        f',"event_source_arn":{_opt_str(arn)}'
    )
    if len(_source_cache) < 256:
        _source_cache[(arn, region)] = text
    return text


def _utf8(text: str) -> bytes:
    # backslashreplace only matters for a lone surrogate (impossible in DynamoDB data): it can only sit inside
    # a JSON string here, where "\\udXXX" is the JSON escape of that very code point.
    return text.encode("utf-8", "backslashreplace")


def split_line(text: str, event_id, max_bytes: int) -> list:
    """Split one line's text into part lines (bytes, newline-terminated), each at most ``max_bytes``.

    Part ``i`` of ``n`` is ``{"part_of": event_id, "part": i, "parts": n, "data": <slice>, "format": 2}``;
    joining the ``data`` of parts 0..n-1 gives ``text`` back. Slices are cut between code points, sized so
    that the escaped slice fits. Raises ValueError if ``max_bytes`` cannot hold a part with any data.
    """
    placeholder = 9_999_999  # at most 7 digits for part and parts: 10 million parts is beyond any item
    head = '{"part_of":' + _opt_str(event_id) + ',"part":'
    overhead = len(_utf8(head + f'{placeholder},"parts":{placeholder},"data":"","format":{FORMAT_VERSION}}}\n'))
    budget = max_bytes - overhead  # bytes for the escaped slice between its quotes
    if budget < 12:
        raise ValueError(f"max_bytes={max_bytes} leaves no room for part data (event id too long?)")
    chunks = []
    pos, end = 0, len(text)
    while pos < end:
        size = min(end - pos, budget)  # every code point takes at least one byte
        while True:
            chunk = text[pos : pos + size]
            used = len(_utf8(_json_str(chunk))) - 2
            if used <= budget:
                break
            size = max(1, min(size - 1, size * budget // used))
        chunks.append(chunk)
        pos += size
    count = len(chunks)
    tail = f',"format":{FORMAT_VERSION}}}\n'
    if count > placeholder:  # pragma: no cover - would need a line of 10 TB
        raise ValueError("line too long to split")
    return [
        _utf8(head + f'{i},"parts":{count},"data":' + _json_str(chunk) + tail)
        for i, chunk in enumerate(chunks)
    ]


@dataclass
class EncodedBatch:
    """The lines of one invocation. ``lines`` is a list of (stream record index, line bytes incl. newline)
    in batch order; a split item contributes several consecutive part lines with the same index."""

    lines: list = field(default_factory=list)
    archivable: list = field(default_factory=list)  # indices of records with at least one line
    skipped: Counter = field(default_factory=Counter)
    split_items: int = 0
    payload_bytes: int = 0


def encode_records(records: list, config: Config) -> EncodedBatch:
    """Turn the stream records of one batch into archive lines (or part lines) in batch order.

    Skipped records are counted by reason and produce no line. Raises ValueError/KeyError on a malformed
    TTL-delete record (the caller re-raises: better a failed invocation than a lost item)."""
    out = EncodedBatch()
    lines = out.lines
    limit = config.max_record_bytes
    ttl_attribute = config.ttl_attribute
    for index, record in enumerate(records):
        identity = record.get("userIdentity")
        if not (  # inlined skip_reason() for the common case: plain dicts from the Lambda runtime
            identity.__class__ is dict
            and identity.get("principalId") == TTL_PRINCIPAL
            and identity.get("type") == "Service"
            and record.get("eventName") == "REMOVE"
            and (record.get("dynamodb") or {}).get("OldImage")
        ):
            reason = skip_reason(record)
            if reason is not None:
                out.skipped[reason] += 1
                continue
        try:
            text = archive_line(record, ttl_attribute)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(
                f"stream record {index} (eventID {record.get('eventID')!r}) cannot be archived: {err!r}"
            ) from err
        data = _utf8(text + "\n")
        out.archivable.append(index)
        if len(data) <= limit:
            lines.append((index, data))
            out.payload_bytes += len(data)
        else:
            out.split_items += 1
            for part in split_line(text, record.get("eventID"), config.target_record_bytes):
                lines.append((index, part))
                out.payload_bytes += len(part)
    return out


# ---------------------------------------------------------------------------------------------------
# Packing
# ---------------------------------------------------------------------------------------------------
class FirehoseRecord:
    """One Firehose record: whole lines, and the batch indices of the first and last stream record whose
    lines it carries (lines are in batch order, so it carries a contiguous range)."""

    __slots__ = ("data", "first", "last")

    def __init__(self, data: bytes, first: int, last: int):
        self.data = data
        self.first = first
        self.last = last

    def __repr__(self) -> str:
        return f"FirehoseRecord({len(self.data)} bytes, stream records {self.first}..{self.last})"


def pack_records(lines: list, target_bytes: int) -> list:
    """Pack (index, line bytes) pairs in order into :class:`FirehoseRecord` objects of at most
    ``target_bytes`` each; a single line larger than that (never larger than a Firehose record, see
    :func:`encode_records`) gets a record of its own. Lines are never cut or reordered."""
    records = []
    chunk: list = []
    size = 0
    first = last = -1
    for index, data in lines:
        n = len(data)
        if chunk and size + n > target_bytes:
            records.append(FirehoseRecord(b"".join(chunk), first, last))
            chunk = []
            size = 0
        if not chunk:
            first = index
        chunk.append(data)
        size += n
        last = index
    if chunk:
        records.append(FirehoseRecord(b"".join(chunk), first, last))
    return records


def take_call(pending: deque, records: list, max_records: int, max_bytes: int) -> list:
    """Pop from the front of ``pending`` (indices into ``records``) the longest run that fits one
    PutRecordBatch call (count and Data bytes). Always takes at least one record."""
    batch = [pending.popleft()]
    size = len(records[batch[0]].data)
    while pending and len(batch) < max_records:
        n = len(records[pending[0]].data)
        if size + n > max_bytes:
            break
        batch.append(pending.popleft())
        size += n
    return batch


# ---------------------------------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------------------------------
@dataclass
class DeliveryStats:
    calls: int = 0
    records_sent: int = 0  # Firehose records put (including resends)
    bytes_sent: int = 0
    retried: int = 0  # Firehose records sent again after a failure
    throttled_calls: int = 0  # whole calls that failed with a retryable error
    error_codes: Counter = field(default_factory=Counter)
    out_of_time: bool = False


def _sleep(seconds: float) -> None:
    """The backoff sleep (a module-level indirection so that tests can replace it)."""
    time.sleep(seconds)


def _error_code(err) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def _is_retryable(err) -> bool:
    """Whole-call failures worth sending again: throttling / service errors / HTTP 5xx / network."""
    try:
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )
    except ImportError:  # pragma: no cover - botocore is part of the Lambda runtime
        return False
    if isinstance(err, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        return True
    if isinstance(err, ClientError):
        if _error_code(err) in RETRYABLE_ERROR_CODES:
            return True
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return isinstance(status, int) and status >= 500
    return False


def deliver(records: list, client, config: Config, time_left_ms, sleep=None, stats=None) -> list:
    """Send ``records`` (:class:`FirehoseRecord`) with PutRecordBatch; return one bool per record: True when
    Firehose confirmed it.

    Sends in order; after a failed call or per-record failures only the failed records go again (at the
    front of the next call), after a full-jitter exponential backoff (0..min(5 s, 0.1 s * 2^n)). No call and
    no sleep starts with less than ``config.safety_margin_ms`` left (``time_left_ms()``), except the very
    first call, which is always made so that every invocation can make progress. Non-retryable errors are
    raised (after an error log with an actionable hint when the code is known).
    """
    stats = stats if stats is not None else DeliveryStats()
    sleep = sleep or _sleep
    delivered = [False] * len(records)
    pending = deque(range(len(records)))
    stream = config.delivery_stream_name
    margin = config.safety_margin_ms
    failures_in_row = 0
    first_call = True
    while pending:
        if failures_in_row:
            delay = random.uniform(0.0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failures_in_row - 1)))
            if time_left_ms() - delay * 1000.0 < margin:
                stats.out_of_time = True
                break
            sleep(delay)
        elif not first_call and time_left_ms() < margin:
            stats.out_of_time = True
            break
        first_call = False
        batch = take_call(pending, records, config.max_batch_records, config.max_batch_bytes)
        entries = [{"Data": records[i].data} for i in batch]
        stats.calls += 1
        stats.records_sent += len(batch)
        stats.bytes_sent += sum(len(e["Data"]) for e in entries)
        try:
            response = client.put_record_batch(DeliveryStreamName=stream, Records=entries)
        except Exception as err:  # noqa: BLE001 - classified below, re-raised unless retryable
            if not _is_retryable(err):
                code = _error_code(err)
                hint = _ACTIONABLE.get(code, "").format(stream=stream)
                LOGGER.error(
                    "PutRecordBatch failed and is not retryable",
                    extra={"fields": {"error_code": code or type(err).__name__, "error": str(err), "hint": hint}},
                )
                raise
            code = _error_code(err) or type(err).__name__
            stats.throttled_calls += 1
            stats.error_codes[code] += len(batch)
            stats.retried += len(batch)
            failures_in_row += 1
            pending.extendleft(reversed(batch))
            LOGGER.warning(
                "PutRecordBatch call failed, will retry",
                extra={"fields": {"error_code": code, "records": len(batch), "attempt": failures_in_row}},
            )
            continue
        answers = response.get("RequestResponses") or []
        if len(answers) != len(batch):
            # Cannot tell which records were stored: treat all as failed (resending may duplicate, never lose).
            LOGGER.warning(
                "PutRecordBatch answered %d responses for %d records; resending all", len(answers), len(batch)
            )
            failed = list(batch)
            stats.error_codes["ResponseMismatch"] += len(batch)
        else:
            failed = []
            for i, answer in zip(batch, answers):
                code = answer.get("ErrorCode")
                if code:
                    failed.append(i)
                    stats.error_codes[code] += 1
                else:
                    delivered[i] = True
        if failed:
            stats.retried += len(failed)
            failures_in_row += 1
            pending.extendleft(reversed(failed))
            LOGGER.warning(
                "PutRecordBatch partially failed, will resend the failed records",
                extra={"fields": {"failed_put_count": len(failed), "records": len(batch), "attempt": failures_in_row}},
            )
        else:
            failures_in_row = 0
    return delivered


# ---------------------------------------------------------------------------------------------------
# The invocation
# ---------------------------------------------------------------------------------------------------
@dataclass
class BatchResult:
    """Outcome of one invocation: the handler's response plus the counts that are logged."""

    batch_item_failures: list
    seen: int
    archived: int
    failed: int
    skipped: Counter
    lines: int
    split_items: int
    payload_bytes: int
    firehose_records: int
    stats: DeliveryStats

    def response(self) -> dict:
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in self.batch_item_failures]}

    def summary(self) -> dict:
        return {
            "seen": self.seen,
            "archived": self.archived,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "failed": self.failed,
            "batch_item_failures": len(self.batch_item_failures),
            "retried": self.stats.retried,
            "lines": self.lines,
            "split_items": self.split_items,
            "payload_bytes": self.payload_bytes,
            "firehose_records": self.firehose_records,
            "firehose_calls": self.stats.calls,
            "firehose_records_sent": self.stats.records_sent,
            "firehose_bytes_sent": self.stats.bytes_sent,
            "firehose_error_codes": dict(sorted(self.stats.error_codes.items())),
            "out_of_time": self.stats.out_of_time,
        }


def _time_left(context):
    get = getattr(context, "get_remaining_time_in_millis", None)
    if callable(get):
        return get
    deadline = time.monotonic() + DEFAULT_BUDGET_MS / 1000.0
    return lambda: (deadline - time.monotonic()) * 1000.0


def archive_batch(records: list, context, config: Config, firehose, sleep=None) -> BatchResult:
    """Archive the stream records of one batch (Lambda event ``Records``) to ``config.delivery_stream_name``
    through ``firehose`` (anything with ``put_record_batch``). Returns a :class:`BatchResult` whose
    ``batch_item_failures`` is empty when every TTL-delete record was confirmed delivered, else the sequence
    numbers from the first not-delivered record to the end of the batch. Raises on malformed records and
    non-retryable Firehose errors (see the module docstring)."""
    encoded = encode_records(records, config)
    fh_records = pack_records(encoded.lines, config.target_record_bytes)
    stats = DeliveryStats()
    delivered = deliver(fh_records, firehose, config, _time_left(context), sleep=sleep, stats=stats)
    first_undelivered = min((r.first for r, ok in zip(fh_records, delivered) if not ok), default=None)
    if first_undelivered is None:
        failures = []
        archived = len(encoded.archivable)
    else:
        failures = [records[i]["dynamodb"]["SequenceNumber"] for i in range(first_undelivered, len(records))]
        # A stream record is archived when every Firehose record carrying its lines was confirmed.
        broken = set()
        for r, ok in zip(fh_records, delivered):
            if not ok:
                broken.update(range(r.first, r.last + 1))
        archived = sum(1 for i in encoded.archivable if i not in broken)
    return BatchResult(
        batch_item_failures=failures,
        seen=len(records),
        archived=archived,
        failed=len(encoded.archivable) - archived,
        skipped=encoded.skipped,
        lines=len(encoded.lines),
        split_items=encoded.split_items,
        payload_bytes=encoded.payload_bytes,
        firehose_records=len(fh_records),
        stats=stats,
    )


# ---------------------------------------------------------------------------------------------------
# Firehose client and logging
# ---------------------------------------------------------------------------------------------------
_firehose_client = None


def set_firehose_client(client) -> None:
    """Use ``client`` (anything with ``put_record_batch``) for later invocations; None restores the
    default lazily created boto3 client."""
    global _firehose_client
    _firehose_client = client


def firehose_client():
    """The Firehose client: the one given to :func:`set_firehose_client`, else a boto3 client created on
    first use (short timeouts, botocore retries off: :func:`deliver` retries with the invocation's time)."""
    global _firehose_client
    if _firehose_client is None:
        import boto3
        from botocore.config import Config as BotoConfig

        _firehose_client = boto3.client(
            "firehose",
            config=BotoConfig(
                connect_timeout=5,
                read_timeout=20,
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
        )
    return _firehose_client


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: level, message, the record's ``fields`` extra, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time (Lambda sends stdout to CloudWatch Logs)."""

    def __init__(self):
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def configure_logging(level: str = "INFO") -> None:
    """Idempotent: give the ``ttl_archiver`` logger one JSON-lines stdout handler and ``level``. It does not
    propagate to the root logger (the Lambda runtime's handler there would print every line twice)."""
    if not any(isinstance(h, _StdoutHandler) for h in LOGGER.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonLogFormatter())
        LOGGER.addHandler(handler)
    LOGGER.propagate = False
    LOGGER.setLevel(level)


def handler(event, context):
    """Lambda entry point for a DynamoDB stream trigger with ReportBatchItemFailures.

    Returns ``{"batchItemFailures": [...]}`` (see the module docstring). Raises :class:`ConfigError` when the
    environment is invalid, and re-raises malformed-record and non-retryable Firehose errors, so the
    invocation fails and the whole batch is retried; nothing is reported as done that was not delivered.
    """
    started = time.monotonic()
    try:
        config = load_config()
    except ConfigError as err:
        configure_logging("INFO")
        LOGGER.error("invalid configuration", extra={"fields": {"error": str(err)}})
        raise
    configure_logging(config.log_level)
    records = (event or {}).get("Records") or []
    request_id = getattr(context, "aws_request_id", None)
    try:
        result = archive_batch(records, context, config, firehose_client())
    except Exception as err:
        LOGGER.error(
            "batch not archived: the invocation fails and the whole batch will be retried",
            exc_info=True,
            extra={"fields": {"aws_request_id": request_id, "seen": len(records), "error": str(err)}},
        )
        raise
    fields = {"aws_request_id": request_id, "delivery_stream": config.delivery_stream_name}
    fields.update(result.summary())
    fields["duration_ms"] = round((time.monotonic() - started) * 1000.0, 1)
    if result.batch_item_failures:
        LOGGER.error("batch partly archived: reporting batchItemFailures", extra={"fields": fields})
    else:
        LOGGER.info("batch archived", extra={"fields": fields})
    return result.response()
