"""Shared state of the local runtime: settings from the environment, counters, the DynamoDB lock.

Stands in for AWS only; nothing here runs against a real account.

Settings (read when the server process starts; set them before ``python -m helpers.local start``):

``TTL_ARCHIVE_LOCAL_TTL_INTERVAL``            seconds between TTL sweeps (default 1)
``TTL_ARCHIVE_LOCAL_POLL_SECONDS``            stream poll interval of an idle trigger (default 0.25; AWS polls 4 times a second)
``TTL_ARCHIVE_LOCAL_RETRY_SECONDS``           first back-off before retrying a failed batch, doubled per failure up to 2 s (default 0.2)
``TTL_ARCHIVE_LOCAL_FIREHOSE_FLUSH_SECONDS``  longest time a Firehose buffer waits locally (default 1; AWS waits the stream's IntervalInSeconds)
``TTL_ARCHIVE_LOCAL_WORKER_IDLE_SECONDS``     a warm Lambda worker idle this long is stopped (default 30)
``TTL_ARCHIVE_LOCAL_STREAM_RETENTION_SECONDS`` stream records older than this are trimmed (default 86400, AWS's 24 hours)
"""

from __future__ import annotations

import os
import threading
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
