"""Writing restored items to DynamoDB: conditional PutItem or BatchWriteItem, with retries and a rate bound.

Used by :func:`helpers.restore.restore` (see its module docstring for the guarantees). Each writer call
updates the shared report under a lock, so any number of worker threads can write at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from . import archived_items

LOG = logging.getLogger(__name__)

BATCH_SIZE = 25  # BatchWriteItem: at most 25 put or delete requests a call
GET_BATCH_SIZE = 100  # BatchGetItem: at most 100 keys a call
DEFAULT_WORKERS = 8
DEFAULT_MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 10.0
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "Throttling",
     "LimitExceededException", "InternalServerError", "ServiceUnavailable", "TransactionConflictException"}
)


@dataclass
class Planned:
    item: dict
    key: dict  # the key attributes, client shape
    event_id: str | None


class RateLimiter:
    """At most ``rate`` items a second across threads (None: no limit)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.lock = threading.Lock()
        self.next_free = clock()

    def acquire(self, items: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = self.clock()
            start = max(now, self.next_free)
            self.next_free = start + items / self.rate
        if start > now:
            self.sleep(start - now)


def backoff(attempt: int) -> float:
    """Full jitter: uniform(0, min(cap, base * 2^attempt))."""
    return random.uniform(0.0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def key_part(av: dict) -> tuple:
    ((kind, value),) = av.items()
    return kind, value


def failure_entry(key: dict, event_id: Any, reason: str) -> dict:
    return {"key": archived_items.plain_map(key), "event_id": event_id, "reason": reason}


class Writer:
    """Writes planned items with retries; thread-safe counters in the report."""

    def __init__(self, client: Any, table: str, schema: dict, report: RestoreReport, limiter: RateLimiter,
                 max_attempts: int, sleep: Callable[[float], None], bar: Any):
        self.client, self.table, self.schema, self.report = client, table, schema, report
        self.limiter, self.max_attempts, self.sleep, self.bar = limiter, max_attempts, sleep, bar
        self.lock = threading.Lock()
        self.partition_key = next(iter(schema))

    def _count(self, restored: int = 0, skipped: str | None = None, failed: dict | None = None, call: str | None = None, done: int = 0) -> None:
        with self.lock:
            self.report.restored += restored
            if skipped:
                self.report.skipped[skipped] += 1
            if failed:
                self.report.failed.append(failed)
            if call:
                self.report.calls[call] += 1
        if done and self.bar is not None:
            self.bar.update(done)

    def put_conditional(self, planned: Planned) -> None:
        """One conditional PutItem: written, ``skipped: exists``, or failed after retries."""
        for attempt in range(self.max_attempts):
            self.limiter.acquire(1)
            try:
                self._count(call="put_item")
                self.client.put_item(TableName=self.table, Item=planned.item, ConditionExpression="attribute_not_exists(#pk)",
                                     ExpressionAttributeNames={"#pk": self.partition_key})
            except ClientError as err:
                code = error_code(err)
                if code == "ConditionalCheckFailedException":
                    return self._count(skipped="exists", done=1)
                if code in THROTTLING_CODES and attempt + 1 < self.max_attempts:
                    self._count(call="throttled")
                    self.sleep(backoff(attempt))
                    continue
                return self._count(failed=failure_entry(planned.key, planned.event_id, f"{code}: {err.response['Error'].get('Message', '')}"), done=1)
            except BotoCoreError as err:  # connection errors that outlasted botocore's retries
                return self._count(failed=failure_entry(planned.key, planned.event_id, f"{type(err).__name__}: {err}"), done=1)
            return self._count(restored=1, done=1)
        return None  # pragma: no cover - the loop always returns

    def put_batch(self, chunk: list) -> None:
        """BatchWriteItem of up to 25 items; UnprocessedItems and throttling retried with backoff."""
        pending = {self._marker(p.item): p for p in chunk}
        for attempt in range(self.max_attempts):
            requests = [{"PutRequest": {"Item": p.item}} for p in pending.values()]
            self.limiter.acquire(len(requests))
            try:
                self._count(call="batch_write_item")
                response = self.client.batch_write_item(RequestItems={self.table: requests})
            except ClientError as err:
                code = error_code(err)
                if code in THROTTLING_CODES:
                    self._count(call="throttled")
                    self.sleep(backoff(attempt))
                    continue
                if code == "ValidationException":  # one bad item fails the call: isolate it
                    LOG.info("BatchWriteItem rejected a batch (%s); writing its %d items one by one", err, len(pending))
                    for planned in pending.values():
                        self._put_one(planned)
                    return
                return self._fail_all(pending, f"{code}: {err.response['Error'].get('Message', '')}")
            except BotoCoreError as err:  # connection errors that outlasted botocore's retries
                return self._fail_all(pending, f"{type(err).__name__}: {err}")
            left = response.get("UnprocessedItems", {}).get(self.table, [])
            unprocessed = {self._marker(r["PutRequest"]["Item"]) for r in left}
            written = [m for m in pending if m not in unprocessed]
            self._count(restored=len(written), done=len(written))
            pending = {m: pending[m] for m in pending if m in unprocessed}
            if not pending:
                return
            self._count(call="unprocessed_retry")
            self.sleep(backoff(attempt))
        self._fail_all(pending, f"still unprocessed after {self.max_attempts} attempts (throttled)")

    def _fail_all(self, pending: dict, reason: str) -> None:
        for planned in pending.values():
            self._count(failed=failure_entry(planned.key, planned.event_id, reason), done=1)

    def _put_one(self, planned: Planned) -> None:
        try:
            self._count(call="put_item")
            self.client.put_item(TableName=self.table, Item=planned.item)
        except ClientError as err:
            reason = f"{error_code(err)}: {err.response['Error'].get('Message', '')}"
            return self._count(failed=failure_entry(planned.key, planned.event_id, reason), done=1)
        except BotoCoreError as err:
            return self._count(failed=failure_entry(planned.key, planned.event_id, f"{type(err).__name__}: {err}"), done=1)
        return self._count(restored=1, done=1)

    def _marker(self, item: dict) -> tuple:
        return tuple(key_part(item[n]) for n in self.schema)


def existing_keys(client: Any, table: str, planned: list, schema: dict, sleep: Callable[[float], None] = time.sleep) -> set:
    """Markers of the planned keys that exist in ``table`` (BatchGetItem, 100 keys a call, UnprocessedKeys retried)."""
    found: set = set()
    names = {f"#k{i}": n for i, n in enumerate(schema)}
    for start in range(0, len(planned), GET_BATCH_SIZE):
        keys = [p.key for p in planned[start:start + GET_BATCH_SIZE]]
        for attempt in range(DEFAULT_MAX_ATTEMPTS):
            request = {table: {"Keys": keys, "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}}
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                found.add(tuple(key_part(item[n]) for n in schema))
            keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
            sleep(backoff(attempt))
    return found
