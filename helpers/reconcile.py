"""Reconcile the archive with DynamoDB's own count of TTL deletions, hour by hour.

DynamoDB publishes ``TimeToLiveDeletedItemCount`` (namespace ``AWS/DynamoDB``, dimension ``TableName``,
Sum per period) for the items its TTL process deleted; the embedded local AWS's sweeper publishes it too.
It is the independent witness: :func:`reconcile` sums it per UTC hour and compares it with the archived
items of the table per hour of deletion (``deleted_at``, duplicate deliveries removed by ``event_id``, read
with :func:`helpers.archive_reader.read_archive`). Every hour where the two differ is reported, with the
failure queue's state next to it: a note waiting there usually explains a shortfall (``ttl-archive
redrive``).

What a difference means:

* fewer archived than deleted: items TTL deleted that are not in the archive (a batch the trigger gave
  up on, an object deleted from the bucket, a damaged object the reader skipped: see ``problems``);
* more archived than deleted: lines of this table's items the metric did not count (for example written
  by hand, or a copy of another stack's archive).

On AWS the most recent minutes may still be on their way (TTL's metric and the stream are written at the
same moment, but Firehose buffers for up to its interval before the object appears): an hour that ends
less than the buffering interval plus five minutes before now is marked ``recent`` (on the embedded local
AWS, which flushes within a second, nothing is). Redriven records keep their original deletion time, and
objects are listed up to ``late_delivery`` (default 25 hours: longer than stream records live) after the
range, so a late redrive is counted in the hour of the deletion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from . import archive_reader
from .settings import Settings

LOG = logging.getLogger(__name__)

NAMESPACE = "AWS/DynamoDB"
METRIC = "TimeToLiveDeletedItemCount"
HOUR = timedelta(hours=1)
DEFAULT_LOOKBACK = timedelta(hours=24)
DEFAULT_LATE_DELIVERY = timedelta(hours=25)
RECENT_MARGIN = timedelta(minutes=5)  # on top of Firehose's buffering interval


def _utc(value: Any, name: str) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(f"{name} {value!r} is not a time: give ISO 8601 (2026-11-30T18:00Z) or a datetime") from None
    if pd.isna(stamp):
        raise ValueError(f"{name} is not a time")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def hours(start: datetime, end: datetime) -> list[datetime]:
    """The UTC hours that overlap ``[start, end)``, each as its first instant."""
    first = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while first < end:
        out.append(first)
        first += HOUR
    return out


def deleted_per_hour(session: Any, table: str, start: datetime, end: datetime, *, progress: bool = False) -> pd.Series:
    """TimeToLiveDeletedItemCount summed per UTC hour within ``[start, end)`` (0 for hours without data).

    One GetMetricStatistics call per hour, each covering exactly that hour (clipped to the range), so the
    sums do not depend on how CloudWatch aligns its periods."""
    cw = session.client("cloudwatch")
    slots = hours(start, end)
    counts = {}
    iterator = slots
    if progress and len(slots) > 24:
        from tqdm.auto import tqdm

        iterator = tqdm(slots, unit="hour", desc="CloudWatch")
    for hour in iterator:
        lo, hi = max(hour, start), min(hour + HOUR, end)
        if hi <= lo:
            counts[hour] = 0
            continue
        points = cw.get_metric_statistics(Namespace=NAMESPACE, MetricName=METRIC, Dimensions=[{"Name": "TableName", "Value": table}],
                                          StartTime=lo, EndTime=hi, Period=3600, Statistics=["Sum"]).get("Datapoints", [])
        counts[hour] = int(round(sum(p.get("Sum", 0.0) for p in points)))
    return pd.Series(counts, dtype="int64", name="ttl_deleted").rename_axis("hour")


def archived_per_hour(result: archive_reader.ArchiveReadResult, table: str, slots: list[datetime]) -> pd.Series:
    """Distinct archived items of ``table`` per UTC hour of deletion (duplicates by ``event_id`` removed)."""
    frame = result.frame
    series = pd.Series(0, index=pd.Index(slots, name="hour"), dtype="int64", name="archived")
    if not len(frame):
        return series
    mine = frame[frame["table"] == table] if "table" in frame.columns else frame
    mine = mine.drop_duplicates("event_id") if "event_id" in mine.columns else mine
    by_hour = pd.to_datetime(mine["deleted_at"], utc=True).dt.floor("h").value_counts()
    for hour, count in by_hour.items():
        key = hour.to_pydatetime()
        if key in series.index:
            series[key] = int(count)
    return series


@dataclass
class ReconcileReport:
    """The hourly comparison. ``hourly``: one row per hour (ttl_deleted, archived, difference, recent)."""

    table: str
    bucket: str
    start: datetime
    end: datetime
    hourly: pd.DataFrame
    failure_notes: int | None = None  # notes in the failure queue (None: no queue)
    failure_queue: str = ""
    problems: int = 0  # damaged lines or objects the reader skipped
    duplicates_removed: int = 0
    queue_detail: list[str] = field(default_factory=list)

    @property
    def differences(self) -> pd.DataFrame:
        return self.hourly[self.hourly["difference"] != 0]

    @property
    def ok(self) -> bool:
        return self.differences.empty

    @property
    def ttl_deleted(self) -> int:
        return int(self.hourly["ttl_deleted"].sum())

    @property
    def archived(self) -> int:
        return int(self.hourly["archived"].sum())

    def to_dict(self) -> dict[str, Any]:
        rows = [{"hour": h.strftime("%Y-%m-%dT%H:00Z"), "ttl_deleted": int(r.ttl_deleted), "archived": int(r.archived),
                 "difference": int(r.difference), "recent": bool(r.recent)} for h, r in self.differences.iterrows()]
        return {"table": self.table, "bucket": self.bucket, "start": self.start.isoformat(), "end": self.end.isoformat(), "ok": self.ok,
                "hours": len(self.hourly), "ttl_deleted": self.ttl_deleted, "archived": self.archived, "differences": rows,
                "failure_queue": self.failure_queue, "failure_notes": self.failure_notes, "problems": self.problems,
                "duplicates_removed": self.duplicates_removed}

    def describe(self) -> str:
        span = f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"
        lines = [f"table {self.table}, {span} ({len(self.hourly)} hour(s)): TTL deleted {self.ttl_deleted:,} item(s), "
                 f"the archive holds {self.archived:,} (duplicates removed: {self.duplicates_removed:,})"]
        if self.ok:
            lines.append("no hour differs")
        else:
            lines.append(f"{len(self.differences)} hour(s) differ:")
            for hour, row in self.differences.iterrows():
                gap = int(row.difference)
                what = f"{gap:,} missing from the archive" if gap > 0 else f"{-gap:,} more in the archive than TTL deleted"
                lines.append(f"  {hour:%Y-%m-%d %H}:00  TTL deleted {int(row.ttl_deleted):,}, archived {int(row.archived):,}: {what}"
                             + (" (recent: may still be arriving)" if row.recent else ""))
        if self.problems:
            lines.append(f"the reader skipped {self.problems} damaged line(s) or object(s): see read_archive(...).problems")
        if self.failure_notes is None:
            lines.append(f"failure queue {self.failure_queue or '(none)'}: not found")
        elif self.failure_notes:
            lines.append(f"failure queue {self.failure_queue}: {self.failure_notes} note(s) waiting, run `ttl-archive redrive`")
        else:
            lines.append(f"failure queue {self.failure_queue}: empty")
        return "\n".join(lines)


def reconcile(session: Any, settings: Settings, *, start: Any = None, end: Any = None, identity: Any = None,
              late_delivery: timedelta = DEFAULT_LATE_DELIVERY, progress: bool = False, now: datetime | None = None,
              recent: timedelta | None = None) -> ReconcileReport:
    """Compare TTL's deletions with the archive per hour over ``[start, end)`` (default: the last 24 hours).

    ``start``/``end``: datetimes (naive = UTC), ISO 8601 text or epoch seconds; validated before any AWS
    call. Reads only the archive objects that can hold items deleted in the range (plus ``late_delivery``).
    ``recent``: how long deliveries may still be in flight (default: none locally, else the stack's
    Firehose buffering interval plus five minutes).
    Returns a :class:`ReconcileReport`; raises ``FileNotFoundError`` when the bucket does not exist.
    """
    from .failure_queue import note_count

    now = now or datetime.now(timezone.utc)
    end_t = _utc(end, "until") if end is not None else now
    start_t = _utc(start, "since") if start is not None else end_t - DEFAULT_LOOKBACK
    if end_t <= start_t:
        raise ValueError(f"until ({end_t:%Y-%m-%d %H:%M:%S}Z) must be after since ({start_t:%Y-%m-%d %H:%M:%S}Z)")
    if not settings.bucket_name:
        if identity is None:
            from .target import identity as lookup

            identity = lookup(session)
        settings = settings.with_account(identity.account_id, identity.region)
    slots = hours(start_t, end_t)
    ttl = deleted_per_hour(session, settings.table_name, start_t, end_t, progress=progress)
    result = archive_reader.read_archive(session, settings.bucket_name, settings.archive_prefix, start=start_t, end=end_t,
                                         late_delivery=late_delivery, error_prefix=None, progress=progress)
    archived = archived_per_hour(result, settings.table_name, slots)
    hourly = pd.DataFrame({"ttl_deleted": ttl.reindex(slots, fill_value=0), "archived": archived.reindex(slots, fill_value=0)})
    hourly.index.name = "hour"
    hourly["difference"] = hourly["ttl_deleted"] - hourly["archived"]
    if recent is None:
        from .target import is_local

        recent = timedelta(0) if is_local(session) else timedelta(seconds=settings.buffer_interval_seconds) + RECENT_MARGIN
    hourly["recent"] = [min(h + HOUR, end_t) > now - recent for h in slots]
    report = ReconcileReport(table=settings.table_name, bucket=settings.bucket_name, start=start_t, end=end_t, hourly=hourly,
                             failure_notes=note_count(session, settings.failure_queue_name), failure_queue=settings.failure_queue_name,
                             problems=len(getattr(result, "problems", []) or []), duplicates_removed=int(getattr(result, "duplicates", 0) or 0))
    LOG.info("%s", report.describe())
    return report


def chart(report: ReconcileReport, ax: Any = None) -> Any:
    """Bars per hour: TTL's deletions next to the archived items; hours that differ are shaded red and
    labelled with the difference. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _fig, ax = plt.subplots(figsize=(min(14, max(7, 4 + 0.35 * len(report.hourly))), 4))
    hourly = report.hourly
    x = list(range(len(hourly)))
    ax.bar([i - 0.2 for i in x], hourly["ttl_deleted"], width=0.4, label="TTL deleted (CloudWatch)", color="#4C72B0")
    ax.bar([i + 0.2 for i in x], hourly["archived"], width=0.4, label="archived (distinct items)", color="#55A868")
    top = max(1, int(hourly[["ttl_deleted", "archived"]].to_numpy().max()))
    for i, (_hour, row) in enumerate(hourly.iterrows()):
        if row.difference:
            ax.axvspan(i - 0.5, i + 0.5, color="#C44E52", alpha=0.15, lw=0)
            gap = int(row.difference)
            label = f"{gap:,} missing" if gap > 0 else f"{-gap:,} extra"
            ax.annotate(label, (i, max(row.ttl_deleted, row.archived)), ha="center", va="bottom", color="#C44E52", fontsize=9)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([h.strftime("%m-%d %H:00") for h in hourly.index[::step]], rotation=30, ha="right")
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("items")
    verdict = "no hour differs" if report.ok else f"{len(report.differences)} hour(s) differ"
    ax.set_title(f"{report.table}: TTL deletions against the archive per hour (UTC)\n{verdict}", fontsize=11)
    ax.legend(loc="upper left", fontsize=8)
    ax.figure.tight_layout()
    return ax.figure
