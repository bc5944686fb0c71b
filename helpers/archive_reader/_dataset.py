"""An archive larger than memory into a Parquet dataset partitioned by day, streaming object by object.

:func:`archive_to_parquet` reads the archive like :func:`read_archive` (same selection, decoding, fast path,
problems, duplicates) but never holds more than ``chunk_rows`` rows (plus the rows of the one object
being added): whenever that many are kept they are written out and forgotten. Duplicates are found across
the whole archive with a :class:`~._dedup.DigestSet` (16 bytes an item). The dataset::

    <out_dir>/deleted_date=2026-11-26/part-00000.parquet
    <out_dir>/deleted_date=2026-11-27/part-00001.parquet
    <out_dir>/deleted_date=__HIVE_DEFAULT_PARTITION__/...   (items without a deletion time)

Hive-style folders (``deleted_date``: the UTC day of ``deleted_at``), files of at most ``chunk_rows`` rows,
the columns of :func:`read_archive`'s frame, nested values as JSON text listed in each file's metadata
(as :func:`write_parquet`). Each file has the columns of its own rows: :func:`parquet_dataset` unifies them
(pyarrow, larger than memory), :func:`read_parquet` reads a whole dataset back into one frame; DuckDB reads it
with ``read_parquet('<out_dir>/*/*.parquet', hive_partitioning=true, union_by_name=true)``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._collect import Collector
from ._dedup import DigestSet
from ._download import DEFAULT_WORKERS, decoded_objects
from ._names import PARTITION_COLUMN
from ._parquet import _PARQUET_JSON_KEY, _parquet_ready
from ._read import DEFAULT_ERROR_PREFIX, DEFAULT_PREFIX, check_arguments, select
from ._results import Problem, error_records_frame, log_problems, objects_frame, problems_frame

LOG = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 100_000
NO_DAY = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a null partition value (pyarrow, Athena, DuckDB)


@dataclass
class ParquetExport:
    """What :func:`archive_to_parquet` wrote: the dataset folder, its files and days, and the same report
    as :class:`ArchiveReadResult` (objects, problems, duplicates...). ``largest_chunk``: the most rows held
    in memory at once."""

    path: Path
    rows: int
    files: list[Path]
    days: list[str]
    objects: pd.DataFrame
    error_objects: pd.DataFrame
    error_records: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    duplicates: int = 0
    out_of_range: int = 0
    skipped_objects: int = 0
    largest_chunk: int = 0
    source: str = ""

    def summary(self) -> str:
        """One paragraph: what was written where, what was dropped and why."""
        return (
            f"{self.rows:,} items from {len(self.objects):,} objects in {self.source} written to {self.path} "
            f"({len(self.files):,} files, {len(self.days):,} days); {self.skipped_objects:,} objects outside the time range not downloaded; "
            f"{self.out_of_range:,} rows outside the time range dropped; {self.duplicates:,} duplicate deliveries; "
            f"{len(self.problems):,} problems (damaged lines or objects skipped); "
            f"{len(self.error_records):,} records in {len(self.error_objects):,} error objects."
        )

    def problems_frame(self) -> pd.DataFrame:
        return problems_frame(self.problems)


class _DayWriter:
    """Writes frames into day folders, files of at most ``chunk_rows`` rows, numbered in writing order."""

    def __init__(self, root: Path, chunk_rows: int) -> None:
        self.root = root
        self.chunk_rows = chunk_rows
        self.files: list[Path] = []
        self.days: set[str] = set()
        self.largest = 0

    def write(self, frame: pd.DataFrame) -> None:
        self.largest = max(self.largest, len(frame))
        days = frame["deleted_at"].dt.strftime("%Y-%m-%d")
        codes, uniques = pd.factorize(days, use_na_sentinel=True)
        for code, day in [(c, d) for c, d in enumerate(uniques)] + [(-1, NO_DAY)]:
            rows = np.flatnonzero(codes == code)
            for first in range(0, len(rows), self.chunk_rows):
                self._write_file(frame.iloc[rows[first:first + self.chunk_rows]], day)

    def _write_file(self, frame: pd.DataFrame, day: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        ready, json_columns = _parquet_ready(frame.reset_index(drop=True))
        table = pa.Table.from_pandas(ready, preserve_index=False)
        metadata = {**(table.schema.metadata or {}), _PARQUET_JSON_KEY: json.dumps(json_columns).encode()}
        path = self.root / f"{PARTITION_COLUMN}={day}" / f"part-{len(self.files):05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.replace_schema_metadata(metadata), path)
        self.files.append(path)
        self.days.add(day)


def archive_to_parquet(
    source: Any,
    out_dir: str | Path,
    bucket: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    *,
    start: Any = None,
    end: Any = None,
    late_delivery: timedelta = timedelta(hours=1),
    error_prefix: str | None = DEFAULT_ERROR_PREFIX,
    drop_duplicates: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    max_workers: int = DEFAULT_WORKERS,
    progress: bool | None = None,
    engine: str = "auto",
) -> ParquetExport:
    """Read the archive into a Parquet dataset partitioned by day, in bounded memory (module docstring).

    ``source``, ``bucket``, ``prefix``, the time range and the other options are those of
    :func:`read_archive`. ``out_dir`` must not exist or be empty (nothing is overwritten). ``chunk_rows``:
    the rows held in memory before they are written (about 1 KB each as an item of the benchmark holds;
    the default keeps a read under 1 GB). Never raises for damaged data; raises ``FileExistsError``,
    ``FileNotFoundError``, ``ValueError`` or ``TypeError`` for bad arguments before reading anything.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a whole number of rows >= 1, not {chunk_rows!r}")
    src, start_ts, end_ts = check_arguments(source, bucket, start, end, engine, max_workers)
    out = Path(out_dir).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: choose a new folder for the dataset (nothing is overwritten)")
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist: deploy the pipeline (notebooks 01-04) or check the name")
    out.mkdir(parents=True, exist_ok=True)
    chosen = select(src, prefix, error_prefix, start_ts, end_ts, late_delivery)
    kept = Collector(start_ts, end_ts, drop_duplicates, seen=DigestSet())
    writer = _DayWriter(out, chunk_rows)
    for decoded, errors_mode in decoded_objects(src, chosen.pages(), max_workers=max_workers, fast=engine == "auto",
                                                progress=progress, rows=lambda: kept.rows):
        kept.consume(decoded, errors_mode)
        if kept.pending >= chunk_rows:
            writer.write(kept.take_frame())
    kept.finish()
    if kept.pending:
        writer.write(kept.take_frame())
    log_problems(LOG, kept.problems)
    export = ParquetExport(
        path=out, rows=kept.rows, files=writer.files, days=sorted(writer.days),
        objects=objects_frame(kept.object_rows), error_objects=objects_frame(kept.error_object_rows),
        error_records=error_records_frame(kept.error_rows), problems=kept.problems, duplicates=kept.duplicates,
        out_of_range=kept.out_of_range, skipped_objects=chosen.skipped, largest_chunk=writer.largest, source=str(src),
    )
    LOG.info("%s", export.summary())
    return export


def parquet_dataset(path: str | Path) -> Any:
    """The dataset :func:`archive_to_parquet` wrote, as a ``pyarrow.dataset.Dataset`` over every file with
    one schema (the files' columns unified by name, types promoted where they differ) and the
    ``deleted_date`` column from the folders: query larger than memory (filters, columns, batches).
    Nested values are JSON text there (see :func:`read_parquet` to get dicts back); a column whose types
    no promotion reconciles (numbers in one file, text in another) is text."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    root = Path(path)
    files = sorted(root.glob(f"{PARTITION_COLUMN}=*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet files under {root}/{PARTITION_COLUMN}=*/")
    schema = _unified([pq.read_schema(f).remove_metadata() for f in files])
    day = pa.schema([pa.field(PARTITION_COLUMN, pa.string())])
    return ds.dataset([str(f) for f in files], schema=schema.append(day.field(0)), format="parquet",
                      partitioning=ds.partitioning(day, flavor="hive"), partition_base_dir=str(root))


def _unified(schemas: list[Any]) -> Any:
    """One schema for all files: Arrow's permissive promotion, field by field; text where it fails."""
    import pyarrow as pa

    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    by_name: dict[str, list[Any]] = {}
    for schema in schemas:
        for f in schema:
            by_name.setdefault(f.name, []).append(f)
    fields = []
    for name, found in by_name.items():
        try:
            fields.append(pa.unify_schemas([pa.schema([f]) for f in found], promote_options="permissive").field(0))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            LOG.info("column %s has types %s in different files: read as text", name, sorted({str(f.type) for f in found}))
            fields.append(pa.field(name, pa.large_string()))
    return pa.schema(fields)
