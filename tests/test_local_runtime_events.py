"""The events the local runtime hands to the function are the ones AWS sends: validated against Powertools for
AWS Lambda's ``DynamoDBStreamModel``, the documented TTL-delete record field by field, ``eventVersion`` 1.1,
and ``SizeBytes`` by DynamoDB's item-size rules."""

from __future__ import annotations

import base64
import re
import time

from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

from helpers.local.runtime import records
from tests.test_local_runtime_kit import item, make_bucket, make_function, make_mapping, make_table, put_items, spy_calls, wait_for
from tests.test_local_runtime_types import every_type

TTL_VALUE = 1764000000  # 2025-11-24: in the past, within TTL's five years


# ------------------------------------------------------------------ the item-size rules (no server)


def test_item_size_follows_dynamodbs_documented_rules():
    assert records.item_size({"name": {"S": "héllo"}}) == 4 + 6  # UTF-8 bytes of name and value
    assert records.number_size("1764000000") == 1 + 2  # significant digits 1764: one byte per two, plus one
    assert records.number_size("-0.00123") == 1 + 2 and records.number_size("12345") == 1 + 3 and records.number_size("0") == 2
    assert records.item_size({"b": {"B": b"\x00\x01\x02"}}) == 1 + 3  # raw bytes, not base64 text
    assert records.item_size({"b": {"B": base64.b64encode(b"\x00\x01\x02").decode()}}) == 1 + 3  # moto may hold text
    assert records.item_size({"t": {"BOOL": False}, "n": {"NULL": True}}) == (1 + 1) + (1 + 1)
    assert records.item_size({"m": {"M": {}}, "l": {"L": []}}) == (1 + 3) + (1 + 3)  # empty document: 3 bytes
    # a Map: 3 bytes + per element (1 byte + name + value); a List: 3 bytes + per element (1 byte + value)
    assert records.item_size({"m": {"M": {"x": {"BOOL": True}, "yy": {"S": "abc"}}}}) == 1 + 3 + (1 + 1 + 1) + (1 + 2 + 3)
    assert records.item_size({"l": {"L": [{"N": "5"}, {"L": []}]}}) == 1 + 3 + (1 + 2) + (1 + 3)
    assert records.item_size({"ss": {"SS": ["ab", "c"]}, "ns": {"NS": ["10", "123"]}, "bs": {"BS": [b"\x01", b"\x02\x03"]}}) == (2 + 3) + (2 + 2 + 3) + (2 + 3)


def test_size_bytes_counts_keys_and_each_image():
    keys = {"id": {"S": "a"}}
    image = {"id": {"S": "a"}, "v": {"N": "12"}}
    assert records.record_size({"Keys": keys, "OldImage": image, "SequenceNumber": "1"}) == 3 + (3 + 3)
    assert records.record_size({"Keys": keys, "NewImage": image, "OldImage": image}) == 3 + 6 + 6


# ------------------------------------------------------------------ events through the trigger


def _capture(session, stack):
    """Items written, updated and expired through a spy function; returns (events, table, stream ARN)."""
    table, bucket = f"{stack}-t", f"{stack}-spy"
    stream = make_table(session, table)
    make_bucket(session, bucket)
    make_function(session, f"{stack}-fn", env={"SPY_BUCKET": bucket})
    make_mapping(session, f"{stack}-fn", stream, BatchSize=100)
    put_items(session, table, [item("plain", int(time.time()) + 3600, b={"B": b"abc"}, m={"M": {"x": {"BOOL": True}}}),
                               item("typed", int(time.time()) + 3600, **every_type())])
    ddb = session.client("dynamodb")
    for key in ("plain", "typed"):  # MODIFY: the TTL moves into the past, then the sweeper deletes the item
        ddb.update_item(TableName=table, Key={"id": {"S": key}}, UpdateExpression="SET expires_at = :t",
                        ExpressionAttributeValues={":t": {"N": str(TTL_VALUE)}})
    events = wait_for(lambda: (calls := spy_calls(session, bucket)) and sum(len(c["ids"]) for c in calls) >= 6 and [c["event"] for c in calls],
                      "INSERT, MODIFY and REMOVE of both items", timeout=30)
    return events, table, stream


def test_events_validate_against_powertools_and_the_ttl_delete_has_the_documented_shape(session, stack):
    events, table, stream = _capture(session, stack)
    for event in events:
        parsed = DynamoDBStreamModel.model_validate(event)  # raises on any field AWS's shape does not allow
        assert all(r.eventVersion == 1.1 for r in parsed.Records)
    records_ = [r for e in events for r in e["Records"]]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records_] == [
        ("INSERT", "plain"), ("INSERT", "typed"), ("MODIFY", "plain"), ("MODIFY", "typed"), ("REMOVE", "plain"), ("REMOVE", "typed")]
    typed_remove = DynamoDBStreamModel.model_validate({"Records": [records_[5]]}).Records[0]
    assert typed_remove.dynamodb.OldImage["b"] == base64.b64encode(b"\x00\xffbinary").decode(), "Binary arrives as base64 text, as in AWS's JSON"

    remove = records_[4]  # the TTL delete of "plain", field by field (DynamoDB developer guide, TTL and streams)
    assert list(remove) == ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "userIdentity", "eventSourceARN"]
    assert re.fullmatch(r"[0-9a-f]{32}", remove["eventID"])
    assert (remove["eventName"], remove["eventVersion"], remove["eventSource"], remove["awsRegion"]) == ("REMOVE", "1.1", "aws:dynamodb", "us-east-1")
    assert remove["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert remove["eventSourceARN"] == stream and stream.startswith(f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/")
    change = remove["dynamodb"]
    assert sorted(change) == ["ApproximateCreationDateTime", "Keys", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"]
    assert isinstance(change["ApproximateCreationDateTime"], int) and abs(change["ApproximateCreationDateTime"] - time.time()) < 60
    assert change["Keys"] == {"id": {"S": "plain"}}
    assert change["OldImage"] == {"id": {"S": "plain"}, "expires_at": {"N": str(TTL_VALUE)}, "b": {"B": base64.b64encode(b"abc").decode()},
                                  "m": {"M": {"x": {"BOOL": True}}}}
    assert re.fullmatch(r"\d{21,}", change["SequenceNumber"]) and change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    # Keys: id(2)+plain(5) = 7; OldImage: 7 + expires_at(10)+N 1764000000(1+2) + b(1)+3 raw bytes + m(1)+3+(1+x(1)+BOOL(1)) = 31
    assert change["SizeBytes"] == 7 + 31
    assert all("userIdentity" not in r for r in records_[:4]), "only TTL deletes carry userIdentity"


def test_get_records_shows_the_same_version_size_and_binary(session, stack):
    table = f"{stack}-t"
    stream = make_table(session, table, ttl_attribute=None)
    put_items(session, table, [item("k", b={"B": b"\x00\xff"}, bs={"BS": [b"\x01"]})])
    client = session.client("dynamodbstreams")
    shard = client.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    [record] = client.get_records(ShardIterator=iterator)["Records"]
    assert record["eventVersion"] == "1.1"
    assert record["dynamodb"]["NewImage"]["b"] == {"B": b"\x00\xff"} and record["dynamodb"]["NewImage"]["bs"] == {"BS": [b"\x01"]}
    assert record["dynamodb"]["SizeBytes"] == 3 + (3 + (1 + 2) + (2 + 1))  # Keys id+k; NewImage id+k, b+2 bytes, bs+1 byte
