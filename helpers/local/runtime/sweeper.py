"""The TTL sweeper: deletes expired items the way DynamoDB's TTL process does.

Stands in for AWS only; nothing here runs against a real account. Moto stores the TTL setting but
never deletes anything.

Rules (DynamoDB developer guide, "Time to Live"), applied to every table whose TTL status is ENABLED:

* the item's TTL attribute is a top-level **Number** (epoch seconds); a missing attribute or any other
  type never expires;
* it expires when the value is earlier than now;
* values more than five years in the past (5 x 365.2425 days) are never deleted;
* the check is repeated at the moment of deletion, under the lock every DynamoDB request holds, so an
  item refreshed (or rewritten, or deleted) after the scan is left alone.

Each delete goes through moto's table, so the stream gets a REMOVE record with the old image, marked
``userIdentity = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}`` (see :mod:`.streams`).
AWS deletes "within a few days"; locally a sweep runs every ``TTL_ARCHIVE_LOCAL_TTL_INTERVAL`` seconds.
Like DynamoDB, each sweep publishes ``TimeToLiveDeletedItemCount`` (namespace ``AWS/DynamoDB``, dimension
``TableName``, unit Count, one datum per second of deletion) to moto's CloudWatch in the table's account and
region, straight into the backend (PutMetricData is for customers' namespaces, not ``AWS/``), with naive UTC
timestamps as moto keeps them.
"""

from __future__ import annotations

import decimal
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Iterator

from .state import DYNAMODB_LOCK, METRICS, PROBLEMS, SETTINGS
from .streams import ttl_deletes

LOG = logging.getLogger(__name__)

FIVE_YEARS_SECONDS = int(5 * 365.2425 * 86400)
DELETE_CHUNK = 200  # items deleted per lock hold, so client requests are not held up for long


def ttl_value(item: Any, attribute: str) -> decimal.Decimal | None:
    """The item's TTL value when it is a Number, else None (such items never expire)."""
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return None
    try:
        return decimal.Decimal(value.value)
    except (decimal.InvalidOperation, TypeError, ValueError):
        return None


def is_expired(item: Any, attribute: str, now: float) -> bool:
    """AWS's rule: a Number earlier than now and not more than five years in the past."""
    ttl = ttl_value(item, attribute)
    if ttl is None:
        return False
    return decimal.Decimal(now - FIVE_YEARS_SECONDS) <= ttl < decimal.Decimal(now)


def _all_tables() -> Iterator[Any]:
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends.values()):
        for backend in list(account.values()):
            yield from list(backend.tables.values())


def _iter_items(table: Any) -> Iterator[Any]:
    for by_hash in table.items.values():
        if table.range_key_attr:
            yield from by_hash.values()
        else:
            yield by_hash


def _current(table: Any, hash_key: Any, range_key: Any) -> Any:
    by_hash = table.items.get(hash_key)
    if by_hash is None:
        return None
    if table.range_key_attr:
        return by_hash.get(range_key)
    return by_hash


def publish_deleted_count(table: Any, per_second: Counter[int]) -> None:
    """TimeToLiveDeletedItemCount for ``table`` into moto's CloudWatch; a failure is logged, never raised."""
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        data = [{"MetricName": "TimeToLiveDeletedItemCount", "Value": float(count), "Unit": "Count",
                 "Timestamp": datetime.fromtimestamp(second, timezone.utc).replace(tzinfo=None), "Dimensions": [{"Name": "TableName", "Value": table.name}]}
                for second, count in sorted(per_second.items())]
        cloudwatch_backends[table.account_id][table.region_name].put_metric_data("AWS/DynamoDB", data)
    except Exception as err:  # noqa: BLE001 - the metric is a witness; deleting must go on without it
        LOG.exception("could not publish TimeToLiveDeletedItemCount for %s", table.name)
        PROBLEMS.report("ttl", f"metric:{table.name}", "TimeToLiveDeletedItemCount was not published (reconcile will see a gap)", err)


class TtlSweeper:
    """Background thread: one sweep of every TTL-enabled table per interval."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, endpoint_url: str) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ttl-sweeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SETTINGS.ttl_interval):
            try:
                self.sweep_once()
            except Exception as err:  # noqa: BLE001 - keep sweeping; moto state can change under us
                LOG.exception("TTL sweep failed")
                PROBLEMS.report("ttl", "sweep", "a TTL sweep failed (tried again every interval)", err)

    def sweep_once(self, now: float | None = None) -> int:
        """Delete every expired item now; returns how many were deleted."""
        deleted = 0
        for table in _all_tables():
            ttl = table.ttl or {}
            attribute = ttl.get("AttributeName")
            if ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
                continue
            deleted += self._sweep_table(table, attribute, now)
        METRICS.add("ttl.sweeps")
        return deleted

    def _sweep_table(self, table: Any, attribute: str, now: float | None) -> int:
        scan_time = time.time() if now is None else now
        with DYNAMODB_LOCK:
            candidates = [(i.hash_key, i.range_key) for i in _iter_items(table) if is_expired(i, attribute, scan_time)]
        deleted = 0
        per_second: Counter[int] = Counter()
        for start in range(0, len(candidates), DELETE_CHUNK):
            with DYNAMODB_LOCK, ttl_deletes():
                delete_time = time.time() if now is None else now
                for hash_key, range_key in candidates[start : start + DELETE_CHUNK]:
                    item = _current(table, hash_key, range_key)
                    if item is None or not is_expired(item, attribute, delete_time):
                        METRICS.add("ttl.skipped_not_expired_any_more")
                        continue  # refreshed, rewritten or deleted since the scan
                    table.delete_item(hash_key, range_key)
                    per_second[int(time.time())] += 1  # the second the stream record carries
                    deleted += 1
        if deleted:
            publish_deleted_count(table, per_second)
            METRICS.add("ttl.items_deleted", deleted)
            LOG.info("TTL deleted %d item(s) from %s", deleted, table.name)
        return deleted

    def reset(self) -> None:
        pass  # no state of its own: it reads moto's tables on every sweep

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def status(self) -> dict[str, Any]:
        return {"interval_seconds": SETTINGS.ttl_interval, **METRICS.snapshot("ttl.")}
