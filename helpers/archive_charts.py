"""Charts of the archive for notebook 06: each function takes what :func:`helpers.archive_reader.read_archive`
returned and gives back a matplotlib ``Figure`` (never pyplot state, so nothing is drawn twice).

Every chart also works on an empty archive: it then says so in the figure instead of failing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

FIREHOSE_RECORD_ROUNDING = 5 * 1024  # Firehose bills each record rounded up to a multiple of 5 KB
LIFECYCLE_MIN_OBJECT = 128 * 1024  # by default S3 lifecycle does not transition objects under 128 KB
TTL_DELETE_WINDOW_HOURS = 48  # "within a few days"; the API reference says within two days


def _figure(title: str, width: float = 8.0, height: float = 3.6) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def _nothing(fig: Figure, ax: object, what: str) -> Figure:
    ax.text(0.5, 0.5, f"No {what} in the archive yet", ha="center", va="center", transform=ax.transAxes, fontsize=12, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def items_over_time(frame: pd.DataFrame, freq: str | None = None) -> Figure:
    """Items archived per hour (``freq="h"``) or per day (``"D"``), by deletion time.

    ``freq=None`` picks hours for up to three days of data, days beyond.
    """
    fig, ax = _figure("Items archived over time")
    times = frame["deleted_at"].dropna() if "deleted_at" in frame else pd.Series(dtype="datetime64[ns, UTC]")
    if times.empty:
        return _nothing(fig, ax, "items")
    if freq is None:
        freq = "h" if times.max() - times.min() <= pd.Timedelta(days=3) else "D"
    counts = times.dt.floor(freq).value_counts().sort_index()
    width = pd.Timedelta(1, unit=freq.lower()) * 0.8
    ax.bar(counts.index, counts.to_numpy(), width=width, color="#4C72B0")
    ax.set_ylabel("items")
    ax.set_xlabel(f"deletion time (UTC), per {'hour' if freq.lower() == 'h' else 'day'}")
    fig.autofmt_xdate()
    return fig


def _delay_unit(max_seconds: float) -> tuple[float, str, str]:
    """The unit that keeps the delays readable: seconds (a local run), minutes, or hours (AWS)."""
    if max_seconds < 120:
        return 1.0, "seconds", "s"
    if max_seconds < 2 * 3600:
        return 60.0, "minutes", "min"
    return 3600.0, "hours", "h"


def deletion_delay(frame: pd.DataFrame) -> Figure:
    """Histogram of how late TTL deleted each item: ``deleted_at - ttl``, with the median, the 95th
    percentile and, when the delays come near it, the 48-hour mark AWS documents. The unit follows the
    data: seconds on the embedded local AWS, hours on AWS."""
    fig, ax = _figure("How late TTL deleted each item (deletion time minus TTL time)")
    if frame.empty or "ttl" not in frame:
        return _nothing(fig, ax, "items")
    delay = (frame["deleted_at"] - frame["ttl"]).dropna()
    if delay.empty:
        return _nothing(fig, ax, "items with a TTL value")
    seconds = delay.dt.total_seconds().to_numpy()
    scale, unit, short = _delay_unit(float(seconds.max()))
    values = seconds / scale
    ax.hist(values, bins=min(60, max(10, int(np.sqrt(len(values))))), color="#55A868")
    for value, label, style in ((np.median(values), "median", "-"), (np.percentile(values, 95), "95th percentile", "--")):
        ax.axvline(value, color="black", linestyle=style, linewidth=1)
        ax.annotate(f"{label}: {value:.1f} {short}", (value, ax.get_ylim()[1] * (0.9 if style == "-" else 0.75)), xytext=(4, 0), textcoords="offset points", fontsize=9)
    if seconds.max() >= TTL_DELETE_WINDOW_HOURS * 3600 * 0.5:
        mark = TTL_DELETE_WINDOW_HOURS * 3600 / scale
        ax.axvline(mark, color="#C44E52", linestyle=":", linewidth=1.5)
        ax.annotate("48 h", (mark, ax.get_ylim()[1] * 0.6), xytext=(4, 0), textcoords="offset points", color="#C44E52", fontsize=9)
    ax.set_xlabel(f"{unit} after the TTL time")
    ax.set_ylabel("items")
    return fig


def item_sizes(frame: pd.DataFrame) -> Figure:
    """Histogram of archived record sizes (``record_bytes``) in KB, with Firehose's 5 KB rounding step."""
    fig, ax = _figure("Archived item sizes")
    if frame.empty or "record_bytes" not in frame:
        return _nothing(fig, ax, "items")
    kb = frame["record_bytes"].to_numpy() / 1024
    ax.hist(kb, bins=min(60, max(10, int(np.sqrt(len(kb))))), color="#8172B2")
    ax.axvline(FIREHOSE_RECORD_ROUNDING / 1024, color="#C44E52", linestyle=":", linewidth=1.5)
    ax.annotate("5 KB: Firehose bills each record rounded up to this", (FIREHOSE_RECORD_ROUNDING / 1024, ax.get_ylim()[1] * 0.9), xytext=(4, 0), textcoords="offset points", fontsize=9, color="#C44E52")
    ax.set_xlabel("KB per archived item (one JSON line)")
    ax.set_ylabel("items")
    return fig


def object_sizes(objects: pd.DataFrame) -> Figure:
    """Histogram of archive object sizes (as stored, compressed) in KB, with the 128 KB below which
    S3 lifecycle rules do not transition objects by default (and Standard-IA bills as 128 KB)."""
    fig, ax = _figure("Archive objects and their sizes (the many-small-files question)")
    if objects.empty:
        return _nothing(fig, ax, "objects")
    kb = objects["size"].to_numpy() / 1024
    small = int((objects["size"] < LIFECYCLE_MIN_OBJECT).sum())
    ax.hist(kb, bins=min(50, max(10, int(np.sqrt(len(kb))))), color="#DD8452")
    ax.axvline(LIFECYCLE_MIN_OBJECT / 1024, color="#C44E52", linestyle=":", linewidth=1.5)
    ax.annotate(
        f"128 KB: {small:,} of {len(objects):,} objects are smaller",
        (LIFECYCLE_MIN_OBJECT / 1024, ax.get_ylim()[1] * 0.9),
        xytext=(4, 0),
        textcoords="offset points",
        fontsize=9,
        color="#C44E52",
    )
    if kb.max() > LIFECYCLE_MIN_OBJECT / 1024 * 4:
        ax.set_xscale("log")
    ax.set_xlabel("KB per object (stored)")
    ax.set_ylabel("objects")
    return fig


def object_summary(objects: pd.DataFrame) -> pd.DataFrame:
    """One row of figures about the objects: count, total and median size, share under 128 KB, items per object."""
    if objects.empty:
        return pd.DataFrame([{"objects": 0}])
    return pd.DataFrame(
        [
            {
                "objects": len(objects),
                "stored MB": round(objects["size"].sum() / 1e6, 3),
                "median KB": round(objects["size"].median() / 1024, 1),
                "under 128 KB": f"{(objects['size'] < LIFECYCLE_MIN_OBJECT).mean():.0%}",
                "items per object (median)": objects["rows"].median(),
                "compression ratio": round(objects["decompressed_bytes"].sum() / max(1, objects["size"].sum()), 1),
            }
        ]
    )
