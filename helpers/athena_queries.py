"""The example queries over the archive table, in Athena's dialect and in DuckDB's, side by side.

Athena (Trino) runs them where the archive lies, over the Glue table of :mod:`helpers.athena`. DuckDB runs the
same questions on this machine over a folder copy of the bucket (``aws s3 sync``), through the view
:func:`duckdb_archive_view` makes: the same columns, and ``datehour`` taken from each object's folder as the
projection would give it. Each :class:`Query` names where the two texts differ.

Differences that recur (named once here, per query in ``difference``):

* JSON text: Athena ``json_extract_scalar(item, '$["status"]')``; DuckDB ``json_extract_string(item, '$.status')``
  (DuckDB's JSONPath does not take the bracket-quoted form for a name; Athena needs it for names with dots or spaces).
* Times: ``deleted_at`` is ISO 8601 text. Athena ``from_iso8601_timestamp(deleted_at)``; DuckDB
  ``CAST(deleted_at AS TIMESTAMPTZ)``. Literals: Athena ``TIMESTAMP '2026-10-05 00:00:00 UTC'``; DuckDB
  ``TIMESTAMPTZ '2026-10-05 00:00:00+00'``.
* The partition column: Athena computes ``datehour`` from the projection; DuckDB derives it from the file
  name, so it exists only on the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from .athena import COLUMNS, datehour_range

_DUCK_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER"}
_JSON_COLUMNS = {"keys", "item", "types"}


@dataclass(frozen=True)
class Query:
    """One question asked of the archive, in both dialects."""

    name: str
    question: str
    athena: str
    duckdb: str
    difference: str


def _json_path(name: str) -> tuple[str, str]:
    """(Athena path, DuckDB path) of a top-level attribute ``name`` (any characters)."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')  # JSONPath escaping; SQL quoting is _literal's
    return f'$["{quoted}"]', f'$."{quoted}"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def items_of_key(database: str, table: str, key_name: str, key_value: str) -> Query:
    """Every archived version of one item (the partition key ``key_name`` = ``key_value``), newest first."""
    athena_path, duck_path = _json_path(key_name)
    return Query(
        "items_of_key",
        f"Which items with {key_name} = {key_value!r} did TTL delete, and when?",
        f'SELECT DISTINCT event_id, from_iso8601_timestamp(deleted_at) AS deleted_at, "keys", item\n'
        f'FROM "{database}"."{table}"\n'
        f"WHERE part_of IS NULL\n  AND json_extract_scalar(\"keys\", {_literal(athena_path)}) = {_literal(key_value)}\n"
        f"ORDER BY deleted_at DESC",
        f"SELECT DISTINCT event_id, CAST(deleted_at AS TIMESTAMPTZ) AS deleted_at, \"keys\", item\n"
        f"FROM archive\n"
        f"WHERE part_of IS NULL\n  AND json_extract_string(\"keys\", {_literal(duck_path)}) = {_literal(key_value)}\n"
        f"ORDER BY deleted_at DESC",
        "json_extract_scalar with a bracket path (Athena) against json_extract_string with a quoted dotted path "
        "(DuckDB); from_iso8601_timestamp against CAST AS TIMESTAMPTZ. Without a datehour filter Athena reads "
        "every folder: add one when you know roughly when the item expired.",
    )


def items_deleted_on(database: str, table: str, day: date) -> Query:
    """Every item TTL deleted on ``day`` (UTC): the day's folders plus the next hour's, filtered on deleted_at."""
    start = datetime.combine(day, time(), tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    first, last = datehour_range(start, end)
    return Query(
        "items_deleted_on",
        f"Which items did TTL delete on {day.isoformat()} (UTC)?",
        f'SELECT DISTINCT event_id, "keys", from_iso8601_timestamp(deleted_at) AS deleted_at, from_unixtime(ttl) AS ttl\n'
        f'FROM "{database}"."{table}"\n'
        f"WHERE datehour BETWEEN '{first}' AND '{last}'\n  AND part_of IS NULL\n"
        f"  AND from_iso8601_timestamp(deleted_at) >= TIMESTAMP '{start:%Y-%m-%d} 00:00:00 UTC'\n"
        f"  AND from_iso8601_timestamp(deleted_at) < TIMESTAMP '{end:%Y-%m-%d} 00:00:00 UTC'\n"
        f"ORDER BY deleted_at",
        f"SELECT DISTINCT event_id, \"keys\", CAST(deleted_at AS TIMESTAMPTZ) AS deleted_at, to_timestamp(ttl) AS ttl\n"
        f"FROM archive\n"
        f"WHERE datehour BETWEEN '{first}' AND '{last}'\n  AND part_of IS NULL\n"
        f"  AND CAST(deleted_at AS TIMESTAMPTZ) >= TIMESTAMPTZ '{start:%Y-%m-%d} 00:00:00+00'\n"
        f"  AND CAST(deleted_at AS TIMESTAMPTZ) < TIMESTAMPTZ '{end:%Y-%m-%d} 00:00:00+00'\n"
        f"ORDER BY deleted_at",
        "from_unixtime (Athena) against to_timestamp (DuckDB) for the epoch-seconds ttl; the timestamp literals "
        "are spelled differently ('... UTC' against '...+00'). The datehour range is the same text in both: the "
        "day's folders and one hour more, because an object is filed when Firehose receives the record.",
    )


def counts_per_hour(database: str, table: str, start: date, days: int = 1) -> Query:
    """Items TTL deleted per hour over ``days`` days from ``start`` (distinct event ids: duplicates count once)."""
    begin = datetime.combine(start, time(), tzinfo=timezone.utc)
    end = begin + timedelta(days=days)
    first, last = datehour_range(begin, end)
    return Query(
        "counts_per_hour",
        f"How many items did TTL delete per hour from {start.isoformat()} for {days} day(s)?",
        f"SELECT date_trunc('hour', from_iso8601_timestamp(deleted_at)) AS hour, count(DISTINCT event_id) AS items\n"
        f'FROM "{database}"."{table}"\n'
        f"WHERE datehour BETWEEN '{first}' AND '{last}'\n  AND part_of IS NULL\n"
        f"  AND from_iso8601_timestamp(deleted_at) >= TIMESTAMP '{begin:%Y-%m-%d} 00:00:00 UTC'\n"
        f"  AND from_iso8601_timestamp(deleted_at) < TIMESTAMP '{end:%Y-%m-%d} 00:00:00 UTC'\n"
        f"GROUP BY 1\nORDER BY 1",
        f"SELECT date_trunc('hour', CAST(deleted_at AS TIMESTAMPTZ)) AS hour, count(DISTINCT event_id) AS items\n"
        f"FROM archive\n"
        f"WHERE datehour BETWEEN '{first}' AND '{last}'\n  AND part_of IS NULL\n"
        f"  AND CAST(deleted_at AS TIMESTAMPTZ) >= TIMESTAMPTZ '{begin:%Y-%m-%d} 00:00:00+00'\n"
        f"  AND CAST(deleted_at AS TIMESTAMPTZ) < TIMESTAMPTZ '{end:%Y-%m-%d} 00:00:00+00'\n"
        f"GROUP BY 1\nORDER BY 1",
        "date_trunc and count(DISTINCT ...) are the same in both; only the time parsing and literals differ. "
        "Hours are those of deleted_at (UTC), not of the folders: an item deleted at 10:59:59 counts for 10:00 "
        "even when its object sits in the 11 folder.",
    )


def example_queries(database: str, table: str, key_name: str, key_value: str, day: date) -> list[Query]:
    """The three examples for one archive: items of one key, items deleted on a day, counts per hour that day."""
    return [items_of_key(database, table, key_name, key_value), items_deleted_on(database, table, day), counts_per_hour(database, table, day)]


def duckdb_archive_view(con: Any, folder: str | Path, prefix: str = "archive/", name: str = "archive", materialize: bool = False) -> None:
    """Create the view ``name`` over a folder copy of the bucket: the table's columns (``keys``/``item``/
    ``types`` as DuckDB JSON) and ``datehour`` from each object's ``YYYY/MM/DD/HH`` folder. GZIP is read by
    extension, as Athena does. ``materialize=True`` makes it a table, read once (several queries over
    thousands of small objects). Raises ``FileNotFoundError`` when no object is under the prefix."""
    root = Path(folder).expanduser() / prefix
    if not root.is_dir() or not any(root.glob("*/*/*/*/*")):
        raise FileNotFoundError(f"no archive objects under {root} (expected {prefix}YYYY/MM/DD/HH/<object>)")
    columns = ", ".join(f'"{n}": \'{"JSON" if n in _JSON_COLUMNS else _DUCK_TYPES[t]}\'' for n, t, _ in COLUMNS)
    pattern = (root / "*" / "*" / "*" / "*" / "*").as_posix().replace("'", "''")
    con.execute(
        f"CREATE OR REPLACE {'TABLE' if materialize else 'VIEW'} {name} AS SELECT * EXCLUDE (filename), "
        f"regexp_extract(filename, '(\\d{{4}}/\\d{{2}}/\\d{{2}}/\\d{{2}})/[^/]*$', 1) AS datehour "
        f"FROM read_json('{pattern}', format = 'newline_delimited', filename = true, columns = {{{columns}}})"
    )


def duckdb_available() -> bool:
    """True when DuckDB is installed (a dev dependency: ``pip install -e '.[dev]'`` or ``pip install duckdb``)."""
    import importlib.util

    return importlib.util.find_spec("duckdb") is not None


def run_duckdb(folder: str | Path, queries: list[Query], prefix: str = "archive/") -> dict[str, Any]:
    """Run each query's DuckDB text over the folder; returns ``{name: DataFrame}``."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    duckdb_archive_view(con, folder, prefix, materialize=len(queries) > 1)
    return {q.name: con.execute(q.duckdb).df() for q in queries}


def side_by_side(queries: list[Query]) -> Any:
    """The queries as a table to read: per question (the rows), the Athena text and the DuckDB text next to each
    other and what differs (a pandas ``Styler`` that keeps the SQL's line breaks and wraps long lines)."""
    import pandas as pd

    table = pd.DataFrame(
        [{"Athena (Trino)": q.athena, "DuckDB (here)": q.duckdb, "difference": q.difference} for q in queries],
        index=pd.Index([q.question for q in queries], name="question"),
    )
    sql = {"white-space": "pre-wrap", "font-family": "monospace", "font-size": "10px", "text-align": "left",
           "vertical-align": "top", "min-width": "300px", "max-width": "360px"}
    return (
        table.style.set_properties(subset=["Athena (Trino)", "DuckDB (here)"], **sql)
        .set_properties(subset=["difference"], **{"text-align": "left", "vertical-align": "top", "font-size": "11px", "max-width": "220px"})
        .set_table_styles([{"selector": "th.row_heading", "props": "text-align: left; vertical-align: top; max-width: 140px; font-size: 11px;"}])
    )
