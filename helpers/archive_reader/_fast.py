"""The fast path: objects parsed by pyarrow's JSON reader (C++, releases the GIL) where that gives the
same values as the exact path of :mod:`._decode`.

pyarrow's JSON reader parses a whole object in C++ (about twice as fast as json.loads per line on the
benchmark, releasing the GIL so threads overlap) and keeps the values in compact Arrow arrays. It is used
only where it gives the same values as the exact path: objects with no part lines, no JSON null (Arrow
cannot tell null from absent), no number literal of 16 characters or more (Arrow reads fractions as
float64: exact up to 15 digits), no text that looks like a date other than deleted_at (Arrow would turn
it into a timestamp: seen in its schema), one record per line, every record of format 1 or 2 with an
event_id and an item. Anything else, or any Arrow error, and the object is read line by line with
json.loads(parse_float=Decimal).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ._decode import ARCHIVE_FORMATS, Decoded, parse_lines

LOG = logging.getLogger(__name__)


def parse_batch(batch: list[tuple[Decoded, bytes]]) -> None:
    """Fill ``table`` (or, when pyarrow declines an object, ``rows``) of the objects that passed
    :func:`fast_eligible`: their texts joined and read in one pyarrow call when none needs the exact
    path (:func:`_needs_exact`), else each object on its own (one that needs it read by the exact path)."""
    import pyarrow as pa

    if len(batch) > 1:
        joined = b"".join(text for _, text in batch)
        if _needs_exact(joined):
            del joined  # some object needs the exact path: each on its own below
        else:
            try:
                table = _arrow_table(joined)
            except Exception as err:  # noqa: BLE001 - any doubt: each object on its own below
                LOG.debug("fast path declined %d objects read together (%s): each on its own", len(batch), err)
                del joined
            else:
                del joined
                _slice_back(batch, table)
                return
    for out, text in batch:
        if _needs_exact(text):
            parse_lines(out, text, None, False)
            continue
        try:
            table = _arrow_table(text)
        except Exception as err:  # noqa: BLE001 - any doubt: the exact path reads it
            LOG.debug("fast path declined %s: %s", out.ref.key, err)
            parse_lines(out, text, None, False)
        else:
            n = table.num_rows
            out.table = table.append_column("object_line", pa.array(np.arange(1, n + 1, dtype=np.int64)))
            out.lines = n


def _slice_back(batch: list[tuple[Decoded, bytes]], table: Any) -> None:
    """The table of the joined texts sliced back per object, with each row's line in its object."""
    import pyarrow as pa

    # Each object's rows: its text ends where the running total of record_bytes reaches it.
    ends = np.cumsum(np.asarray(table.column("record_bytes")))
    bounds = np.searchsorted(ends, np.cumsum([len(text) for _, text in batch]), side="right")
    starts = np.concatenate(([0], bounds[:-1]))
    lines = np.arange(1, table.num_rows + 1, dtype=np.int64) - np.repeat(starts, bounds - starts)
    table = table.append_column("object_line", pa.array(lines))
    for (out, _), first, stop in zip(batch, starts.tolist(), bounds.tolist()):
        out.table, out.lines, out.origin = table.slice(first, stop - first), stop - first, (table, first)


# What sends an object to the exact path, searched in one pass: a JSON number of 16+ characters outside
# a string (a run of sixteen number characters at the start of the text or after ``:,[`` or whitespace:
# after a quote or a letter it is inside a string), or ``null`` anywhere. Searched by pyarrow's regular
# expressions (RE2: linear time, and the GIL is released, so the download threads are not held up
# while a large text is scanned, as they would be by ``b"null" in text``).
_EXACT_ONLY = r"(^|[:,\[ \t\r\n])[-+.0-9eE]{16}|null"


def _needs_exact(text: bytes) -> bool:
    """True when the text may hold what only the exact path reads right: a JSON number of 16+
    characters (a run of number characters that long which does not start inside a string, right
    after a quote or a letter) or a JSON null (Arrow cannot tell it from absent). Conservative: a
    digit run after a space inside a string, or ``null`` inside a string, counts too."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # The text as a one-value Arrow array without a copy: offsets [0, len], the bytes themselves.
    value = pa.Array.from_buffers(pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(text)], dtype=np.int64)), pa.py_buffer(text)])
    return bool(pc.match_substring_regex(value, pattern=_EXACT_ONLY)[0].as_py())


def fast_eligible(text: bytes) -> bool:
    """Cheap byte checks before pyarrow (the scan for long numbers and nulls is :func:`parse_batch` 's,
    over the texts it joins). Blank lines and part lines need no scan here: a blank line makes the row
    count differ from the line count, a part line shows up as a ``part_of`` column (both checked in
    :func:`_arrow_table`)."""
    return text.endswith(b"\n") and not text.startswith(b"\n")


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
    table = pj.read_json(pa.BufferReader(text), read_options=pj.ReadOptions(use_threads=False, block_size=len(text) + 1),
                         parse_options=_parse_options())
    n = table.num_rows
    absent = [name for name in _ENVELOPE_SCHEMA_NAMES if table.column(name).null_count == n]  # no null in the text: no row had it
    if absent:
        table = table.drop_columns(absent)
    schema = table.schema
    if "part_of" in schema.names:
        raise ValueError("part lines")
    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
    if n != len(ends):
        raise ValueError("row count differs from line count")
    missing = _ARROW_REQUIRED.difference(schema.names)
    if missing:
        raise ValueError(f"no {', '.join(sorted(missing))}")
    for name, check in _ARROW_TYPES.items():  # the envelope's typed fields are of their type already
        if name in schema.names and not check(schema.field(name).type):
            raise ValueError(f"{name} is {schema.field(name).type}")
    if any(_has_timestamp(f.type) for f in schema if f.name != "deleted_at"):
        raise ValueError("text that looks like a date: pyarrow would turn it into a timestamp")
    if table.column("event_id").null_count or table.column("item").null_count:
        raise ValueError("a record without event_id or item")
    formats = pc.min_max(table.column("format")).as_py()
    if table.column("format").null_count or formats["min"] < min(ARCHIVE_FORMATS) or formats["max"] > max(ARCHIVE_FORMATS):
        raise ValueError("a record of another format")
    if "deleted_at" in schema.names:
        i = schema.get_field_index("deleted_at")
        table = table.set_column(i, "deleted_at", table.column(i).cast(pa.timestamp("ns", tz="UTC")))
    return table.append_column("record_bytes", pa.array(np.diff(ends, prepend=-1), type=pa.int64()))


# The envelope's text fields and its format, typed up front: pyarrow then parses them without inferring
# a type (about a quarter of its parse time on archiver lines); a value of another type fails the read
# (the exact path takes the object) and a date-like text stays text. A field no row has comes back as
# a column of nulls and is dropped again, so the table is the one inference gives.
_ENVELOPE_SCHEMA_NAMES = ("event_id", "sequence_number", "table", "region", "event_source_arn", "ttl_attribute", "format")


def _parse_options() -> Any:
    """pyarrow's options for :func:`_arrow_table` (made per call: microseconds next to the parse)."""
    import pyarrow as pa
    import pyarrow.json as pj

    fields = [pa.field(name, pa.int64() if name == "format" else pa.string()) for name in _ENVELOPE_SCHEMA_NAMES]
    return pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="infer")


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    return {
        "item": pa.types.is_struct,
        "deleted_at": pa.types.is_timestamp,
        "ttl": pa.types.is_integer,
        "keys": pa.types.is_struct,
        "types": pa.types.is_struct,
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
