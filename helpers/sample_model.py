"""The workload of :mod:`helpers.sample` and its stages 1-3 (writes, TTL deletion lag, trigger batches), in numpy.

See :mod:`helpers.sample` for the model of each stage.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np

from . import archiver

DAY = 86_400
SITES = ("tokyo-1", "tokyo-2", "osaka-1", "nagoya-1", "sapporo-1", "fukuoka-1")
KINDS = (("temperature", "C", 21.0, 4.0), ("humidity", "%", 55.0, 12.0), ("power", "W", 320.0, 90.0), ("vibration", "mm/s", 2.5, 1.2))
STATUSES = ("ok",) * 97 + ("warn",) * 2 + ("fault",)
BASE_ITEM_BYTES = 300  # an item's JSON without its trace text (keys, reading, samples, site, location...)
MIN_SAMPLES, MAX_SAMPLES = 4, 16  # raw 12-bit ADC counts per reading (whole numbers: the archiver's fast path)
MAX_TRACE = 300_000  # bytes of trace text at most (the item stays under DynamoDB's 400 KB)


@dataclass(frozen=True)
class LagModel:
    """How late TTL deletes an expired item (deletion time minus TTL time): a stated assumption.

    A share ``1 - tail_share`` of the items is deleted after a log-normal lag (median ``median_minutes``,
    log standard deviation ``spread``); the rest after an exponential lag with mean ``tail_hours``. Every lag
    is cut to ``[min_seconds, max_hours]``. ``LagModel.fixed(s)`` gives every item the same lag.
    """

    median_minutes: float = 20.0
    spread: float = 1.0
    tail_share: float = 0.05
    tail_hours: float = 6.0
    max_hours: float = 48.0
    min_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name in ("median_minutes", "max_hours"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LagModel.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("spread", "tail_hours", "min_seconds"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"LagModel.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.tail_share <= 1:
            raise ValueError(f"LagModel.tail_share is a share (0-1), got {self.tail_share!r}")
        if self.min_seconds > self.max_hours * 3600:
            raise ValueError("LagModel.min_seconds must not exceed max_hours")

    @classmethod
    def fixed(cls, seconds: float) -> "LagModel":
        """Every item deleted exactly ``seconds`` after its TTL time."""
        return cls(median_minutes=seconds / 60, spread=0.0, tail_share=0.0, max_hours=seconds / 3600, min_seconds=seconds)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` lags in seconds (float64)."""
        lag = np.exp(rng.normal(math.log(self.median_minutes * 60), self.spread, n)) if self.spread else np.full(n, self.median_minutes * 60.0)
        if self.tail_share:
            tail = rng.random(n) < self.tail_share
            lag[tail] = rng.exponential(self.tail_hours * 3600, int(tail.sum()))
        return np.clip(lag, self.min_seconds, self.max_hours * 3600)

    def describe(self) -> str:
        if self.spread == 0 and self.tail_share == 0:
            return f"every item deleted {self.median_minutes * 60:g} s after its TTL time"
        return (
            f"lag after the TTL time: log-normal, median {self.median_minutes:g} min (log sd {self.spread:g}) for "
            f"{1 - self.tail_share:.0%} of items; exponential, mean {self.tail_hours:g} h for {self.tail_share:.0%}; "
            f"never more than {self.max_hours:g} h (an assumption: AWS documents only 'within a few days')"
        )


@dataclass(frozen=True)
class Workload:
    """What to generate. ``start`` is the first day of writes (UTC); deletions, and so the archive's dates,
    begin ``ttl_days`` later. Validated on creation (``ValueError`` naming the field)."""

    days: int = 30
    items_per_day: int = 100_000
    start: date | None = None  # None: the archive (writes + TTL + two days of lag) ends before today
    ttl_days: float = 3.0
    peak_hour: float = 13.0
    rhythm: float = 0.6
    item_bytes: int = 400
    size_spread: float = 0.7
    large_share: float = 0.002
    large_bytes: int = 30_000
    devices: int = 500
    lag: LagModel = field(default_factory=LagModel)
    table: str = "ttl-archive-sample-items"
    region: str = "us-east-1"
    account: str = "123456789012"
    ttl_attribute: str = "expires_at"
    partition_key: str = "id"  # S: the device
    sort_key: str = "timestamp"  # N: the write time in epoch milliseconds
    stream: str = "ttl-archive-sample-archive"
    prefix: str = "archive/"
    buffer_size_mib: int = 5
    buffer_interval_s: int = 60
    batch_size: int = 100
    batching_window_s: float = 1.0
    invoke_seconds: float = 0.3
    seed: int = 1

    def __post_init__(self) -> None:
        if self.start is None and isinstance(self.days, int) and isinstance(self.ttl_days, (int, float)):
            today = datetime.now(timezone.utc).date()
            object.__setattr__(self, "start", today - timedelta(days=self.days + math.ceil(self.ttl_days) + 3))
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise ValueError(f"start must be a date (the first day of writes), got {self.start!r}")
        _check_int(self, "days", 1, 3660)
        _check_int(self, "items_per_day", 1, 50_000_000)
        _check_int(self, "devices", 1, 1_000_000)
        _check_int(self, "item_bytes", 100, 400_000)
        _check_int(self, "large_bytes", 1, 90_000)
        _check_int(self, "buffer_size_mib", 1, 128, "Firehose buffer size (1-128 MiB)")
        _check_int(self, "buffer_interval_s", 0, 900, "Firehose buffer interval (0-900 s)")
        _check_int(self, "batch_size", 1, 10_000, "the trigger's BatchSize")
        for name, low, high in (("ttl_days", 0, 3650), ("peak_hour", 0, 24), ("rhythm", 0, 1), ("size_spread", 0, 3),
                                ("large_share", 0, 1), ("batching_window_s", 0, 300), ("invoke_seconds", 0, 900)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number from {low} to {high}, got {value!r}")
        if not isinstance(self.lag, LagModel):
            raise ValueError(f"lag must be a LagModel, got {self.lag!r}")
        if not self.prefix or not self.prefix.endswith("/") or self.prefix.startswith("/") or "!{" in self.prefix:
            raise ValueError(f"prefix must be a literal S3 prefix ending in '/', like 'archive/', got {self.prefix!r}")
        archiver.load_config({"DELIVERY_STREAM_NAME": self.stream, "TTL_ATTRIBUTE": self.ttl_attribute})
        names = (self.partition_key, self.sort_key, self.ttl_attribute)
        if len(set(names)) != 3 or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"partition_key, sort_key and ttl_attribute must be three different names, got {names!r}")

    @property
    def items(self) -> int:
        return self.days * self.items_per_day

    @property
    def first_write(self) -> int:
        return int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=timezone.utc).timestamp())

    def describe(self) -> dict[str, Any]:
        """The workload as plain JSON-able values (written next to the archive as its manifest)."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        return out


def _check_int(w: Workload, name: str, low: int, high: int, what: str = "") -> None:
    value = getattr(w, name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}{f' ({what})' if what else ''}, got {value!r}")


@dataclass
class Timeline:
    """Every item in deletion order: write time, TTL, deletion time (s), device, samples, note length,
    reading, status; and the trigger batches as (first item, end item, invocation time)."""

    write: np.ndarray
    ttl: np.ndarray
    deleted: np.ndarray
    device: np.ndarray
    samples: np.ndarray
    trace: np.ndarray
    note: np.ndarray
    reading: np.ndarray
    status: np.ndarray
    batch_starts: np.ndarray
    batch_ends: np.ndarray
    invoked: np.ndarray


def _write_times(w: Workload, rng: np.random.Generator) -> np.ndarray:
    """Seconds since the epoch: ``items_per_day`` a day, the rate following the daily rhythm."""
    grid = np.arange(DAY + 1, dtype=np.float64)
    rate = 1.0 + w.rhythm * np.cos(2 * np.pi * (grid / 3600.0 - w.peak_hour) / 24.0)
    cdf = np.concatenate([[0.0], np.cumsum((rate[:-1] + rate[1:]) / 2)])
    within = np.interp(rng.random(w.items), cdf / cdf[-1], grid)
    day = np.repeat(np.arange(w.days, dtype=np.float64), w.items_per_day)
    return w.first_write + day * DAY + np.minimum(within, DAY - 1e-6)


def _trigger_batches(deleted: np.ndarray, w: Workload) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group deletions (sorted seconds) as the trigger does: at most ``batch_size`` records, none later than
    ``batching_window_s`` after the batch's first. Returns first and end item and the invocation time of each
    batch: when it is full (its last record's time) or its window ends, plus ``invoke_seconds``."""
    times = deleted.tolist()
    starts: list[int] = []
    n, i = len(times), 0
    window, size = w.batching_window_s, w.batch_size
    while i < n:
        starts.append(i)
        end = min(n, i + size)
        if times[end - 1] > times[i] + window:
            end = bisect_right(times, times[i] + window, i, end)
        i = end
    first = np.asarray(starts, dtype=np.int64)
    ends = np.append(first[1:], n).astype(np.int64)
    full = (ends - first) >= size
    closes = np.where(full, deleted[ends - 1], deleted[first] + window)
    return first, ends, closes + w.invoke_seconds


def timeline(w: Workload) -> Timeline:
    """Stages 1-3 for every item, in deletion order (vectorised; no archive line is built here)."""
    rng = np.random.default_rng(w.seed)
    write = _write_times(w, rng)
    ttl = np.floor(write + w.ttl_days * DAY).astype(np.int64)
    deleted = ttl + w.lag.sample(rng, w.items)
    order = np.argsort(deleted, kind="stable")
    deleted = deleted[order]
    target = max(1.0, w.item_bytes - BASE_ITEM_BYTES)
    trace = np.exp(rng.normal(math.log(target), w.size_spread, w.items)) if w.item_bytes > BASE_ITEM_BYTES else np.zeros(w.items)
    large = rng.random(w.items) < w.large_share
    note = np.where(large, rng.integers(1_000, max(1_001, w.large_bytes), w.items), 0)
    starts, ends, invoked = _trigger_batches(deleted, w)
    return Timeline(
        write=write[order], ttl=ttl[order], deleted=deleted, device=rng.integers(0, w.devices, w.items),
        samples=rng.integers(MIN_SAMPLES, MAX_SAMPLES + 1, w.items).astype(np.int16),
        trace=np.clip(np.rint(trace), 0, MAX_TRACE).astype(np.int32), note=note.astype(np.int32),
        reading=rng.random(w.items), status=rng.integers(0, len(STATUSES), w.items),
        batch_starts=starts, batch_ends=ends, invoked=invoked,
    )


