"""What a stack has on the target right now, resource by resource: read-only (``ttl-archive status``, ``deploy --dry-run``).

:func:`inspect` describes every resource the stack is made of (table, bucket, roles, Firehose stream,
failure queue, function, log groups, trigger, alarms) with whether it exists, whether it carries this
stack's tags, and its state; then the pipeline's health: the trigger's state and last result, the
alarms' states, the iterator age, the failure queue's depth, the newest archive object, and warnings:

* more than one trigger from the stream to this function (every TTL delete archived more than once);
* a stream that already has two other consumers (DynamoDB streams serve at most two readers per shard
  without throttling; only Lambda triggers are visible here, not KCL applications);
* TTL disabled or on another attribute, a stream that is off or carries no old images.

:meth:`Inventory.plan` turns the same facts into what ``deploy`` would do, by resource. Nothing here
changes anything.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from botocore.exceptions import ClientError

from . import alarms, dynamodb, firehose, iam, tagging, trigger
from .settings import Settings

LOG = logging.getLogger(__name__)
TRIGGER_KIND = "event source mapping"
MAX_READERS_PER_SHARD = 2


@dataclass
class Resource:
    """One resource of the stack: ``exists``, ``ours`` (tagged for the stack; None when unknown), ``state``."""

    kind: str
    name: str
    exists: bool
    ours: bool | None = None
    state: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        owner = "" if not self.exists or self.ours is None else (" (this stack's)" if self.ours else " (NOT tagged for this stack)")
        return f"{self.kind:22} {self.name}: {self.state if self.exists else 'missing'}{owner}"


@dataclass
class Inventory:
    """Every resource of the stack and the pipeline's health (see the module docstring)."""

    stack: str
    existing_table: bool
    resources: list[Resource] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)
    other_consumers: list[str] = field(default_factory=list)
    alarm_states: dict[str, str] = field(default_factory=dict)
    iterator_age_ms: float | None = None
    failure_queue_depth: int | None = None
    newest_archive_object: str | None = None
    newest_archive_time: str | None = None
    warnings: list[str] = field(default_factory=list)

    def get(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    @property
    def complete(self) -> bool:
        """Every resource exists (and, except an application's table, is this stack's)."""
        return all(r.exists and (r.ours or (r.kind == "DynamoDB table" and self.existing_table)) for r in self.resources)

    @property
    def ok(self) -> bool:
        return self.complete and not self.warnings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(complete=self.complete, ok=self.ok)
        return data

    def describe(self) -> str:
        lines = [f"stack {self.stack}" + (" (existing-table mode)" if self.existing_table else "")]
        lines += [f"  {r}" for r in self.resources]
        for t in self.triggers:
            lines.append(f"  trigger {t['uuid']}: {t['state']}, last result {t['last_result'] or 'none yet'}, batch size {t['batch_size']}")
        lines.append(f"  alarms: {', '.join(f'{k} {v}' for k, v in sorted(self.alarm_states.items())) or 'none'}")
        age = "no data" if self.iterator_age_ms is None else f"{self.iterator_age_ms / 1000:.1f} s"
        lines.append(f"  iterator age (max, last 15 minutes): {age}")
        lines.append(f"  failure queue depth: {'unknown' if self.failure_queue_depth is None else self.failure_queue_depth}")
        newest = f"{self.newest_archive_time} ({self.newest_archive_object})" if self.newest_archive_object else "none"
        lines.append(f"  newest archive object: {newest}")
        lines += [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    def plan(self) -> list[dict[str, str]]:
        """What ``deploy`` would do to each resource: create, check (update where it differs), use, or refuse."""
        steps = []
        for r in self.resources:
            if r.kind == TRIGGER_KIND:
                continue
            if r.kind == "DynamoDB table" and self.existing_table:
                if not r.exists:
                    action = "refuse: existing-table mode and the table does not exist"
                else:
                    todo = [t for t, needed in (("enable the stream (NEW_AND_OLD_IMAGES)", not r.detail.get("stream_enabled")),
                                                (f"enable TTL on {r.detail.get('wanted_ttl')}", r.detail.get("ttl_status") not in dynamodb.TTL_ON)) if needed]
                    action = "use the application's table" + (": " + "; ".join(todo) if todo else " as it is")
            elif not r.exists:
                action = "create"
            elif r.ours:
                action = "check, update where it differs"
            else:
                action = "refuse: exists and is not tagged for this stack"
            steps.append({"kind": r.kind, "name": r.name, "action": action})
        ours = [t for t in self.triggers if t["function"]]
        trig = "create" if not ours else ("check, update where it differs" if len(ours) == 1 else f"keep one of {len(ours)} triggers, delete the duplicates this stack created")
        steps.append({"kind": TRIGGER_KIND, "name": self.trigger_name, "action": trig})
        return steps

    trigger_name: str = ""


# --------------------------------------------------------------------------- one function per resource


def _missing(err: ClientError, *codes: str) -> bool:
    return err.response.get("Error", {}).get("Code") in codes


def _table(session: Any, settings: Settings, inv: Inventory) -> str | None:
    try:
        setup = dynamodb.describe_table_setup(session, settings.table_name)
    except dynamodb.TableNotFound:
        inv.resources.append(Resource("DynamoDB table", settings.table_name, False, detail={"wanted_ttl": settings.ttl_attribute}))
        return None
    state = (f"{setup['table_status']}, stream {setup['stream_view_type'] or 'off'}, TTL {setup['ttl_status']} on "
             f"{setup['ttl_attribute'] or '-'}, about {setup['item_count_approx']} items")
    detail = {k: setup[k] for k in ("stream_enabled", "stream_view_type", "ttl_status", "ttl_attribute", "item_count_approx", "hash_key", "range_key")}
    detail["wanted_ttl"] = settings.ttl_attribute
    inv.resources.append(Resource("DynamoDB table", settings.table_name, True, tagging.is_ours(setup["tags"], settings.stack), state, detail))
    if setup["ttl_status"] not in dynamodb.TTL_ON:
        inv.warnings.append(f"TTL is {setup['ttl_status']} on table {settings.table_name}: nothing expires, so nothing is archived")
    elif setup["ttl_attribute"] != settings.ttl_attribute:
        inv.warnings.append(f"TTL on table {settings.table_name} is on {setup['ttl_attribute']!r}, not {settings.ttl_attribute!r} (TTL_ARCHIVE_TTL_ATTRIBUTE)")
    if not setup["stream_enabled"]:
        inv.warnings.append(f"the stream of table {settings.table_name} is off: TTL deletes reach no trigger")
    elif not setup["has_old_images"]:
        inv.warnings.append(f"the stream of table {settings.table_name} is {setup['stream_view_type']}: no old images, deleted items cannot be archived")
    return setup["stream_arn"]


def _bucket(session: Any, settings: Settings, inv: Inventory) -> None:
    s3 = session.client("s3")
    name = settings.bucket_name
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as err:
        if _missing(err, "404", "NoSuchBucket", "NotFound"):
            inv.resources.append(Resource("S3 bucket", name, False))
        else:
            inv.resources.append(Resource("S3 bucket", name, True, False, "exists, but this account may not use it"))
        return
    try:
        tags = tagging.from_key_value_list(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
    except ClientError as err:
        if not _missing(err, "NoSuchTagSet"):
            raise
        tags = {}
    key, when = newest_object(s3, name, settings.archive_prefix)
    inv.newest_archive_object, inv.newest_archive_time = key, when
    inv.resources.append(Resource("S3 bucket", name, True, tagging.is_ours(tags, settings.stack), "exists", {"newest_archive_object": key}))


def newest_object(s3: Any, bucket: str, prefix: str, *, depth: int = 8) -> tuple[str | None, str | None]:
    """The newest object under ``prefix`` and its LastModified (ISO 8601 UTC), walking Firehose's dated folders
    (``YYYY/MM/DD/HH/``) down the newest branch instead of listing everything. (None, None) when empty."""
    best: tuple[dt.datetime, str] | None = None
    for _ in range(depth):
        page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        for obj in page.get("Contents", []):
            if best is None or obj["LastModified"] > best[0]:
                best = (obj["LastModified"], obj["Key"])
        folders = sorted(p["Prefix"] for p in page.get("CommonPrefixes", []))
        if not folders:
            break
        prefix = folders[-1]
    if best is None:
        return None, None
    return best[1], best[0].astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _role(session: Any, settings: Settings, inv: Inventory, name: str) -> None:
    tags = iam.role_tags(session, name)
    inv.resources.append(Resource("IAM role", name, tags is not None, None if tags is None else tagging.is_ours(tags, settings.stack), "exists"))


def _delivery_stream(session: Any, settings: Settings, inv: Inventory) -> None:
    name = settings.delivery_stream_name
    description = firehose.describe_delivery_stream(session, name)
    if description is None:
        inv.resources.append(Resource("Firehose stream", name, False))
        return
    tags = firehose.delivery_stream_tags(session, name) or {}
    inv.resources.append(Resource("Firehose stream", name, True, tagging.is_ours(tags, settings.stack), description.get("DeliveryStreamStatus", "?")))


def _queue(session: Any, settings: Settings, inv: Inventory) -> None:
    sqs = session.client("sqs")
    name = settings.failure_queue_name
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as err:
        if not _missing(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        inv.resources.append(Resource("SQS queue", name, False))
        return
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    depth = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
    inv.failure_queue_depth = depth
    ours = tagging.is_ours(sqs.list_queue_tags(QueueUrl=url).get("Tags", {}), settings.stack)
    inv.resources.append(Resource("SQS queue", name, True, ours, f"{depth} failure record(s)"))
    if depth:
        inv.warnings.append(f"the failure queue {name} holds {depth} note(s) of batches the trigger gave up on: run `ttl-archive redrive` "
                            "while their records are still in the stream (24 hours)")


def _function(session: Any, settings: Settings, inv: Inventory) -> None:
    name = settings.function_name
    try:
        response = session.client("lambda").get_function(FunctionName=name)
    except ClientError as err:
        if not _missing(err, "ResourceNotFoundException"):
            raise
        inv.resources.append(Resource("Lambda function", name, False))
        return
    config = response["Configuration"]
    state = f"{config.get('State', 'Active')}, last update {config.get('LastUpdateStatus', 'Successful')}, {config.get('Runtime', '')}"
    inv.resources.append(Resource("Lambda function", name, True, tagging.is_ours(response.get("Tags", {}), settings.stack), state))


def _log_group(session: Any, settings: Settings, inv: Inventory, name: str) -> None:
    tags = firehose.log_group_tags(session, name)
    inv.resources.append(Resource("log group", name, tags is not None, None if tags is None else tagging.is_ours(tags, settings.stack), "exists"))


def _triggers(session: Any, settings: Settings, inv: Inventory, stream_arn: str | None) -> None:
    inv.trigger_name = f"{settings.function_name} <- {settings.table_name}"
    if stream_arn is None:
        inv.resources.append(Resource(TRIGGER_KIND, inv.trigger_name, False))
        return
    client = session.client("lambda")
    others: set[str] = set()
    for mapping in trigger.stream_mappings(session, stream_arn):
        if not trigger._is_for(mapping, settings.function_name):
            others.add(mapping.get("FunctionArn", "?"))
            continue
        inv.triggers.append({
            "uuid": mapping["UUID"], "state": mapping.get("State"), "last_result": mapping.get("LastProcessingResult"),
            "batch_size": mapping.get("BatchSize"), "function": mapping.get("FunctionArn"), "ours": trigger._ours(client, mapping, settings),
        })
    inv.other_consumers = sorted(others)
    if not inv.triggers:
        inv.resources.append(Resource(TRIGGER_KIND, inv.trigger_name, False))
    for t in inv.triggers:
        inv.resources.append(Resource(TRIGGER_KIND, f"{inv.trigger_name} ({t['uuid']})", True, t["ours"], f"{t['state']}, last result {t['last_result'] or 'none yet'}"))
        if t["state"] != "Enabled":
            inv.warnings.append(f"trigger {t['uuid']} is {t['state']}: TTL deletes wait in the stream (24 hours) until it is Enabled")
        if t["last_result"] and t["last_result"] not in ("OK", "No records processed"):
            inv.warnings.append(f"trigger {t['uuid']} last result: {t['last_result']}")
    if len(inv.triggers) > 1:
        inv.warnings.append(f"{len(inv.triggers)} triggers read the stream into {settings.function_name}: every TTL delete is archived {len(inv.triggers)} times. "
                            f"'ttl-archive deploy' keeps one and deletes the duplicates this stack created")
    if len(others) >= MAX_READERS_PER_SHARD:
        inv.warnings.append(f"the stream of {settings.table_name} already has {len(others)} other consumer(s) ({', '.join(sorted(others))}): DynamoDB streams serve "
                            f"at most {MAX_READERS_PER_SHARD} readers per shard without throttling, so the archive may fall behind")


def _alarms_and_age(session: Any, settings: Settings, inv: Inventory) -> None:
    wanted = [s.name for s in alarms.alarm_specs(settings)]
    states = alarms.alarm_states(session, settings)
    inv.alarm_states = {name: states.get(name, "missing") for name in wanted}
    for name in wanted:
        inv.resources.append(Resource("CloudWatch alarm", name, name in states, True if name in states else None, states.get(name, "")))
        if states.get(name) == "ALARM":
            inv.warnings.append(f"alarm {name} is in ALARM")
    now = dt.datetime.now(dt.timezone.utc)
    points = session.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="IteratorAge", Dimensions=[{"Name": "FunctionName", "Value": settings.function_name}],
        StartTime=now - dt.timedelta(minutes=15), EndTime=now, Period=60, Statistics=["Maximum"],
    ).get("Datapoints", [])
    if points:
        inv.iterator_age_ms = max(points, key=lambda p: p["Timestamp"])["Maximum"]


def inspect(session: Any, settings: Settings, identity: Any) -> Inventory:
    """Describe every resource of the stack and the pipeline's health (read-only; see the module docstring)."""
    settings = settings.with_account(identity.account_id, identity.region)
    inv = Inventory(stack=settings.stack, existing_table=settings.existing_table)
    stream = _table(session, settings, inv)
    steps: list[Callable[[], Any]] = [
        lambda: _bucket(session, settings, inv),
        lambda: _role(session, settings, inv, settings.firehose_role_name),
        lambda: _delivery_stream(session, settings, inv),
        lambda: _queue(session, settings, inv),
        lambda: _role(session, settings, inv, settings.lambda_role_name),
        lambda: _log_group(session, settings, inv, iam.firehose_log_group_name(settings)),
        lambda: _log_group(session, settings, inv, iam.lambda_log_group_name(settings)),
        lambda: _function(session, settings, inv),
        lambda: _triggers(session, settings, inv, stream),
        lambda: _alarms_and_age(session, settings, inv),
    ]
    for step in steps:
        step()
    return inv
