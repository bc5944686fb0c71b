"""What a read gives back: :class:`Problem`, :class:`ArchiveReadResult` and the per-object tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

MAX_LOGGED_PROBLEMS = 20  # then one summary line, the rest are in result.problems


@dataclass(frozen=True)
class Problem:
    """Something that was skipped: ``line`` is None when the whole object (or its tail) is concerned."""

    key: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.key if self.line is None else f"{self.key} line {self.line}"
        return f"{where}: {self.reason}"


def log_problems(log, problems: list[Problem]) -> None:
    """Log the first :data:`MAX_LOGGED_PROBLEMS` problems, then one line for the rest."""
    for i, p in enumerate(problems):
        if i == MAX_LOGGED_PROBLEMS:
            log.warning("... and %d more problems (see result.problems)", len(problems) - i)
            break
        log.warning("skipped %s", p)


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    return pd.DataFrame([(p.key, p.line, p.reason) for p in problems], columns=["key", "line", "reason"]).astype({"line": "Int64"})


@dataclass
class ArchiveReadResult:
    """What :func:`read_archive` read.

    ``frame``: one row per archived item (see the package docstring for the columns).
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
        return problems_frame(self.problems)

    def to_parquet(self, path: str | Path) -> Path:
        """Write ``frame`` to a Parquet file (see :func:`write_parquet`). Returns the path."""
        from ._parquet import write_parquet

        return write_parquet(self.frame, path)


_OBJECT_COLUMNS = ["key", "size", "stored_at", "hour", "compressed", "decompressed_bytes", "lines", "rows", "problems"]
_OBJECT_DTYPES = {"size": "int64", "compressed": "boolean", "decompressed_bytes": "Int64", "lines": "Int64", "rows": "Int64", "problems": "int64"}
_ERROR_COLUMNS = ["object_key", "object_line", "error_code", "error_message", "attempts", "arrived_at", "event_id", "raw_bytes"]


def objects_frame(rows: list[tuple]) -> pd.DataFrame:
    """One row per object read (see :class:`ArchiveReadResult`)."""
    frame = pd.DataFrame(rows, columns=_OBJECT_COLUMNS).astype(_OBJECT_DTYPES)
    for name in ("stored_at", "hour"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def error_records_frame(rows: list[tuple]) -> pd.DataFrame:
    """One row per record of the Firehose error prefix."""
    frame = pd.DataFrame(rows, columns=_ERROR_COLUMNS).astype({"object_line": "int64", "attempts": "Int64", "raw_bytes": "Int64"})
    frame["arrived_at"] = pd.to_datetime(frame["arrived_at"].astype("Int64"), unit="ms", utc=True)
    return frame
