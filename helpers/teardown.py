"""Tear a stack down: delete what this project created for it, in dependency order, and say what was kept.

Only resources tagged ``managed-by: dynamodb-ttl-archive`` **and** ``ttl-archive-stack: <stack>`` are
deleted (:func:`helpers.tagging.is_ours`); a resource that merely has the stack's name is reported as
kept. Order: the function's event source mappings, the function, the stack's CloudWatch alarms (named
``<stack>-...``, ``<function>-...`` or ``<failure queue>-...``), the alarm topic (with its subscriptions), the
failure queue, the function's role, the Firehose stream, the Firehose role, the log groups, the Glue table
and then its Glue database (notebook 06's Athena catalog over the archive: the table before the database that
holds it, both before the bucket they point at; only catalog entries, never the archive's objects), the bucket,
the table.

Three refusals protect data, and ``force=True`` lifts them:

* a bucket that still holds objects (the archive **is** the data this project exists to keep) is kept;
  forced, every object version, delete marker and unfinished multipart upload is removed first;
* a table of this stack that still holds items (their TTL has not passed, so they are not archived) is kept;
  forced, it is deleted with them;
* a table this project did not create (not tagged for the stack, or ``settings.existing_table``) is
  kept; forced, it is deleted.

``force`` never deletes a bucket that is not tagged for the stack (bucket names are global: it may be
somebody else's), nor a table with deletion protection on. In existing-table mode the stream and TTL
settings that :mod:`helpers.dynamodb` turned on are left as they are; the report says so.

Resources are looked up, and their tags read, with plain boto3 calls here (every mapping of the function,
every alarm with the stack's name prefix, not only those the modules create); the deletions themselves go
through each module's ``delete_<resource>`` ("not found" is done, waits where AWS deletes in the
background). Alarms are found by name prefix and then kept or deleted by their tags.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.exceptions import ClientError, WaiterError

from . import alarm_topic as alarm_topic_mod
from . import athena as athena_mod
from . import dynamodb as dynamodb_mod
from . import failure_queue as failure_queue_mod
from . import firehose as firehose_mod
from . import iam as iam_mod
from . import lambda_function as lambda_mod
from . import s3 as s3_mod
from . import tagging
from .retry import wait_until
from .settings import MANAGED_BY_KEY, MANAGED_BY_VALUE, STACK_TAG_KEY, Settings

LOG = logging.getLogger(__name__)

DELETED = "deleted"
WOULD_DELETE = "would delete"
KEPT = "kept"
NOT_FOUND = "not found"
FAILED = "failed"

_NOT_OURS = "not tagged for this stack (managed-by: dynamodb-ttl-archive, ttl-archive-stack: {stack}): left alone"


@dataclass
class TeardownEntry:
    kind: str
    name: str
    status: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.status:12} {self.kind} {self.name}" + (f": {self.reason}" if self.reason else "")


@dataclass
class TeardownReport:
    """What :func:`teardown` did (or, with ``dry_run``, would do), resource by resource."""

    stack: str
    dry_run: bool = False
    force: bool = False
    entries: list[TeardownEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, name: str, status: str, reason: str = "") -> TeardownEntry:
        entry = TeardownEntry(kind, name, status, reason)
        self.entries.append(entry)
        LOG.info("teardown %s: %s", self.stack, entry)
        return entry

    def _with(self, status: str) -> list[TeardownEntry]:
        return [e for e in self.entries if e.status == status]

    @property
    def deleted(self) -> list[TeardownEntry]:
        return self._with(DELETED)

    @property
    def would_delete(self) -> list[TeardownEntry]:
        return self._with(WOULD_DELETE)

    @property
    def kept(self) -> list[TeardownEntry]:
        return self._with(KEPT)

    @property
    def not_found(self) -> list[TeardownEntry]:
        return self._with(NOT_FOUND)

    @property
    def failed(self) -> list[TeardownEntry]:
        return self._with(FAILED)

    def status_of(self, kind: str) -> list[str]:
        return [e.status for e in self.entries if e.kind == kind]

    def __str__(self) -> str:
        head = f"teardown of stack {self.stack}" + (" (dry run: nothing deleted)" if self.dry_run else "") + (" (force)" if self.force else "")
        lines = [head] + [f"  {e}" for e in self.entries] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        head = f"**Teardown of stack `{self.stack}`**" + (" (dry run: nothing deleted)" if self.dry_run else "") + (" (force)" if self.force else "")
        rows = ["| status | resource | name | why |", "|---|---|---|---|"]
        rows += [f"| {e.status} | {e.kind} | `{e.name}` | {e.reason.replace('|', '/')} |" for e in self.entries]
        notes = [f"- {n}" for n in self.notes]
        return "\n".join([head, "", *rows, "", *notes])


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


class _Teardown:
    def __init__(self, session, settings: Settings, *, force: bool, dry_run: bool, timeout: float, sleep: Callable[[float], None]) -> None:
        self.session = session
        self.settings = settings
        self.force = force
        self.dry_run = dry_run
        self.timeout = timeout
        self.sleep = sleep
        self.report = TeardownReport(settings.stack, dry_run=dry_run, force=force)
        self.not_ours = _NOT_OURS.format(stack=settings.stack)

    def ours(self, tags: dict[str, str] | None) -> bool:
        return tags is not None and tagging.is_ours(tags, self.settings.stack)

    def step(self, kind: str, name: str, action: Callable[[], Any]) -> None:
        """Run one resource's step; an unexpected AWS error is reported, and the other steps still run."""
        try:
            action()
        except ClientError as err:
            self.report.add(kind, name, FAILED, f"{_code(err)}: {err.response.get('Error', {}).get('Message', '')}")
        except (TimeoutError, WaiterError, dynamodb_mod.TableSetupError, s3_mod.BucketSetupError) as err:
            self.report.add(kind, name, FAILED, str(err))

    def delete(self, kind: str, name: str, call: Callable[[], Any], reason: str = "") -> None:
        if self.dry_run:
            self.report.add(kind, name, WOULD_DELETE, reason)
            return
        call()
        self.report.add(kind, name, DELETED, reason)

    def delete_if_ours(self, kind: str, name: str, tags: dict[str, str] | None, call: Callable[[], Any], kept_note: str = "") -> None:
        """Not found (``tags`` None), kept (not tagged for the stack), or deleted with ``call``."""
        if tags is None:
            self.report.add(kind, name, NOT_FOUND)
        elif not self.ours(tags):
            self.report.add(kind, name, KEPT, self.not_ours + kept_note)
        else:
            self.delete(kind, name, call)

    # ---------------------------------------------------------------------------------------- Lambda
    def function_and_mappings(self) -> None:
        fn = self.settings.function_name
        lam = self.session.client("lambda")
        try:
            arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
        except ClientError as err:
            if _code(err) != "ResourceNotFoundException":
                raise
            arn = None
        tags = lam.list_tags(Resource=arn).get("Tags", {}) if arn else None
        mappings = [m for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=fn) for m in page["EventSourceMappings"]]
        if not mappings:
            self.report.add("event source mapping", f"(of {fn})", NOT_FOUND)
        for mapping in mappings:
            label = f"{mapping['UUID']} ({mapping.get('EventSourceArn', '')})"
            if arn is not None and not self.ours(tags):
                self.report.add("event source mapping", label, KEPT, f"its function {fn} is {self.not_ours}")
                continue
            self.step("event source mapping", label, lambda m=mapping, label=label: self.delete("event source mapping", label, lambda: self._delete_mapping(m["UUID"])))
        self.delete_if_ours("Lambda function", fn, tags, lambda: lambda_mod.delete_function(self.session, self.settings))

    def _delete_mapping(self, uuid: str) -> None:
        lam = self.session.client("lambda")
        try:
            lam.delete_event_source_mapping(UUID=uuid)
        except ClientError as err:
            if _code(err) != "ResourceNotFoundException":
                raise

        def gone() -> bool:
            try:
                lam.get_event_source_mapping(UUID=uuid)
            except ClientError as err:
                if _code(err) == "ResourceNotFoundException":
                    return True
                raise
            return False

        wait_until(gone, what=f"event source mapping {uuid} to be deleted", timeout=self.timeout, sleep=self.sleep)

    # ---------------------------------------------------------------------------------------- alarms
    def alarms(self) -> None:
        cw = self.session.client("cloudwatch")
        candidates = {f"{self.settings.stack}-", f"{self.settings.function_name}-", f"{self.settings.failure_queue_name}-"}
        prefixes = sorted(p for p in candidates if not any(o != p and p.startswith(o) for o in candidates))
        by_name: dict[str, dict[str, Any]] = {}
        for prefix in prefixes:
            for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
                for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                    by_name[alarm["AlarmName"]] = alarm
        found = list(by_name.values())
        if not found:
            self.report.add("CloudWatch alarm", " ".join(f"{p}*" for p in prefixes), NOT_FOUND)
        # Composite alarms first: AWS refuses to delete an alarm a composite alarm still refers to.
        found.sort(key=lambda a: "AlarmRule" not in a)
        for alarm in found:
            name = alarm["AlarmName"]
            tags = tagging.from_key_value_list(cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags"))
            if not self.ours(tags):
                self.report.add("CloudWatch alarm", name, KEPT, self.not_ours)
                continue
            self.step("CloudWatch alarm", name, lambda name=name: self.delete("CloudWatch alarm", name, lambda: cw.delete_alarms(AlarmNames=[name])))

    # ---------------------------------------------------------------------------------------- SNS
    def alarm_topic(self) -> None:
        name = self.settings.alarm_topic_name
        arn = alarm_topic_mod.find_topic(self.session, name)
        tags = alarm_topic_mod.topic_tags(self.session, arn) if arn else None
        self.delete_if_ours("SNS topic", name, tags, lambda: alarm_topic_mod.delete_alarm_topic(self.session, arn))

    # ---------------------------------------------------------------------------------------- SQS
    def failure_queue(self) -> None:
        name = self.settings.failure_queue_name
        sqs = self.session.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as err:
            if _code(err) not in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
                raise
            self.report.add("SQS queue", name, NOT_FOUND)
            return
        if not self.ours(sqs.list_queue_tags(QueueUrl=url).get("Tags", {})):
            self.report.add("SQS queue", name, KEPT, self.not_ours)
            return
        depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"].get("ApproximateNumberOfMessages", "0")
        reason = f"held {depth} failure record(s); " if depth not in {"0", ""} else ""
        reason += "SQS accepts a new queue of this name 60 seconds after the deletion"
        self.delete("SQS queue", name, lambda: failure_queue_mod.delete_failure_queue(self.session, self.settings), reason)

    # ---------------------------------------------------------------------------------------- IAM
    def role(self, name: str) -> None:
        self.delete_if_ours("IAM role", name, iam_mod.role_tags(self.session, name), lambda: iam_mod.delete_role(self.session, name))

    # ---------------------------------------------------------------------------------------- Firehose
    def delivery_stream(self) -> None:
        name = self.settings.delivery_stream_name
        self.delete_if_ours("Firehose stream", name, firehose_mod.delivery_stream_tags(self.session, name),
                            lambda: firehose_mod.delete_delivery_stream(self.session, name, timeout=self.timeout, sleep=self.sleep))

    # ---------------------------------------------------------------------------------------- logs
    def log_group(self, name: str) -> None:
        self.delete_if_ours("log group", name, firehose_mod.log_group_tags(self.session, name), lambda: firehose_mod.delete_log_group(self.session, name),
                            " (Lambda creates its log group untagged when the function logs before it was created)")

    # ---------------------------------------------------------------------------------------- Glue
    def glue_catalog(self, database: str, table: str) -> None:
        """Notebook 06's Athena table, then its database: only when the database carries the stack's tags, and
        the database only when no other table is left in it."""
        label = f"{database}.{table}"
        tags = athena_mod.database_tags(self.session, database)
        if tags is None:
            self.report.add("Glue table", label, NOT_FOUND)
            self.report.add("Glue database", database, NOT_FOUND)
            return
        if not self.ours(tags):
            self.report.add("Glue table", label, KEPT, f"its database is {self.not_ours}")
            self.report.add("Glue database", database, KEPT, self.not_ours)
            return
        tables = athena_mod.table_names(self.session, database)
        entry_only = "the catalog entry only: the archive's objects stay"
        if table in tables:
            self.step("Glue table", label, lambda: self.delete("Glue table", label, lambda: athena_mod.delete_table(self.session, database, table), entry_only))
        else:
            self.report.add("Glue table", label, NOT_FOUND)
        others = [t for t in tables if t != table]
        if others:
            self.report.add("Glue database", database, KEPT, f"it also holds {', '.join(others)}, which this project did not make")
        elif self.report.status_of("Glue table")[-1] != FAILED:
            self.step("Glue database", database, lambda: self._delete_database(database))

    def _delete_database(self, database: str) -> None:
        if self.dry_run:
            self.report.add("Glue database", database, WOULD_DELETE)
            return
        outcome = athena_mod.delete_database(self.session, database, {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_TAG_KEY: self.settings.stack})
        if outcome.startswith("kept"):
            self.report.add("Glue database", database, KEPT, outcome.removeprefix("kept: "))
        else:
            self.report.add("Glue database", database, DELETED if outcome == "deleted" else NOT_FOUND)

    # ---------------------------------------------------------------------------------------- S3
    def bucket(self, name: str) -> None:
        s3 = self.session.client("s3")
        try:
            tags = tagging.from_key_value_list(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
        except ClientError as err:
            code = _code(err)
            if code in {"NoSuchBucket", "404"}:
                self.report.add("S3 bucket", name, NOT_FOUND)
                return
            if code in {"AccessDenied", "403"}:
                self.report.add("S3 bucket", name, KEPT, "exists but this account may not read it (another account's bucket?): left alone")
                return
            if code != "NoSuchTagSet":
                raise
            tags = {}
        if not self.ours(tags):
            self.report.add("S3 bucket", name, KEPT, self.not_ours + " (force does not change this: bucket names are global)")
            return
        count, more = _count_objects(s3, name)
        if count and not self.force:
            self.report.add("S3 bucket", name, KEPT, f"holds {count}{'+' if more else ''} object(s), counting versions and delete markers: the archive is data. "
                            f"Copy what you need (aws s3 sync s3://{name} ./archive-copy), then run teardown with force=True to empty and delete it")
            return
        reason = f"emptied first: {count}{'+' if more else ''} object(s) removed, counting versions and delete markers" if count else ""
        if self.dry_run and count:
            reason = f"would empty it first: {count}{'+' if more else ''} object(s), counting versions and delete markers"
        # force=True: the refusal above is teardown's (it counted); this also removes what arrived since.
        self.delete("S3 bucket", name, lambda: s3_mod.delete_bucket(self.session, name, force=True), reason)

    # ---------------------------------------------------------------------------------------- DynamoDB
    def table(self) -> None:
        name = self.settings.table_name
        ddb = self.session.client("dynamodb")
        try:
            table = ddb.describe_table(TableName=name)["Table"]
        except ClientError as err:
            if _code(err) != "ResourceNotFoundException":
                raise
            self.report.add("DynamoDB table", name, NOT_FOUND)
            return
        tags = tagging.from_key_value_list(
            t for page in ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=table["TableArn"]) for t in page.get("Tags", [])
        )
        refusal = ""
        if self.settings.existing_table:
            refusal = "existing-table mode: the table belongs to the application"
        elif not self.ours(tags):
            refusal = f"this project did not create it (not tagged for stack {self.settings.stack})"
        if refusal and not self.force:
            self.report.add("DynamoDB table", name, KEPT, refusal + "; force=True deletes it anyway")
            if self.settings.existing_table:
                stream = table.get("StreamSpecification") or {}
                self.report.notes.append(
                    f"Table {name} keeps the settings the walkthrough may have turned on: stream "
                    f"{'on (' + stream.get('StreamViewType', '') + ')' if stream.get('StreamEnabled') else 'off'} and TTL on "
                    f"{self.settings.ttl_attribute!r}. Turn them off yourself if the application does not need them "
                    f"(aws dynamodb update-table --table-name {name} --stream-specification StreamEnabled=false; "
                    f"aws dynamodb update-time-to-live --table-name {name} --time-to-live-specification Enabled=false,AttributeName={self.settings.ttl_attribute})."
                )
            return
        if not refusal and not self.force and _holds_items(ddb, name):
            self.report.add("DynamoDB table", name, KEPT, "still holds items (their TTL has not passed, so they are not archived yet): "
                            "wait until they expire and are archived, or copy them, then run teardown with force=True (ttl-archive destroy --force) "
                            "to delete the table with them")
            return
        if table.get("DeletionProtectionEnabled"):
            self.report.add("DynamoDB table", name, KEPT, "deletion protection is on: turn it off first (update-table --no-deletion-protection-enabled)")
            return
        items = table.get("ItemCount", 0)
        reason = (f"forced: {refusal}; " if refusal else "") + (
            f"it held about {items} item(s) (DynamoDB's ItemCount, refreshed about every six hours); items whose TTL had not passed were not archived" if items else ""
        )
        self.delete("DynamoDB table", name, lambda: dynamodb_mod.delete_table(self.session, name, timeout=self.timeout), reason.strip("; "))


def _holds_items(ddb, table: str) -> bool:
    """True when a Scan finds at least one item (ItemCount lags by up to six hours)."""
    response = ddb.scan(TableName=table, Limit=1, Select="COUNT")
    return bool(response.get("Count") or response.get("LastEvaluatedKey"))


def _count_objects(s3, bucket: str, *, limit: int = 10_000) -> tuple[int, bool]:
    """(object versions + delete markers, True when there are more than ``limit``)."""
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        if count >= limit:
            return count, True
    return count, False


def teardown(
    session,
    settings: Settings,
    *,
    force: bool = False,
    dry_run: bool = False,
    identity=None,
    timeout: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> TeardownReport:
    """Delete this stack's resources (only those tagged for it), in dependency order.

    ``dry_run=True`` deletes nothing and reports "would delete" instead. ``force=True`` empties and
    deletes a non-empty archive bucket and deletes a table the project did not create (see the module
    docstring for what force never does). Waits for the stream, the mappings and the table to be gone
    (bounded by ``timeout`` each). Idempotent: a second run deletes nothing and reports "not found".
    An unexpected AWS error on one resource is reported as "failed" and the other steps still run.
    ``identity`` (:func:`helpers.target.identity`) is looked up when not given and the bucket name
    needs the account id.
    """
    if not settings.bucket_name:
        if identity is None:
            from .target import identity as lookup_identity

            identity = lookup_identity(session)
        settings = settings.with_account(identity.account_id, identity.region)
    run = _Teardown(session, settings, force=force, dry_run=dry_run, timeout=timeout, sleep=sleep)
    run.step("Lambda function", settings.function_name, run.function_and_mappings)
    run.step("CloudWatch alarm", f"{settings.stack}-*", run.alarms)
    run.step("SNS topic", settings.alarm_topic_name, run.alarm_topic)
    run.step("SQS queue", settings.failure_queue_name, run.failure_queue)
    run.step("IAM role", settings.lambda_role_name, lambda: run.role(settings.lambda_role_name))
    run.step("Firehose stream", settings.delivery_stream_name, run.delivery_stream)
    run.step("IAM role", settings.firehose_role_name, lambda: run.role(settings.firehose_role_name))
    for group in (iam_mod.firehose_log_group_name(settings), iam_mod.lambda_log_group_name(settings)):
        run.step("log group", group, lambda group=group: run.log_group(group))
    database = athena_mod.database_name(settings.stack)
    run.step("Glue database", database, lambda: run.glue_catalog(database, athena_mod.TABLE))
    run.step("S3 bucket", settings.bucket_name, lambda: run.bucket(settings.bucket_name))
    run.step("DynamoDB table", settings.table_name, run.table)
    return run.report
