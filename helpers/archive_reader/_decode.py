"""One archive object's bytes -> lines -> records: GZIP or plain by content, every line parsed exactly
(``json.loads(..., parse_float=Decimal)``), damaged data turned into :class:`Problem` s, split records
(``part_of`` lines) joined by :class:`PartJoiner`."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from ._results import Problem
from ._sources import ObjectRef

LOG = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
ARCHIVE_FORMATS = (1, 2)  # format 2 adds the envelope field ``types`` (docs/archive-format.md)
NAT = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ENVELOPE_TEXT = ("table", "region", "sequence_number", "event_source_arn", "ttl_attribute")  # text or absent/null


def decompress(data: bytes) -> tuple[bytes, bool, str | None]:
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
    text, _compressed, damage = decompress(data)
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
class Decoded:
    ref: ObjectRef
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
    """ISO 8601 text (or epoch seconds) -> nanoseconds since the epoch, UTC; NAT when unusable."""
    if isinstance(text, str):
        try:
            dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            return NAT
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        delta = dt - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(text, (int, Decimal)) and not isinstance(text, bool):
        try:
            return int(Decimal(text) * 1_000_000_000)
        except (InvalidOperation, OverflowError):
            return NAT
    return NAT


def _seconds(value: Any) -> int:
    """An epoch-seconds TTL value -> int seconds; NAT when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return NAT
    try:
        seconds = int(value)
    except (InvalidOperation, OverflowError, ValueError):
        return NAT
    return seconds if -(2**62) < seconds < 2**62 else NAT


def record_row(rec: dict, size: int) -> tuple[tuple | None, str | None]:
    """An archive record (format 1 or 2) -> a compact row tuple, or the reason it is not one.

    The row: event_id, table, region, sequence_number, event_source_arn, keys, deleted_at (ns), ttl_attribute,
    ttl (s), types (format 2's type tree, else None), item, record_bytes."""
    fmt = rec.get("format", 1)
    if fmt not in ARCHIVE_FORMATS or type(fmt) is not int:
        return None, f"archive format {fmt!r} unknown to this reader (it reads formats {', '.join(map(str, ARCHIVE_FORMATS))})"
    event_id = rec.get("event_id")
    item = rec.get("item")
    if not isinstance(event_id, str) or not event_id:
        return None, "not an archive record: no event_id"
    if not isinstance(item, dict):
        return None, "not an archive record: item is not a JSON object"
    for name in _ENVELOPE_TEXT:  # the frame keeps them as text (categories): a map or list there cannot be read
        value = rec.get(name)
        if value is not None and not isinstance(value, str):
            return None, f"not an archive record: {name} is not text"
    keys, types = rec.get("keys"), rec.get("types")
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
        types if isinstance(types, dict) and types else None,
        item,
        size,
    ), None


def error_row(rec: dict) -> tuple:
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


def parse_lines(out: Decoded, text: bytes, damage: str | None, errors_mode: bool) -> None:
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
            out.errors.append((number, *error_row(rec)))
            continue
        if "part_of" in rec:
            out.parts.append((number, rec))
            continue
        row, reason = record_row(rec, len(line) + 1)
        if row is None:
            out.problems.append(Problem(ref.key, number, reason or "not an archive record"))
        else:
            out.rows.append((number, row))
