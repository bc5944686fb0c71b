"""The archiver Lambda (helpers/archiver.py) on constructed DynamoDB stream events.

No AWS and no emulator: a fake Firehose client records every PutRecordBatch call, enforces the AWS limits
(500 records, 1,000 KiB per record, 4 MiB per call) and fails calls or records on a script; a fake Lambda
context whose remaining time only moves when the archiver sleeps or calls Firehose.
"""

from __future__ import annotations

import ast
import base64
import json
import math
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from helpers import archiver

ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-11-26T18:00:00.000"
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
KIB_1000 = 1_024_000
MIB_4 = 4 * 1024 * 1024


# --------------------------------------------------------------------------------------------------
# Building Lambda events
# --------------------------------------------------------------------------------------------------
def _lambda_shape(av):
    """boto3 AttributeValues hold bytes; the Lambda event carries B and BS as base64 text."""
    ((kind, value),) = av.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(v)).decode("ascii") for v in value]}
    if kind == "M":
        return {"M": {k: _lambda_shape(v) for k, v in value.items()}}
    if kind == "L":
        return {"L": [_lambda_shape(v) for v in value]}
    return av


def image_of(item: dict) -> dict:
    serializer = TypeSerializer()
    return {k: _lambda_shape(serializer.serialize(v)) for k, v in item.items()}


def stream_record(i, image=None, *, event="REMOVE", identity=TTL_IDENTITY, at=1_764_180_000, keys=None):
    """One stream record in the Lambda event shape; ``image`` is an AttributeValue map (old image)."""
    if image is None:
        image = image_of({"id": f"item-{i}", "expires_at": 1_764_000_000 + i, "body": f"payload {i} " + "." * 200})
    ddb = {
        "ApproximateCreationDateTime": at,
        "Keys": keys if keys is not None else {"id": image["id"]} if "id" in image else {},
        "SequenceNumber": str(4_000_000_000_000_000_000_000 + i),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event in ("REMOVE", "MODIFY"):
        ddb["OldImage"] = image
    if event in ("INSERT", "MODIFY"):
        ddb["NewImage"] = image
    record = {
        "eventID": f"ev{i:030d}",
        "eventName": event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": ddb,
        "eventSourceARN": ARN,
    }
    if identity is not None:
        record["userIdentity"] = identity
    return record


def ttl_batch(n, start=0):
    return [stream_record(i) for i in range(start, start + n)]


# --------------------------------------------------------------------------------------------------
# Fakes
# --------------------------------------------------------------------------------------------------
def client_error(code, status=400):
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutRecordBatch",
    )


class FakeFirehose:
    """PutRecordBatch with AWS's limits. ``script``: one entry per call, None = all stored, an exception
    to raise, a set of positions whose records fail with ServiceUnavailableException, or a callable
    (data list -> such a set). After the script every call succeeds, unless ``then`` says otherwise."""

    def __init__(self, script=(), then=None, context=None, call_ms=0):
        self.script = list(script)
        self.then = then
        self.context = context
        self.call_ms = call_ms
        self.calls = []  # list of lists of Data bytes, one per call (also failed calls)
        self.stored = []  # Data bytes Firehose accepted, in order

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803 - boto3 names
        assert DeliveryStreamName == "archive"
        if self.context is not None:
            self.context.remaining -= self.call_ms
        data = [r["Data"] for r in Records]
        self.calls.append(data)
        assert len(self.calls) <= 2000, "runaway retry loop"
        if not 1 <= len(data) <= 500:
            raise client_error("InvalidArgumentException")
        if any(len(d) > KIB_1000 for d in data) or sum(map(len, data)) > MIB_4:
            raise client_error("InvalidArgumentException")
        action = self.script.pop(0) if self.script else self.then
        if callable(action) and not isinstance(action, Exception):
            action = action(data)
        if isinstance(action, Exception):
            raise action
        failing = action or set()
        responses = []
        for pos, d in enumerate(data):
            if pos in failing:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."})
            else:
                self.stored.append(d)
                responses.append({"RecordId": f"r{len(self.stored)}"})
        return {"FailedPutCount": len(failing), "Encrypted": False, "RequestResponses": responses}


class FakeContext:
    aws_request_id = "req-0001"

    def __init__(self, remaining_ms=900_000):
        self.remaining = remaining_ms
        self.sleeps = []

    def get_remaining_time_in_millis(self):
        return self.remaining

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.remaining -= seconds * 1000


def run(records, fake=None, context=None, **config):
    context = context or FakeContext()
    fake = fake or FakeFirehose()
    cfg = archiver.Config(delivery_stream_name="archive", **config)
    result = archiver.archive_batch(records, context, cfg, fake, sleep=context.sleep)
    return result, fake, context


# --------------------------------------------------------------------------------------------------
# Reading back, as documented in docs/archive-format.md
# --------------------------------------------------------------------------------------------------
def read_lines(stored):
    """Concatenate what Firehose stored (as it does, no delimiter), split lines, join part lines."""
    text = b"".join(stored).decode("utf-8")
    assert text == "" or text.endswith("\n")
    docs, parts = [], {}
    for line in text.split("\n")[:-1]:
        doc = json.loads(line, parse_float=Decimal)
        if "part_of" in doc:
            parts.setdefault(doc["part_of"], {})[doc["part"]] = doc
            if len(parts[doc["part_of"]]) == doc["parts"]:
                got = parts.pop(doc["part_of"])
                docs.append(json.loads("".join(got[i]["data"] for i in range(doc["parts"])), parse_float=Decimal))
        else:
            docs.append(doc)
    assert not parts, "incomplete part lines"
    return docs


def plain(value):
    """TypeDeserializer output converted by the documented rules."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode("ascii")
    if isinstance(value, (set, frozenset)):
        members = list(value)
        if members and isinstance(members[0], Binary):
            return [base64.b64encode(b.value).decode("ascii") for b in sorted(members, key=lambda b: b.value)]
        return sorted(members)
    return value


def expected_item(item: dict) -> dict:
    serializer, deserializer = TypeSerializer(), TypeDeserializer()
    return {k: plain(deserializer.deserialize(serializer.serialize(v))) for k, v in item.items()}


def seqs(records, start=0):
    return [r["dynamodb"]["SequenceNumber"] for r in records[start:]]


# --------------------------------------------------------------------------------------------------
# Which records are archived
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 100, 1000])
def test_batch_of_exactly_batch_size_ttl_removals_is_all_delivered(batch_size):
    records = ttl_batch(batch_size)
    result, fake, _ = run(records)
    docs = read_lines(fake.stored)
    assert [d["event_id"] for d in docs] == [r["eventID"] for r in records]
    assert result.batch_item_failures == [] and result.archived == batch_size and result.failed == 0
    assert result.response() == {"batchItemFailures": []}


def test_only_ttl_deletes_are_archived_and_others_are_skipped_by_reason():
    records = [
        stream_record(0),
        stream_record(1, event="INSERT", identity=None),
        stream_record(2, event="REMOVE", identity=None),  # a user delete: no userIdentity
        stream_record(3, event="MODIFY", identity=None),
        stream_record(4, event="REMOVE", identity={"type": "Service", "principalId": "other.amazonaws.com"}),
        stream_record(5),
        stream_record(6),
        stream_record(7, identity={"type": "User", "principalId": "dynamodb.amazonaws.com"}),
    ]
    del records[6]["dynamodb"]["OldImage"]  # KEYS_ONLY stream: nothing to archive
    result, fake, _ = run(records)
    assert [d["event_id"] for d in read_lines(fake.stored)] == [records[0]["eventID"], records[5]["eventID"]]
    assert dict(result.skipped) == {"insert": 1, "modify": 1, "user_delete": 3, "no_old_image": 1}
    assert result.batch_item_failures == [] and result.archived == 2 and result.seen == 8


def test_remove_without_user_identity_is_skipped_not_an_error():
    records = [stream_record(i, event="REMOVE", identity=None) for i in range(3)]
    result, fake, _ = run(records)
    assert fake.calls == [] and dict(result.skipped) == {"user_delete": 3}
    assert result.response() == {"batchItemFailures": []}


def test_ttl_delete_is_archived_whatever_mapping_type_carries_it():
    from collections import OrderedDict

    record = stream_record(0)
    record["userIdentity"] = OrderedDict(TTL_IDENTITY)
    result, fake, _ = run([record])
    assert result.archived == 1 and len(read_lines(fake.stored)) == 1


def test_skip_reason_names_every_kind_of_record():
    assert archiver.skip_reason(stream_record(0)) is None
    assert archiver.skip_reason(stream_record(0, event="INSERT")) == "insert"
    assert archiver.skip_reason(stream_record(0, event="MODIFY")) == "modify"
    assert archiver.skip_reason(stream_record(0, identity=None)) == "user_delete"
    assert archiver.skip_reason(stream_record(0, identity={"Type": "Service"})) == "user_delete"
    assert archiver.skip_reason({"eventName": "SOMETHING"}) == "other_event"


# --------------------------------------------------------------------------------------------------
# The line: envelope and type conversion
# --------------------------------------------------------------------------------------------------
EVERY_TYPE = {
    "id": "k-1",
    "expires_at": 1_764_180_000,
    "s": "plain",
    "empty": "",
    "unicode": "héllo 日本語 🎉 \u2028 tab\t nl\n quote\" backslash\\ nul\x00 \x1f",
    "n_int": 42,
    "n_neg": Decimal("-17.25"),
    "n_38": Decimal("12345678901234567890123456789012345678"),
    "n_38_frac": Decimal("-0.12345678901234567890123456789012345678"),
    "n_big_exp": Decimal("9.9999999999999999999999999999999999999E+125"),
    "n_small_exp": Decimal("1E-130"),
    "n_zero": 0,
    "b": b"\x00\x01\xfe\xff binary",
    "b_empty_str_neighbour": "",
    "t": True,
    "f": False,
    "null": None,
    "ss": {"b", "a", "B", "é", "Z", ""},
    "ns": {Decimal("10"), Decimal("9"), Decimal("-1"), Decimal("1E+2"), Decimal("0.5")},
    "bs": {b"\xff", b"\x00", b"a"},
    "m": {"inner": {"x": 1, "y": [1, "two", None, True, {"z": b"zz"}]}, "empty_map": {}, "empty_list": []},
    "l": [1, Decimal("2.5"), "s", [["deep"]], {"k": {"ss"}}],
}


def deep(levels):
    value = "bottom"
    for i in range(levels):
        value = {f"level{i}": value} if i % 2 else [value, i]
    return value


def test_every_dynamodb_type_decodes_back_to_the_original_item():
    item = dict(EVERY_TYPE, nested=deep(30))
    result, fake, _ = run([stream_record(7, image_of(item))])
    (doc,) = read_lines(fake.stored)
    assert doc["item"] == expected_item(item)
    assert doc["keys"] == {"id": "k-1"}
    assert result.archived == 1


def test_numbers_keep_every_digit_verbatim_in_the_line():
    image = {
        "id": {"S": "n"},
        "a": {"N": "12345678901234567890123456789012345678"},
        "b": {"N": "-0.00000000000000000000000000000000000001"},
        "c": {"N": "9.9999999999999999999999999999999999999E+125"},
        "d": {"N": "0.10"},
        "e": {"N": "1e5"},
        "f": {"N": "-0"},
    }
    line = archiver.archive_line(stream_record(0, image))
    for name in "abcdef":
        assert f'"{name}":{image[name]["N"]}' in line
    doc = json.loads(line, parse_float=Decimal)
    assert doc["item"]["a"] == 12345678901234567890123456789012345678
    assert str(doc["item"]["b"]) == "-1E-38" and doc["item"]["c"] == Decimal(image["c"]["N"])


def test_number_spellings_that_are_not_json_are_normalised_without_losing_digits():
    for raw, written in [("+5", "5"), (".5", "0.5"), ("5.", "5"), ("007", "7"), ("-.250", "-0.250"),
                         ("1E5", "1E5"), ("\u0663", "3")]:
        assert archiver.attribute_value_to_json({"N": raw}) == written, raw
    for bad in ("NaN", "Infinity", "12abc", ""):
        with pytest.raises(ValueError):
            archiver.attribute_value_to_json({"N": bad})


def test_sets_are_sorted_as_documented():
    assert archiver.attribute_value_to_json({"SS": ["b", "a", "B", "é", "Z"]}) == '["B","Z","a","b","é"]'
    assert archiver.attribute_value_to_json({"NS": ["10", "9", "-1", "1E+2", "0.5"]}) == "[-1,0.5,9,10,1E+2]"
    raw = [b"\xff", b"\x00", b"a"]  # base64 text order would be "/w==", "AA==", "YQ=="
    bs = [base64.b64encode(b).decode() for b in raw]
    assert archiver.attribute_value_to_json({"BS": bs}) == '["AA==","YQ==","/w=="]'


def test_envelope_fields_in_documented_order():
    image = image_of({"id": "a", "timestamp": 1, "expires_at": 1_764_180_000})
    record = stream_record(3, image, at=1_764_180_000, keys={"id": {"S": "a"}, "timestamp": {"N": "1"}})
    doc = json.loads(archiver.archive_line(record), parse_float=Decimal)
    assert list(doc) == ["event_id", "sequence_number", "table", "region", "event_source_arn", "deleted_at",
                         "ttl_attribute", "ttl", "keys", "item", "format"]
    assert doc["event_id"] == record["eventID"]
    assert doc["sequence_number"] == record["dynamodb"]["SequenceNumber"]
    assert (doc["table"], doc["region"], doc["event_source_arn"]) == ("orders", "eu-west-1", ARN)
    assert doc["deleted_at"] == "2025-11-26T18:00:00Z"
    assert (doc["ttl_attribute"], doc["ttl"]) == ("expires_at", 1_764_180_000)
    assert doc["keys"] == {"id": "a", "timestamp": 1} and doc["format"] == 2


def test_deleted_at_keeps_fractional_seconds_and_ttl_is_null_when_not_a_number():
    record = stream_record(0, image_of({"id": "a", "expires_at": "tomorrow"}), at=1_764_180_000.25)
    doc = json.loads(archiver.archive_line(record))
    assert doc["deleted_at"] == "2025-11-26T18:00:00.250000Z" and doc["ttl"] is None
    doc = json.loads(archiver.archive_line(stream_record(0, image_of({"id": "a"}))))
    assert doc["ttl"] is None


def test_ttl_attribute_name_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DELIVERY_STREAM_NAME", "archive")
    monkeypatch.setenv("TTL_ATTRIBUTE", "gone_at")
    config = archiver.load_config()
    record = stream_record(0, image_of({"id": "a", "gone_at": 1_800_000_000}))
    result = archiver.archive_batch([record], FakeContext(), config, fake := FakeFirehose())
    (doc,) = read_lines(fake.stored)
    assert (doc["ttl_attribute"], doc["ttl"]) == ("gone_at", 1_800_000_000) and result.archived == 1


# --------------------------------------------------------------------------------------------------
# Sizes: records, calls, split lines
# --------------------------------------------------------------------------------------------------
def test_400_kb_item_is_archived_whole_in_one_line():
    item = {"id": "big", "expires_at": 1, "blob": "x" * 399_000}
    result, fake, _ = run([stream_record(0, image_of(item))])
    assert result.lines == 1 and result.split_items == 0 and len(fake.calls) == 1
    (doc,) = read_lines(fake.stored)
    assert doc["item"] == expected_item(item)


def test_records_and_calls_respect_1000_kib_and_4_mib_with_the_fewest_calls():
    items = [{"id": f"i{i}", "expires_at": i, "body": chr(65 + i % 26) * 350_000} for i in range(30)]
    records = [stream_record(i, image_of(item)) for i, item in enumerate(items)]
    result, fake, _ = run(records)
    sent = [d for call in fake.calls for d in call]
    assert all(len(d) <= KIB_1000 for d in sent)
    assert all(sum(map(len, call)) <= MIB_4 for call in fake.calls)
    assert all(d.endswith(b"\n") for d in sent)
    assert len(fake.calls) == math.ceil(result.payload_bytes / MIB_4) == 3
    assert [d["item"] for d in read_lines(fake.stored)] == [expected_item(i) for i in items]


def test_calls_respect_the_500_record_limit():
    # 1,024-byte records hold one ~700-byte line each: 1,100 records -> calls of 500, 500, 100.
    records = [stream_record(i, image_of({"id": f"i{i}", "pad": "p" * 500})) for i in range(1100)]
    result, fake, _ = run(records, max_record_bytes=1024)
    assert [len(c) for c in fake.calls] == [500, 500, 100]
    assert len(read_lines(fake.stored)) == 1100 and result.batch_item_failures == []


def test_line_of_exactly_1000_kib_travels_whole_and_one_byte_more_is_split():
    base = len(archiver.archive_line(stream_record(0, image_of({"id": "a", "s": ""})))) + 1
    for size, parts in [(KIB_1000, 1), (KIB_1000 + 1, 2)]:
        record = stream_record(0, image_of({"id": "a", "s": "y" * (size - base)}))
        result, fake, _ = run([record])
        assert result.lines == parts and result.payload_bytes >= size
        assert read_lines(fake.stored)[0]["item"]["s"] == "y" * (size - base)


@pytest.mark.parametrize(
    "filler",
    ["\x01" * 400_000, ("\x01" * 30 + "🎉\"é\\") * 10_000, None],
    ids=["control-chars-escaped-6x", "astral-quotes-backslashes", "binary"],
)
def test_line_over_1000_kib_is_split_into_parts_that_reassemble(filler):
    # Each item is under DynamoDB's 400 KB; JSON escaping (\u0001 is 6 bytes) pushes the line over 1,000 KiB.
    if filler is None:
        item = {"id": "b", **{f"b{i}": bytes(range(256)) * 400 for i in range(2)}, "s": "\x02" * 190_000}
    else:
        item = {"id": "b", "expires_at": 5, "s": filler}
    record = stream_record(0, image_of(item))
    result, fake, _ = run([record, stream_record(1)])
    assert result.split_items == 1 and result.lines > 2
    sent = [d for call in fake.calls for d in call]
    assert all(len(d) <= KIB_1000 for d in sent)
    parts = [json.loads(line) for line in b"".join(fake.stored).decode().split("\n")[:-1] if b"part_of" in line.encode()]
    assert [p["part"] for p in parts] == list(range(len(parts))) and {p["parts"] for p in parts} == {len(parts)}
    assert all(p["part_of"] == record["eventID"] and p["format"] == 2 for p in parts)
    docs = read_lines(fake.stored)
    assert docs[0]["item"] == expected_item(item) and docs[1]["event_id"] == "ev" + "0" * 29 + "1"


def test_packed_records_are_whole_newline_terminated_lines():
    records = ttl_batch(50)
    _, fake, _ = run(records, max_record_bytes=2048)
    assert len(fake.stored) > 1
    for data in fake.stored:
        assert data.endswith(b"\n")
        for line in data.split(b"\n")[:-1]:
            json.loads(line)


# --------------------------------------------------------------------------------------------------
# Failures and retries
# --------------------------------------------------------------------------------------------------
def test_partial_failed_put_count_resends_only_the_failed_records():
    records = ttl_batch(6)
    fake = FakeFirehose(script=[{1, 3}])
    result, fake, context = run(records, fake, max_record_bytes=1024)
    first, second = fake.calls
    assert len(first) == 6 and second == [first[1], first[3]]
    assert sorted(d["event_id"] for d in read_lines(fake.stored)) == sorted(r["eventID"] for r in records)
    assert len(fake.stored) == 6  # nothing stored twice
    assert result.stats.retried == 2 and result.batch_item_failures == []
    assert len(context.sleeps) == 1 and 0 <= context.sleeps[0] <= archiver.BACKOFF_BASE_SECONDS


@pytest.mark.parametrize("code", ["ServiceUnavailableException", "ThrottlingException", "InternalFailure"])
def test_throttling_exceptions_are_retried_with_growing_jittered_backoff(code, monkeypatch):
    monkeypatch.setattr(archiver.random, "uniform", lambda low, high: high)  # the top of each jitter range
    records = ttl_batch(4)
    fake = FakeFirehose(script=[client_error(code), client_error(code, 503), None])
    result, fake, context = run(records, fake)
    assert len(fake.calls) == 3 and fake.calls[0] == fake.calls[2]
    assert context.sleeps == [0.1, 0.2]
    assert len(read_lines(fake.stored)) == 4 and result.batch_item_failures == []
    assert result.stats.error_codes[code] == 2  # one record, failed twice


def test_time_running_out_mid_batch_reports_first_undelivered_record_and_all_after_it():
    records = [
        stream_record(0),
        stream_record(1, event="INSERT"),
        stream_record(2),
        stream_record(3, event="REMOVE", identity=None),  # skipped, before the first failure
        stream_record(4),
        stream_record(5, event="MODIFY"),
        stream_record(6),
    ]
    context = FakeContext(remaining_ms=20_000)
    # Each TTL line is its own record and call; the first call works, then Firehose throttles for good.
    fake = FakeFirehose(script=[None], then=client_error("ServiceUnavailableException"), context=context, call_ms=500)
    result, fake, context = run(records, fake, context, max_record_bytes=1024, max_batch_records=1)
    assert result.batch_item_failures == seqs(records, 2)
    assert result.response()["batchItemFailures"][0] == {"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}
    assert result.archived == 1 and result.failed == 3 and result.stats.out_of_time
    assert context.remaining >= 3_000 - 500  # stopped at the safety margin, did not run into the timeout
    assert [d["event_id"] for d in read_lines(fake.stored)] == [records[0]["eventID"]]


def test_a_split_item_with_only_some_parts_delivered_is_reported():
    item = {"id": "split", "s": "z" * 5000}
    records = [stream_record(0, image_of(item)), stream_record(1)]
    context = FakeContext(remaining_ms=10_000)
    fake = FakeFirehose(script=[None, None], then=client_error("ThrottlingException"), context=context, call_ms=100)
    result, fake, _ = run(records, fake, context, max_record_bytes=1024, max_batch_records=1)
    assert len(fake.stored) == 2 and result.lines > 3
    assert result.batch_item_failures == seqs(records, 0) and result.archived == 0


def test_record_that_keeps_failing_is_reported_even_though_later_records_were_delivered():
    records = ttl_batch(5)
    context = FakeContext(remaining_ms=8_000)
    def fail_record_2(data):
        return {pos for pos, d in enumerate(data) if records[2]["eventID"].encode() in d}

    fake = FakeFirehose(then=fail_record_2, context=context, call_ms=50)
    result, fake, _ = run(records, fake, context, max_record_bytes=1024)
    assert result.batch_item_failures == seqs(records, 2)
    assert result.archived == 4 and result.failed == 1
    stored_ids = [d["event_id"] for d in read_lines(fake.stored)]
    assert records[2]["eventID"] not in stored_ids and len(stored_ids) == 4


def test_first_call_is_made_even_when_the_margin_is_already_reached():
    context = FakeContext(remaining_ms=1_000)
    result, fake, _ = run(ttl_batch(3), context=context)
    assert len(fake.calls) == 1 and result.batch_item_failures == []


def test_non_retryable_firehose_error_is_raised_not_swallowed():
    fake = FakeFirehose(script=[client_error("ResourceNotFoundException")])
    with pytest.raises(ClientError):
        run(ttl_batch(3), fake)
    assert len(fake.calls) == 1


def test_malformed_ttl_record_raises_before_anything_is_sent():
    bad = stream_record(1, {"id": {"S": "x"}, "weird": {"X": "?"}})
    fake = FakeFirehose()
    with pytest.raises(ValueError, match="unknown DynamoDB type 'X'"):
        run([stream_record(0), bad], fake)
    assert fake.calls == []


# --------------------------------------------------------------------------------------------------
# Handler, configuration, logs, packaging
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def installed_fake(monkeypatch):
    monkeypatch.setenv("DELIVERY_STREAM_NAME", "archive")
    for name in ("TTL_ATTRIBUTE", "LOG_LEVEL", "MAX_RECORD_BYTES", "MAX_BATCH_RECORDS", "MAX_BATCH_BYTES"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeFirehose()
    archiver.set_firehose_client(fake)
    yield fake
    archiver.set_firehose_client(None)


def test_handler_archives_a_lambda_event_and_logs_one_json_object_with_counts(installed_fake, capsys):
    records = ttl_batch(3) + [stream_record(9, event="INSERT"), stream_record(10, identity=None)]
    event = json.loads(json.dumps({"Records": records}))  # exactly what the runtime hands over
    response = archiver.handler(event, FakeContext())
    assert response == {"batchItemFailures": []}
    assert len(read_lines(installed_fake.stored)) == 3
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (summary,) = [log for log in logs if log["message"] == "batch archived"]
    assert summary["seen"] == 5 and summary["archived"] == 3 and summary["failed"] == 0
    assert summary["skipped_by_reason"] == {"insert": 1, "user_delete": 1} and summary["skipped"] == 2
    assert summary["retried"] == 0 and summary["firehose_calls"] == 1 and summary["firehose_records"] == 1
    assert summary["firehose_bytes_sent"] == sum(map(len, installed_fake.stored))
    assert summary["aws_request_id"] == "req-0001"


def test_handler_reports_failures_and_logs_an_error_when_time_runs_out(installed_fake, monkeypatch, capsys):
    context = FakeContext(remaining_ms=4_000)
    installed_fake.then = client_error("ServiceUnavailableException")
    monkeypatch.setattr(archiver, "_sleep", context.sleep)
    records = ttl_batch(2)
    response = archiver.handler({"Records": records}, context)
    assert response == {"batchItemFailures": [{"itemIdentifier": s} for s in seqs(records)]}
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = [log for log in logs if log["level"] == "ERROR"][-1]
    assert summary["failed"] == 2 and summary["batch_item_failures"] == 2 and summary["out_of_time"]


def test_handler_raises_a_non_retryable_error_after_logging_an_actionable_hint(installed_fake, capsys):
    installed_fake.script = [client_error("ResourceNotFoundException")]
    with pytest.raises(ClientError):
        archiver.handler({"Records": ttl_batch(2)}, FakeContext())
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any("check DELIVERY_STREAM_NAME" in log.get("hint", "") for log in logs)
    assert logs[-1]["level"] == "ERROR" and "whole batch will be retried" in logs[-1]["message"]


def test_missing_delivery_stream_name_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("DELIVERY_STREAM_NAME", raising=False)
    with pytest.raises(archiver.ConfigError, match="DELIVERY_STREAM_NAME is not set"):
        archiver.handler({"Records": ttl_batch(1)}, FakeContext())
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["message"] == "invalid configuration"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DELIVERY_STREAM_NAME": "arn:aws:firehose:eu-west-1:1:deliverystream/x"}, "not a Firehose stream name"),
        ({"DELIVERY_STREAM_NAME": "s", "MAX_RECORD_BYTES": "2000000"}, "at most 1,000 KiB"),
        ({"DELIVERY_STREAM_NAME": "s", "MAX_BATCH_RECORDS": "501"}, "at most 500 records"),
        ({"DELIVERY_STREAM_NAME": "s", "MAX_BATCH_BYTES": "many"}, "not an integer"),
        ({"DELIVERY_STREAM_NAME": "s", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_invalid_configuration_is_rejected_with_the_rule(env, message):
    with pytest.raises(archiver.ConfigError, match=message):
        archiver.load_config(env)


def test_defaults_are_the_aws_limits():
    config = archiver.load_config({"DELIVERY_STREAM_NAME": "s"})
    assert (config.ttl_attribute, config.max_record_bytes, config.max_batch_records, config.max_batch_bytes) == (
        "expires_at", 1_024_000, 500, 4_194_304)
    assert config.target_record_bytes == 4_194_304 // 5


def test_module_is_self_contained_standard_library_and_boto3_only():
    source = Path(archiver.__file__).read_text()
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            roots.add(node.module.split(".")[0])
    assert roots - {"boto3", "botocore", "__future__"} <= set(sys.stdlib_module_names)
    assert "helpers" not in roots
