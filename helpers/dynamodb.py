"""The DynamoDB table whose TTL deletes are archived: its stream (with old images) and its TTL setting.

Two modes, chosen by ``Settings.existing_table``:

* **New table** (default, the walkthrough): an on-demand table with hash key ``settings.partition_key``
  (String) and range key ``settings.sort_key`` (Number), a stream with ``NEW_AND_OLD_IMAGES``, TTL on
  ``settings.ttl_attribute`` and the stack's tags. A table of that name that this stack did not create
  is refused (it would be changed and later deleted by teardown).
* **Existing table** (operators): the table belongs to an application. It must already exist; its items,
  keys, billing mode and tags are never touched. The stream is enabled only if it is off, and TTL only if
  it is off. A stream without old images, or TTL on another attribute, is refused with the options,
  because fixing either is a decision with consequences the operator must take (see :class:`TableSetupError`).

Archiving needs the **old** image of each deleted item: ``OLD_IMAGE`` or ``NEW_AND_OLD_IMAGES``. A stream's
view type cannot change while it is enabled, and TTL changes take up to an hour on AWS, with a second change
inside that hour rejected.
"""

from __future__ import annotations

import logging
import random
import time
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from . import tagging, validation
from .outcome import ALREADY_THERE, CREATED, UPDATED, Ensured
from .retry import wait_until
from .settings import Settings

LOG = logging.getLogger(__name__)

KIND = "DynamoDB table"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"  # what a new table gets
VIEW_TYPES_WITH_OLD_IMAGE = ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
TTL_ON = ("ENABLED", "ENABLING")
BATCH_WRITE_MAX = 25  # BatchWriteItem's limit per call
_WAITER = {"Delay": 2, "MaxAttempts": 150}  # up to five minutes, polling every 2 s


class TableSetupError(RuntimeError):
    """The table cannot be set up as asked without a decision only a person can take; the message says which."""


class TableNotFound(TableSetupError):
    """The table does not exist (existing-table mode, or a describe of a missing table)."""


# --------------------------------------------------------------------------- describe


def _describe(client: Any, table_name: str) -> dict[str, Any] | None:
    try:
        return client.describe_table(TableName=table_name)["Table"]
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _ttl(client: Any, table_name: str) -> dict[str, Any]:
    return client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]


def _stream_view(table: Mapping[str, Any]) -> str | None:
    """The view type of the table's enabled stream, or None when the stream is off."""
    spec = table.get("StreamSpecification") or {}
    return spec.get("StreamViewType") if spec.get("StreamEnabled") else None


def _keys(table: Mapping[str, Any]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in table.get("KeySchema", [])}


def describe_table_setup(session: boto3.Session, table_name: str) -> dict[str, Any]:
    """What the archive pipeline needs to know about a table, in one flat dict.

    Keys: ``table_name``, ``table_arn``, ``table_status``, ``billing_mode``, ``hash_key``, ``range_key``
    (None when absent), ``stream_enabled``, ``stream_view_type`` (None when off), ``stream_arn`` (None when
    off), ``has_old_images``, ``ttl_status`` (DISABLED/ENABLING/ENABLED/DISABLING), ``ttl_attribute`` (None
    when TTL was never set), ``item_count_approx`` (DynamoDB refreshes it about every six hours), ``tags``.
    Read-only. Raises :class:`TableNotFound` when the table does not exist.
    """
    validation.table_name(table_name)
    client = session.client("dynamodb")
    table = _describe(client, table_name)
    if table is None:
        raise TableNotFound(f"DynamoDB table {table_name!r} does not exist in {session.region_name}.")
    ttl = _ttl(client, table_name)
    view = _stream_view(table)
    keys = _keys(table)
    tags = tagging.from_key_value_list(client.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"))
    return {
        "table_name": table["TableName"],
        "table_arn": table["TableArn"],
        "table_status": table["TableStatus"],
        "billing_mode": (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        "hash_key": keys.get("HASH"),
        "range_key": keys.get("RANGE"),
        "stream_enabled": view is not None,
        "stream_view_type": view,
        "stream_arn": table.get("LatestStreamArn") if view else None,
        "has_old_images": view in VIEW_TYPES_WITH_OLD_IMAGE,
        "ttl_status": ttl.get("TimeToLiveStatus", "DISABLED"),
        "ttl_attribute": ttl.get("AttributeName"),
        "item_count_approx": table.get("ItemCount", 0),
        "tags": tags,
    }


def stream_arn(session: boto3.Session, table_name: str) -> str:
    """The ARN of the table's enabled stream (what a Lambda event source mapping needs).

    Raises :class:`TableNotFound` when the table is missing and :class:`TableSetupError` when its stream
    is off or carries no old images (run :func:`ensure_table` first).
    """
    setup = describe_table_setup(session, table_name)
    if not setup["stream_enabled"]:
        raise TableSetupError(f"DynamoDB table {table_name!r} has no enabled stream; run ensure_table (notebook 01) first.")
    if not setup["has_old_images"]:
        raise TableSetupError(f"the stream of DynamoDB table {table_name!r} is {setup['stream_view_type']}: it carries no old images, so deleted items cannot be archived.")
    return setup["stream_arn"]


# --------------------------------------------------------------------------- ensure


def _check_ttl_key(table: Mapping[str, Any], attribute: str) -> None:
    """Refuse TTL on a key attribute that is not a Number (its items would never expire); warn on a Number key.

    AWS documents no rule against TTL on a key attribute; the attribute only has to hold a Number of epoch
    seconds. A Number key works (the blog this project follows sets TTL on its sort key ``timestamp``), with
    a trade-off :meth:`Settings.warnings` explains: every item then expires, and an item's expiry cannot be
    removed or moved without deleting it.
    """
    if attribute not in _keys(table).values():
        return
    types = {d["AttributeName"]: d["AttributeType"] for d in table.get("AttributeDefinitions", [])}
    if types.get(attribute) != "N":
        raise TableSetupError(
            f"the TTL attribute {attribute!r} is a key attribute of DynamoDB table {table['TableName']!r} of type "
            f"{types.get(attribute)}, not a Number: TTL would never delete an item. Choose a Number attribute (TTL_ARCHIVE_TTL_ATTRIBUTE)."
        )
    LOG.warning("TTL is on the key attribute %r of %s: every item expires, and an item's expiry cannot be removed without deleting it", attribute, table["TableName"])


def _wait_active(client: Any, table_name: str) -> None:
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig=_WAITER)


def _stream_refusal(table_name: str, view: str) -> TableSetupError:
    return TableSetupError(
        f"the stream of DynamoDB table {table_name!r} is {view}, which carries no old images: a TTL delete would "
        f"reach the archiver without the item it deleted. A stream's view type cannot change while it is enabled. "
        f"Options: (1) switch the view type yourself by disabling the stream and enabling it again with "
        f"NEW_AND_OLD_IMAGES (`aws dynamodb update-table --table-name {table_name} --stream-specification StreamEnabled=false`, "
        f"then `... StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`): the table gets a NEW stream ARN, and "
        f"consumers of the old stream lose access to its last 24 hours of records, so check who reads it first; "
        f"or (2) archive from a table whose stream already has OLD_IMAGE or NEW_AND_OLD_IMAGES."
    )


def _ensure_stream(client: Any, table: dict[str, Any], changes: list[str], timeout: float) -> dict[str, Any]:
    name = table["TableName"]
    view = _stream_view(table)
    if view in VIEW_TYPES_WITH_OLD_IMAGE:
        return table
    if view is not None:
        raise _stream_refusal(name, view)
    LOG.info("enabling the stream of %s (%s)", name, STREAM_VIEW_TYPE)
    try:
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE})
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceInUseException":
            raise TableSetupError(f"DynamoDB table {name!r} is being changed by another operation ({err.response['Error']['Message']}); run again when its status is ACTIVE.") from err
        raise
    changes.append(f"stream enabled ({STREAM_VIEW_TYPE})")
    _wait_active(client, name)

    def enabled() -> dict[str, Any] | None:
        current = _describe(client, name)
        return current if current and _stream_view(current) and current.get("LatestStreamArn") else None

    return wait_until(enabled, what=f"the stream of {name} to be enabled", timeout=timeout)


def _ensure_ttl(client: Any, table_name: str, attribute: str, changes: list[str], timeout: float) -> None:
    ttl = _ttl(client, table_name)
    status, current = ttl.get("TimeToLiveStatus", "DISABLED"), ttl.get("AttributeName")
    if status in TTL_ON and current == attribute:
        return  # already on: calling UpdateTimeToLive again is a ValidationException on AWS
    if status in TTL_ON:
        raise TableSetupError(
            f"TTL on DynamoDB table {table_name!r} is already {status} on attribute {current!r}, not {attribute!r}. "
            f"A table has one TTL attribute. Either archive with TTL_ARCHIVE_TTL_ATTRIBUTE={current} (the "
            f"attribute the application already sets), or have the table's owner disable TTL and enable it on "
            f"{attribute!r}: each change takes up to an hour on AWS and a second change inside that hour is rejected, "
            f"and items stop expiring by {current!r} meanwhile."
        )
    if status == "DISABLING":
        raise TableSetupError(f"TTL on DynamoDB table {table_name!r} is being disabled (DISABLING); AWS rejects another TTL change until that finishes, which can take up to an hour. Run again later.")
    LOG.info("enabling TTL on %s.%s", table_name, attribute)
    try:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
    except ClientError as err:
        message = err.response["Error"].get("Message", "")
        if err.response["Error"]["Code"] == "ValidationException" and "multiple times" in message:
            raise TableSetupError(f"AWS rejected the TTL change on {table_name!r}: TTL was changed less than an hour ago ({message}). Run again later.") from err
        raise
    changes.append(f"TTL enabled on {attribute}")

    def reported() -> bool:
        now = _ttl(client, table_name)
        return now.get("TimeToLiveStatus") in TTL_ON and now.get("AttributeName") == attribute

    wait_until(reported, what=f"TTL on {table_name}.{attribute} to report ENABLING or ENABLED", timeout=timeout)


def _create(client: Any, settings: Settings) -> None:
    LOG.info("creating table %s", settings.table_name)
    client.create_table(
        TableName=settings.table_name,
        AttributeDefinitions=[
            {"AttributeName": settings.partition_key, "AttributeType": "S"},
            {"AttributeName": settings.sort_key, "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": settings.partition_key, "KeyType": "HASH"},
            {"AttributeName": settings.sort_key, "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
        Tags=tagging.as_key_value_list(settings.tags()),
    )
    _wait_active(client, settings.table_name)


def ensure_table(session: boto3.Session, settings: Settings, *, timeout: float = 300.0) -> Ensured:
    """Make the table ready for archiving; idempotent (a second run reports "already there" and changes nothing).

    Trusts ``settings`` (a :class:`Settings` is valid by construction). TTL may be on a Number key
    attribute (see :func:`_check_ttl_key`); on a key of another type it is refused. New-table mode creates
    the table as described in the module docstring, or brings a table this stack created back to that shape
    (stream, TTL, tags). Existing-table mode requires the table, never touches items or tags, and only turns
    on what is off. Waits until the table is ACTIVE, its stream is enabled and TTL reports ENABLING or
    ENABLED (at most ``timeout`` seconds per wait, then ``TimeoutError``).

    Never calls UpdateTimeToLive when TTL is already on the right attribute. Raises :class:`TableNotFound`
    (existing-table mode, no table) or :class:`TableSetupError` (a stream without old images, TTL on another
    attribute or changing, a same-named table this stack did not create, different key attributes).
    Returns an :class:`~helpers.outcome.Ensured` whose ``description`` is DescribeTable's ``Table``.
    """
    client = session.client("dynamodb")  # the names were checked when ``settings`` was built
    name = settings.table_name
    changes: list[str] = []
    table = _describe(client, name)
    if table is not None and table["TableStatus"] == "DELETING":
        LOG.info("table %s is being deleted; waiting before going on", name)
        client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=_WAITER)
        table = None
    elif table is not None and table["TableStatus"] != "ACTIVE":
        _wait_active(client, name)
        table = _describe(client, name)

    if settings.existing_table:
        if table is None:
            raise TableNotFound(
                f"existing-table mode: DynamoDB table {name!r} does not exist in {session.region_name}. Set TTL_ARCHIVE_TABLE "
                f"to the application's table (and AWS_REGION to its region), or unset TTL_ARCHIVE_EXISTING_TABLE to let the "
                f"walkthrough create a new table."
            )
        view = _stream_view(table)
        if view is not None and view not in VIEW_TYPES_WITH_OLD_IMAGE:
            raise _stream_refusal(name, view)  # refuse before changing anything
        _check_ttl_key(table, settings.ttl_attribute)
        _ensure_stream(client, table, changes, timeout)
        _ensure_ttl(client, name, settings.ttl_attribute, changes, timeout)
        action = UPDATED if changes else ALREADY_THERE
    elif table is None:
        for warning in settings.warnings():
            LOG.warning("%s", warning)
        _create(client, settings)
        _ensure_ttl(client, name, settings.ttl_attribute, changes, timeout)
        changes = []  # a created table's TTL is part of creating it
        action = CREATED
    else:
        tags = tagging.from_key_value_list(client.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"))
        if not tagging.is_ours(tags, settings.stack):
            raise TableSetupError(
                f"DynamoDB table {name!r} already exists and was not created by stack {settings.stack!r} (its tags: {tags or 'none'}). "
                f"To archive an application's table, set TTL_ARCHIVE_EXISTING_TABLE=true (existing-table mode never touches its "
                f"items or tags, and teardown keeps it); otherwise choose another TTL_ARCHIVE_TABLE or TTL_ARCHIVE_STACK."
            )
        keys = _keys(table)
        wanted = {"HASH": settings.partition_key, "RANGE": settings.sort_key}
        if keys != wanted:
            raise TableSetupError(f"DynamoDB table {name!r} has keys {keys}, not {wanted}; key attributes cannot change. Delete the table (notebook 99) or set the key names to match.")
        view = _stream_view(table)
        if view is not None and view not in VIEW_TYPES_WITH_OLD_IMAGE:
            raise _stream_refusal(name, view)
        _ensure_stream(client, table, changes, timeout)
        _ensure_ttl(client, name, settings.ttl_attribute, changes, timeout)
        missing = {k: v for k, v in settings.tags().items() if tags.get(k) != v}
        if missing:
            client.tag_resource(ResourceArn=table["TableArn"], Tags=tagging.as_key_value_list(missing))
            changes.append(f"tags set: {', '.join(sorted(missing))}")
        action = UPDATED if changes else ALREADY_THERE
    description = _describe(client, name) or {}
    return Ensured(KIND, name, action, description, changes).log(LOG)


# --------------------------------------------------------------------------- delete


def delete_table(session: boto3.Session, table_name: str, *, timeout: float = 300.0) -> bool:
    """Delete the table and wait until it is gone. Returns False when it did not exist ("not found" is done).

    Checks nothing about ownership: the caller (teardown) decides, from the tags, whether the table is ours.
    Deletion protection is reported as a :class:`TableSetupError` naming the setting to turn off.
    """
    validation.table_name(table_name)
    client = session.client("dynamodb")
    for attempt in (1, 2):
        try:
            client.delete_table(TableName=table_name)
            break
        except ClientError as err:
            code, message = err.response["Error"]["Code"], err.response["Error"].get("Message", "")
            if code == "ResourceNotFoundException":
                return False
            if code == "ResourceInUseException" and attempt == 1:
                table = _describe(client, table_name)
                if table is None:
                    return False
                if table["TableStatus"] == "DELETING":
                    break
                _wait_active(client, table_name)  # being created or updated: wait, then try once more
                continue
            if code == "ValidationException" and "deletion protection" in message.lower():
                raise TableSetupError(f"DynamoDB table {table_name!r} has deletion protection on; turn it off (`aws dynamodb update-table --table-name {table_name} --no-deletion-protection-enabled`) if it really should go.") from err
            raise
    client.get_waiter("table_not_exists").wait(TableName=table_name, WaiterConfig={"Delay": 2, "MaxAttempts": max(1, int(timeout // 2))})
    LOG.info("deleted table %s", table_name)
    return True


# --------------------------------------------------------------------------- items (walkthrough)


def _to_dynamodb_value(value: Any) -> Any:
    """Plain Python -> what boto3's TypeSerializer accepts (floats become Decimal by their repr)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _to_dynamodb_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamodb_value(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_to_dynamodb_value(v) for v in value}
    return value


def put_items(session: boto3.Session, table_name: str, items: Iterable[Mapping[str, Any]], *, max_attempts: int = 8, base_delay: float = 0.2, sleep: Callable[[float], None] = time.sleep) -> int:
    """Write ``items`` (plain Python dicts: str, int, float, Decimal, bool, None, bytes, list, dict, set)
    with BatchWriteItem, 25 per call, and return how many were written.

    Unprocessed items (throttling) are resent with capped exponential backoff and jitter, at most
    ``max_attempts`` tries per batch; if some are still unprocessed, raises ``RuntimeError`` saying how
    many. Items repeating a key already in the current batch start a new batch (BatchWriteItem rejects
    duplicate keys in one call), so the last write of a key wins, as with PutItem in order.
    Floats are stored with the digits of their ``repr``. Not idempotent in effect: items are overwritten.
    """
    validation.table_name(table_name)
    client = session.client("dynamodb")
    table = _describe(client, table_name)
    if table is None:
        raise TableNotFound(f"DynamoDB table {table_name!r} does not exist in {session.region_name}.")
    key_names = [k["AttributeName"] for k in table["KeySchema"]]
    serializer = TypeSerializer()
    written = 0
    batch: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()

    def flush() -> None:
        nonlocal written, batch, seen
        if not batch:
            return
        pending = {table_name: [{"PutRequest": {"Item": item}} for item in batch]}
        for attempt in range(1, max_attempts + 1):
            response = client.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            if attempt == max_attempts:
                left = sum(len(v) for v in pending.values())
                raise RuntimeError(f"{left} of {len(batch)} items were still unprocessed by DynamoDB after {max_attempts} attempts (throttled); nothing else was lost, retry later")
            delay = min(5.0, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            LOG.info("%d items unprocessed; retrying in %.2f s", sum(len(v) for v in pending.values()), delay)
            sleep(delay)
        written += len(batch)
        batch, seen = [], set()

    for item in items:
        missing = [k for k in key_names if k not in item]
        if missing:
            raise ValueError(f"item {dict(item)!r} lacks the key attribute(s) {missing} of table {table_name!r}")
        wire = {k: serializer.serialize(_to_dynamodb_value(v)) for k, v in item.items()}
        key = tuple(repr(wire[k]) for k in key_names)
        if key in seen or len(batch) == BATCH_WRITE_MAX:
            flush()
        batch.append(wire)
        seen.add(key)
    flush()
    return written


def example_items(settings: Settings, count: int, *, expires_in_seconds: int = 0, start: int = 0, now: float | None = None) -> list[dict[str, Any]]:
    """``count`` walkthrough items for :func:`put_items`: keys ``settings.partition_key`` =
    ``"item-<n>"`` and ``settings.sort_key`` = the creation time (epoch seconds), the TTL attribute =
    now + ``expires_in_seconds`` (negative: already expired, so TTL may delete it; keep it within five years,
    since DynamoDB never deletes items whose TTL is more than five years in the past), and a small payload.
    Deterministic for a given ``now``.
    """
    validation.int_range(count, 0, 1_000_000, "item count")
    moment = int(now if now is not None else time.time())
    return [
        {
            settings.partition_key: f"item-{n}",
            settings.sort_key: moment,
            settings.ttl_attribute: moment + expires_in_seconds,
            "payload": {"note": f"example item {n}", "size": n, "price": Decimal("9.99"), "tags": ["demo", "ttl"]},
        }
        for n in range(start, start + count)
    ]
