"""Charts of the archive for notebook 06: each function takes what :func:`helpers.archive_reader.read_archive`
returned and gives back a matplotlib ``Figure`` (never pyplot state, so nothing is drawn twice).

Every chart holds on any data: an empty archive (it says so in the figure), one item or one object (bars keep
a readable width and carry their counts), a month of items or 100,000 objects (log scales or size bands).
Time bins are drawn over exactly the interval they count (a bar for 10:00 covers 10:00-11:00 UTC).
"""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

FIREHOSE_RECORD_ROUNDING = 5 * 1024  # Firehose bills each record rounded up to a multiple of 5 KB
LIFECYCLE_MIN_OBJECT = 128 * 1024  # by default S3 lifecycle does not transition objects under 128 KB
TTL_DELETE_WINDOW_HOURS = 48  # "within a few days"; the API reference says within two days
SIZE_BANDS_KB = (0, 4, 16, 64, 128, 512, 2048, 8192, 32768, np.inf)  # 128 is a band edge: the lifecycle mark
LAG_FROM = "deleted_at (the stream record's time of the delete) minus the item's TTL value"


def _figure(title: str, width: float = 8.0, height: float = 3.6, ncols: int = 1) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    if ncols == 1:
        axes.set_title(title)
    else:
        fig.suptitle(title)
    return fig, axes


def _nothing(fig: Figure, ax: object, what: str) -> Figure:
    ax.text(0.5, 0.5, f"No {what} in the archive yet", ha="center", va="center", transform=ax.transAxes, fontsize=12, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _note(ax: object, text: str, y: float = 0.97) -> None:
    ax.text(0.01, y, text, transform=ax.transAxes, va="top", fontsize=9, color="#444444",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "#cccccc"})


def _times(frame: pd.DataFrame) -> pd.Series:
    return frame["deleted_at"].dropna() if "deleted_at" in frame else pd.Series(dtype="datetime64[ns, UTC]")


def items_over_time(frame: pd.DataFrame, freq: str | None = None) -> Figure:
    """Items archived per hour (``freq="h"``) or per day (``"D"``), by deletion time (UTC). Each bar spans
    exactly the hour or day it counts. ``freq=None``: hours for up to 45 days of data, days beyond."""
    fig, ax = _figure("Items archived over time (by deletion time)")
    times = _times(frame)
    if times.empty:
        return _nothing(fig, ax, "items")
    if freq is None:
        freq = "h" if times.max() - times.min() <= pd.Timedelta(days=45) else "D"
    step = pd.Timedelta(1, unit=freq.lower())
    bins = times.dt.floor(freq)
    edges = pd.date_range(bins.min(), bins.max() + step, freq=step).tz_convert(None)
    counts = bins.dt.tz_convert(None).value_counts().reindex(edges[:-1], fill_value=0).to_numpy()
    if len(counts) > 100:  # one step line over many bins: the same edges, a fraction of the drawing time
        ax.stairs(counts, mdates.date2num(edges), fill=True, color="#4C72B0")
        ax.xaxis_date()
    else:
        ax.bar(edges[:-1], counts, width=step, align="edge", color="#4C72B0", edgecolor="white", linewidth=0.3)
    if len(counts) < 4:  # a lone bar: show the hours around it, so it reads as one hour and not as the axis
        ax.set_xlim(edges[0] - step, edges[-1] + step)
    unit = "hour" if freq.lower() == "h" else "day"
    ax.set_ylabel(f"items per {unit}")
    ax.set_xlabel(f"deletion time (UTC); each bar covers one {unit} from its left edge")
    _note(ax, f"{len(times):,} items, {times.min():%Y-%m-%d %H:%M} to {times.max():%Y-%m-%d %H:%M} UTC")
    fig.autofmt_xdate()
    return fig


def daily_rhythm(frame: pd.DataFrame) -> Figure:
    """Items deleted per hour of the day (UTC): the mean over the days in the archive, with the range from
    the quietest to the busiest day. A table with a daily rhythm shows it here, shifted by its TTL and lag."""
    fig, ax = _figure("Daily rhythm: items deleted per hour of the day (UTC)")
    times = _times(frame)
    if times.empty:
        return _nothing(fig, ax, "items")
    table = pd.crosstab(times.dt.floor("D"), times.dt.hour).reindex(columns=range(24), fill_value=0)
    totals = table.sum(axis=1)
    full_days = table[totals >= 0.5 * totals.max()]  # partial days (the archive's first and last) would skew the mean
    mean = full_days.mean()
    ax.bar(np.arange(24), mean.to_numpy(), width=1.0, align="edge", color="#4C72B0", edgecolor="white", label="mean per day")
    if len(full_days) > 1:
        ax.fill_between(np.arange(25), np.append(full_days.min().to_numpy(), full_days.min().iloc[-1]),
                        np.append(full_days.max().to_numpy(), full_days.max().iloc[-1]), step="post", color="#DD8452", alpha=0.25, label="quietest to busiest day")
        ax.legend(loc="upper right", fontsize=9)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xlabel("hour of the day (UTC); each bar covers one hour from its left edge")
    ax.set_ylabel("items per hour")
    days = len(full_days)
    _note(ax, f"mean over {days} day{'s' if days != 1 else ''} (days with under half the busiest day's items left out)"
          + ("" if days > 2 else "\nfew days of data: a rhythm shows after several"))
    return fig


def _delay_unit(max_seconds: float) -> tuple[float, str, str]:
    """The unit that keeps the delays readable: seconds (a local run), minutes, or hours (AWS)."""
    if max_seconds < 120:
        return 1.0, "seconds", "s"
    if max_seconds < 2 * 3600:
        return 60.0, "minutes", "min"
    return 3600.0, "hours", "h"


def deletion_delay(frame: pd.DataFrame) -> Figure:
    """Histogram of how late TTL deleted each item, measured from the item's TTL time to the delete on the
    stream (``deleted_at - ttl``), with the median, the 95th and 99th percentiles and, when the delays come
    near it, the 48-hour mark AWS documents. A long tail gets a log axis. When every item has the same
    delay the chart says so: that is the data's TTL choice (a test, a demo), not a lag TTL produced."""
    fig, ax = _figure("How late TTL deleted each item")
    if frame.empty or "ttl" not in frame:
        return _nothing(fig, ax, "items")
    delay = (frame["deleted_at"] - frame["ttl"]).dropna()
    if delay.empty:
        return _nothing(fig, ax, "items with a TTL value")
    seconds = delay.dt.total_seconds().to_numpy()
    scale, unit, short = _delay_unit(float(seconds.max()))
    values = seconds / scale
    spread = float(values.max() - values.min())
    if spread * scale < 1.0:
        ax.bar([values[0]], [len(values)], width=max(abs(values[0]) * 0.05, 0.5), color="#55A868")
        _note(ax, f"Every item ({len(values):,}) was deleted {values[0]:.1f} {short} after its TTL time: one value, no\n"
                  "distribution. That is how the data was written (e.g. a demo's TTL already in the past), not a lag\nTTL produced.")
        ax.set_xlabel(f"{unit} from the TTL time to the delete on the stream")
        ax.set_ylabel("items")
        return fig
    positive = values[values > 0]
    log = len(positive) == len(values) and np.percentile(values, 99) > 20 * np.median(values)
    bins = np.geomspace(positive.min(), positive.max(), 60) if log else min(60, max(10, int(np.sqrt(len(values)))))
    ax.hist(values, bins=bins, color="#55A868")
    if log:
        ax.set_xscale("log")
    top = ax.get_ylim()[1]
    for q, label, style, y in ((50, "median", "-", 0.92), (95, "95th pct", "--", 0.78), (99, "99th pct", ":", 0.64)):
        value = np.percentile(values, q)
        ax.axvline(value, color="black", linestyle=style, linewidth=1)
        ax.annotate(f"{label}: {value:.1f} {short}", (value, top * y), xytext=(4, 0), textcoords="offset points", fontsize=9)
    if seconds.max() >= TTL_DELETE_WINDOW_HOURS * 3600 * 0.5:
        mark = TTL_DELETE_WINDOW_HOURS * 3600 / scale
        ax.axvline(mark, color="#C44E52", linestyle=":", linewidth=1.5)
        ax.annotate("48 h", (mark, top * 0.5), xytext=(-28, 0), textcoords="offset points", color="#C44E52", fontsize=9)
    ax.set_xlabel(f"{unit} from the TTL time to the delete{' (log scale)' if log else ''}")
    ax.set_ylabel("items")
    _note(ax, f"measured from the item's TTL value\nto its delete on the stream (deleted_at)\n{len(values):,} items; longest {values.max():.1f} {short}")
    return fig


def item_sizes(frame: pd.DataFrame) -> Figure:
    """Histogram of archived record sizes (``record_bytes``) in KB, with Firehose's 5 KB rounding step; a log
    axis when a few large items stretch the range."""
    fig, ax = _figure("Archived item sizes (one JSON line per item)")
    if frame.empty or "record_bytes" not in frame:
        return _nothing(fig, ax, "items")
    kb = frame["record_bytes"].to_numpy() / 1024
    log = kb.max() > 20 * np.median(kb)
    bins = np.geomspace(kb.min(), kb.max() * 1.001, 60) if log else min(60, max(10, int(np.sqrt(len(kb)))))
    ax.hist(kb, bins=bins, color="#8172B2")
    if log:
        ax.set_xscale("log")
    ax.axvline(FIREHOSE_RECORD_ROUNDING / 1024, color="#C44E52", linestyle=":", linewidth=1.5)
    ax.annotate("5 KB: Firehose bills each record rounded up to this", (FIREHOSE_RECORD_ROUNDING / 1024, ax.get_ylim()[1] * 0.9), xytext=(4, 0), textcoords="offset points", fontsize=9, color="#C44E52")
    ax.set_xlabel(f"KB per archived item{' (log scale)' if log else ''}")
    ax.set_ylabel("items")
    _note(ax, f"{len(kb):,} items; median {np.median(kb):.2f} KB, largest {kb.max():,.1f} KB", y=0.8)
    return fig


def _band_label(low: float, high: float) -> str:
    def kb(v: float) -> str:
        return f"{v / 1024:g} MB" if v >= 1024 else f"{v:g} KB"
    return f"≥ {kb(low)}" if np.isinf(high) else f"{kb(low)}-{kb(high)}" if low else f"< {kb(high)}"


def object_sizes(objects: pd.DataFrame) -> Figure:
    """Archive objects counted per size band (stored, compressed), the 128 KB lifecycle mark between two
    bands. Readable with one object or 100,000: every band is the same width and carries its count."""
    fig, ax = _figure("Archive objects per size band (the many-small-files question)")
    if objects.empty:
        return _nothing(fig, ax, "objects")
    kb = objects["size"].to_numpy() / 1024
    counts, _ = np.histogram(kb, bins=np.array(SIZE_BANDS_KB, dtype=float))
    labels = [_band_label(a, b) for a, b in zip(SIZE_BANDS_KB, SIZE_BANDS_KB[1:])]
    small = int((objects["size"] < LIFECYCLE_MIN_OBJECT).sum())
    colors = ["#DD8452" if high <= 128 else "#4C72B0" for high in SIZE_BANDS_KB[1:]]
    bars = ax.bar(range(len(counts)), counts, color=colors)
    ax.bar_label(bars, labels=[f"{c:,}" if c else "" for c in counts], fontsize=9, padding=2)
    mark = SIZE_BANDS_KB.index(128) - 0.5
    ax.axvline(mark, color="#C44E52", linestyle=":", linewidth=1.5)
    ax.set_ylim(0, max(counts.max() * 1.25, 1))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.annotate(f"128 KB: {small:,} of {len(objects):,} objects ({small / len(objects):.0%}) are smaller,\n"
                "so a lifecycle rule skips them by default", (mark, ax.get_ylim()[1] * 0.97), xytext=(6, 0),
                textcoords="offset points", fontsize=9, color="#C44E52", va="top")
    ax.set_xticks(range(len(counts)), labels, rotation=30, ha="right")
    ax.set_xlabel("stored size of the object (GZIP)")
    ax.set_ylabel("objects")
    return fig


def buffer_what_if(table: pd.DataFrame, current: tuple[float, float] | None = None) -> Figure:
    """What other Firehose buffers would make of the same items: objects per day (log scale) and the share of
    objects under 128 KB, per buffer interval, one line per buffer size. ``table`` is
    :func:`helpers.archive_stats.buffer_what_if`; ``current`` (MiB, s) marks the stream's own setting."""
    fig, (left, right) = _figure("What a larger Firehose buffer would change (the same items, replayed)", width=10, ncols=2)
    if table.empty:
        _nothing(fig, left, "items")
        return _nothing(fig, right, "items")
    per_day = "days" not in table or float(table["days"].iloc[0]) >= 1
    column = "objects_per_day" if per_day else "objects"  # under a day, a rate per day would be an extrapolation
    for size, rows in table.groupby("buffer_mib"):
        rows = rows.sort_values("interval_s")
        left.plot(rows["interval_s"], rows[column], marker="o", label=f"{size:g} MiB")
        right.plot(rows["interval_s"], rows["under_128kb"] * 100, marker="o", label=f"{size:g} MiB")
    if current is not None:
        here = table[(table["buffer_mib"] == current[0]) & (table["interval_s"] == current[1])]
        if not here.empty:
            left.scatter(here["interval_s"], here[column], s=160, facecolors="none", edgecolors="#C44E52", linewidths=2, zorder=3, label="this stream")
    left.set_yscale("log")
    left.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    left.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    for ax in (left, right):
        ax.set_xticks(sorted(table["interval_s"].unique()))
    spread = table.groupby("interval_s")["objects"].agg(lambda s: s.max() / max(1, s.min()))
    if (spread < 1.15).all():
        _note(left, "the lines lie on each other: at this rate the\ninterval fills no buffer, so the size changes nothing", y=0.2)
    left.set_xlabel("buffer interval (s)")
    left.set_ylabel("objects per day (log scale)" if per_day else "objects (archive spans under a day)")
    left.legend(title="buffer size", fontsize=8)
    right.set_ylim(-3, 103)
    right.set_xlabel("buffer interval (s)")
    right.set_ylabel("% of objects under 128 KB")
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
