"""Shared state of the local runtime: settings from the environment, counters, problems, the DynamoDB lock.

Stands in for AWS only; nothing here runs against a real account.

Settings (read when the server process starts; set them before ``python -m helpers.local start``):

``TTL_ARCHIVE_LOCAL_TTL_INTERVAL``            seconds between TTL sweeps (default 1)
``TTL_ARCHIVE_LOCAL_POLL_SECONDS``            stream poll interval of an idle trigger (default 0.25; AWS polls 4 times a second)
``TTL_ARCHIVE_LOCAL_RETRY_SECONDS``           first back-off before retrying a failed batch, doubled per failure up to 2 s (default 0.2)
``TTL_ARCHIVE_LOCAL_FIREHOSE_FLUSH_SECONDS``  longest time a Firehose buffer waits locally (default 1; AWS waits the stream's IntervalInSeconds)
``TTL_ARCHIVE_LOCAL_WORKER_IDLE_SECONDS``     a warm Lambda worker idle this long is stopped (default 30)
``TTL_ARCHIVE_LOCAL_STREAM_RETENTION_SECONDS`` stream records older than this are trimmed (default 86400, AWS's 24 hours)
``TTL_ARCHIVE_LOCAL_STATE_SAVE_SECONDS``      under continuous activity, a change waits at most this long to be saved to disk
                                              (default 60; otherwise the state is saved one second after it stops changing)
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import Any


def _float_env(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


class Settings:
    """The runtime's knobs, read from the environment once per server process."""

    def __init__(self) -> None:
        self.ttl_interval = _float_env("TTL_ARCHIVE_LOCAL_TTL_INTERVAL", 1.0, 0.05)
        self.poll_seconds = _float_env("TTL_ARCHIVE_LOCAL_POLL_SECONDS", 0.25, 0.01)
        self.retry_seconds = _float_env("TTL_ARCHIVE_LOCAL_RETRY_SECONDS", 0.2, 0.0)
        self.firehose_flush_seconds = _float_env("TTL_ARCHIVE_LOCAL_FIREHOSE_FLUSH_SECONDS", 1.0, 0.05)
        self.worker_idle_seconds = _float_env("TTL_ARCHIVE_LOCAL_WORKER_IDLE_SECONDS", 30.0, 1.0)
        self.stream_retention_seconds = _float_env("TTL_ARCHIVE_LOCAL_STREAM_RETENTION_SECONDS", 86400.0, 1.0)
        self.state_save_seconds = _float_env("TTL_ARCHIVE_LOCAL_STATE_SAVE_SECONDS", 60.0, 0.2)

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


SETTINGS = Settings()

# moto has no locking of its own. Every DynamoDB API request (see server._Extensions) and every
# runtime access to table items or stream shards holds this lock, so a TTL delete's "still expired?"
# check and the delete itself are atomic with respect to client writes, and stream sequence numbers
# are handed out one at a time.
DYNAMODB_LOCK = threading.RLock()

# Where the server listens; set by runtime.start(). Lambda workers get it as AWS_ENDPOINT_URL.
ENDPOINT: dict[str, str] = {"url": ""}


class Metrics:
    """Thread-safe counters shown by ``python -m helpers.local status`` under ``runtime``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self, prefix: str = "") -> dict[str, Any]:
        with self._lock:
            return {k[len(prefix):]: v for k, v in sorted(self._counts.items()) if k.startswith(prefix)}

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


METRICS = Metrics()


class Problems:
    """Errors inside the local runtime itself (not the function's): counted and shown, never only logged.

    Each problem has a ``source`` (``trigger``, ``ttl``, ``firehose``, ``state``...) and a ``key`` (e.g. the
    mapping's UUID); the same key again increases ``count`` and refreshes ``error`` and ``last_at``.
    ``active`` problems are still happening (a stuck shard); :meth:`resolve` marks one as over. The
    health report (``python -m helpers.local status``) and ``helpers.verify``'s report list them.
    """

    LIMIT = 50

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], dict[str, Any]] = {}

    def report(self, source: str, key: str, what: str, error: BaseException | str, **detail: Any) -> dict[str, Any]:
        """Record (or count again) a problem; returns its entry. Also counts ``<source>.runtime_errors``."""
        now = time.time()
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        METRICS.add(f"{source}.runtime_errors")
        with self._lock:
            entry = self._items.get((source, key))
            if entry is None:
                if len(self._items) >= self.LIMIT:  # keep the newest ones
                    oldest = min(self._items, key=lambda k: self._items[k]["last_at"])
                    del self._items[oldest]
                entry = {"source": source, "key": key, "count": 0, "first_at": now}
                self._items[(source, key)] = entry
            entry.update(what=what, error=text, last_at=now, active=True, count=entry["count"] + 1, **detail)
            return dict(entry)

    def resolve(self, source: str, key: str, **detail: Any) -> None:
        with self._lock:
            entry = self._items.get((source, key))
            if entry is not None and entry["active"]:
                entry.update(active=False, resolved_at=time.time(), **detail)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            items = [dict(e) for e in self._items.values()]
        return sorted(items, key=lambda e: e["first_at"])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


PROBLEMS = Problems()


class Gate:
    """Lets many requests through at once, or one snapshot alone (a readers-writer lock).

    Every API request that may change moto's state holds :meth:`shared` while moto handles it; the state
    saver (:mod:`helpers.local.state_store`) holds :meth:`exclusive` while it pickles moto's backends, so
    it sees a state no request is half-way through. A waiting snapshot keeps new requests out, but only
    for ``timeout`` seconds: a request that waits on another request (an Invoke whose function calls the
    server) can never deadlock it, the snapshot gives up and tries again later.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writer_waiting = False

    def acquire_shared(self) -> None:
        with self._cond:
            while self._writer or self._writer_waiting:
                self._cond.wait()
            self._readers += 1

    def release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_exclusive(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._writer:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    return False
            self._writer_waiting = True
            try:
                while self._readers:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._cond.wait(remaining) and self._readers:
                        return False
            finally:
                self._writer_waiting = False
                self._cond.notify_all()
            self._writer = True
            return True

    def release_exclusive(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    class _Shared:
        def __init__(self, gate: "Gate") -> None:
            self.gate = gate

        def __enter__(self) -> None:
            self.gate.acquire_shared()

        def __exit__(self, *exc: Any) -> None:
            self.gate.release_shared()

    def shared(self) -> "Gate._Shared":
        return Gate._Shared(self)


GATE = Gate()
