"""helpers.archive_charts: charts that hold on any data (one item, a month, one object, 100,000 objects)."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from helpers import archive_charts as charts
from helpers import archive_stats


def _frame(deleted, ttl=None, record_bytes=None):
    deleted = pd.to_datetime(pd.Series(deleted), utc=True)
    ttl = deleted - pd.Timedelta(seconds=61) if ttl is None else pd.to_datetime(pd.Series(ttl), utc=True)
    sizes = record_bytes if record_bytes is not None else [700] * len(deleted)
    return pd.DataFrame({"deleted_at": deleted, "ttl": ttl, "record_bytes": sizes})


def _texts(fig):
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title, ax.xaxis.label])


def test_an_hourly_bar_covers_exactly_the_hour_it_counts():
    # the walkthrough's case: every item deleted within one minute, at 10:59
    frame = _frame(["2026-11-26T10:59:10Z", "2026-11-26T10:59:40Z"])
    fig = charts.items_over_time(frame)
    (bar,) = fig.axes[0].patches
    left = mdates.num2date(bar.get_x())
    assert (left.hour, left.minute) == (10, 0)
    assert bar.get_width() == pytest.approx(1 / 24)
    assert bar.get_height() == 2
    low, high = fig.axes[0].get_xlim()
    assert high - low >= 3 / 24  # the lone bar is a third of the axis at most, never a sliver or the whole axis


def test_hourly_bars_of_a_month_are_aligned_and_count_every_item():
    rng = np.random.default_rng(1)
    times = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 30 * 86400, 5000), unit="s")
    fig = charts.items_over_time(_frame(times))
    (steps,) = fig.axes[0].patches  # 720 hours: drawn as one step patch
    values, edges = steps.get_data()[:2]
    assert values.sum() == 5000 and len(values) == 720
    assert all(mdates.num2date(e).minute == 0 and mdates.num2date(e).second == 0 for e in edges)
    assert np.allclose(np.diff(edges), 1 / 24)


def test_the_lag_chart_says_what_the_lag_is_measured_from():
    rng = np.random.default_rng(2)
    ttl = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 86400, 2000), unit="s")
    deleted = ttl + pd.to_timedelta(rng.lognormal(np.log(1200), 1.0, 2000), unit="s")
    fig = charts.deletion_delay(_frame(deleted, ttl))
    text = _texts(fig)
    assert "measured from the item's TTL value" in text and "median" in text and "99th" in text


def test_the_lag_chart_says_so_when_every_item_has_the_same_lag():
    frame = _frame(["2026-11-26T10:59:10Z"] * 100)
    text = _texts(charts.deletion_delay(frame))
    assert "Every item (100) was deleted 61.0 s after its TTL time" in text
    assert "not a lag" in text


@pytest.mark.parametrize("count", [1, 100_000])
def test_object_sizes_are_readable_with_one_or_many_objects(count):
    rng = np.random.default_rng(3)
    sizes = [3_700] if count == 1 else np.exp(rng.normal(np.log(60_000), 1.5, count)).astype(int)
    objects = pd.DataFrame({"size": sizes})
    fig = charts.object_sizes(objects)
    ax = fig.axes[0]
    heights = [b.get_height() for b in ax.patches]
    assert sum(heights) == count and len(heights) == len(charts.SIZE_BANDS_KB) - 1
    labels = [t.get_text() for t in ax.texts]
    small = int((objects["size"] < 128 * 1024).sum())
    assert any(f"{small:,} of {count:,} objects" in t for t in labels)
    # the count of the band holding the lone object is written on its bar
    assert any(t.get_text() == "1" for t in ax.texts) if count == 1 else True
    assert min(h for h in heights if h) >= 1 and ax.get_ylim()[1] >= max(heights)


def test_the_daily_rhythm_shows_the_busy_hours():
    rng = np.random.default_rng(4)
    days = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(np.repeat(np.arange(10), 1000), unit="D")
    hours = np.where(rng.random(10_000) < 0.7, rng.uniform(12, 15, 10_000), rng.uniform(0, 24, 10_000))
    fig = charts.daily_rhythm(_frame(days + pd.to_timedelta(hours, unit="h")))
    heights = [b.get_height() for b in fig.axes[0].patches[:24]]
    assert int(np.argmax(heights)) in (12, 13, 14)


def test_the_buffer_what_if_chart_marks_this_stream():
    rng = np.random.default_rng(5)
    times = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 86400, 20_000)), unit="s")
    table = archive_stats.buffer_what_if(_frame(times), compression_ratio=5.0)
    fig = charts.buffer_what_if(table, current=(5, 60))
    left = fig.axes[0]
    assert len(left.get_lines()) == 4 and left.get_yscale() == "log"


@pytest.mark.parametrize("chart", [charts.items_over_time, charts.daily_rhythm, charts.deletion_delay, charts.item_sizes])
def test_item_charts_say_so_when_the_archive_is_empty(chart):
    empty = pd.DataFrame({"deleted_at": pd.Series(dtype="datetime64[ns, UTC]"), "ttl": pd.Series(dtype="datetime64[ns, UTC]"), "record_bytes": pd.Series(dtype="int64")})
    assert "No items" in _texts(chart(empty)) or "No items" in " ".join(t.get_text() for t in chart(empty).axes[0].texts)


def test_object_charts_say_so_when_there_is_no_object():
    assert "No objects" in _texts(charts.object_sizes(pd.DataFrame({"size": []})))
    assert "No items" in _texts(charts.buffer_what_if(archive_stats.buffer_what_if(_frame([]), 5.0)))


def test_the_buffer_what_if_counts_objects_not_a_daily_rate_for_an_archive_of_minutes():
    frame = _frame(pd.Timestamp("2026-11-26T10:59:00Z") + pd.to_timedelta(np.arange(100) * 0.3, unit="s"))
    table = archive_stats.buffer_what_if(frame, compression_ratio=19.0)
    left = charts.buffer_what_if(table, current=(5, 60)).axes[0]
    assert "under a day" in left.get_ylabel()
    assert all(line.get_ydata().tolist() == [1, 1, 1] for line in left.get_lines())
