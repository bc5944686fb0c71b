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
import os
import random
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Iterator

from .sample_model import DAY, LagModel, Timeline, Workload, timeline  # noqa: F401 - the public names live here
from .sample_output import Destination, FolderDestination, S3Destination, gzip_object  # noqa: F401
from .sample_stream import _archived_chunks, _Chunk

LOG = logging.getLogger(__name__)

__all__ = [
    "DAY", "LagModel", "Timeline", "Workload", "timeline", "Destination", "FolderDestination", "S3Destination",
    "SampleResult", "generate", "folder_name", "manifest_key", "object_name",
]


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


def folder_name(w: Workload) -> str:
    """A folder name that tells generated archives apart: the main parameters in words, then a digest of the
    whole workload (table and key names, lag model, region...), so changing anything, or generating for
    another stack, writes a new archive beside the old one instead of being refused."""
    import hashlib

    digest = hashlib.sha256(json.dumps(w.describe(), default=str, sort_keys=True).encode()).hexdigest()[:8]
    return f"sample-{w.start:%Y%m%d}-{w.days}d-{w.items_per_day}perday-{w.buffer_size_mib}mib-{w.buffer_interval_s}s-seed{w.seed}-{digest}"


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
        raise ValueError(f"{destination} already holds objects under {workload.prefix!r}: choose an empty folder or prefix "
                         "(nothing was written; an interrupted generation leaves objects without its manifest: delete those yourself)")
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
