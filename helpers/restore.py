"""Put archived items back into a DynamoDB table: the original one or another existing table.

Choose the items with :mod:`helpers.archived_items` (``load`` then ``select``: by deletion time, key values or
any pandas filter), then :func:`restore` them. What it guarantees:

* **Never overwrites a live item by default**: each item is written with a conditional ``PutItem``
  (``attribute_not_exists(<partition key>)``); an item whose key exists is reported as ``skipped: exists``.
  ``overwrite=True`` writes with ``BatchWriteItem`` (25 puts a call) and replaces what is there.
* **Nothing is dropped silently**: ``UnprocessedItems`` are sent again with exponential backoff and full jitter,
  throttling errors are retried the same way, a batch the service rejects as invalid is retried item by item to
  isolate the bad one; an item still not written after ``max_attempts`` is reported as failed with its key and
  the reason. ``rate`` bounds the items written per second.
* **The TTL attribute** (``ttl``): ``"remove"`` (default) drops it, so TTL does not delete and archive the item
  again; ``"+DAYS"`` sets a new expiry DAYS from now; ``"keep"`` keeps the old value and warns when it is in
  the past (TTL will delete those items again, and the archive will hold them twice).
* Several archived versions of one key (an item deleted, written again, deleted again): the most recently
  deleted is restored, the others are ``skipped: superseded``.
* ``dry_run=True`` writes nothing: it reports what would be written (and, by default, which keys exist and
  would be skipped, read with BatchGetItem).
* Bad input (table name, TTL rule, rate) raises ValueError before any AWS call; a missing target table raises
  :class:`TableNotFound` before any write.

The :class:`RestoreReport` counts restored, skipped by reason and failed items and lists the failed keys;
``ok`` is True only when every selected item was restored or skipped by rule.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.exceptions import ClientError

from . import archived_items, validation

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


class TableNotFound(LookupError):
    """The target table does not exist (restore writes only into an existing table)."""


@dataclass(frozen=True)
class TtlRule:
    """``remove``, ``keep`` or ``extend`` (``days`` from now)."""

    mode: str
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> "TtlRule":
        """``"remove"``, ``"keep"`` or ``"+DAYS"`` (1-36500); ValueError otherwise."""
        value = str(text).strip()
        if value in ("remove", "keep"):
            return cls(value)
        if value.startswith("+") and value[1:].isdigit() and 1 <= int(value[1:]) <= 36_500:
            return cls("extend", int(value[1:]))
        raise ValueError(f"--ttl {text!r}: expected remove, keep or +DAYS (a new expiry DAYS from now, 1-36500), e.g. +30")

    def describe(self) -> str:
        return f"+{self.days} days" if self.mode == "extend" else self.mode


@dataclass
class RestoreReport:
    """What :func:`restore` did (or, with ``dry_run``, would do)."""

    table: str
    selected: int
    restored: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> items
    failed: list = field(default_factory=list)  # {"key": {...}, "event_id": ..., "reason": ...}
    dry_run: bool = False
    would_write: list = field(default_factory=list)  # dry run: the items as they would be written
    warnings: list = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    ttl: str = "remove"
    overwrite: bool = False

    @property
    def ok(self) -> bool:
        """Every selected item restored (or, in a dry run, writable) or skipped by rule."""
        done = len(self.would_write) if self.dry_run else self.restored
        return not self.failed and done + sum(self.skipped.values()) == self.selected

    def to_dict(self) -> dict:
        data = {
            "table": self.table,
            "selected": self.selected,
            "restored": self.restored,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "failed": len(self.failed),
            "failed_items": self.failed,
            "dry_run": self.dry_run,
            "ttl": self.ttl,
            "overwrite": self.overwrite,
            "warnings": self.warnings,
            "calls": dict(sorted(self.calls.items())),
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }
        if self.dry_run:
            data["would_write"] = [to_dynamodb_json(item) for item in self.would_write]
        return data

    def describe(self, show: int = 20) -> str:
        verb = "would restore" if self.dry_run else "restored"
        done = len(self.would_write) if self.dry_run else self.restored
        lines = [f"{self.selected:,} items selected; {verb} {done:,} into {self.table} (TTL: {self.ttl}"
                 f"{', overwriting' if self.overwrite else ', never overwriting'})"]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  skipped: {reason}: {count:,}")
        lines.append(f"  failed: {len(self.failed):,}")
        for fail in self.failed[:show]:
            lines.append(f"    {fail['key']} ({fail['reason']})")
        if len(self.failed) > show:
            lines.append(f"    ... and {len(self.failed) - show:,} more (--json lists them all)")
        if self.dry_run:
            import json

            lines.append("Would write:" if self.would_write else "Nothing would be written.")
            for item in self.would_write[:show]:
                lines.append("  " + json.dumps(to_dynamodb_json(item), ensure_ascii=False))
            if len(self.would_write) > show:
                lines.append(f"  ... and {len(self.would_write) - show:,} more (--json lists them all)")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def to_dynamodb_json(item: dict) -> dict:
    """An item in client shape (binary as bytes) as DynamoDB JSON text values (binary as base64)."""
    import base64

    def conv(av: dict) -> dict:
        ((kind, value),) = av.items()
        if kind == "B":
            return {"B": base64.b64encode(value).decode("ascii")}
        if kind == "BS":
            return {"BS": [base64.b64encode(v).decode("ascii") for v in value]}
        if kind == "M":
            return {"M": {k: conv(v) for k, v in value.items()}}
        if kind == "L":
            return {"L": [conv(v) for v in value]}
        return {kind: value}

    return {name: conv(av) for name, av in item.items()}


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


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


# --------------------------------------------------------------------------- planning


def _key_schema(client: Any, table: str) -> dict:
    """{key attribute: its type (S, N or B)}, partition key first. Raises TableNotFound."""
    try:
        desc = client.describe_table(TableName=table)["Table"]
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            raise TableNotFound(f"table {table} does not exist: restore writes only into an existing table "
                                "(create it with the same key schema first)") from None
        raise
    types = {a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions", [])}
    ordered = sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
    return {k["AttributeName"]: types.get(k["AttributeName"], "S") for k in ordered}


@dataclass
class _Planned:
    item: dict
    key: dict  # the key attributes, client shape
    event_id: str | None


def _prepare(record: Any, rule: TtlRule, ttl_attribute: str | None, now: float) -> dict:
    item = dict(record.item)
    name = ttl_attribute or record.envelope.get("ttl_attribute")
    if name:
        if rule.mode == "remove":
            item.pop(name, None)
        elif rule.mode == "extend":
            item[name] = {"N": str(int(now) + rule.days * 86_400)}
    return item


def _plan(records: list, schema: dict, rule: TtlRule, ttl_attribute: str | None, now: float, report: RestoreReport) -> list:
    """The items to write, one per key (the most recently deleted version); failures and skips go to the report."""
    by_key: dict = {}
    expired_kept = 0
    for record in records:
        item = _prepare(record, rule, ttl_attribute, now)
        missing = [f"{n} ({t})" for n, t in schema.items() if set(item.get(n, {})) != {t}]
        if missing:
            report.failed.append(_failure(record.keys, record.event_id, "the item has no key attribute " + ", ".join(missing) + f" of table {report.table}"))
            continue
        key = {n: item[n] for n in schema}
        marker = tuple((n, _hashable(item[n])) for n in schema)
        if marker in by_key:
            report.skipped["superseded"] += 1  # records come oldest deletion first: the later one wins
        by_key[marker] = _Planned(item, key, record.event_id)
        name = ttl_attribute or record.envelope.get("ttl_attribute")
        if rule.mode == "keep" and name in item and "N" in item[name] and float(item[name]["N"]) <= now:
            expired_kept += 1
    if expired_kept:
        report.warnings.append(f"--ttl keep: {expired_kept:,} items keep a TTL in the past; TTL will delete them again "
                               "(within days) and they will be archived a second time")
    return list(by_key.values())


def _hashable(av: dict) -> tuple:
    ((kind, value),) = av.items()
    return kind, value


def _failure(key: dict, event_id: Any, reason: str) -> dict:
    return {"key": archived_items.plain_map(key), "event_id": event_id, "reason": reason}


# --------------------------------------------------------------------------- writing


class _Writer:
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

    def put_conditional(self, planned: _Planned) -> None:
        """One conditional PutItem: written, ``skipped: exists``, or failed after retries."""
        for attempt in range(self.max_attempts):
            self.limiter.acquire(1)
            try:
                self._count(call="put_item")
                self.client.put_item(TableName=self.table, Item=planned.item, ConditionExpression="attribute_not_exists(#pk)",
                                     ExpressionAttributeNames={"#pk": self.partition_key})
            except ClientError as err:
                code = _code(err)
                if code == "ConditionalCheckFailedException":
                    return self._count(skipped="exists", done=1)
                if code in THROTTLING_CODES and attempt + 1 < self.max_attempts:
                    self._count(call="throttled")
                    self.sleep(backoff(attempt))
                    continue
                return self._count(failed=_failure(planned.key, planned.event_id, f"{code}: {err.response['Error'].get('Message', '')}"), done=1)
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
                code = _code(err)
                if code in THROTTLING_CODES:
                    self._count(call="throttled")
                    self.sleep(backoff(attempt))
                    continue
                if code == "ValidationException":  # one bad item fails the call: isolate it
                    LOG.info("BatchWriteItem rejected a batch (%s); writing its %d items one by one", err, len(pending))
                    for planned in pending.values():
                        self._put_one(planned)
                    return
                raise
            left = response.get("UnprocessedItems", {}).get(self.table, [])
            unprocessed = {self._marker(r["PutRequest"]["Item"]) for r in left}
            written = [m for m in pending if m not in unprocessed]
            self._count(restored=len(written), done=len(written))
            pending = {m: pending[m] for m in pending if m in unprocessed}
            if not pending:
                return
            self._count(call="unprocessed_retry")
            self.sleep(backoff(attempt))
        for planned in pending.values():
            self._count(failed=_failure(planned.key, planned.event_id, f"still unprocessed after {self.max_attempts} attempts (throttled)"), done=1)

    def _put_one(self, planned: _Planned) -> None:
        try:
            self._count(call="put_item")
            self.client.put_item(TableName=self.table, Item=planned.item)
        except ClientError as err:
            reason = f"{_code(err)}: {err.response['Error'].get('Message', '')}"
            return self._count(failed=_failure(planned.key, planned.event_id, reason), done=1)
        return self._count(restored=1, done=1)

    def _marker(self, item: dict) -> tuple:
        return tuple(_hashable(item[n]) for n in self.schema)


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
                found.add(tuple(_hashable(item[n]) for n in schema))
            keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
            sleep(backoff(attempt))
    return found


def restore(
    session: Any,
    items: Any,
    table: str | None = None,
    *,
    ttl: str | TtlRule = "remove",
    ttl_attribute: str | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    check_existing: bool = True,
    rate: float | None = None,
    workers: int = DEFAULT_WORKERS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    progress: bool | None = None,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
) -> RestoreReport:
    """Write ``items`` (an :class:`~helpers.archived_items.ArchivedItems` or a list of decoded records) into
    ``table`` (default: the table they were archived from) as the module docstring says; returns the report.

    ``ttl_attribute`` overrides the TTL attribute named in each line. ``rate``: at most that many items a
    second. ``workers``: concurrent calls. ``client``: a DynamoDB client to use instead of the session's.
    """
    started = time.monotonic()
    rule = ttl if isinstance(ttl, TtlRule) else TtlRule.parse(ttl)
    records = list(getattr(items, "records", items))
    table = table or _source_table(records)
    validation.table_name(table)
    if rate is not None and not rate > 0:
        raise ValueError(f"rate={rate!r}: items per second must be a positive number")
    validation.int_range(workers, 1, 64, "workers")
    validation.int_range(max_attempts, 1, 100, "max_attempts")
    if ttl_attribute is not None:
        validation.attribute_name(ttl_attribute, "TTL attribute name")
    report = RestoreReport(table=table, selected=len(records), dry_run=dry_run, ttl=rule.describe(), overwrite=overwrite)
    if rule.mode == "keep":
        LOG.warning("--ttl keep: restored items keep their TTL; those already past it will be deleted and archived again")
    client = client or session.client("dynamodb")
    schema = _key_schema(client, table)
    planned = _plan(records, schema, rule, ttl_attribute, now(), report)
    if dry_run:
        _dry_run(client, table, planned, schema, report, check_existing and not overwrite, sleep)
    elif planned:
        _write(client, table, planned, schema, report, RateLimiter(rate, sleep=sleep), overwrite, workers, max_attempts, sleep, progress)
    report.seconds = time.monotonic() - started
    LOG.info("restore into %s: %s", table, {k: v for k, v in report.to_dict().items() if k not in ("failed_items", "would_write")})
    return report


def _source_table(records: list) -> str:
    tables = {r.envelope.get("table") for r in records} - {None}
    if len(tables) != 1:
        raise ValueError(f"the items come from {len(tables)} tables ({', '.join(sorted(tables)) or 'none named'}): name the target table")
    return tables.pop()


def _dry_run(client: Any, table: str, planned: list, schema: dict, report: RestoreReport, check: bool, sleep: Callable[[float], None]) -> None:
    exists = existing_keys(client, table, planned, schema, sleep) if check and planned else set()
    for p in planned:
        if tuple(_hashable(p.item[n]) for n in schema) in exists:
            report.skipped["exists"] += 1
        else:
            report.would_write.append(p.item)


def _write(client: Any, table: str, planned: list, schema: dict, report: RestoreReport, limiter: RateLimiter,
           overwrite: bool, workers: int, max_attempts: int, sleep: Callable[[float], None], progress: bool | None) -> None:
    bar = None
    if progress or (progress is None and len(planned) >= 1000):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(planned), unit="item", desc=f"restoring into {table}")
    writer = _Writer(client, table, schema, report, limiter, max_attempts, sleep, bar)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            if overwrite:
                chunks = [planned[i:i + BATCH_SIZE] for i in range(0, len(planned), BATCH_SIZE)]
                list(pool.map(writer.put_batch, chunks))
            else:
                list(pool.map(writer.put_conditional, planned))
    finally:
        if bar is not None:
            bar.close()
