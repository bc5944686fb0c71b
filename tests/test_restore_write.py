"""Restore's writing and command-line path (helpers/restore_write.py, helpers/restore.py) against stub clients.

No AWS: a stub DynamoDB client records every call and answers as the service would (a conditional put that
finds the key, unprocessed keys, a rejected batch, a connection error), so each rule is checked with exact
values: which items were written, skipped or failed, with which key, event id and reason; a dry run writes
nothing; the archive's time range, table and prefix are the ones asked for.
"""

from __future__ import annotations

import gzip
from collections import Counter

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from helpers import archiver, item_codec, restore, restore_write
from helpers.settings import Settings
from tests.test_restore import item, stream_record

KEY_SCHEMA = [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}]
KEY_DEFINITIONS = [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "timestamp", "AttributeType": "N"}]
SCHEMA = {"id": "S", "timestamp": "N"}
NOW = 1_800_000_000


def client_error(code: str, message: str | None = None, operation: str = "BatchWriteItem") -> ClientError:
    error = {"Code": code} if message is None else {"Code": code, "Message": message}
    return ClientError({"Error": error}, operation)


def marker(av_item: dict) -> tuple:
    return tuple(restore_write.key_part(av_item[n]) for n in SCHEMA)


class StubDynamo:
    """A DynamoDB client: a table of ``existing`` keys; records puts; BatchGetItem answers in pages."""

    def __init__(self, existing=(), unprocessed_first=False):
        self.existing = {marker(k) for k in existing}
        self.unprocessed_first = unprocessed_first  # BatchGetItem: a page's first call answers nothing
        self.puts: list = []
        self.batch_writes: list = []
        self.batch_gets: list = []
        self.described: list = []

    def describe_table(self, TableName):  # noqa: N803 - boto3 names
        self.described.append(TableName)
        return {"Table": {"TableName": TableName, "KeySchema": KEY_SCHEMA, "AttributeDefinitions": KEY_DEFINITIONS}}

    def put_item(self, TableName, Item, **kwargs):  # noqa: N803
        if kwargs.get("ConditionExpression") and marker(Item) in self.existing:
            raise client_error("ConditionalCheckFailedException", "The conditional request failed", "PutItem")
        self.puts.append(Item)
        self.existing.add(marker(Item))
        return {}

    def batch_write_item(self, RequestItems):  # noqa: N803
        self.batch_writes.append(RequestItems)
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems):  # noqa: N803
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        self.batch_gets.append(len(keys))
        assert 1 <= len(keys) <= 100, len(keys)  # the service's limits
        if self.unprocessed_first and len(self.batch_gets) % 2 == 1:
            return {"UnprocessedKeys": {table: {"Keys": keys}}}  # every key left for later, no Responses member
        found = [k for k in keys if marker(k) in self.existing]
        return {"Responses": {table: found}, "UnprocessedKeys": {}}


class Bar:
    """A progress bar that counts."""

    def __init__(self):
        self.done = 0

    def update(self, n):
        self.done += n


def planned(n: int) -> restore_write.Planned:
    av = {"id": {"S": f"item-{n}"}, "timestamp": {"N": str(n)}, "v": {"S": "x"}}
    return restore_write.Planned(av, {"id": av["id"], "timestamp": av["timestamp"]}, f"ev-{n}")


def writer(client, items: int, bar=None) -> tuple:
    report = restore.RestoreReport(table="orders", selected=items)
    w = restore_write.Writer(client, "orders", SCHEMA, report, restore_write.RateLimiter(None), 3, lambda s: None, bar)
    return w, report


def decoded(n: int, at: int = 1_764_180_000, table: str = "orders") -> item_codec.DecodedRecord:
    return item_codec.decode_record(archiver.archive_line(stream_record(item(n, {}), n, table=table, at=at)))


# --------------------------------------------------------------------------- Writer: nothing dropped silently


def test_a_batch_refused_for_good_fails_every_item_with_its_key_event_id_and_the_services_reason():
    class Refusing(StubDynamo):
        def batch_write_item(self, RequestItems):  # noqa: N803
            raise client_error("AccessDeniedException", "not allowed to write")

    bar = Bar()
    w, report = writer(Refusing(), 2, bar)
    w.put_batch([planned(0), planned(1)])
    assert report.restored == 0 and bar.done == 2
    assert report.failed == [
        {"key": {"id": "item-0", "timestamp": 0}, "event_id": "ev-0", "reason": "AccessDeniedException: not allowed to write"},
        {"key": {"id": "item-1", "timestamp": 1}, "event_id": "ev-1", "reason": "AccessDeniedException: not allowed to write"},
    ]


def test_a_connection_error_on_a_batch_fails_every_item_naming_the_error():
    class Unreachable(StubDynamo):
        def batch_write_item(self, RequestItems):  # noqa: N803
            raise EndpointConnectionError(endpoint_url="https://dynamodb.example")

    w, report = writer(Unreachable(), 2)
    w.put_batch([planned(0), planned(1)])
    reason = 'EndpointConnectionError: Could not connect to the endpoint URL: "https://dynamodb.example"'
    assert [(f["key"]["id"], f["reason"]) for f in report.failed] == [("item-0", reason), ("item-1", reason)]


def test_a_rejected_batch_written_one_by_one_fails_only_the_bad_items_with_their_reasons():
    class OneBadOneUnreachable(StubDynamo):
        def batch_write_item(self, RequestItems):  # noqa: N803
            raise client_error("ValidationException", "One or more parameter values were invalid")

        def put_item(self, TableName, Item, **kwargs):  # noqa: N803
            if Item["id"] == {"S": "item-1"}:
                raise client_error("ValidationException", "empty key", "PutItem")
            if Item["id"] == {"S": "item-2"}:
                raise EndpointConnectionError(endpoint_url="https://dynamodb.example")
            return super().put_item(TableName, Item, **kwargs)

    client, bar = OneBadOneUnreachable(), Bar()
    w, report = writer(client, 3, bar)
    w.put_batch([planned(0), planned(1), planned(2)])
    assert report.restored == 1 and [p["id"] for p in client.puts] == [{"S": "item-0"}] and bar.done == 3
    assert report.failed == [
        {"key": {"id": "item-1", "timestamp": 1}, "event_id": "ev-1", "reason": "ValidationException: empty key"},
        {"key": {"id": "item-2", "timestamp": 2}, "event_id": "ev-2",
         "reason": 'EndpointConnectionError: Could not connect to the endpoint URL: "https://dynamodb.example"'},
    ]


def test_a_batch_written_in_two_calls_counts_each_item_once():
    class HalfUnprocessed(StubDynamo):
        def batch_write_item(self, RequestItems):  # noqa: N803
            super().batch_write_item(RequestItems)
            ((table, requests),) = RequestItems.items()
            return {"UnprocessedItems": {table: requests[1:]} if len(self.batch_writes) == 1 else {}}

    client, bar = HalfUnprocessed(), Bar()
    w, report = writer(client, 3, bar)
    w.put_batch([planned(0), planned(1), planned(2)])
    assert report.restored == 3 and bar.done == 3 and report.failed == []
    assert [len(r["orders"]) for r in client.batch_writes] == [3, 2]


# --------------------------------------------------------------------------- dry run: existing keys


def test_a_dry_run_checks_every_key_in_pages_of_100_and_retries_unprocessed_keys():
    records = [decoded(i) for i in range(250)]
    existing = [{"id": {"S": f"item-{i}"}, "timestamp": {"N": str(i)}} for i in range(0, 250, 2)]
    client = StubDynamo(existing, unprocessed_first=True)
    report = restore.restore(None, records, "orders", dry_run=True, client=client, sleep=lambda s: None, now=lambda: NOW)
    assert client.puts == [] and client.batch_writes == []
    assert client.batch_gets == [100, 100, 100, 100, 50, 50]  # each page once unprocessed, then answered
    assert report.skipped == Counter({"exists": 125}) and report.ok
    assert sorted(int(it["timestamp"]["N"]) for it in report.would_write) == list(range(1, 250, 2))


# --------------------------------------------------------------------------- the command line's path


def write_folder(folder, prefix: str = "archive/") -> None:
    """Six items of table 'orders' deleted an hour apart (18:00 to 23:00 on 2025-11-26), an object each."""
    for i in range(6):
        at = 1_764_180_000 + 3600 * i
        line = archiver.archive_line(stream_record(item(i, {"n": {"N": str(i)}}), i, at=at))
        path = folder / f"{prefix}2025/11/26/{18 + i}/s-1-2025-11-26-{18 + i}-00-00-x{i}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(line.encode() + b"\n"))


def test_restore_from_archive_dry_run_reads_the_range_asks_nothing_and_writes_nothing(tmp_path):
    write_folder(tmp_path)
    client, said, asked = StubDynamo(), [], []
    settings = Settings(stack="t-cli", bucket_name="unused-with-a-folder", table_name="settings-table")
    chosen, report = restore.restore_from_archive(
        None, settings, folder=str(tmp_path), since="2025-11-26T20:00Z", say=said.append, progress=False,
        confirm=lambda n, t: asked.append((n, t)) or True, dry_run=True, ttl=restore.TtlRule("extend", 30),
        client=client, now=lambda: NOW)
    assert sorted(r.item["id"]["S"] for r in chosen.records) == ["item-2", "item-3", "item-4", "item-5"]
    assert asked == [] and client.puts == [] and client.batch_writes == []  # a dry run: no question, no write
    assert report.dry_run and report.table == "orders" and client.described == ["orders"]  # the items' own table
    assert [it["expires_at"] for it in report.would_write] == [{"N": str(NOW + 30 * 86_400)}] * 4
    assert said[0] == f"Reading the archive {tmp_path} (deleted from 2025-11-26T20:00Z)"
    assert said[-1] == "4 items selected; dry run: nothing is written into orders"
    said.clear()
    restore.restore_from_archive(None, settings, folder=str(tmp_path), until="2025-11-26T19:00Z", say=said.append,
                                 progress=False, dry_run=True, client=StubDynamo(), now=lambda: NOW)
    assert said[0] == f"Reading the archive {tmp_path} (until 2025-11-26T19:00Z)"


def test_restore_from_archive_asks_before_writing_and_a_no_writes_nothing(tmp_path):
    write_folder(tmp_path)
    settings = Settings(stack="t-cli", bucket_name="unused-with-a-folder")
    client, asked, said = StubDynamo(), [], []
    chosen, report = restore.restore_from_archive(None, settings, folder=str(tmp_path), keys={"id": ["item-1", "item-4"]},
                                                  to_table="copy", progress=False, say=said.append,
                                                  confirm=lambda n, t: asked.append((n, t)) or False, client=client)
    assert len(chosen) == 2 and asked == [(2, "copy")] and client.puts == []
    assert (report.table, report.selected, report.restored, report.warnings) == ("copy", 2, 0, ["declined: nothing was written"])
    client, asked = StubDynamo(), []
    chosen, report = restore.restore_from_archive(None, settings, folder=str(tmp_path), keys={"id": ["item-1", "item-4"]},
                                                  to_table="copy", progress=False, say=said.append,
                                                  confirm=lambda n, t: asked.append((n, t)) or True, client=client)
    assert asked == [(2, "copy")] and report.restored == 2 and report.ok
    assert sorted(p["id"]["S"] for p in client.puts) == ["item-1", "item-4"]
    assert said[-1] == "2 items selected; writing into copy"


def test_restore_from_archive_with_nothing_selected_keeps_the_dry_run_flag(tmp_path):
    write_folder(tmp_path)
    settings = Settings(stack="t-cli", bucket_name="unused-with-a-folder", table_name="settings-table")
    chosen, report = restore.restore_from_archive(None, settings, folder=str(tmp_path), keys={"id": ["nope"]}, dry_run=True,
                                                  progress=False, client=StubDynamo())
    assert len(chosen) == 0 and (report.table, report.selected, report.dry_run) == ("settings-table", 0, True)


def test_restore_from_archive_reads_the_settings_archive_prefix(tmp_path):
    write_folder(tmp_path, prefix="custom/")
    write_folder(tmp_path / "elsewhere")  # nothing under archive/ in the folder itself
    settings = Settings(stack="t-cli", bucket_name="unused-with-a-folder", archive_prefix="custom/")
    chosen, report = restore.restore_from_archive(None, settings, folder=str(tmp_path), dry_run=True, progress=False,
                                                  client=StubDynamo(), now=lambda: NOW)
    assert len(chosen) == 6 and len(report.would_write) == 6


# --------------------------------------------------------------------------- scratch table, DynamoDB JSON


class StubSession:
    def __init__(self, client):
        self._client = client

    def client(self, name, **kwargs):
        assert name == "dynamodb"
        return self._client


class TableClient:
    """describe_table of the source (and maybe of an existing table ``name``); records create_table and waits."""

    def __init__(self, existing_schema=None):
        self.existing_schema, self.created, self.waits = existing_schema, [], []

    def describe_table(self, TableName):  # noqa: N803
        if TableName == "orders":
            return {"Table": {"KeySchema": KEY_SCHEMA, "AttributeDefinitions": KEY_DEFINITIONS + [{"AttributeName": "x", "AttributeType": "S"}]}}
        if self.existing_schema is None:
            raise client_error("ResourceNotFoundException", "Requested resource not found", "DescribeTable")
        return {"Table": {"KeySchema": self.existing_schema}}

    def create_table(self, **kwargs):
        self.created.append(kwargs)

    def get_waiter(self, name):
        client = self

        class Waiter:
            def wait(self, **kwargs):
                client.waits.append((name, kwargs))

        return Waiter()


def test_scratch_table_is_created_like_the_source_tagged_as_ours_and_waited_for():
    settings = Settings(stack="t-cli", table_name="orders")
    client = TableClient()
    assert restore.ensure_table_like(StubSession(client), settings, "orders-restored") == "created"
    assert client.created == [{
        "TableName": "orders-restored", "KeySchema": KEY_SCHEMA, "AttributeDefinitions": KEY_DEFINITIONS,
        "BillingMode": "PAY_PER_REQUEST",
        "Tags": [{"Key": k, "Value": v} for k, v in sorted({**settings.tags(), "purpose": "restore"}.items())],
    }]
    # Polled every second for up to five minutes (botocore's default would give up after 25 tries).
    assert client.waits == [("table_exists", {"TableName": "orders-restored", "WaiterConfig": {"Delay": 1, "MaxAttempts": 300}})]


def test_scratch_table_name_taken_by_another_key_schema_is_refused():
    client = TableClient(existing_schema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    with pytest.raises(ValueError, match="table orders-restored exists with another key schema"):
        restore.ensure_table_like(StubSession(client), Settings(stack="t-cli", table_name="orders"), "orders-restored")
    assert client.created == []
    assert restore.ensure_table_like(StubSession(TableClient(existing_schema=KEY_SCHEMA)), Settings(stack="t-cli", table_name="orders"),
                                     "orders-restored") == "already there"


def test_dynamodb_json_of_a_dry_run_writes_binary_as_base64_at_any_depth():
    av = {"b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01", b"\xfe"]}, "s": {"S": "x"},
          "m": {"M": {"inner": {"B": b"\x02"}, "n": {"N": "1"}}}, "l": {"L": [{"B": b"\x03"}, {"SS": ["a"]}]}}
    assert restore.to_dynamodb_json(av) == {
        "b": {"B": "AP8="}, "bs": {"BS": ["AQ==", "/g=="]}, "s": {"S": "x"},
        "m": {"M": {"inner": {"B": "Ag=="}, "n": {"N": "1"}}}, "l": {"L": [{"B": "Aw=="}, {"SS": ["a"]}]},
    }
