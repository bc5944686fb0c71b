"""The TTL sweeper and the stream records it causes, on the embedded local AWS."""

from __future__ import annotations

import time
from typing import Any

from tests.test_local_runtime_kit import item, make_table, put_items, runtime_status, wait_for

FIVE_YEARS = int(5 * 365.2425 * 86400)


def _keys(session, table):
    return {i["id"]["S"] for i in session.client("dynamodb").scan(TableName=table)["Items"]}


def _stream_records(session, stream_arn):
    streams = session.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def _two_more_sweeps() -> None:
    """Wait until the sweeper has finished two more passes (one may have been under way already), so a
    check that something was NOT deleted rests on sweeps that happened, not on a sleep's length."""
    start = runtime_status()["TtlSweeper"].get("sweeps", 0)
    wait_for(lambda: runtime_status()["TtlSweeper"].get("sweeps", 0) >= start + 2, "two more TTL sweeps", timeout=15)


def test_sweeper_deletes_only_items_expired_under_aws_rules(session, stack):
    table = f"{stack}-ttl"
    make_table(session, table)
    now = int(time.time())
    put_items(session, table, [
        item("expired", now - 60),
        item("expired-fraction", {"N": f"{now - 5}.5"}),
        item("future", now + 3600),
        item("too-old", now - FIVE_YEARS - 86400),
        item("string-ttl", {"S": str(now - 60)}),
        item("no-ttl"),
        item("set-ttl", {"NS": [str(now - 60)]}),
    ])
    wait_for(lambda: "expired" not in _keys(session, table) and "expired-fraction" not in _keys(session, table), "the sweep", timeout=10)
    _two_more_sweeps()  # later sweeps must not take anything else
    assert _keys(session, table) == {"future", "too-old", "string-ttl", "no-ttl", "set-ttl"}


def test_item_expiring_in_the_near_future_is_deleted_once_its_time_has_passed(session, stack):
    table = f"{stack}-soon"
    make_table(session, table)
    put_items(session, table, [item("soon", int(time.time()) + 2)])
    time.sleep(1.0)
    assert _keys(session, table) == {"soon"}
    wait_for(lambda: not _keys(session, table), "the item to expire", timeout=10)


def test_tables_without_ttl_enabled_are_left_alone(session, stack):
    table = f"{stack}-nottl"
    make_table(session, table, ttl_attribute=None)
    put_items(session, table, [item("expired", int(time.time()) - 60)])
    _two_more_sweeps()
    assert _keys(session, table) == {"expired"}


def test_ttl_remove_records_carry_the_service_identity_and_api_deletes_none(session, stack):
    table = f"{stack}-ident"
    stream = make_table(session, table)
    ddb = session.client("dynamodb")
    put_items(session, table, [item("by-ttl", int(time.time()) - 10), item("by-user", int(time.time()) + 3600)])
    ddb.delete_item(TableName=table, Key={"id": {"S": "by-user"}})
    wait_for(lambda: not _keys(session, table), "the TTL delete", timeout=10)
    removes = {r["dynamodb"]["Keys"]["id"]["S"]: r for r in _stream_records(session, stream) if r["eventName"] == "REMOVE"}
    assert removes["by-ttl"]["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in removes["by-user"]
    assert removes["by-ttl"]["dynamodb"]["OldImage"]["id"] == {"S": "by-ttl"}


def test_stream_records_look_like_aws_ones(session, stack):
    """Table region, whole-second creation time, distinct shard ids, increasing unique sequence numbers."""
    from helpers import target

    west = target.session("local", region="eu-west-1")
    stream_a = make_table(west, f"{stack}-a")
    stream_b = make_table(west, f"{stack}-b")
    for n in range(5):
        put_items(west, f"{stack}-a", [item(f"k{n}")])
    west.client("dynamodb").delete_item(TableName=f"{stack}-a", Key={"id": {"S": "k0"}})
    records = _stream_records(west, stream_a)
    assert [r["eventName"] for r in records] == ["INSERT"] * 5 + ["REMOVE"]
    assert {r["awsRegion"] for r in records} == {"eu-west-1"}
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(set(seqs)) and len(seqs) == 6
    for r in records:
        created = r["dynamodb"]["ApproximateCreationDateTime"]
        assert created.microsecond == 0 and abs(created.timestamp() - time.time()) < 60
    streams = west.client("dynamodbstreams")
    shard_a = streams.describe_stream(StreamArn=stream_a)["StreamDescription"]["Shards"][0]["ShardId"]
    shard_b = streams.describe_stream(StreamArn=stream_b)["StreamDescription"]["Shards"][0]["ShardId"]
    assert shard_a != shard_b and shard_a.startswith("shardId-")


def test_item_refreshed_before_the_sweep_survives(session, stack):
    """The sweeper re-checks at the moment of deletion: an item made unexpired meanwhile stays."""
    table = f"{stack}-refresh"
    make_table(session, table)
    ddb = session.client("dynamodb")
    soon = int(time.time()) + 2
    put_items(session, table, [item("refreshed", soon), item("not-refreshed", soon)])
    ddb.update_item(TableName=table, Key={"id": {"S": "refreshed"}}, UpdateExpression="SET expires_at = :t",
                    ExpressionAttributeValues={":t": {"N": str(int(time.time()) + 3600)}})
    wait_for(lambda: "not-refreshed" not in _keys(session, table), "the unrefreshed item to expire", timeout=10)
    assert _keys(session, table) == {"refreshed"}


def test_recheck_at_deletion_keeps_an_item_refreshed_between_scan_and_delete():
    """Unit-level: the candidate list is stale (scan saw it expired), the delete-time check wins."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from helpers.local.runtime import sweeper

    now = time.time()
    fresh = Item(DynamoType({"S": "a"}), None, {"id": {"S": "a"}, "expires_at": {"N": str(int(now) + 100)}})
    stale = Item(DynamoType({"S": "a"}), None, {"id": {"S": "a"}, "expires_at": {"N": str(int(now) - 100)}})

    class Table:
        name = "t"
        range_key_attr = None
        items = {fresh.hash_key: fresh}
        deleted: list[Any] = []

        def delete_item(self, hash_key, range_key):
            self.deleted.append(hash_key)

    table = Table()
    original = sweeper._iter_items
    sweeper._iter_items = lambda t: iter([stale])  # what the scan saw
    try:
        assert sweeper.TtlSweeper()._sweep_table(table, "expires_at", None) == 0
    finally:
        sweeper._iter_items = original
    assert table.deleted == []


def test_status_counts_the_items_swept(session, stack):
    table = f"{stack}-count"
    make_table(session, table)
    before = runtime_status()["TtlSweeper"].get("items_deleted", 0)
    put_items(session, table, [item(f"k{n}", int(time.time()) - 5) for n in range(3)])
    wait_for(lambda: runtime_status()["TtlSweeper"].get("items_deleted", 0) >= before + 3, "the counter", timeout=10)


def test_an_item_expires_only_once_its_ttl_second_has_passed_and_not_beyond_five_years():
    """AWS's rule at its edges: the TTL must be earlier than now (equal is not expired yet) and not more
    than five years in the past; anything but a Number never expires."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from helpers.local.runtime.sweeper import FIVE_YEARS_SECONDS, is_expired

    def with_ttl(value):
        return Item(DynamoType({"S": "a"}), None, {"id": {"S": "a"}, "expires_at": value})

    now = 1_800_000_000
    assert not is_expired(with_ttl({"N": str(now)}), "expires_at", now)  # equal to the current second
    assert is_expired(with_ttl({"N": str(now)}), "expires_at", now + 1)
    assert is_expired(with_ttl({"N": f"{now - 1}.999"}), "expires_at", now)
    assert not is_expired(with_ttl({"N": str(now + 1)}), "expires_at", now)
    assert is_expired(with_ttl({"N": str(now - FIVE_YEARS_SECONDS)}), "expires_at", now)  # exactly five years: still in
    assert not is_expired(with_ttl({"N": str(now - FIVE_YEARS_SECONDS - 1)}), "expires_at", now)
    assert not is_expired(with_ttl({"S": str(now - 60)}), "expires_at", now)
    assert not is_expired(with_ttl({"N": str(now - 60)}), "other_attribute", now)
