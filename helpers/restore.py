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
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError

from . import validation
from .restore_write import (
    BATCH_SIZE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_WORKERS,
    Planned,
    RateLimiter,
    Writer,
    error_code,
    existing_keys,
    failure_entry,
    key_part,
)

LOG = logging.getLogger(__name__)


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



# --------------------------------------------------------------------------- planning


def _key_schema(client: Any, table: str) -> dict:
    """{key attribute: its type (S, N or B)}, partition key first. Raises TableNotFound."""
    try:
        desc = client.describe_table(TableName=table)["Table"]
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            raise TableNotFound(f"table {table} does not exist: restore writes only into an existing table "
                                "(create it with the same key schema first)") from None
        raise
    types = {a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions", [])}
    ordered = sorted(desc["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
    return {k["AttributeName"]: types.get(k["AttributeName"], "S") for k in ordered}


def _prepare(record: Any, rule: TtlRule, name: str | None, now: float) -> dict:
    item = dict(record.item)
    if name:
        if rule.mode == "remove":
            item.pop(name, None)
        elif rule.mode == "extend":
            item[name] = {"N": str(int(now) + rule.days * 86_400)}
    return item


def _deleted_at(record: Any) -> datetime:
    """The deletion time of a record for ordering (records without one first)."""
    text = record.envelope.get("deleted_at")
    try:
        stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except (AttributeError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _plan(records: list, schema: dict, rule: TtlRule, ttl_attribute: str | None, now: float, report: RestoreReport) -> list:
    """The items to write, one per key (the most recently deleted version); failures and skips go to the report."""
    by_key: dict = {}
    expired_kept = 0
    on_key = set()
    # Oldest deletion first, so that the most recent version of a key is the one kept.
    for record in sorted(records, key=_deleted_at):
        name = ttl_attribute or record.envelope.get("ttl_attribute")
        if name in schema:  # TTL on a key attribute: the value is part of the key and cannot change
            on_key.add(name)
            item = _prepare(record, TtlRule("keep"), None, now)
        else:
            item = _prepare(record, rule, name, now)
        missing = [f"{n} ({t})" for n, t in schema.items() if set(item.get(n, {})) != {t}]
        if missing:
            report.failed.append(failure_entry(record.keys, record.event_id, "the item has no key attribute " + ", ".join(missing) + f" of table {report.table}"))
            continue
        key = {n: item[n] for n in schema}
        marker = tuple((n, key_part(item[n])) for n in schema)
        if marker in by_key:
            report.skipped["superseded"] += 1  # a later deletion of the same key wins
        by_key[marker] = Planned(item, key, record.event_id)
        if (rule.mode == "keep" or name in on_key) and name in item and "N" in item[name] and float(item[name]["N"]) <= now:
            expired_kept += 1
    if on_key and rule.mode != "keep":
        report.warnings.append(f"the TTL attribute {', '.join(sorted(on_key))} is a key attribute of {report.table}: its value is "
                               f"part of the key, so --ttl {rule.describe()} cannot apply and the value is kept")
    if expired_kept:
        report.warnings.append(f"{expired_kept:,} items keep a TTL in the past; TTL will delete them again "
                               "(within days) and they will be archived a second time")
    return list(by_key.values())


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
    client = client or _client(session, workers)
    schema = _key_schema(client, table)
    planned = _plan(records, schema, rule, ttl_attribute, now(), report)
    if dry_run:
        _dry_run(client, table, planned, schema, report, check_existing and not overwrite, sleep)
    elif planned:
        _write(client, table, planned, schema, report, RateLimiter(rate, sleep=sleep), overwrite, workers, max_attempts, sleep, progress)
    report.seconds = time.monotonic() - started
    LOG.info("restore into %s: %s", table, {k: v for k, v in report.to_dict().items() if k not in ("failed_items", "would_write")})
    return report


def _client(session: Any, workers: int) -> Any:
    """A DynamoDB client for the writers: a connection per worker, botocore's standard retries (throttling
    included), and no client-side parameter validation: the items come from the codec, well-formed by
    construction, and validating every nested attribute costs more CPU than the write itself."""
    from botocore.config import Config

    config = Config(parameter_validation=False, max_pool_connections=workers + 2, retries={"mode": "standard", "max_attempts": 5})
    return session.client("dynamodb", config=config)


def _source_table(records: list) -> str:
    tables = {r.envelope.get("table") for r in records} - {None}
    if len(tables) != 1:
        raise ValueError(f"the items come from {len(tables)} tables ({', '.join(sorted(tables)) or 'none named'}): name the target table")
    return tables.pop()


def _dry_run(client: Any, table: str, planned: list, schema: dict, report: RestoreReport, check: bool, sleep: Callable[[float], None]) -> None:
    exists = existing_keys(client, table, planned, schema, sleep) if check and planned else set()
    for p in planned:
        if tuple(key_part(p.item[n]) for n in schema) in exists:
            report.skipped["exists"] += 1
        else:
            report.would_write.append(p.item)


def _write(client: Any, table: str, planned: list, schema: dict, report: RestoreReport, limiter: RateLimiter,
           overwrite: bool, workers: int, max_attempts: int, sleep: Callable[[float], None], progress: bool | None) -> None:
    bar = None
    if progress or (progress is None and len(planned) >= 1000):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(planned), unit="item", desc=f"restoring into {table}")
    writer = Writer(client, table, schema, report, limiter, max_attempts, sleep, bar)
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


def restore_from_archive(
    session: Any,
    settings: Any,
    *,
    since: Any = None,
    until: Any = None,
    keys: dict | None = None,
    where: Any = None,
    to_table: str | None = None,
    folder: str | None = None,
    assume_types: dict | None = None,
    say: Callable[[str], None] | None = None,
    progress: bool | None = None,
    confirm: Callable[[int, str], bool] | None = None,
    **options: Any,
) -> tuple:
    """Load the stack's archive (``settings.bucket_name`` and ``archive_prefix``, or a local ``folder`` copy),
    select items (:func:`helpers.archived_items.select`) and :func:`restore` them into ``to_table`` (default:
    the table they came from, else ``settings.table_name``). ``options`` go to :func:`restore` (``ttl``,
    ``overwrite``, ``dry_run``, ``rate``...). Returns ``(selected ArchivedItems, RestoreReport)``; nothing is
    written when nothing is selected. ``settings.bucket_name`` must be filled (``Settings.with_account``).
    ``confirm(items, table)`` is asked before a write (not before a dry run); when it returns False nothing is
    written and the report says ``declined``."""
    from . import archived_items

    say = say or (lambda text: None)
    TtlRule.parse(options.get("ttl", "remove")) if not isinstance(options.get("ttl"), TtlRule) else None
    if to_table:
        validation.table_name(to_table)
    source = folder or f"s3://{settings.bucket_name}/{settings.archive_prefix}"
    say(f"Reading the archive {source}" + (f" (deleted from {since})" if since else "") + (f" (until {until})" if until else ""))
    loaded = archived_items.load(session, None if folder else settings.bucket_name, settings.archive_prefix, folder=folder,
                                 since=since, until=until, assume_types=assume_types, progress=progress)
    say(loaded.summary())
    chosen = archived_items.select(loaded, keys=keys, where=where)
    tables = {r.envelope.get("table") for r in chosen.records} - {None}
    table = to_table or (tables.pop() if len(tables) == 1 else settings.table_name)
    if not len(chosen):
        return chosen, RestoreReport(table=table, selected=0, dry_run=bool(options.get("dry_run")))
    if not options.get("dry_run") and confirm is not None and not confirm(len(chosen), table):
        report = RestoreReport(table=table, selected=len(chosen))
        report.warnings.append("declined: nothing was written")
        return chosen, report
    say(f"{len(chosen):,} items selected; {'dry run: nothing is written' if options.get('dry_run') else 'writing'} into {table}")
    return chosen, restore(session, chosen, table, progress=progress, **options)


def ensure_table_like(session: Any, settings: Any, name: str, source_table: str | None = None) -> str:
    """An on-demand table ``name`` with the key schema of ``source_table`` (default ``settings.table_name``), no
    stream and no TTL, tagged with the stack's tags: a place to restore into and look before touching the
    original. Idempotent: an existing table with the same key schema is used as it is (returns "already there",
    else "created"); one with another key schema raises ValueError. Waits until ACTIVE."""
    from . import tagging

    validation.table_name(name)
    client = session.client("dynamodb")
    source = client.describe_table(TableName=source_table or settings.table_name)["Table"]
    keys = source["KeySchema"]
    names = {k["AttributeName"] for k in keys}
    definitions = [a for a in source["AttributeDefinitions"] if a["AttributeName"] in names]
    try:
        existing = client.describe_table(TableName=name)["Table"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
    else:
        if sorted(map(str, existing["KeySchema"])) != sorted(map(str, keys)):
            raise ValueError(f"table {name} exists with another key schema ({existing['KeySchema']}): choose another name")
        return "already there"
    client.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=definitions, BillingMode="PAY_PER_REQUEST",
                        Tags=tagging.as_key_value_list({**settings.tags(), "purpose": "restore"}))
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    return "created"


def delete_table_if_ours(session: Any, settings: Any, name: str) -> str:
    """Delete table ``name`` only when it carries this stack's tags and is not the stack's own table;
    returns "deleted", "not found" or "kept: <why>"."""
    from . import dynamodb, tagging

    if name == settings.table_name:
        return "kept: it is the stack's table (99_cleanup decides about it)"
    client = session.client("dynamodb")
    try:
        arn = client.describe_table(TableName=name)["Table"]["TableArn"]
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return "not found"
        raise
    tags = tagging.from_key_value_list(client.list_tags_of_resource(ResourceArn=arn).get("Tags"))
    if not tagging.is_ours(tags, settings.stack):
        return "kept: not created by this stack"
    dynamodb.delete_table(session, name)
    return "deleted"
