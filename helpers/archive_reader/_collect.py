"""What a read keeps, object after object: rows inside the time range and not already read, split
records joined, every problem and per-object count recorded; :meth:`Collector.take_frame` turns the rows
kept so far into a frame (all at the end for :func:`read_archive`, chunk by chunk for the Parquet
dataset)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd

from ._columns import COMPACT_ROWS, _Columns, assemble
from ._decode import NAT, Decoded, PartJoiner, record_row
from ._dedup import IdSet
from ._results import Problem
from ._sources import object_hour


class Collector:
    """Rows kept from decoded objects (see the module docstring).

    ``start``/``end``: keep rows deleted in ``[start, end)`` (None: unbounded). ``seen``: the event ids
    already read (an :class:`~._dedup.IdSet` by default). ``pending`` counts the rows held since the last
    :meth:`take_frame`; ``rows`` every row kept."""

    def __init__(self, start: pd.Timestamp | None, end: pd.Timestamp | None, drop_duplicates: bool, seen: Any = None) -> None:
        self.start_ns = start.value if start is not None else None
        self.end_ns = end.value if end is not None else None
        self.drop_duplicates = drop_duplicates
        self.seen = seen if seen is not None else IdSet()
        self.parts = PartJoiner()
        self.problems: list[Problem] = []
        self.object_rows: list[tuple] = []
        self.error_object_rows: list[tuple] = []
        self.error_rows: list[tuple] = []
        self.duplicates = self.out_of_range = self.rows = 0
        self._reset()

    def _reset(self) -> None:
        self.cols = _Columns()
        self.tables: list[Any] = []  # fast-path tables kept, in order
        self.table_keys: list[list[tuple[str, int]]] = []  # per table: (object key, rows) in order
        self.runs: list[list] = []  # per table: [job table, first row, end row] when a run of its rows
        self.compacted = 0  # tables[:compacted] are joined already (see _compact)
        self.pending = 0

    def consume(self, decoded: Decoded, errors_mode: bool) -> None:
        """Keep what one decoded object holds and record the object's row of ``objects``."""
        ref = decoded.ref
        self.problems.extend(decoded.problems)
        if errors_mode:
            self.error_rows.extend((ref.key, *err) for err in decoded.errors)
            kept = len(decoded.errors)
        elif decoded.table is not None:
            kept = self._keep_table(decoded.table, ref.key, decoded.origin)
            decoded.table = decoded.origin = None
        else:
            kept = self._keep_rows([(row, ref.key, line) for line, row in decoded.rows])
            joined = []
            for line, rec in decoded.parts:
                got = self._join_part(ref.key, line, rec)
                if isinstance(got, Problem):
                    self.problems.append(got)
                elif got is not None:
                    joined.append(got)
            kept += self._keep_rows(joined)
        if not errors_mode:
            self.rows += kept
        failed = decoded.failed
        (self.error_object_rows if errors_mode else self.object_rows).append((
            ref.key, ref.size, ref.stored_at, object_hour(ref.key),
            None if failed else decoded.compressed, None if failed else decoded.decompressed_bytes,
            None if failed else decoded.lines, None if failed else kept, len(decoded.problems),
        ))

    def finish(self) -> None:
        """After the last object: a problem per split record still missing parts."""
        self.problems.extend(self.parts.incomplete())

    def take_frame(self) -> pd.DataFrame:
        """The rows kept since the last call as a frame, in object-key and line order; forgets them."""
        # One slice per run of consecutive objects; nothing else may hold the tables (see _arrow_frame).
        tables = [self._table(i) for i in range(len(self.tables))]
        cols, keys = self.cols, self.table_keys
        self._reset()
        return assemble(cols, tables, keys)

    def _in_range(self, deleted_ns: int) -> bool:
        if self.start_ns is None and self.end_ns is None:
            return True
        return deleted_ns != NAT and (self.start_ns is None or deleted_ns >= self.start_ns) and (self.end_ns is None or deleted_ns < self.end_ns)

    def _keep_rows(self, rows: list[tuple[tuple, str, int]]) -> int:
        """Exact-path rows ``(row, object key, line)``: the time range, then duplicates."""
        inside = [r for r in rows if self._in_range(r[0][6])]
        self.out_of_range += len(rows) - len(inside)
        first = self.seen.first_seen([r[0][0] for r in inside])
        if first is not None:
            self.duplicates += first.count(False)
            if self.drop_duplicates:
                inside = [r for r, new in zip(inside, first) if new]
        for row, key, line in inside:
            self.cols.add(row, key, line)
        self.pending += len(inside)
        return len(inside)

    def _keep_table(self, table: Any, key: str, origin: Any) -> int:
        """A fast-path table (one object's rows): the time range, then duplicates, in Arrow."""
        import pyarrow as pa

        table, whole = self._table_in_range(table)
        first = self.seen.first_seen(table.column("event_id").to_pylist())
        if first is not None:
            self.duplicates += first.count(False)
            if self.drop_duplicates:
                table, whole = table.filter(pa.array(first, type=pa.bool_())), False
        if table.num_rows:
            self._add_table(table, key, origin if whole else None)
        self.pending += table.num_rows
        return table.num_rows

    def _table_in_range(self, table: Any) -> tuple[Any, bool]:
        """The rows deleted in the range, and whether that is every row."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.start_ns is None and self.end_ns is None:
            return table, True
        deleted = table.column("deleted_at")
        mask = pc.is_valid(deleted)
        for bound, compare in ((self.start_ns, pc.greater_equal), (self.end_ns, pc.less)):
            if bound is not None:
                mask = pc.and_(mask, compare(deleted, pa.scalar(bound, pa.timestamp("ns", tz="UTC"))))
        before = table.num_rows
        table = table.filter(pc.fill_null(mask, False))
        self.out_of_range += before - table.num_rows
        return table, table.num_rows == before

    def _add_table(self, table: Any, key: str, origin: Any) -> None:
        """Keep a fast-path table; consecutive unfiltered objects of one job become one slice again
        (fewer, larger chunks: cheaper to assemble and to use)."""
        n = table.num_rows
        last = self.runs[-1] if self.runs else None
        if origin is not None and last is not None and last[0] is origin[0] and last[2] == origin[1]:
            last[2] += n  # tables[-1] becomes the slice of the whole run in take_frame
            self.table_keys[-1].append((key, n))
            return
        self.tables.append(table)
        self.table_keys.append([(key, n)])
        self.runs.append([origin[0], origin[1], origin[1] + n] if origin is not None else [None, 0, 0])
        self._compact()

    def _table(self, i: int) -> Any:
        """Kept table ``i``: the slice of its job's table for a run, else the table itself."""
        run = self.runs[i]
        return self.tables[i] if run[0] is None else run[0].slice(run[1], run[2] - run[1])

    def _compact(self) -> None:
        """Join the tables kept since the last compaction into one table of one chunk per column once
        they hold :data:`~._columns.COMPACT_ROWS` rows (all but the last table, whose run may still
        grow). The frame is then assembled from a few large chunks without joining them again (only the
        small ones after them are, see :func:`~._columns._few_chunks`), and most of the copying is done
        while the downloads go on instead of after the last one. Tables Arrow cannot join (a column of different types) are
        left apart, as the frame's assembly expects."""
        import pyarrow as pa

        start, stop = self.compacted, len(self.tables) - 1
        if stop - start < 2 or sum(n for keys in self.table_keys[start:stop] for _, n in keys) < COMPACT_ROWS:
            return
        try:
            joined = pa.concat_tables([self._table(i) for i in range(start, stop)], promote_options="permissive").combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            self.compacted = stop
            return
        self.tables[start:stop] = [joined]
        self.table_keys[start:stop] = [[run for keys in self.table_keys[start:stop] for run in keys]]
        self.runs[start:stop] = [[None, 0, 0]]
        self.compacted = start + 1

    def _join_part(self, key: str, line: int, rec: dict) -> tuple[tuple, str, int] | Problem | None:
        """A part line: the joined record's ``(row, key, line of its first part)`` once complete."""
        joined = self.parts.add(key, line, rec)
        if not isinstance(joined, tuple):
            return joined
        text, first_key, first_line = joined
        event_id, total = rec["part_of"], rec["parts"]
        try:
            rec = json.loads(text, parse_float=Decimal)
        except ValueError as err:
            return Problem(first_key, first_line, f"record {event_id} joined from {total} parts is not valid JSON ({err})")
        row, reason = record_row(rec, len(text.encode()) + 1) if isinstance(rec, dict) else (None, "joined parts are not a JSON object")
        if row is None:
            return Problem(first_key, first_line, f"record {event_id} joined from {total} parts: {reason}")
        return row, first_key, first_line
