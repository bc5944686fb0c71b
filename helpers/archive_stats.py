"""Figures about an archive that other steps need: the cost model's inputs, and what other Firehose buffers
would have made of the same items.

* :func:`archive_inputs` measures an archive (a bucket or a folder copy) for notebook 07: mean line size,
  objects per day and the GZIP compression ratio. It lists every object (cheap) and downloads only an even
  sample of them (``sample_objects``), so it stays fast on an archive of any size.
  :func:`archive_for_cost` picks the archive notebook 07 measures (a folder, the stack's bucket, or none) and
  says which and why.
* :func:`buffer_what_if` replays the items of a read archive through Firehose's buffering rules with other
  buffer sizes and intervals: how many objects, how big, how many under the 128 KB lifecycle mark.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .archive_reader import FolderSource, S3Source, object_lines

LIFECYCLE_MIN_OBJECT = 128 * 1024
_DATED = r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/"


@dataclass(frozen=True)
class ArchiveInputs:
    """What an archive says about the workload behind it (the cost model's inputs, measured)."""

    objects: int  # objects under the prefix
    stored_bytes: int  # their total size as stored (GZIP)
    days: float  # days the object keys span (first to last hour, at least one hour)
    objects_per_day: float
    sampled_objects: int  # objects downloaded to measure lines and compression
    line_kb: float  # mean archive line (item + envelope) in KiB: the cost model's item_kb
    items_per_object: float
    items_per_day: float
    compression_ratio: float  # uncompressed bytes / stored bytes of the sampled objects
    median_object_kb: float
    under_128kb_share: float

    def cost_inputs(self) -> dict[str, float]:
        """Keyword arguments for :class:`helpers.cost_model.CostInputs` measured here: ``item_kb``,
        ``compression_ratio`` and ``monthly_growth_gb`` (GiB of items a month at this rate)."""
        monthly = self.items_per_day * 30.4375 * self.line_kb / 1024 / 1024
        item_kb = min(round(self.line_kb, 3), 400.0)  # the DynamoDB item limit (a mean of long part lines could pass it)
        return {"item_kb": item_kb, "compression_ratio": round(self.compression_ratio, 2), "monthly_growth_gb": round(monthly, 4)}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def archive_inputs(source: Any, bucket: str | None = None, prefix: str = "archive/", *, sample_objects: int = 200, max_workers: int = 8) -> ArchiveInputs:
    """Measure the archive under ``prefix`` in a bucket (``source`` a boto3 session, ``bucket`` its name) or
    in a folder copy (``source`` a path). Raises ``FileNotFoundError`` when the bucket or folder does not
    exist and ``ValueError`` when it holds no object under the prefix (nothing to measure)."""
    if not isinstance(sample_objects, int) or sample_objects < 1:
        raise ValueError(f"sample_objects must be a whole number >= 1, got {sample_objects!r}")
    src = S3Source(source, bucket, max_workers) if bucket is not None else FolderSource(source)
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist")
    refs = sorted(src.list(prefix), key=lambda r: r.key)
    if not refs:
        raise ValueError(f"{src} holds no object under {prefix!r}: nothing to measure")
    listing = pd.DataFrame({"key": [r.key for r in refs], "size": [r.size for r in refs]})
    parts = listing["key"].str.extract(_DATED)
    hours = pd.to_datetime(parts[0] + "-" + parts[1] + "-" + parts[2] + " " + parts[3] + ":00", utc=True, errors="coerce")
    # from the first hour to the end of the last (an archive of one hour spans 1/24 day)
    days = ((hours.max() - hours.min()) / pd.Timedelta(days=1) + 1 / 24) if hours.notna().any() else 1 / 24
    picks = np.unique(np.linspace(0, len(refs) - 1, min(sample_objects, len(refs))).round().astype(int))
    stored = raw = lines = 0
    for i in picks:
        data = src.read(refs[i].key)
        stored += len(data)
        raw += len(gzip.decompress(data)) if data[:2] == b"\x1f\x8b" else len(data)
        lines += len(object_lines(data))
    items_per_object = lines / len(picks)
    return ArchiveInputs(
        objects=len(refs),
        stored_bytes=int(listing["size"].sum()),
        days=float(days),
        objects_per_day=len(refs) / days,
        sampled_objects=len(picks),
        line_kb=raw / max(1, lines) / 1024,
        items_per_object=items_per_object,
        items_per_day=items_per_object * len(refs) / days,
        compression_ratio=raw / max(1, stored),
        median_object_kb=float(listing["size"].median()) / 1024,
        under_128kb_share=float((listing["size"] < LIFECYCLE_MIN_OBJECT).mean()),
    )


COST_ARCHIVE_DIR = "TTL_ARCHIVE_COST_ARCHIVE_DIR"
COST_FROM_BUCKET = "TTL_ARCHIVE_COST_FROM_BUCKET"


@dataclass(frozen=True)
class MeasuredArchive:
    """The archive notebook 07 took its inputs from: ``source`` "folder", "bucket" or "defaults", ``where``
    (the folder and prefix, ``s3://bucket/prefix``, or empty), ``reason`` (why this source) and what was
    measured (None for the defaults)."""

    source: str
    where: str
    reason: str
    measured: ArchiveInputs | None = None

    def cost_inputs(self) -> dict[str, float]:
        """The :class:`~helpers.cost_model.CostInputs` fields measured here ({} with the defaults)."""
        return self.measured.cost_inputs() if self.measured else {}

    def describe(self) -> str:
        if self.measured is None:
            return f"Inputs: the defaults above (no archive measured: {self.reason})."
        m, c = self.measured, self.cost_inputs()
        return "\n".join([
            f"Inputs measured from the {self.source} {self.where} ({self.reason}):",
            f"  {m.objects:,} objects over {m.days:,.2f} days = {m.objects_per_day:,.1f} objects a day "
            f"(median {m.median_object_kb:,.1f} KB stored, {m.under_128kb_share:.0%} under 128 KB)",
            f"  {m.sampled_objects:,} objects downloaded: {m.items_per_object:,.1f} items each, mean line "
            f"{m.line_kb:,.3f} KB, GZIP compression {m.compression_ratio:,.2f}x",
            f"  {m.items_per_day:,.0f} items a day = {c['monthly_growth_gb']:,.4f} GB of items a month",
            f"  -> item_kb={c['item_kb']}, compression_ratio={c['compression_ratio']}, monthly_growth_gb={c['monthly_growth_gb']}",
        ])


def archive_for_cost(settings: Any, environ: Mapping[str, str] | None = None, *, folder: str | None = None,
                     from_bucket: bool | None = None, session: Callable[[], Any] | None = None,
                     sample_objects: int = 200) -> MeasuredArchive:
    """Measure the archive notebook 07 should take its inputs from, in this order:

    1. the folder in ``TTL_ARCHIVE_COST_ARCHIVE_DIR`` when set (its ``settings.archive_prefix`` sub-folder if
       present, else the whole folder); a folder that is missing or holds no object is an error naming it;
    2. the deployed stack's bucket (``settings.archive_prefix``): on the embedded local AWS only when it is
       already running (``helpers.local.health()``; it is never started for this), on the aws target only
       with ``TTL_ARCHIVE_COST_FROM_BUCKET=true``; a bucket that does not exist or is empty falls back;
    3. else the defaults, with the reason.

    ``folder`` and ``from_bucket``, when given (a notebook's parameters), replace the two variables read from
    ``environ`` (default ``os.environ``). ``session`` makes the boto3 session (default
    :func:`helpers.target.session`)."""
    from .settings import SettingsError, parameter

    env = os.environ if environ is None else environ
    folder = (env.get(COST_ARCHIVE_DIR, "") if folder is None else str(folder)).strip()
    if folder:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise SettingsError(COST_ARCHIVE_DIR, folder, "must be a folder holding archive objects; it does not exist")
        prefix = settings.archive_prefix if (root / settings.archive_prefix).is_dir() else ""
        try:
            measured = archive_inputs(str(root), prefix=prefix, sample_objects=sample_objects)
        except ValueError as err:
            raise SettingsError(COST_ARCHIVE_DIR, folder, f"holds no archive object to measure ({err})") from None
        return MeasuredArchive("folder", f"{root}/{prefix}", f"{COST_ARCHIVE_DIR} is set", measured)
    if settings.target == "local":
        from .local import health

        if health() is None:
            return MeasuredArchive("defaults", "", f"the embedded local AWS is not running and is not started for this; "
                                   f"set {COST_ARCHIVE_DIR} to measure a folder")
        why = "the embedded local AWS is running"
    elif (parameter("COST_FROM_BUCKET", env) if from_bucket is None else from_bucket):
        why = f"{COST_FROM_BUCKET}=true"
    else:
        return MeasuredArchive("defaults", "", f"on the aws target the stack's bucket is measured only with "
                               f"{COST_FROM_BUCKET}=true (a few LIST and GET requests); or set {COST_ARCHIVE_DIR}")
    if session is None:
        from .target import session
    from .target import identity

    sess = session()
    who = identity(sess)
    bucket, prefix = settings.with_account(who.account_id, who.region).bucket_name, settings.archive_prefix
    where = f"s3://{bucket}/{prefix}"
    try:
        measured = archive_inputs(sess, bucket, prefix, sample_objects=sample_objects)
    except FileNotFoundError:
        return MeasuredArchive("defaults", where, f"{why}, but the stack's bucket {bucket} does not exist (not deployed)")
    except ValueError:
        return MeasuredArchive("defaults", where, f"{why}, but {where} holds no archive object yet (run 05_verify)")
    return MeasuredArchive("bucket", where, f"the deployed stack's bucket; {why}", measured)


# ----------------------------------------------------------------------------------------- what if


def firehose_cut(arrivals: np.ndarray, sizes: np.ndarray, size_mib: float, interval_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Objects Firehose makes of records (sorted arrival seconds, bytes): a buffer opens at a record, and is
    written at the record that brings it to ``size_mib`` MiB or before the first record ``interval_s`` or
    more after it opened. Returns (first record index, bytes) per object. Loops per object, not per record."""
    n = len(arrivals)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    limit = int(size_mib * 1024 * 1024)
    starts, i = [], 0
    while i < n:
        starts.append(i)
        by_time = int(np.searchsorted(arrivals, arrivals[i] + interval_s, side="left")) if interval_s > 0 else i + 1
        by_size = int(np.searchsorted(cum, cum[i] + limit, side="left"))  # record that reaches the limit
        i = max(i + 1, min(by_time, by_size))
    first = np.asarray(starts, dtype=np.int64)
    ends = np.append(first[1:], n)
    return first, cum[ends] - cum[first]


def buffer_what_if(frame: pd.DataFrame, compression_ratio: float, sizes_mib: Sequence[float] = (1, 5, 32, 128),
                   intervals_s: Sequence[float] = (60, 300, 900)) -> pd.DataFrame:
    """For each buffer size and interval: objects (and per day over ``days``, the items' span), median stored KB and the share under 128 KB, if
    the archive's items (``deleted_at`` as arrival, ``record_bytes``) had gone through that buffer. Stored
    sizes are the raw sizes divided by ``compression_ratio`` (the archive's own). One row per combination."""
    if frame.empty:
        return pd.DataFrame(columns=["buffer_mib", "interval_s", "days", "objects", "objects_per_day", "median_kb", "under_128kb"])
    seconds = (frame["deleted_at"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    order = np.argsort(seconds, kind="stable")
    arrivals = seconds[order]
    sizes = frame["record_bytes"].to_numpy()[order].astype(np.int64)
    days = max((arrivals[-1] - arrivals[0]) / 86_400, 1 / 24)
    rows = []
    for size in sizes_mib:
        for interval in intervals_s:
            _, raw = firehose_cut(arrivals, sizes, size, interval)
            stored = raw / max(compression_ratio, 1e-9)
            rows.append({
                "buffer_mib": size, "interval_s": interval, "days": days, "objects": len(raw), "objects_per_day": len(raw) / days,
                "median_kb": float(np.median(stored)) / 1024, "under_128kb": float((stored < LIFECYCLE_MIN_OBJECT).mean()),
            })
    return pd.DataFrame(rows)


def compression_ratio(objects: pd.DataFrame) -> float:
    """Decompressed bytes / stored bytes over the objects :func:`read_archive` read (1.0 when unknown)."""
    if objects.empty or "decompressed_bytes" not in objects:
        return 1.0
    stored = float(objects["size"].sum())
    raw = float(objects["decompressed_bytes"].fillna(0).sum())
    return raw / stored if stored and raw and not math.isnan(raw) else 1.0
