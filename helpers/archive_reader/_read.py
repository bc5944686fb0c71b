"""The public read: :func:`read_archive` (the whole selection into one frame), and the argument checks and
object selection it shares with :func:`archive_to_parquet`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pandas as pd

from ._collect import Collector
from ._columns import empty_frame
from ._download import DEFAULT_WORKERS, decoded_objects
from ._listing import Listing
from ._results import ArchiveReadResult, error_records_frame, log_problems, objects_frame
from ._sources import make_source, utc

LOG = logging.getLogger(__name__)

DEFAULT_PREFIX = "archive/"
DEFAULT_ERROR_PREFIX = "errors/"


def check_arguments(source: Any, bucket: str | None, start: Any, end: Any, engine: str, max_workers: int) -> tuple[Any, pd.Timestamp | None, pd.Timestamp | None]:
    """The source object and the UTC range; raises before any AWS call when an argument is wrong."""
    if engine not in {"auto", "python"}:
        raise ValueError(f"engine must be 'auto' or 'python', not {engine!r}")
    src = make_source(source, bucket, max_workers)
    start_ts, end_ts = utc(start), utc(end)
    if start_ts is not None and end_ts is not None and end_ts <= start_ts:
        raise ValueError(f"end ({end_ts}) must be after start ({start_ts})")
    return src, start_ts, end_ts


def select(src: Any, prefix: str, error_prefix: str | None, start: pd.Timestamp | None, end: pd.Timestamp | None, late_delivery: timedelta) -> Listing:
    """The archive's objects and the error prefix's to read, listed as the read goes (:meth:`Listing.pages`;
    :func:`~._download.decoded_objects` lists on a thread of its own): objects that cannot hold items of the
    range are left out."""
    return Listing(src, prefix, error_prefix, start, end, late_delivery)


def read_archive(
    source: Any,
    bucket: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    *,
    start: Any = None,
    end: Any = None,
    late_delivery: timedelta = timedelta(hours=1),
    error_prefix: str | None = DEFAULT_ERROR_PREFIX,
    drop_duplicates: bool = True,
    max_workers: int = DEFAULT_WORKERS,
    progress: bool | None = None,
    missing_ok: bool = False,
    engine: str = "auto",
) -> ArchiveReadResult:
    """Read the archive into a DataFrame and report what was skipped; never raises for damaged data.

    ``source`` is a ``boto3.Session`` (then ``bucket`` is required) or the path of a local folder that
    is a copy of the bucket (same key layout, e.g. made with ``aws s3 sync``). ``prefix`` is the
    archive's literal prefix (the part before Firehose's ``YYYY/MM/DD/HH/`` folders or the
    ``!{timestamp:...}`` expressions).

    ``start``/``end`` (datetimes or ISO text; naive means UTC) keep the items deleted in
    ``[start, end)``. Objects are chosen from the date in their key before any download: only the
    day prefixes of a short range are listed, and objects filed before ``start`` or ``late_delivery``
    or more after ``end`` are not downloaded (an item delivered later than that is missed; stream
    records live 24 h, so ``late_delivery=timedelta(hours=25)`` cannot miss one).

    Objects under ``error_prefix`` (None: skip) are read into ``error_records``. Duplicates (the same
    event id delivered twice, which Firehose retries cause) are counted and, by default, removed
    (the first delivery is kept). Downloads run on ``max_workers`` threads, a bounded number of
    objects in flight. ``progress`` shows a tqdm bar (None: when there are 20 objects or more).

    ``engine="auto"`` parses objects with pyarrow where that gives the same values (see
    :mod:`helpers.archive_reader._fast`) and line by line otherwise; ``engine="python"`` parses every line with ``json.loads``.
    Flat columns are identical either way. Nested values differ in form: from the fast path a map
    or list attribute is an Arrow-backed column (``pd.ArrowDtype`` struct/list; a row's value is a
    dict or list, compact in memory), where a map holds the union of the keys its column has in that
    object, absent ones as None, and fractions as float (exact: the fast path takes no number of
    more than 15 digits). ``engine="python"`` keeps every nested value exactly as written (ints and
    Decimals, only the keys the item had) as Python objects, at several times the memory and time.

    Raises ``FileNotFoundError`` when the bucket or folder does not exist (``missing_ok=True``
    returns an empty result with ``missing=True`` instead) and ``PermissionError`` when it cannot be
    listed.
    """
    src, start_ts, end_ts = check_arguments(source, bucket, start, end, engine, max_workers)
    if not src.exists():
        if not missing_ok:
            raise FileNotFoundError(f"{src} does not exist: deploy the pipeline (notebooks 01-04) or check the name")
        return ArchiveReadResult(empty_frame(), objects_frame([]), objects_frame([]), error_records_frame([]), source=str(src), missing=True)
    chosen = select(src, prefix, error_prefix, start_ts, end_ts, late_delivery)
    kept = Collector(start_ts, end_ts, drop_duplicates)
    for decoded, errors_mode in decoded_objects(src, chosen.pages(), max_workers=max_workers, fast=engine == "auto",
                                                progress=progress, rows=lambda: kept.rows):
        kept.consume(decoded, errors_mode)
    kept.finish()
    log_problems(LOG, kept.problems)
    result = ArchiveReadResult(
        frame=kept.take_frame(),
        objects=objects_frame(kept.object_rows),
        error_objects=objects_frame(kept.error_object_rows),
        error_records=error_records_frame(kept.error_rows),
        problems=kept.problems,
        duplicates=kept.duplicates,
        out_of_range=kept.out_of_range,
        skipped_objects=chosen.skipped,
        source=str(src),
    )
    result._dropped = drop_duplicates
    LOG.info("%s", result.summary())
    return result
