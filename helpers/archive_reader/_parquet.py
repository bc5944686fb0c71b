"""Parquet: a frame from :func:`read_archive` to one file and back, exact numbers and nested values kept.

Flat columns keep their types; maps, lists, sets and mixed columns are written as JSON text (exact numbers
kept) and listed in the file's metadata so :func:`read_parquet` turns them back into dicts and lists.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from ._columns import _object_array

_PARQUET_JSON_KEY = b"ttl_archive.json_columns"
_COMPACT = {"ensure_ascii": True, "separators": (",", ":")}
_ENCODE = json.JSONEncoder(**_COMPACT).encode  # one encoder: json.dumps would build one per call


def to_json_text(value: Any) -> str | None:
    """JSON text for a value, numbers exact (a Decimal is written with its own digits, bytes as base64).
    None stays None."""
    if value is None:
        return None
    try:
        return _ENCODE(value)  # no Decimal or bytes inside: all in C
    except TypeError:
        return _json(value)


def _json(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k), **_COMPACT) + ":" + _json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)  # a finite Decimal's str is a JSON number with every digit
    if isinstance(value, (bytes, bytearray)):
        return json.dumps(base64.b64encode(value).decode())
    if hasattr(value, "item") and not isinstance(value, (str, int, float, bool)):
        value = value.item()  # a numpy scalar
    return json.dumps(value, **_COMPACT)


def _parquet_ready(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The frame as Parquet can hold it: nested and mixed columns as JSON text (their names returned),
    exact numbers as decimals where they fit."""
    import pyarrow as pa

    out = {}
    json_columns: list[str] = []
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.ArrowDtype) and pa.types.is_nested(col.dtype.pyarrow_dtype):
            values = pa.chunked_array(pa.array(col.array)).to_pylist()  # nested from the fast path: no Decimal inside
            out[name] = pd.Series(_object_array([None if v is None else _ENCODE(v) for v in values]), index=col.index, dtype=object)
            json_columns.append(name)
            continue
        if col.dtype != object:
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
        out[name] = pd.Series(_object_array([to_json_text(v) for v in col.to_numpy()]), index=col.index, dtype=object)
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
    """Read a file written by :func:`write_parquet`, or a whole dataset folder written by
    :func:`archive_to_parquet` (its files in one frame, in object-key and line order, the columns of
    :func:`read_archive`'s frame): JSON text columns come back as dicts and lists (numbers as int and
    Decimal, as :func:`read_archive` gives them)."""
    from ._columns import concat_frames
    from ._names import ENVELOPE_COLUMNS, ENVELOPE_SET, PARTITION_COLUMN

    path = Path(path)
    if not path.is_dir():
        return _read_file(path)
    files = sorted(path.glob(f"{PARTITION_COLUMN}=*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet files under {path}/{PARTITION_COLUMN}=*/")
    frame = concat_frames([_read_file(f) for f in files])
    frame = frame.sort_values(["object_key", "object_line"], kind="stable", ignore_index=True)
    return frame[[*ENVELOPE_COLUMNS, *(c for c in frame.columns if c not in ENVELOPE_SET)]]


def _read_file(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(path, partitioning=None)
    json_columns = json.loads((table.schema.metadata or {}).get(_PARQUET_JSON_KEY, b"[]"))
    frame = table.to_pandas()
    for name in json_columns:
        frame[name] = _object_array([json.loads(v, parse_float=Decimal) if isinstance(v, str) else None for v in frame[name]])
    return frame
