"""Archived items as exact DynamoDB items, with a pandas frame to choose them by (restore's input).

:func:`load` reads the archive (an S3 bucket or a local folder copy) with the public building blocks of
:mod:`helpers.archive_reader` (``S3Source``/``FolderSource``, ``listing_prefixes``, ``object_hour``,
``object_lines``, ``PartJoiner``), joins split lines, removes duplicate deliveries (same ``event_id``), decodes
every line with :mod:`helpers.item_codec` (format 1 and 2) and returns :class:`ArchivedItems`: the decoded
records and a frame with one row per record, in the same order, for any pandas filter. :func:`select` narrows
them by deletion time, key values or such a filter.

The frame: ``event_id``, ``table``, ``deleted_at`` (UTC), ``ttl_attribute``, ``ttl`` (UTC), ``keys`` (a dict of
plain values), ``format``, ``ambiguous`` (format 1: attributes that may have had another type),
``object_key``, then one column per top-level item attribute with its plain JSON value (numbers as ``int`` or
exact ``Decimal``), named by the reader's rule (:func:`helpers.archive_reader.column_name`: a reserved name ``X``
or one starting with ``item.`` becomes ``item.X``; ``format`` and ``ambiguous`` are reserved here too).
"""

from __future__ import annotations

import base64
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

import pandas as pd

from . import archive_reader, item_codec
from .archive_reader._sources import utc  # the reader's own rule: naive times are UTC

LOG = logging.getLogger(__name__)

ENVELOPE = ("event_id", "table", "deleted_at", "ttl_attribute", "ttl", "keys", "format", "ambiguous", "object_key")
_OBJECT_SPAN = timedelta(hours=1, minutes=15)  # an object filed under hour H holds records that arrived before H + 1h15
LATE_DELIVERY = timedelta(hours=1)
_EXTRA_ENVELOPE = frozenset(("format", "ambiguous"))  # envelope columns of this frame the reader's frame does not have


@dataclass
class ArchivedItems:
    """Decoded archive records and their frame (row ``i`` describes ``records[i]``)."""

    records: list
    frame: pd.DataFrame
    problems: list = field(default_factory=list)  # str: lines or objects skipped, and why
    duplicates: int = 0
    objects: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def summary(self) -> str:
        text = f"{len(self.records):,} archived items from {self.objects:,} objects ({self.duplicates:,} duplicate deliveries removed)"
        ambiguous = sum(1 for r in self.records if r.ambiguous)
        if ambiguous:
            text += f"; {ambiguous:,} format-1 items have attributes whose type is ambiguous"
        if self.problems:
            text += f"; {len(self.problems):,} problems (see .problems)"
        return text


def _source(session: Any, bucket: str | None, folder: str | None, workers: int) -> Any:
    if (bucket is None) == (folder is None):
        raise ValueError("give exactly one of bucket (the archive in S3) or folder (a local copy of the bucket)")
    if folder is not None:
        return archive_reader.FolderSource(folder)
    return archive_reader.S3Source(session, bucket, workers)


def _wanted(key: str, since: pd.Timestamp | None, until: pd.Timestamp | None) -> bool:
    hour = archive_reader.object_hour(key)
    if hour is None:
        return True
    if since is not None and hour + _OBJECT_SPAN <= since:
        return False
    return not (until is not None and hour >= until + LATE_DELIVERY)


def load(
    session: Any,
    bucket: str | None = None,
    prefix: str = "archive/",
    *,
    folder: str | None = None,
    since: Any = None,
    until: Any = None,
    assume_types: dict | None = None,
    max_workers: int = 8,
    progress: bool | None = None,
) -> ArchivedItems:
    """Read the archived items deleted in ``[since, until)`` (both optional, UTC when naive).

    Downloads only the objects whose dated keys can hold such items, ``max_workers`` at a time. Damaged lines
    and objects are skipped and listed in ``problems`` (and logged), never raised. ``assume_types`` settles the
    types of format-1 lines (see :func:`helpers.item_codec.decode_record`). Raises FileNotFoundError when the
    bucket or folder does not exist.
    """
    start, end = utc(since), utc(until)
    if start is not None and end is not None and end <= start:
        raise ValueError(f"until ({end}) must be after since ({start})")
    source = _source(session, bucket, folder, max_workers)
    if not source.exists():
        raise FileNotFoundError(f"the archive {source} does not exist")
    prefixes = archive_reader.listing_prefixes(source, prefix, start, end, LATE_DELIVERY)
    keys = sorted({ref.key for p in prefixes for ref in source.list(p) if _wanted(ref.key, start, end)})
    problems: list[str] = []
    joiner = archive_reader.PartJoiner()
    seen: set = set()
    records: list = []
    duplicates = 0
    bar = _bar(len(keys), progress, f"reading {source}")
    window = 4 * max(1, max_workers)  # objects downloaded ahead of the parser: memory stays bounded
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        for key, body in _downloads(pool, source, keys, window):
            if isinstance(body, str):
                problems.append(f"{key}: {body}")
            else:
                for number, line in enumerate(archive_reader.object_lines(body), 1):
                    rec = _record(line, key, number, joiner, problems)
                    if rec is None:
                        continue
                    if rec.get("event_id") in seen:
                        duplicates += 1
                        continue
                    seen.add(rec.get("event_id"))
                    decoded = _decode(rec, key, number, assume_types, problems)
                    if decoded is not None and _in_range(decoded, start, end):
                        decoded.envelope["object_key"] = key
                        records.append(decoded)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    problems.extend(str(p) for p in joiner.incomplete())
    for text in problems[:20]:
        LOG.warning("skipped: %s", text)
    records.sort(key=lambda r: (r.envelope.get("deleted_at") or "", r.event_id or ""))
    return ArchivedItems(records, frame_of(records), problems, duplicates, len(keys))


def _bar(total: int, progress: bool | None, desc: str) -> Any:
    if not (progress or (progress is None and total >= 20)):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="obj", desc=desc)


def _downloads(pool: ThreadPoolExecutor, source: Any, keys: list, window: int) -> Iterable:
    """(key, bytes or the reason it failed) in order, at most ``window`` downloads in flight."""
    for start in range(0, len(keys), window):
        part = keys[start:start + window]
        yield from zip(part, pool.map(lambda k: _read(source, k), part))


def _read(source: Any, key: str) -> bytes | str:
    try:
        return source.read(key)
    except archive_reader.ReadFailed as err:
        return str(err)


def _record(line: bytes | str, key: str, number: int, joiner: Any, problems: list) -> dict | None:
    """The record of a line (parts joined once complete), or None (a part still waiting, or damaged)."""
    try:
        rec = json.loads(line, parse_float=Decimal)
    except ValueError as err:
        problems.append(f"{key} line {number}: not valid JSON ({err})")
        return None
    if not isinstance(rec, dict):
        problems.append(f"{key} line {number}: not an archive record")
        return None
    if "part_of" not in rec:
        return rec
    joined = joiner.add(key, number, rec)
    if isinstance(joined, archive_reader.Problem):
        problems.append(str(joined))
        return None
    return None if joined is None else _record(joined[0], joined[1], joined[2], joiner, problems)


def _decode(rec: dict, key: str, number: int, assume_types: dict | None, problems: list) -> Any:
    try:
        return item_codec.decode_record(rec, assume_types=assume_types)
    except item_codec.CodecError as err:
        problems.append(f"{key} line {number}: {err}")
        return None


def _in_range(record: Any, start: pd.Timestamp | None, end: pd.Timestamp | None) -> bool:
    if start is None and end is None:
        return True
    at = utc(record.envelope.get("deleted_at"))
    if at is None:
        return False
    return (start is None or at >= start) and (end is None or at < end)


def frame_of(records: list) -> pd.DataFrame:
    """One row per decoded record (see the module docstring for the columns)."""
    rows = []
    for rec in records:
        env = rec.envelope
        row = {
            "event_id": rec.event_id,
            "table": env.get("table"),
            "deleted_at": env.get("deleted_at"),
            "ttl_attribute": env.get("ttl_attribute"),
            "ttl": env.get("ttl") if isinstance(env.get("ttl"), (int, Decimal)) else None,
            "keys": plain_map(rec.keys),
            "format": rec.format,
            "ambiguous": rec.ambiguous,
            "object_key": env.get("object_key"),
        }
        for name, value in plain_map(rec.item).items():
            column = archive_reader.column_name(name)
            row[archive_reader.ITEM_PREFIX + name if column in _EXTRA_ENVELOPE else column] = value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else list(ENVELOPE))
    frame["deleted_at"] = pd.to_datetime(frame["deleted_at"], utc=True, errors="coerce")
    frame["ttl"] = pd.to_datetime(pd.to_numeric(frame["ttl"].map(lambda v: None if v is None else int(v)), errors="coerce"), unit="s", utc=True)
    return frame


def plain(av: dict) -> Any:
    """An AttributeValue as the plain value the archive shows (numbers as int or Decimal, B as base64)."""
    ((kind, value),) = av.items()
    if kind == "S" or kind == "BOOL":
        return value
    if kind == "N":
        return _num(value)
    if kind == "NULL":
        return None
    if kind == "B":
        return base64.b64encode(value).decode("ascii")
    if kind == "M":
        return plain_map(value)
    if kind == "L":
        return [plain(v) for v in value]
    if kind == "SS":
        return sorted(value)
    if kind == "NS":
        return sorted(_num(v) for v in value)
    return [base64.b64encode(b).decode("ascii") for b in sorted(value)]


def plain_map(image: dict) -> dict:
    return {name: plain(av) for name, av in image.items()}


def _num(text: str) -> int | Decimal:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() and "." not in text and "E" not in text.upper() else value


# --------------------------------------------------------------------------- choosing items


def parse_key_filters(pairs: Iterable[str]) -> dict:
    """``["id=abc", "id=def", "ts=5"]`` -> ``{"id": ["abc", "def"], "ts": ["5"]}``; ValueError names a bad pair."""
    out: dict = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--key {pair!r}: expected NAME=VALUE, for example --key id=order-1")
        out.setdefault(name, []).append(value)
    return out


def _key_text(value: Any) -> str:
    return str(value)


def _key_matches(value: Any, wanted: list) -> bool:
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        for text in wanted:
            try:
                if Decimal(str(text)) == Decimal(value):
                    return True
            except (InvalidOperation, ValueError):
                continue
        return False
    return _key_text(value) in {str(w) for w in wanted}


def select(
    items: ArchivedItems,
    *,
    since: Any = None,
    until: Any = None,
    keys: dict | None = None,
    where: Callable[[pd.DataFrame], Any] | str | None = None,
    event_ids: Iterable[str] | None = None,
) -> ArchivedItems:
    """The items deleted in ``[since, until)``, whose key attributes take one of the given values (``keys``:
    name -> value or list of values, numbers compared by value, binary as base64 text; several names must all
    match), that ``where`` keeps (a callable ``frame -> boolean Series`` or a ``DataFrame.query`` string) and,
    when given, whose ``event_id`` is in ``event_ids`` (for example the ``event_id`` column of a frame that
    :func:`helpers.archive_reader.read_archive` loaded and you filtered). Returns a new :class:`ArchivedItems`."""
    frame = items.frame
    mask = pd.Series(True, index=frame.index)
    start, end = utc(since), utc(until)
    if start is not None:
        mask &= frame["deleted_at"] >= start
    if end is not None:
        mask &= frame["deleted_at"] < end
    for name, wanted in (keys or {}).items():
        wanted = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
        mask &= frame["keys"].map(lambda k, n=name, w=list(wanted): isinstance(k, dict) and n in k and _key_matches(k[n], w))
    if event_ids is not None:
        mask &= frame["event_id"].isin(set(event_ids))
    if where is not None:
        try:
            chosen = frame.query(where) if isinstance(where, str) else frame[where(frame)]
        except Exception as err:  # noqa: BLE001 - any failure of the user's filter is a usage error, named
            raise ValueError(f"the filter {where!r} cannot be applied to the archive's frame: {type(err).__name__}: {err}") from None
        mask &= frame.index.isin(chosen.index)
    positions = [i for i, keep in enumerate(mask.to_numpy()) if keep]
    return ArchivedItems(
        [items.records[i] for i in positions],
        frame.iloc[positions].reset_index(drop=True),
        items.problems,
        items.duplicates,
        items.objects,
    )
