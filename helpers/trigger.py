"""The trigger: a Lambda event source mapping from the table's stream to the archiver function.

Choices, and why:

* **Filter** (:data:`TTL_FILTER`): only REMOVE records whose ``userIdentity`` says DynamoDB's TTL service
  deleted the item. Records that do not match are dropped by Lambda before the function runs, and are not
  billed: inserts, updates and deletes by users or applications never reach the archiver. (The
  archiver checks ``userIdentity`` again: the filter is the first line, not the only one.)
* **StartingPosition TRIM_HORIZON**: the first poll starts at the oldest record still in the stream
  (up to 24 hours back), so items that TTL deletes between creating the stream and the mapping's first
  poll are archived too. LATEST would start at whatever arrives after the first poll and silently skip them.
* **ReportBatchItemFailures**: the handler names the first record it could not archive; Lambda
  checkpoints everything before it and retries from there, instead of retrying the whole batch.
* **BisectBatchOnFunctionError**: a batch whose invocation fails (crash, timeout) is split in two and
  retried, isolating a poison record instead of blocking the shard on the whole batch.
* **MaximumRetryAttempts 10** (bounded): a record that still fails after ten retries is not retried
  forever, blocking its shard; it goes to the OnFailure queue. (-1 would retry until the record leaves the
  stream after 24 hours, and then it is gone without any trace.)
* **MaximumRecordAgeInSeconds 21,600 (6 hours)**: a record older than that is discarded to the OnFailure
  queue even if retries remain. The queue receives only the batch's metadata (shard and sequence
  numbers); the records themselves stay readable in the stream for 24 hours from when they were written,
  so stopping at 6 hours leaves about 18 hours to replay them after the alarm on the queue fires.
  Allowed values: -1 (no limit, which here means the 24 h retention), or 60-604,800.
* **OnFailure -> SQS**: the failure queue from :mod:`helpers.failure_queue`, with an alarm on its depth.
* **ParallelizationFactor** from ``Settings.parallelization_factor`` (1 by default, up to 10): how many
  batches of one shard Lambda processes at once. Order is kept per item (its partition and sort key): Lambda
  sends the records of one item to the same concurrent batch (Lambda developer guide, "Using Lambda with
  DynamoDB", parallelization factor). docs/scale.md and :mod:`helpers.capacity` say when to raise it.
* **BatchSize 100, MaximumBatchingWindowInSeconds 1**: TTL deletes arrive in bursts; a one second window
  lets a batch fill (fewer invocations, fewer Firehose calls) while adding at most a second of latency.
  One batch of 100 archived lines fits easily in one PutRecordBatch call (limit 500 records / 4 MiB).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from . import validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .retry import retry_on_iam_propagation, wait_until
from .settings import Settings

LOG = logging.getLogger(__name__)

# The TTL guide's filter, plus eventName REMOVE (TTL deletes are always REMOVE; this states it).
# userIdentity appears on the Lambda event in lowercase: {"type": "Service", "principalId": "dynamodb.amazonaws.com"}.
TTL_FILTER: dict[str, Any] = {
    "eventName": ["REMOVE"],
    "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
}

DEFAULT_BATCH_SIZE = 100
DEFAULT_BATCHING_WINDOW_SECONDS = 1
DEFAULT_MAX_RETRY_ATTEMPTS = 10
DEFAULT_MAX_RECORD_AGE_SECONDS = 6 * 3600
DEFAULT_PARALLELIZATION_FACTOR = 1
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
DEFAULT_STARTING_POSITION = "TRIM_HORIZON"
FILTER_PATTERN_MAX = 4096
SETTLED_STATES = ("Enabled", "Disabled")


def filter_criteria(pattern: dict[str, Any] | None = None) -> dict[str, Any]:
    """``FilterCriteria`` with one pattern (default :data:`TTL_FILTER`) as Lambda expects it (a JSON string)."""
    text = json.dumps(pattern if pattern is not None else TTL_FILTER, separators=(",", ":"), sort_keys=True)
    if len(text) > FILTER_PATTERN_MAX:
        raise ValueError(f"invalid filter pattern: each pattern is at most {FILTER_PATTERN_MAX} characters, this one has {len(text)}")
    return {"Filters": [{"Pattern": text}]}


def desired_mapping(
    *,
    failure_queue_arn: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    batching_window_seconds: int = DEFAULT_BATCHING_WINDOW_SECONDS,
    max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS,
    max_record_age_seconds: int = DEFAULT_MAX_RECORD_AGE_SECONDS,
    parallelization_factor: int = DEFAULT_PARALLELIZATION_FACTOR,
    enabled: bool = True,
    pattern: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The mapping's updatable settings, validated against Lambda's limits (``ValueError`` quoting the rule)."""
    validation.int_range(batch_size, 1, 10_000, "BatchSize (DynamoDB streams)")
    validation.int_range(batching_window_seconds, 0, 300, "MaximumBatchingWindowInSeconds")
    validation.int_range(max_retry_attempts, -1, 10_000, "MaximumRetryAttempts (-1 means retry until the record expires)")
    if isinstance(max_record_age_seconds, bool) or not isinstance(max_record_age_seconds, int) or not (
        max_record_age_seconds == -1 or 60 <= max_record_age_seconds <= 604_800
    ):
        raise ValueError(f"invalid MaximumRecordAgeInSeconds {max_record_age_seconds!r}: must be -1 (no limit) or a whole number from 60 to 604800")
    validation.int_range(parallelization_factor, 1, 10, "ParallelizationFactor")
    if not isinstance(failure_queue_arn, str) or not failure_queue_arn.startswith("arn:") or failure_queue_arn.split(":")[2:3] != ["sqs"]:
        raise ValueError(f"invalid OnFailure destination {failure_queue_arn!r}: expected an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<queue>)")
    if not isinstance(enabled, bool):
        raise ValueError(f"invalid Enabled {enabled!r}: must be True or False")
    return {
        "Enabled": enabled,
        "BatchSize": batch_size,
        "MaximumBatchingWindowInSeconds": batching_window_seconds,
        "FilterCriteria": filter_criteria(pattern),
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": max_retry_attempts,
        "MaximumRecordAgeInSeconds": max_record_age_seconds,
        "ParallelizationFactor": parallelization_factor,
        "DestinationConfig": {"OnFailure": {"Destination": failure_queue_arn}},
    }


def _normalised(key: str, value: Any) -> Any:
    if key == "FilterCriteria":
        return sorted(json.dumps(json.loads(f["Pattern"]), sort_keys=True) for f in (value or {}).get("Filters", []))
    if key == "FunctionResponseTypes":
        return sorted(value or [])
    if key == "DestinationConfig":
        return ((value or {}).get("OnFailure") or {}).get("Destination")
    return value


def _differences(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    changes = []
    for key, want in desired.items():
        if key == "Enabled":
            have_enabled = current.get("State") in ("Enabled", "Enabling", "Creating", "Updating")
            if have_enabled != want:
                changes.append(f"Enabled: {have_enabled} -> {want}")
            continue
        have = _normalised(key, current.get(key))
        if have != _normalised(key, want):
            changes.append(f"{key}: {have!r} -> {_normalised(key, want)!r}")
    return changes


def _is_for(mapping: dict[str, Any], function_name: str) -> bool:
    arn = mapping.get("FunctionArn", "")
    suffix = f":function:{function_name}"
    return arn.endswith(suffix) or arn.endswith(suffix + ":$LATEST")


def stream_mappings(session: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every event source mapping that reads ``stream_arn`` (any function), as ListEventSourceMappings gives them."""
    client = session.client("lambda")
    return [m for page in client.get_paginator("list_event_source_mappings").paginate(EventSourceArn=stream_arn) for m in page.get("EventSourceMappings", [])]


def find_mappings(session: Any, settings: Settings, stream_arn: str) -> list[dict[str, Any]]:
    """Every mapping from ``stream_arn`` to this stack's function (more than one is a duplicate: see :func:`settle_duplicates`).

    Matches on the function's ARN (a mapping may have been created with the name or the ARN); sorted by UUID."""
    return sorted((m for m in stream_mappings(session, stream_arn) if _is_for(m, settings.function_name)), key=lambda m: m["UUID"])


def find_mapping(session: Any, settings: Settings, stream_arn: str) -> dict[str, Any] | None:
    """The event source mapping from ``stream_arn`` to this stack's function, or None (the first by UUID if several)."""
    found = find_mappings(session, settings, stream_arn)
    return found[0] if found else None


def _ours(client: Any, mapping: dict[str, Any], settings: Settings) -> bool:
    from .tagging import is_ours

    arn = mapping.get("EventSourceMappingArn")
    if not arn:
        return False
    try:
        return is_ours(client.list_tags(Resource=arn).get("Tags", {}), settings.stack)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise


def _delete_mapping(client: Any, uuid: str, timeout: float = 300.0) -> None:
    """Delete a mapping; one still being created or updated (ResourceInUseException) is waited for first."""
    for attempt in (1, 2):
        try:
            client.delete_event_source_mapping(UUID=uuid)
            return
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                return
            if code != "ResourceInUseException" or attempt == 2:
                raise
            _wait_settled(client, uuid, timeout)


def settle_duplicates(session: Any, settings: Settings, stream_arn: str) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    """Keep one mapping from ``stream_arn`` to the stack's function and delete the other ones this stack created.

    Two deploys of one stack at once can each find no mapping and each create one: every TTL delete would
    then be archived twice. Every racer calls this after creating, and all of them keep the same one
    (the first mapping tagged for this stack, by UUID), so the race ends with one trigger whoever runs last.
    Mappings not tagged for this stack are never deleted (reported instead). Returns ``(kept mapping,
    deleted UUIDs, UUIDs of duplicates left because they are not this stack's)``.
    """
    client = session.client("lambda")
    mappings = find_mappings(session, settings, stream_arn)
    if len(mappings) < 2:
        return (mappings[0] if mappings else None), [], []
    ours = [m for m in mappings if _ours(client, m, settings)]
    keep = ours[0] if ours else mappings[0]
    deleted, foreign = [], []
    for mapping in mappings:
        if mapping["UUID"] == keep["UUID"]:
            continue
        if mapping not in ours:
            foreign.append(mapping["UUID"])
            continue
        _delete_mapping(client, mapping["UUID"])
        deleted.append(mapping["UUID"])
    if deleted:
        LOG.warning("found %d triggers from %s to %s (concurrent deploys?): kept %s, deleted %s", len(mappings), stream_arn, settings.function_name, keep["UUID"], ", ".join(deleted))
    if foreign:
        LOG.warning("triggers %s from %s to %s are not tagged for stack %s: left alone, but each archives every TTL delete again", ", ".join(foreign), stream_arn, settings.function_name, settings.stack)
    return keep, deleted, foreign


def _wait_settled(client: Any, uuid: str, timeout: float) -> dict[str, Any]:
    return wait_until(
        lambda: (lambda m: m if m.get("State") in SETTLED_STATES else None)(client.get_event_source_mapping(UUID=uuid)),
        what=f"event source mapping {uuid} to be Enabled or Disabled",
        timeout=timeout,
        interval=0.5,
        max_interval=5.0,
    )


def ensure_trigger(
    session: Any,
    settings: Settings,
    *,
    stream_arn: str,
    failure_queue_arn: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    batching_window_seconds: int = DEFAULT_BATCHING_WINDOW_SECONDS,
    max_retry_attempts: int = DEFAULT_MAX_RETRY_ATTEMPTS,
    max_record_age_seconds: int = DEFAULT_MAX_RECORD_AGE_SECONDS,
    parallelization_factor: int | None = None,
    starting_position: str = DEFAULT_STARTING_POSITION,
    enabled: bool = True,
    pattern: dict[str, Any] | None = None,
    wait_timeout: float = 300.0,
) -> Ensured:
    """Create or update the mapping from ``stream_arn`` to the stack's function; idempotent; waits.

    Every value is validated before any AWS call (``ValueError`` quoting Lambda's limit). An existing
    mapping for the same function and stream is updated where it differs (UpdateEventSourceMapping)
    and reported "already there" when nothing differs. Duplicate mappings (two deploys at once) are
    settled first and after a create (:func:`settle_duplicates`); the outcome's ``changes`` say so. StartingPosition cannot be changed on an
    existing mapping: a difference is logged, not applied. Waits until the mapping's State is Enabled
    (or Disabled when ``enabled=False``). Returns the mapping as GetEventSourceMapping describes it.
    ``parallelization_factor`` (concurrent batches per shard, 1-10): default ``settings.parallelization_factor``
    (``TTL_ARCHIVE_PARALLELIZATION_FACTOR``); docs/scale.md says when to raise it.
    """
    if parallelization_factor is None:
        parallelization_factor = settings.parallelization_factor
    if starting_position not in STARTING_POSITIONS:
        raise ValueError(f"invalid StartingPosition {starting_position!r}: DynamoDB streams accept {' or '.join(STARTING_POSITIONS)}")
    if not isinstance(stream_arn, str) or not stream_arn.startswith("arn:") or ":dynamodb:" not in stream_arn or "/stream/" not in stream_arn:
        raise ValueError(f"invalid stream ARN {stream_arn!r}: expected arn:<partition>:dynamodb:<region>:<account>:table/<table>/stream/<label>")
    desired = desired_mapping(
        failure_queue_arn=failure_queue_arn, batch_size=batch_size, batching_window_seconds=batching_window_seconds,
        max_retry_attempts=max_retry_attempts, max_record_age_seconds=max_record_age_seconds,
        parallelization_factor=parallelization_factor, enabled=enabled, pattern=pattern,
    )
    client = session.client("lambda")
    tags = settings.tags()
    name = f"{settings.function_name} <- {stream_arn.split(':table/', 1)[-1]}"
    current, deleted, foreign = settle_duplicates(session, settings, stream_arn)
    settled = _settled_notes(deleted, foreign)

    if current is None:
        LOG.info("creating the event source mapping %s", name)
        created = retry_on_iam_propagation(
            lambda: client.create_event_source_mapping(
                FunctionName=settings.function_name, EventSourceArn=stream_arn, StartingPosition=starting_position, Tags=tags, **desired
            )
        )
        keep, deleted, foreign = settle_duplicates(session, settings, stream_arn)
        notes = [f"UUID {created['UUID']}"] + _settled_notes(deleted, foreign)
        if keep is not None and keep["UUID"] != created["UUID"]:  # a concurrent deploy's mapping is the one kept
            mapping = _wait_settled(client, keep["UUID"], wait_timeout)
            return Ensured("event source mapping", name, ALREADY_THERE, mapping, notes).log(LOG)
        mapping = _wait_settled(client, created["UUID"], wait_timeout)
        return Ensured("event source mapping", name, CREATED, mapping, notes).log(LOG)

    uuid = current["UUID"]
    if current.get("State") not in SETTLED_STATES:
        current = _wait_settled(client, uuid, wait_timeout)
    changes = _differences(current, desired)
    if current.get("StartingPosition") and current["StartingPosition"] != starting_position:
        LOG.warning(
            "mapping %s starts at %s, not %s; StartingPosition cannot be changed: delete the mapping and re-run to change it",
            uuid, current["StartingPosition"], starting_position,
        )
    if changes:
        LOG.info("updating the event source mapping %s: %s", uuid, "; ".join(changes))
        retry_on_iam_propagation(lambda: client.update_event_source_mapping(UUID=uuid, FunctionName=settings.function_name, **desired))
    arn = current.get("EventSourceMappingArn")
    if arn:
        have = client.list_tags(Resource=arn).get("Tags", {})
        missing = {k: v for k, v in tags.items() if have.get(k) != v}
        if missing:
            client.tag_resource(Resource=arn, Tags=missing)
            changes.append(f"tags {sorted(missing)}")
    mapping = _wait_settled(client, uuid, wait_timeout)
    return Ensured("event source mapping", name, UPDATED if changes or deleted else ALREADY_THERE, mapping, changes + settled).log(LOG)


def _settled_notes(deleted: list[str], foreign: list[str]) -> list[str]:
    notes = []
    if deleted:
        notes.append(f"duplicate trigger(s) deleted: {', '.join(deleted)}")
    if foreign:
        notes.append(f"duplicate trigger(s) not tagged for this stack, left alone: {', '.join(foreign)}")
    return notes


def delete_trigger(session: Any, settings: Settings, stream_arn: str) -> bool:
    """Delete the mapping from ``stream_arn`` to the stack's function. False when there was none."""
    mapping = find_mapping(session, settings, stream_arn)
    if mapping is None:
        return False
    try:
        session.client("lambda").delete_event_source_mapping(UUID=mapping["UUID"])
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    LOG.info("deleted event source mapping %s", mapping["UUID"])
    return True


def describe_filter(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """The mapping's filter patterns, parsed (for display)."""
    return [json.loads(f["Pattern"]) for f in (mapping.get("FilterCriteria") or {}).get("Filters", [])]
