"""A realistic archive without waiting a month: D days of a time-series table, deleted by TTL with a stated
lag model, archived by the real archiver code and buffered as Firehose buffers, written with historical dates.

What is simulated, stage by stage (every stage's model is a parameter of :class:`Workload`):

1. **Writes.** ``items_per_day`` sensor readings a day for ``days`` days. Within a day the write rate follows
   a daily rhythm, ``rate(h) ~ 1 + rhythm * cos(2 pi (h - peak_hour) / 24)`` (UTC hours): with ``rhythm=0.6``
   the busiest hour has four times the writes of the quietest. Items vary in size: each carries a few raw samples
   and a diagnostic ``trace`` text whose length is log-normal (log sd ``size_spread``) so that the median item
   is about ``item_bytes``; a few items (``large_share``) carry a long ``note`` of up to ``large_bytes``. Each item's TTL is its write time plus ``ttl_days`` (whole seconds).
2. **TTL deletion**, the stated assumption (:class:`LagModel`): AWS deletes an expired item "within a few
   days" (the API reference: within two days), typically much sooner. The lag (deletion time minus TTL
   time) is log-normal with median ``median_minutes`` for most items, and exponential with mean
   ``tail_hours`` for a share ``tail_share`` (the items a busy table's background scan reaches late), cut at
   ``max_hours``. These numbers are an assumption, not AWS data: measure your own table's lag in notebook 06
   (the archive holds both times) and put your figures here.
3. **Stream and trigger.** Deletions in time order are grouped as the trigger groups them (``BatchSize``
   100, ``MaximumBatchingWindowInSeconds`` 1, :mod:`helpers.trigger`): a batch opens at its first record and
   closes when full or when the window ends; the function runs ``invoke_seconds`` later.
4. **The archiver.** Each batch, as Lambda event records (TTL ``REMOVE`` with ``userIdentity``), goes
   through :func:`helpers.archiver.encode_records` and :func:`helpers.archiver.pack_records`, the code the
   deployed function runs: the lines and Firehose records are the real ones.
5. **Firehose.** One buffer: it opens at the first record's arrival and is written as one object when it
   holds ``buffer_size_mib`` MiB (at the record that reaches it) or when ``buffer_interval_s`` has passed
   since it opened (records arriving later open the next buffer). Objects are GZIP (level 6, as the local
   runtime writes them), keyed as Firehose keys them: the stream's prefix with its ``!{timestamp:...}``
   expressions expanded at the first record's arrival (:func:`helpers.local.runtime.firehose.expand_prefix`,
   prefix from :func:`helpers.firehose.object_prefixes`), then ``<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``.

Speed: stages 1-3 are numpy; stage 4 runs on a process pool in chunks of whole batches; stage 5 cuts
objects in the main process and compresses and writes them on threads (zlib releases the GIL). Output is
deterministic for a seed (object names included). ``bench/bench_sample.py`` measures it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import uuid
from bisect import bisect_right
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator

import numpy as np

from . import archiver
from .sample_output import Destination, FolderDestination, S3Destination, gzip_object

LOG = logging.getLogger(__name__)

DAY = 86_400
MAX_CHUNK_ITEMS = 40_000  # items per process-pool task (whole trigger batches)
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


def _default_start() -> date:
    return (datetime.now(timezone.utc) - timedelta(days=33)).date()


@dataclass(frozen=True)
class Workload:
    """What to generate. ``start`` is the first day of writes (UTC); deletions, and so the archive's dates,
    begin ``ttl_days`` later. Validated on creation (``ValueError`` naming the field)."""

    days: int = 30
    items_per_day: int = 100_000
    start: date = field(default_factory=_default_start)
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
    stream: str = "ttl-archive-sample-archive"
    prefix: str = "archive/"
    buffer_size_mib: int = 5
    buffer_interval_s: int = 60
    batch_size: int = 100
    batching_window_s: float = 1.0
    invoke_seconds: float = 0.3
    seed: int = 1

    def __post_init__(self) -> None:
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


# ----------------------------------------------------------------------------------------- stages 1-3


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


# ----------------------------------------------------------------------------------------- stage 4


_IDENTITY = {"type": "Service", "principalId": archiver.TTL_PRINCIPAL}


class _Items:
    """Builds the old images of one chunk: attribute values a device shares are built once and reused."""

    def __init__(self, w: Workload, seed: int) -> None:
        self.rng = random.Random(seed)
        self.w = w
        self.ids = [{"S": f"sensor-{d:05d}"} for d in range(w.devices)]
        self.kinds = [KINDS[d % len(KINDS)] for d in range(w.devices)]
        self.shared = [
            {
                "site": {"S": SITES[d % len(SITES)]},
                "kind": {"S": k[0]},
                "unit": {"S": k[1]},
                "location": {"M": {"floor": {"N": str(d % 12)}, "rack": {"S": f"r{d % 40:02d}"}, "indoor": {"BOOL": d % 5 != 0}}},
            }
            for d, k in enumerate(self.kinds)
        ]
        self.statuses = [{"S": s} for s in STATUSES]
        self.firmware = [{"S": f"fw-2.{v}.{v * 7 % 10}"} for v in range(8)]
        self.pool: dict[int, dict] = {}
        rng = self.rng
        words = ("ok", "retry", "sync", "drift", "calib", "temp", "volt", "link", "gc", "flush", "ack", "tick")
        parts, size = [], 0
        while size < max(w.large_bytes, 65_536) + 8192:
            part = f"t+{rng.randrange(10_000):04d} {rng.choice(words)}={rng.randrange(4096)} "
            parts.append(part)
            size += len(part)
        self.text = "".join(parts)

    def samples(self, k: int, variant: int) -> dict:
        key = k * 64 + variant % 64
        value = self.pool.get(key)
        if value is None:
            value = self.pool[key] = {"L": [{"N": str(self.rng.randrange(100, 4096))} for _ in range(k)]}
        return value

    def image(self, t: Timeline, j: int, index: int) -> dict:
        d = int(t.device[j])
        name, _, mean, sd = self.kinds[d]
        image = {
            "id": self.ids[d],
            "timestamp": {"N": str(int(t.write[j] * 1000))},
            self.w.ttl_attribute: {"N": str(int(t.ttl[j]))},
            "reading": {"N": f"{mean + sd * (t.reading[j] * 3.4 - 1.7):.2f}"},
            "status": self.statuses[int(t.status[j])],
            "samples": self.samples(int(t.samples[j]), index),
            "firmware": self.firmware[d % 8],
            **self.shared[d],
        }
        text = self.text
        for attr, length in (("trace", int(t.trace[j])), ("note", int(t.note[j]))):
            if length:
                start = (index * 7919) % 8192
                image[attr] = {"S": text[start : start + length] if length <= len(text) - start else (text * (length // len(text) + 2))[start : start + length]}
        return image


def _stream_records(w: Workload, t: Timeline, lo: int, hi: int, items: _Items) -> list[dict]:
    arn = f"arn:aws:dynamodb:{w.region}:{w.account}:table/{w.table}/stream/{w.start.isoformat()}T00:00:00.000"
    base = 10**20 + (w.seed % 10**6) * 10**12
    records = []
    for j in range(lo, hi):
        image = items.image(t, j, j)
        records.append({
            "eventID": f"{w.seed % 65536:04x}{j:028x}",
            "eventName": "REMOVE",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": w.region,
            "eventSourceARN": arn,
            "userIdentity": _IDENTITY,
            "dynamodb": {
                "ApproximateCreationDateTime": int(t.deleted[j]),
                "Keys": {"id": image["id"], "timestamp": image["timestamp"]},
                "OldImage": image,
                "SequenceNumber": str(base + j),
                "SizeBytes": 0,
                "StreamViewType": "OLD_IMAGE",
            },
        })
    return records


@dataclass
class _Chunk:
    """What stage 4 gives stage 5 for a run of batches: per Firehose record its arrival time and size, and
    the records' data back to back."""

    arrivals: list
    sizes: list
    data: bytes
    lines: int
    split_items: int


def _archive_chunk(w: Workload, t: Timeline, batches: range) -> _Chunk:
    """Run the batches ``batches`` (indices into ``t.batch_starts``) through the archiver's encoding and
    packing. Deterministic: the chunk's own random generator is seeded from the workload and first batch."""
    config = archiver.load_config({"DELIVERY_STREAM_NAME": w.stream, "TTL_ATTRIBUTE": w.ttl_attribute})
    items = _Items(w, w.seed * 1_000_003 + batches.start)
    arrivals, sizes, blobs = [], [], []
    lines = split = 0
    for b in batches:
        records = _stream_records(w, t, int(t.batch_starts[b]), int(t.batch_ends[b]), items)
        encoded = archiver.encode_records(records, config)
        lines += len(encoded.lines)
        split += encoded.split_items
        when = float(t.invoked[b])
        for record in archiver.pack_records(encoded.lines, config.target_record_bytes):
            arrivals.append(when)
            sizes.append(len(record.data))
            blobs.append(record.data)
    return _Chunk(arrivals, sizes, b"".join(blobs), lines, split)


_WORKER_STATE: dict[str, Any] = {}


def _worker_init(w: Workload, t: Timeline) -> None:
    _WORKER_STATE["w"], _WORKER_STATE["t"] = w, t


def _worker_chunk(batches: range) -> _Chunk:
    return _archive_chunk(_WORKER_STATE["w"], _WORKER_STATE["t"], batches)


def _chunks(t: Timeline) -> list[range]:
    """Runs of whole batches of at most about ``MAX_CHUNK_ITEMS`` items."""
    bounds = np.searchsorted(t.batch_starts, np.arange(0, len(t.deleted), MAX_CHUNK_ITEMS), side="left")
    edges = sorted(set(bounds.tolist()) | {len(t.batch_starts)})
    return [range(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def _archived_chunks(w: Workload, t: Timeline, workers: int) -> Iterator[_Chunk]:
    """Stage 4 for every chunk, in order; on ``workers`` processes (inline when 1), a bounded window ahead."""
    chunks = _chunks(t)
    if workers <= 1 or len(chunks) == 1:
        for batches in chunks:
            yield _archive_chunk(w, t, batches)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(w, t)) as pool:
        pending: list[Future] = []
        ahead = iter(chunks)
        for batches in ahead:
            pending.append(pool.submit(_worker_chunk, batches))
            if len(pending) > workers:
                break
        while pending:
            chunk = pending.pop(0).result()
            nxt = next(ahead, None)
            if nxt is not None:
                pending.append(pool.submit(_worker_chunk, nxt))
            yield chunk


# ----------------------------------------------------------------------------------------- stage 5


@dataclass
class _Object:
    opened: float  # first record's arrival: the key's time
    written: float  # when Firehose writes it: size reached, or opened + interval
    parts: list


def _firehose_objects(w: Workload, chunks: Iterator[_Chunk], stats: dict) -> Iterator[_Object]:
    """Cut the records into objects by Firehose's buffering rules (see the module docstring)."""
    limit = w.buffer_size_mib * 1024 * 1024
    interval = float(w.buffer_interval_s)
    parts: list = []
    size = 0
    opened = None
    for chunk in chunks:
        stats["lines"] += chunk.lines
        stats["split_items"] += chunk.split_items
        stats["records"] += len(chunk.sizes)
        view = memoryview(chunk.data)
        pos = 0
        for when, n in zip(chunk.arrivals, chunk.sizes):
            if opened is not None and when >= opened + interval:
                yield _Object(opened, opened + interval, parts)
                parts, size, opened = [], 0, None
            if opened is None:
                opened = when
            parts.append(view[pos : pos + n])
            pos += n
            size += n
            if size >= limit:
                yield _Object(opened, when, parts)
                parts, size, opened = [], 0, None
    if parts:
        yield _Object(opened, opened + interval, parts)


def object_name(w: Workload, opened: float, rng: random.Random) -> str:
    """The key Firehose gives an object whose first record arrived at ``opened`` (epoch seconds)."""
    from .local.runtime.firehose import expand_prefix

    moment = datetime.fromtimestamp(opened, tz=timezone.utc)
    from .firehose import TIMESTAMP_PATH

    name = f"{w.stream}-1-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.UUID(int=rng.getrandbits(128), version=4)}.gz"
    return expand_prefix(w.prefix + TIMESTAMP_PATH, moment) + name


# ----------------------------------------------------------------------------------------- the run


@dataclass
class SampleResult:
    """What :func:`generate` wrote (or found already there)."""

    action: str  # "created" or "already there"
    destination: str
    items: int
    objects: int
    records: int
    lines: int
    split_items: int
    raw_bytes: int
    stored_bytes: int
    first_key: str
    last_key: str
    seconds: float
    workload: dict
    lag_model: str

    def summary(self) -> str:
        ratio = self.raw_bytes / max(1, self.stored_bytes)
        return (
            f"{self.action}: {self.items:,} items in {self.objects:,} GZIP objects ({self.stored_bytes / 1e6:,.1f} MB stored, "
            f"{self.raw_bytes / 1e6:,.1f} MB of lines, {ratio:.1f}x compression) in {self.destination} "
            f"[{self.first_key} ... {self.last_key}] in {self.seconds:.1f} s"
        )


def manifest_key(prefix: str) -> str:
    """Where the workload's description is kept: beside the prefix, never under it (readers skip it)."""
    return prefix.rstrip("/") + ".sample.json"


def generate(workload: Workload, destination: Destination, *, workers: int | None = None, progress: bool = False) -> SampleResult:
    """Generate ``workload``'s archive into ``destination`` (:class:`FolderDestination` or :class:`S3Destination`).

    Idempotent: when the destination already holds this workload's archive (its manifest, written last,
    matches) nothing is written and the result says "already there". A destination whose prefix holds other
    objects, or a manifest of another workload, is refused with ``ValueError`` before anything is written:
    nothing is ever overwritten or deleted. ``workers`` processes encode (default: the CPU count).
    """
    import time

    started = time.monotonic()
    wanted = workload.describe()
    key = manifest_key(workload.prefix)
    found = destination.read_manifest(key)
    if found is not None:
        if found.get("workload") == json.loads(json.dumps(wanted, default=str)):
            LOG.info("sample archive already in %s", destination)
            return SampleResult(**{**found["result"], "action": "already there"})
        raise ValueError(f"{destination} already holds a sample archive of another workload ({key}): choose another folder or prefix")
    if destination.holds_objects(workload.prefix):
        raise ValueError(f"{destination} already holds objects under {workload.prefix!r}: choose an empty folder or prefix (nothing was written)")
    t = timeline(workload)
    stats = {"lines": 0, "split_items": 0, "records": 0, "objects": 0, "raw": 0, "stored": 0}
    names = random.Random(workload.seed)
    first = last = ""
    bar = _progress(progress, workload.items)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sample-write") as writers:
        inflight: list[Future] = []
        chunks = _counted(_archived_chunks(workload, t, workers or os.cpu_count() or 1), bar)
        for obj in _firehose_objects(workload, chunks, stats):
            name = object_name(workload, obj.opened, names)
            first = first or name
            last = name
            inflight.append(writers.submit(_write, destination, name, obj))
            while len(inflight) > 16:
                _tally(stats, inflight.pop(0).result())
        for fut in inflight:
            _tally(stats, fut.result())
    if bar is not None:
        bar.close()
    result = SampleResult(
        action="created", destination=str(destination), items=workload.items, objects=stats["objects"],
        records=stats["records"], lines=stats["lines"], split_items=stats["split_items"], raw_bytes=stats["raw"],
        stored_bytes=stats["stored"], first_key=first, last_key=last, seconds=round(time.monotonic() - started, 2),
        workload=wanted, lag_model=workload.lag.describe(),
    )
    destination.write_manifest(key, {"workload": wanted, "result": asdict(result)})
    LOG.info("%s", result.summary())
    return result


def _write(destination: Destination, name: str, obj: _Object) -> tuple[int, int]:
    raw = b"".join(obj.parts)
    data = gzip_object(raw, obj.opened)
    destination.write_object(name, data, obj.written)
    return len(raw), len(data)


def _tally(stats: dict, sizes: tuple[int, int]) -> None:
    stats["objects"] += 1
    stats["raw"] += sizes[0]
    stats["stored"] += sizes[1]


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="item", desc="sample archive")


def _counted(chunks: Iterator[_Chunk], bar) -> Iterator[_Chunk]:
    for chunk in chunks:
        if bar is not None:
            bar.update(chunk.lines)
        yield chunk
