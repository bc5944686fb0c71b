"""Stage 4 of :mod:`helpers.sample`: trigger batches as Lambda event records, through the real archiver code.

Each chunk of whole batches becomes DynamoDB stream records (TTL ``REMOVE`` with ``userIdentity``) and goes
through :func:`helpers.archiver.encode_records` and :func:`helpers.archiver.pack_records`; chunks run on a
process pool, a bounded window ahead, and come back in order.
"""

from __future__ import annotations

import random
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from . import archiver
from .sample_model import KINDS, SITES, STATUSES, Timeline, Workload

MAX_CHUNK_ITEMS = 40_000  # items per process-pool task (whole trigger batches)


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
            self.w.partition_key: self.ids[d],
            self.w.sort_key: {"N": str(int(t.write[j] * 1000))},
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
                "Keys": {w.partition_key: image[w.partition_key], w.sort_key: image[w.sort_key]},
                "OldImage": image,
                "SequenceNumber": str(base + j),
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


