"""Prove the pipeline end to end: write items that TTL will delete (and controls that it must not
archive), wait until the archive holds every expired item, and compare.

A *run* writes, under keys unique to it (``verify-<run id>-<kind>-<n>``):

* ``expired``: items whose TTL is already past (or at ``expires_at``): TTL deletes them, they must be archived;
* ``future``: items whose TTL is weeks away: must stay in the table and not be archived;
* ``user_deleted``: items with a future TTL that are then deleted through the API: a delete by a user or an
  application carries no ``userIdentity``, so the trigger's filter must drop it;
* ``refreshed``: items written to expire a few seconds later whose TTL is pushed weeks ahead at once: TTL
  must not delete them (the sweep only deletes what is still expired), so they survive.

:func:`wait_for_archive` polls the archive (only objects it has not read yet, decoded by content: GZIP or
plain) with a progress bar until every expired item is there or the timeout passes, then
:func:`check` compares, reading the archive with :class:`ArchiveScanner` (the archive reader's pieces; memory
bounded by the run's size, so a run of a million items stays well under 500 MB):

``expired_written``  expired items written
``archived_unique``  of those, how many are in the archive (distinct items)
``duplicates``       archive lines of this run beyond the first delivery of each stream event (at-least-once;
                     counted in what S3 holds at the check: a re-delivery still in Firehose's buffer comes later)
``unexpected``       items of this run in the archive that must not be (future, user-deleted, refreshed)
``missing``          expired items not (yet) in the archive
``s3_objects``       archive objects that hold lines of this run
``seconds``          from the end of writing to the last expired item seen archived (or to giving up)

On AWS, TTL deletes within a few days, not seconds: the wait ends at its timeout with a progress
report, and :func:`load_run` finds the run again later (it is saved under ``~/.cache``) to check again.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import ClientError

from . import dynamodb, validation
from .settings import Settings
from .verify_scan import ArchiveScanner

LOG = logging.getLogger(__name__)

FUTURE_TTL_SECONDS = 30 * 24 * 3600  # "weeks away": never deleted during a run
EXPIRED_AGO_SECONDS = 60  # expired a minute ago: well inside TTL's five-year window
REFRESH_AFTER_SECONDS = 2  # refreshed items would have expired this long after writing
KINDS = ("expired", "future", "user_deleted", "refreshed")


# --------------------------------------------------------------------------- a run


@dataclass
class TestRun:
    """What one run wrote: enough to check it again later, even from another kernel (see :func:`load_run`)."""

    __test__ = False  # not a pytest test class

    run_id: str
    stack: str
    table_name: str
    bucket_name: str
    archive_prefix: str
    partition_key: str
    sort_key: str
    ttl_attribute: str
    sort_value: int
    written_at: float  # epoch seconds when writing started
    write_seconds: float
    expires_at: int  # the TTL value of the expired items
    refreshed_until: int  # the refreshed items would have expired at this moment (0: none written)
    counts: dict[str, int] = field(default_factory=dict)  # kind -> how many items of that kind were written
    local: bool = True
    future_expires_at: int = 0  # the TTL of the future (and user-deleted, refreshed) items
    failure_queue_name: str = ""  # the trigger's failure queue: where to look when items are missing

    # The partition key values are derived, never stored: a run of a million items keeps a few integers
    # (the key of item n of a kind is ``verify-<run id>-<kind>-<n, six digits or more>``).

    def key(self, kind: str, n: int) -> str:
        return f"{self.prefix}{kind}-{n:06d}"

    def ids_of(self, kind: str) -> list[str]:
        return [self.key(kind, n) for n in range(self.counts.get(kind, 0))]

    def parse_key(self, value: object) -> tuple[str, int] | None:
        """``(kind, n)`` for a key this run wrote, else None."""
        text = str(value)
        if not text.startswith(self.prefix):
            return None
        kind, _, number = text[len(self.prefix):].rpartition("-")
        if kind not in self.counts or not number.isdigit() or int(number) >= self.counts[kind]:
            return None
        return kind, int(number)

    @property
    def ids(self) -> dict[str, list[str]]:
        """kind -> partition key values (built on each call: for small runs and tests)."""
        return {kind: self.ids_of(kind) for kind in self.counts}

    @property
    def expired_ids(self) -> list[str]:
        return self.ids_of("expired")

    @property
    def control_kinds(self) -> tuple[str, ...]:
        """Kinds that must not be archived (while their own TTL is in the future: weeks after the run,
        TTL may delete the future and refreshed items too, and then archiving them is right)."""
        return ("future", "user_deleted", "refreshed") if time.time() < (self.future_expires_at or float("inf")) else ("user_deleted",)

    @property
    def control_ids(self) -> list[str]:
        return [i for kind in self.control_kinds for i in self.ids_of(kind)]

    @property
    def prefix(self) -> str:
        return f"verify-{self.run_id}-"

    def describe(self) -> str:
        counts = ", ".join(f"{self.counts.get(k, 0)} {k.replace('_', '-')}" for k in KINDS)
        when = datetime.fromtimestamp(self.written_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"run {self.run_id} on table {self.table_name}: {counts}; written {when} in {self.write_seconds:.1f} s"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> "TestRun":
        values = json.loads(text)
        if "ids" in values:  # saved by an earlier version: lists of keys
            values["counts"] = {kind: len(keys) for kind, keys in values.pop("ids").items()}
        return cls(**values)


def run_path(settings: Settings, account_id: str, region: str) -> Path:
    """Where the latest run of a stack in an account and region is saved."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dynamodb-ttl-archive" / "verify-runs"
    return base / f"{account_id}-{region}-{settings.stack}.json"


def save_run(run: TestRun, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.to_json())
    return path


def load_run(settings: Settings, identity: Any) -> TestRun | None:
    """The latest run saved for this stack, account and region, or None."""
    path = run_path(settings, identity.account_id, identity.region)
    if not path.is_file():
        return None
    try:
        return TestRun.from_json(path.read_text())
    except (ValueError, TypeError) as err:
        LOG.warning("ignoring the unreadable saved run %s: %s", path, err)
        return None


def start_run(
    session: Any,
    settings: Settings,
    identity: Any,
    *,
    expired: int = 50,
    future: int = 5,
    user_deleted: int = 1,
    refreshed: int = 0,
    expires_at: int | None = None,
    run_id: str | None = None,
    save: bool = True,
) -> TestRun:
    """Write a run's items (see the module docstring) and return the :class:`TestRun`; saves it for
    :func:`load_run` unless ``save=False``.

    ``expires_at`` (epoch seconds) is the TTL of the expired items; default one minute ago. A moment
    a little ahead lets a benchmark write everything before the sweep starts. Writes with
    BatchWriteItem (:func:`helpers.dynamodb.put_items`); the user deletes with DeleteItem; the refresh
    with UpdateItem. Raises ``ValueError`` for counts out of range before writing anything.
    """
    for name, value in (("expired", expired), ("future", future), ("user_deleted", user_deleted), ("refreshed", refreshed)):
        validation.int_range(value, 0, 1_000_000, f"number of {name} items")
    from .target import is_local

    settings = settings.with_account(identity.account_id, identity.region)
    run_id = run_id or uuid.uuid4().hex[:10]
    started = time.time()
    now = int(started)
    expires_at = int(expires_at) if expires_at is not None else now - EXPIRED_AGO_SECONDS
    if expires_at < now - 5 * 365 * 24 * 3600:
        raise ValueError("expires_at is more than five years in the past: DynamoDB TTL never deletes such items")
    pk, sk, ttl = settings.partition_key, settings.sort_key, settings.ttl_attribute
    counts = {"expired": expired, "future": future, "user_deleted": user_deleted, "refreshed": refreshed}
    refreshed_until = now + REFRESH_AFTER_SECONDS if refreshed else 0
    run = TestRun(
        run_id=run_id, stack=settings.stack, table_name=settings.table_name, bucket_name=settings.bucket_name,
        archive_prefix=settings.archive_prefix, partition_key=pk, sort_key=sk, ttl_attribute=ttl, sort_value=now,
        written_at=started, write_seconds=0.0, expires_at=expires_at, refreshed_until=refreshed_until, counts=counts,
        local=is_local(session), future_expires_at=now + FUTURE_TTL_SECONDS, failure_queue_name=settings.failure_queue_name,
    )

    def item(key: str, kind: str, ttl_value: int) -> dict[str, Any]:
        return {pk: key, sk: now, ttl: ttl_value, "kind": kind, "run_id": run_id, "payload": {"note": f"{kind} item of verify run {run_id}", "price": Decimal("9.99")}}

    # Controls first: by the time the expired items are archived, the stream (in order) has passed them.
    items = [item(k, "user_deleted", now + FUTURE_TTL_SECONDS) for k in run.ids_of("user_deleted")]
    items += [item(k, "refreshed", refreshed_until) for k in run.ids_of("refreshed")]
    items += [item(k, "future", now + FUTURE_TTL_SECONDS) for k in run.ids_of("future")]
    dynamodb.put_items(session, settings.table_name, items)
    client = session.client("dynamodb")
    for key in run.ids_of("refreshed"):
        client.update_item(
            TableName=settings.table_name, Key={pk: {"S": key}, sk: {"N": str(now)}},
            UpdateExpression="SET #t = :t", ExpressionAttributeNames={"#t": ttl},
            ExpressionAttributeValues={":t": {"N": str(now + FUTURE_TTL_SECONDS)}},
        )
    for key in run.ids_of("user_deleted"):
        client.delete_item(TableName=settings.table_name, Key={pk: {"S": key}, sk: {"N": str(now)}})
    dynamodb.put_items(session, settings.table_name, (item(run.key("expired", n), "expired", expires_at) for n in range(expired)))
    run.write_seconds = round(time.time() - started, 3)
    if save:
        save_run(run, run_path(settings, identity.account_id, identity.region))
    LOG.info("%s", run.describe())
    return run


def resume_or_start(session: Any, settings: Settings, identity: Any, *, resume: bool | None = None, **kwargs: Any) -> tuple[TestRun, bool]:
    """The saved run when ``resume`` (default: on AWS, where TTL takes days, not on the local target)
    and one exists for this table; otherwise a new run. Returns ``(run, resumed)``."""
    from .target import is_local

    if resume is None:
        resume = not is_local(session)
    if resume:
        run = load_run(settings, identity)
        if run is not None and run.table_name == settings.table_name:
            return run, True
    return start_run(session, settings, identity, **kwargs), False


# --------------------------------------------------------------------------- the comparison


@dataclass
class Report:
    """The comparison (see the module docstring); ``to_dict`` is what ``python -m helpers demo --json`` prints."""

    run_id: str
    expired_written: int
    archived_unique: int
    duplicates: int
    unexpected: int
    missing: int
    s3_objects: int
    seconds: float
    controls_written: int = 0
    controls_kept: int | None = None  # future and refreshed items still in the table (None: not checked)
    controls_expected_kept: int = 0
    complete: bool = False
    timed_out: bool = False
    write_seconds: float = 0.0
    target: str = "local"
    unexpected_ids: list[str] = field(default_factory=list)
    missing_sample: list[str] = field(default_factory=list)
    sample_record: dict[str, Any] | None = None
    local_problems: list[str] = field(default_factory=list)  # errors inside the embedded local AWS's runtime (local target)
    failure_notes: int | None = None  # notes waiting in the failure queue (looked up only when items are missing)

    @property
    def ok(self) -> bool:
        """Nothing missing, nothing unexpected, and the controls that must stay are still there."""
        return self.missing == 0 and self.unexpected == 0 and self.controls_kept in (None, self.controls_expected_kept)

    def raise_for_problems(self, *, allow_pending: bool = False) -> "Report":
        """Raise ``AssertionError`` naming what is wrong: an item archived that must not be, an item that must
        stay but is gone, or (unless ``allow_pending``, for AWS where TTL takes days) an expired item not archived
        yet. Returns the report when all is well, so it can end a notebook cell."""
        problems = []
        if self.unexpected:
            problems.append(f"{self.unexpected} items archived that must not be: {', '.join(self.unexpected_ids[:5])}")
        if self.controls_kept is not None and self.controls_kept != self.controls_expected_kept:
            problems.append(f"only {self.controls_kept} of {self.controls_expected_kept} items that must stay are still in the table")
        if self.missing and not allow_pending:
            problems.append(f"{self.missing} expired items are not archived: {', '.join(self.missing_sample[:5])}{self.queue_hint()}")
            if self.local_problems:
                problems.append("the embedded local AWS reports: " + " | ".join(self.local_problems[:3]))
        if problems:
            raise AssertionError(f"run {self.run_id}: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("sample_record")
        out["ok"] = self.ok
        return out

    def describe(self) -> str:
        state = "complete" if self.complete else ("timed out" if self.timed_out else "in progress")
        text = (
            f"run {self.run_id} ({state}): {self.archived_unique:,} of {self.expired_written:,} expired items archived "
            f"in {self.seconds:.1f} s; {self.missing:,} missing, {self.unexpected:,} unexpected, {self.duplicates:,} duplicate deliveries, "
            f"{self.s3_objects:,} S3 objects"
        )
        if self.controls_kept is not None:
            text += f"; {self.controls_kept} of {self.controls_expected_kept} items that must stay are still in the table"
        text += "." + self.queue_hint()
        if self.local_problems:
            text += f"\nThe embedded local AWS reports {len(self.local_problems)} problem(s) of its own:\n" + "\n".join(f"  {p}" for p in self.local_problems)
        return text


    def queue_hint(self) -> str:
        """" 2 missing: 1 note in the failure queue, run `ttl-archive redrive`." when notes wait, else ""."""
        if not self.missing or not self.failure_notes:
            return ""
        notes = f"{self.failure_notes} note{'s' if self.failure_notes != 1 else ''}"
        return f" {self.missing:,} missing: {notes} in the failure queue, run `ttl-archive redrive`."


def _failure_notes(session: Any, run: TestRun) -> int | None:
    """Notes waiting in the run's failure queue (None: no queue known or readable)."""
    from .failure_queue import note_count

    if not run.failure_queue_name:
        return None
    try:
        return note_count(session, run.failure_queue_name)
    except ClientError as err:  # looking is a courtesy: a denied or throttled call must not break the check
        LOG.warning("could not count the notes in %s: %s", run.failure_queue_name, err)
        return None


def _controls_kept(session: Any, run: TestRun) -> int:
    keys = [k for kind in ("future", "refreshed") for k in run.ids_of(kind)]
    client = session.client("dynamodb")
    found = 0
    for start in range(0, len(keys), 100):
        request = {run.table_name: {"Keys": [{run.partition_key: {"S": k}, run.sort_key: {"N": str(run.sort_value)}} for k in keys[start:start + 100]],
                                    "ProjectionExpression": "#k", "ExpressionAttributeNames": {"#k": run.partition_key}}}
        for _ in range(10):
            response = client.batch_get_item(RequestItems=request)
            found += len(response.get("Responses", {}).get(run.table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.2)
    return found


def local_problems(session: Any) -> list[str]:
    """The embedded local AWS's own runtime problems (stuck trigger, failed sweep...), one line each; [] on AWS."""
    from . import local, target

    url = target.endpoint_of(session)
    if not target.is_local(session) or not url:
        return []
    try:
        found = local.problems(int(url.rstrip("/").rsplit(":", 1)[1]))
    except (ValueError, IndexError):
        return []
    return local.describe_problems(found or [])


def check(session: Any, run: TestRun, *, scanner: ArchiveScanner | None = None, seconds: float | None = None,
          complete: bool = False, timed_out: bool = False) -> Report:
    """Compare what the run wrote with what the archive holds now (see the module docstring).

    Reads the archive objects the scanner has not read yet (every delivery kept, so duplicates can be
    counted); without a scanner, a new one reads every object written since the run started. Memory is
    bounded by the run's size (see :class:`ArchiveScanner`), whatever the archive's size.
    """
    scanner = scanner or ArchiveScanner(session, run)
    scanner.poll()
    controls = run.control_kinds
    unexpected_count = sum(scanner.archived_count(kind) for kind in controls)
    unexpected = [key for kind in controls for key in scanner.archived_keys(kind, limit=20)][:20]
    expired = run.counts.get("expired", 0)
    archived = scanner.archived_count("expired")
    expected_kept = sum(run.counts.get(k, 0) for k in ("future", "refreshed"))
    controls_due = bool(run.future_expires_at) and time.time() >= run.future_expires_at  # weeks later: TTL may take them now
    return Report(
        run_id=run.run_id,
        expired_written=expired,
        archived_unique=archived,
        duplicates=scanner.deliveries - len(scanner.event_ids),
        unexpected=unexpected_count,
        missing=expired - archived,
        s3_objects=len(scanner.objects_with_run),
        seconds=round(seconds if seconds is not None else time.time() - (run.written_at + run.write_seconds), 3),
        controls_written=sum(run.counts.get(k, 0) for k in ("future", "user_deleted", "refreshed")),
        controls_kept=None if controls_due else _controls_kept(session, run),
        controls_expected_kept=expected_kept,
        complete=complete,
        timed_out=timed_out,
        write_seconds=run.write_seconds,
        target="local" if run.local else "aws",
        unexpected_ids=unexpected,
        missing_sample=scanner.archived_keys("expired", seen=False, limit=20),
        sample_record=scanner.sample,
        local_problems=local_problems(session) if run.local else [],
        failure_notes=_failure_notes(session, run) if expired - archived else None,
    )


def wait_for_archive(
    session: Any,
    run: TestRun,
    *,
    timeout: float = 120.0,
    interval: float | None = None,
    progress: bool = True,
    raise_on_timeout: bool = False,
    clock: Callable[[], float] = time.time,
) -> Report:
    """Poll the archive until every expired item of ``run`` is in it, or ``timeout`` seconds pass.

    Polls every ``interval`` seconds (default 0.5 locally, 5 on AWS). Shows a tqdm progress bar
    (``progress=False``: none). Waits at least until the refreshed items'
    original expiry plus two seconds has passed, so a wrongly deleted refreshed item would be seen.
    Returns :func:`check`'s :class:`Report` (``complete`` or ``timed_out`` set). With
    ``raise_on_timeout=True`` a timeout raises ``TimeoutError`` naming how many items are missing;
    by default it returns the report, so a notebook on AWS (where TTL takes days) reports progress.
    """
    if interval is None:
        interval = 0.5 if run.local else 5.0  # on AWS, objects arrive per Firehose buffer interval: poll calmly
    scanner = ArchiveScanner(session, run)
    expired = run.counts.get("expired", 0)
    begin = clock()
    deadline = begin + timeout
    written_end = run.written_at + run.write_seconds
    last_seen = None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=expired, unit="item", desc=f"archived ({run.run_id})", dynamic_ncols=True)
    done = 0
    try:
        while True:
            before = done
            scanner.poll()
            done = scanner.archived_count("expired")
            if done > before:
                last_seen = clock()
                if bar is not None:
                    bar.update(done - before)
            settled = not run.refreshed_until or clock() >= run.refreshed_until + REFRESH_AFTER_SECONDS
            if done == expired and settled:
                complete, timed_out = True, False
                break
            if clock() >= deadline:
                complete, timed_out = False, True
                break
            time.sleep(interval)
    finally:
        if bar is not None:
            bar.close()
    seconds = ((last_seen if last_seen is not None else clock()) - written_end) if not timed_out else clock() - written_end
    report = check(session, run, scanner=scanner, seconds=max(0.0, seconds), complete=complete, timed_out=timed_out)
    if timed_out:
        message = (f"timed out after {timeout:.0f} s: {report.archived_unique:,} of {report.expired_written:,} expired items archived, "
                   f"{report.missing:,} missing")
        if not run.local:
            message += " (on AWS, TTL deletes items within a few days of expiry: run the check again later)"
        LOG.warning("%s", message)
        if raise_on_timeout:
            raise TimeoutError(message)
    return report
