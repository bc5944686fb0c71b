"""DynamoDB Streams as AWS keeps them: patches to moto's stream shard (applied by ``runtime.prepare()``).

Stands in for AWS only; nothing here runs against a real account.

What moto 5.2 does and what this module changes (see ``moto_compat`` for the pinned internals):

* ``StreamShard.add`` pushes every new record synchronously to each event source mapping's function
  (through Docker, which fails, counted as success) and then clears the stream. Replaced: the shard
  keeps its records and never calls Lambda; the trigger in :mod:`.trigger` polls it instead.
* Sequence numbers were ``len(items) + start`` (reused once the stream was cleared). Now a per-shard
  counter: unique and strictly increasing.
* ``awsRegion`` was always ``us-east-1``: now the table's region. ``eventVersion`` was ``1.0``: now
  ``1.1`` as on AWS. ``SizeBytes`` was the length of the whole typed JSON: now the Keys plus the images
  sized by DynamoDB's item-size rules (:func:`.records.record_size`). A Binary key was kept as base64 text
  in ``Keys`` (raw bytes in the images): now raw bytes too, so GetRecords encodes it once.
* Every table's shard had the same id: now ``shardId-<epoch ms, 20 digits>-<8 hex>`` like AWS.
* ``ApproximateCreationDateTime`` was a datetime with microseconds: now whole epoch seconds
  (AWS rounds down to the second), a number on the wire.
* TTL deletes (made by :mod:`.sweeper` inside :func:`ttl_deletes`) carry
  ``userIdentity = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}`` (the GetRecords
  spelling); deletes through the API carry none.
* Records older than the retention (24 h, ``TTL_ARCHIVE_LOCAL_STREAM_RETENTION_SECONDS``) are trimmed;
  TRIM_HORIZON then starts at the oldest record kept.
* Writes to a table whose stream was turned off add no record (moto raised a KeyError).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import secrets
import threading
import time
from typing import Any, Iterator

from .records import record_size
from .state import DYNAMODB_LOCK, SETTINGS

LOG = logging.getLogger(__name__)

TTL_USER_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}  # GetRecords spelling
SEQUENCE_BASE = 10**20  # AWS sequence numbers are 21+ digit decimal strings

_deleting_for_ttl = threading.local()
_originals: dict[str, Any] = {}


@contextlib.contextmanager
def ttl_deletes() -> Iterator[None]:
    """Within this block, REMOVE records made by this thread are marked as TTL deletes."""
    _deleting_for_ttl.active = True
    try:
        yield
    finally:
        _deleting_for_ttl.active = False


def _shard_init(self: Any, account_id: str, table: Any) -> None:
    _originals["init"](self, account_id, table)
    now_ms = int(time.time() * 1000)
    self.id = f"shardId-{now_ms:020d}-{secrets.token_hex(4)}"
    # Distinct per shard (room for 10 million records each), increasing with creation time.
    self.starting_sequence_number = SEQUENCE_BASE + (now_ms % 10**13) * 10**7
    self.next_sequence_number = self.starting_sequence_number


def _shard_add(self: Any, old: Any, new: Any) -> None:
    """Append one stream record and keep it (no Lambda push). Called with the table being written."""
    from moto.dynamodb.models.table import StreamRecord

    spec = self.table.stream_specification or {}
    view_type = spec.get("StreamViewType")
    if not spec.get("StreamEnabled") or not view_type:
        return  # the stream was turned off: AWS records nothing
    event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    with DYNAMODB_LOCK:
        seq = self.next_sequence_number
        self.next_sequence_number += 1
        record = StreamRecord(self.table, view_type, event_name, old, new, seq)
        body = record.record
        _raw_binary_keys(body["dynamodb"]["Keys"])
        body["eventVersion"] = "1.1"  # AWS's DynamoDB stream records; moto says 1.0
        body["dynamodb"]["SizeBytes"] = record_size(body["dynamodb"])  # moto's is the typed JSON's length
        body["awsRegion"] = self.table.region_name
        body["dynamodb"]["ApproximateCreationDateTime"] = int(time.time())
        if event_name == "REMOVE" and getattr(_deleting_for_ttl, "active", False):
            body["userIdentity"] = dict(TTL_USER_IDENTITY)
        self.items.append(record)
        _trim(self)


def _raw_binary_keys(keys: dict[str, Any]) -> None:
    """moto puts a Binary key as base64 text in ``Keys`` but raw bytes in the images: make it bytes, like the
    images, so GetRecords encodes it once (see :mod:`.records` for the wire form)."""
    for typed in keys.values():
        if isinstance(typed.get("B"), str):
            typed["B"] = base64.b64decode(typed["B"])


def _trim(shard: Any) -> None:
    """Drop records older than the retention period (AWS keeps stream records 24 hours)."""
    items = shard.items
    if not items:
        return
    oldest_allowed = time.time() - SETTINGS.stream_retention_seconds
    if items[0].record["dynamodb"]["ApproximateCreationDateTime"] >= oldest_allowed:
        return
    drop = 0
    while drop < len(items) and items[drop].record["dynamodb"]["ApproximateCreationDateTime"] < oldest_allowed:
        drop += 1
    del items[:drop]
    shard.starting_sequence_number += drop


def _shard_get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
    """GetRecords: up to ``quantity`` records from sequence number ``start`` (trimmed ones skipped)."""
    with DYNAMODB_LOCK:
        _trim(self)
        index = max(0, int(start) - self.starting_sequence_number)
        return [r.to_json() for r in self.items[index : index + quantity]]


def _create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
    """Remember where LATEST was when the mapping was created, so no record slips between."""
    esm = _originals["create_esm"](self, spec)
    found = shard_for_stream_arn(esm.event_source_arn)
    if found is not None:
        with DYNAMODB_LOCK:
            esm.ttl_archive_latest_sequence_number = found[1].next_sequence_number
    return esm


def parse_stream_arn(arn: str) -> tuple[str, str, str, str] | None:
    """``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`` -> (region, account, name, label)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "dynamodb":
        return None
    path = parts[5].split("/")
    if len(path) != 4 or path[0] != "table" or path[2] != "stream":
        return None
    return parts[3], parts[4], path[1], path[3]


def shard_for_stream_arn(arn: str) -> tuple[Any, Any] | None:
    """(table, shard) of the stream ``arn`` if that stream still exists in moto, else None."""
    from moto.dynamodb.models import dynamodb_backends

    parsed = parse_stream_arn(arn)
    if parsed is None:
        return None
    region, account, name, label = parsed
    try:
        table = dynamodb_backends[account][region].tables.get(name)
    except KeyError:
        return None
    if table is None or table.stream_shard is None or table.latest_stream_label != label:
        return None
    return table, table.stream_shard


def install() -> None:
    """Apply the patches (idempotent)."""
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models.table import StreamShard

    if _originals:
        return
    _originals["init"] = StreamShard.__init__
    _originals["create_esm"] = LambdaBackend.create_event_source_mapping
    StreamShard.__init__ = _shard_init
    StreamShard.add = _shard_add
    StreamShard.get = _shard_get
    LambdaBackend.create_event_source_mapping = _create_event_source_mapping
    LOG.debug("DynamoDB stream patches installed")
