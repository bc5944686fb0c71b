"""Frame assembly: rows of the exact path gathered column by column, tables of the fast path flattened,
both turned into the frame of the package docstring (envelope columns, then one column per item attribute
named by :mod:`._names`' rule, each in the narrowest dtype that holds every value exactly)."""

from __future__ import annotations

from array import array
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
import os
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._decode import NAT
from ._names import ENVELOPE_COLUMNS, ENVELOPE_SET, _cache as _names, attribute_name, column_name, is_item_column

COMPACT_ROWS = 32_768  # fast-path rows the collector joins into one table as they come (see _collect)
CONVERT_THREADS = 4  # threads turning the fast path's Arrow columns into pandas at the end of a read
CATEGORIES = ("table", "region", "event_source_arn", "ttl_attribute", "object_key")


class _Columns:
    """Per-column lists filled row by row; item attributes may appear at any row (padded with None)."""

    def __init__(self) -> None:
        self.n = 0
        self.text: dict[str, list] = {name: [] for name in ("event_id", "table", "region", "sequence_number", "event_source_arn", "keys", "ttl_attribute", "types", "object_key")}
        self.ints: dict[str, array] = {name: array("q") for name in ("deleted_at", "ttl", "record_bytes", "object_line")}
        self.items: dict[str, list] = {}
        self._interned: dict[str, str] = {}

    def _intern(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._interned.setdefault(value, value)
        return value

    def add(self, row: tuple, key: str, line: int) -> None:
        event_id, table, region, seq, arn, keys, deleted_ns, ttl_attr, ttl_s, types, item, record_bytes = row
        t = self.text
        t["event_id"].append(event_id)
        t["table"].append(self._intern(table))
        t["region"].append(self._intern(region))
        t["sequence_number"].append(seq)
        t["event_source_arn"].append(self._intern(arn))
        t["keys"].append(keys)
        t["ttl_attribute"].append(self._intern(ttl_attr))
        t["types"].append(types)
        t["object_key"].append(key)
        i = self.ints
        i["deleted_at"].append(deleted_ns)
        i["ttl"].append(ttl_s)
        i["record_bytes"].append(record_bytes)
        i["object_line"].append(line)
        n = self.n
        items = self.items
        names = _names
        for name, value in item.items():
            name = names.get(name) or column_name(name)
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
        data["types"] = _object_array(t.pop("types"))
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


def empty_frame() -> pd.DataFrame:
    return _Columns().frame()


def assemble(cols: _Columns, arrow_tables: list[Any], arrow_keys: list[list[tuple[str, int]]]) -> pd.DataFrame:
    """The frame: rows of the fast path and of the exact path, in object-key and line order."""
    frames = []
    if arrow_tables:
        frames.append(_arrow_frame(arrow_tables, arrow_keys))
        arrow_tables.clear()
    if cols.n or not frames:
        frames.append(cols.frame())
    frame = concat_frames(frames)
    if len(frames) > 1:
        frame = frame.sort_values(["object_key", "object_line"], kind="stable", ignore_index=True)
    return frame[[*ENVELOPE_COLUMNS, *(c for c in frame.columns if c not in ENVELOPE_SET)]]


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames of rows read apart as one: a column some frames lack holds missing values without changing
    type (``Int64``, ``boolean``), the envelope's text columns stay categories."""
    if len(frames) == 1:
        frame = frames[0]
    else:
        everywhere = set.intersection(*(set(f.columns) for f in frames))
        for f in frames:
            for name in set(f.columns) - everywhere:
                if f[name].dtype == np.int64:
                    f[name] = f[name].astype("Int64")
                elif f[name].dtype == bool:
                    f[name] = f[name].astype("boolean")
        frame = pd.concat(frames, ignore_index=True)
    for name in CATEGORIES:
        if name in frame.columns and not isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype("category")
    return frame


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
        return concat_frames([_arrow_frame([t], [k]) for t, k in pairs])
    tables.clear()
    runs = [run for keys in keys_of for run in keys]
    n = table.num_rows
    columns = {name: table.column(name) for name in ENVELOPE_COLUMNS if name in table.column_names}
    item = table.column("item")
    attributes = [(f, pa.chunked_array([chunk.field(i) for chunk in item.chunks], type=f.type)) for i, f in enumerate(item.type)]
    del table, item
    data: dict[str, Any] = {}
    plain: dict[str, Any] = {}  # converted on a few threads below
    for name in ENVELOPE_COLUMNS:
        data[name] = None  # the frame's column order
        if name == "object_key":
            data[name] = pd.Categorical.from_codes(np.repeat(np.arange(len(runs)), [rows for _, rows in runs]), categories=pd.Index([key for key, _ in runs], dtype="str"))
        elif name not in columns:
            data[name] = _object_array([None] * n) if name not in {"deleted_at", "ttl"} else pd.DatetimeIndex(np.full(n, NAT).view("M8[ns]")).tz_localize("UTC")
        elif name == "ttl":
            data[name] = _arrow_column(columns.pop(name).cast(pa.timestamp("s", tz="UTC")))
        elif name == "types":  # a sparse tree: the keys Arrow added for other rows' trees are dropped
            data[name] = _object_array([_without_none(v) for v in columns.pop(name).to_pylist()])
        else:
            plain[name] = columns.pop(name)
    for f, values in attributes:
        data[column_name(f.name)] = None
        plain[column_name(f.name)] = values
    del attributes
    data.update(_convert(plain))
    return pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)


def _convert(columns: dict[str, Any]) -> dict[str, Any]:
    """Arrow columns -> pandas, on up to :data:`CONVERT_THREADS` threads (joining the chunks, the bulk
    of the work, releases the GIL). ``columns`` is emptied as it goes: each column's chunks are
    dropped once it is converted, so the peak is the data plus a column per thread, not the data twice."""
    names = list(columns)

    def one(name: str) -> Any:
        return _arrow_column(_few_chunks(columns.pop(name)))

    threads = min(CONVERT_THREADS, os.cpu_count() or 1, len(names))
    if threads <= 1:
        return {name: one(name) for name in names}
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="archive-frame") as pool:
        return dict(zip(names, pool.map(one, names)))


def _without_none(value: Any) -> Any:
    """A dict with the None entries left out, recursively (Arrow gives a struct the union of its rows' keys)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None} or None
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _few_chunks(values: Any) -> Any:
    """A ChunkedArray with each run of small chunks joined into one (a frame of many small chunks is
    slow to use); chunks of :data:`COMPACT_ROWS` / 2 rows or more, which the collector joined as they
    came, are kept as they are: joining them again would copy the data once more for no gain. One
    chunk left: that Array."""
    import pyarrow as pa

    if values.num_chunks == 1:
        return values.chunk(0)
    out: list[Any] = []
    small: list[Any] = []
    for chunk in values.chunks:
        if len(chunk) < COMPACT_ROWS // 2:
            small.append(chunk)
            continue
        if small:
            out.append(pa.concat_arrays(small))
            small = []
        out.append(chunk)
    if small:
        out.append(pa.concat_arrays(small))
    return out[0] if len(out) == 1 else pa.chunked_array(out, type=values.type)


def iter_items(frame: pd.DataFrame) -> Iterable[dict[str, Any]]:
    """The items back as plain dicts (attribute -> value), missing attributes left out: handy to
    compare with the originals or to re-load them. ``item.<name>`` columns get their name back."""
    item_columns = [c for c in frame.columns if is_item_column(c)]
    for values in frame[item_columns].itertuples(index=False, name=None):
        item = {}
        for name, value in zip(item_columns, values):
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                continue
            item[attribute_name(name)] = value.item() if isinstance(value, np.generic) else value
        yield item
