"""Items of every DynamoDB type through the local trigger: Binary (B, BS, nested in M and L) included.

Moto holds Binary values as raw bytes; AWS sends them base64-encoded. An item holding one used to stall its
shard for good (the trigger's filter matching could not JSON-encode the record). Also: an error inside the
emulator's trigger is counted and shown (health report, ``python -m helpers.local status``, verify's report),
and the record is set aside after a few attempts instead of stalling the shard.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

from helpers import local
from tests.test_local_runtime_kit import item, make_bucket, make_function, make_mapping, make_queue, make_role, make_table, put_items, spy_calls, wait_for
from tests.stream_records import archived_lines

ARCHIVER = Path(__file__).resolve().parents[1] / "helpers" / "archiver.py"
TTL_ONLY = {"Filters": [{"Pattern": json.dumps({"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}})}]}


def every_type(**extra):
    """Attributes of every DynamoDB type, Binary at the top level and nested in M and L (boto3 input: bytes)."""
    return {
        "s": {"S": "text é ü 日本"}, "n": {"N": "-12.500"}, "big": {"N": "12345678901234567890123456789012345678"},
        "b": {"B": b"\x00\xffbinary"}, "t": {"BOOL": True}, "f": {"BOOL": False}, "null": {"NULL": True},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x01\x02", b"\xfe"]},
        "m": {"M": {"nb": {"B": b"\x10"}, "nbs": {"BS": [b"\x11"]}, "l": {"L": [{"B": b"\x12"}, {"S": "x"}, {"M": {"deep": {"B": b"\x13"}}}]}}},
        "l": {"L": [{"BS": [b"\x14", b"\x15"]}, {"N": "1"}, {"L": [{"B": b""}]}]},
        "empty_m": {"M": {}}, "empty_l": {"L": []}, "empty_s": {"S": ""},
        **extra,
    }


def wire(typed):
    """What AWS's JSON holds for a boto3-style typed value: Binary as base64 text, sets in any order."""
    ((kind, value),) = typed.items()
    if kind == "B":
        return {"B": base64.b64encode(value).decode()}
    if kind == "BS":
        return {"BS": sorted(base64.b64encode(v).decode() for v in value)}
    if kind in ("SS", "NS"):
        return {kind: sorted(value)}
    if kind == "M":
        return {"M": {k: wire(v) for k, v in value.items()}}
    if kind == "L":
        return {"L": [wire(v) for v in value]}
    return typed


def sorted_sets(typed):
    ((kind, value),) = typed.items()
    if kind in ("SS", "NS", "BS"):
        return {kind: sorted(value)}
    if kind == "M":
        return {"M": {k: sorted_sets(v) for k, v in value.items()}}
    if kind == "L":
        return {"L": [sorted_sets(v) for v in value]}
    return typed


def _spy(session, stack, name, stream, **mapping):
    bucket = make_bucket(session, f"{stack}-{name}")
    make_function(session, f"{stack}-{name}", env={"SPY_BUCKET": bucket})
    make_mapping(session, f"{stack}-{name}", stream, **mapping)
    return bucket


def test_binary_and_every_other_type_reach_the_function_with_and_without_the_ttl_filter(session, stack):
    table = f"{stack}-t"
    stream = make_table(session, table)
    everything = _spy(session, stack, "all", stream, BatchSize=100, MaximumBatchingWindowInSeconds=1)
    ttl_only = _spy(session, stack, "ttl", stream, BatchSize=100, MaximumBatchingWindowInSeconds=1, FilterCriteria=TTL_ONLY)
    now = int(time.time())
    items = [
        item("binary-top", now - 5, b={"B": b"\x00\x01"}), item("binary-set", now - 5, bs={"BS": [b"\x02", b"\x03"]}),
        item("nested-map", now - 5, m={"M": {"x": {"B": b"\x04"}}}), item("nested-list", now - 5, l={"L": [{"BS": [b"\x05"]}]}),
        item("every-type", now - 5, **every_type()), item("plain-after-binary", now - 5, s={"S": "plain"}),
    ]
    put_items(session, table, items)  # one BatchWriteItem: one TTL sweep deletes them together, one batch
    keys = [i["id"]["S"] for i in items]
    for bucket in (everything, ttl_only):
        wait_for(lambda b=bucket: [k for k in keys if k not in {i for c in spy_calls(session, b) for i in c["ids"]}] == [] or None,
                 f"every TTL delete delivered to {bucket}", timeout=30)
    removes = [r for c in spy_calls(session, ttl_only) for r in c["event"]["Records"]]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in removes] == keys, "in order, none stuck, none twice"
    assert {r["eventName"] for r in removes} == {"REMOVE"}
    together = [c["ids"] for c in spy_calls(session, ttl_only) if "plain-after-binary" in c["ids"]]
    assert together and "every-type" in together[0], "the plain item came in the same batch as the binary ones"
    for record, written in zip(removes, items):
        assert {k: sorted_sets(v) for k, v in record["dynamodb"]["OldImage"].items()} == {k: wire(v) for k, v in written.items()}
    inserts = [r for c in spy_calls(session, everything) for r in c["event"]["Records"] if r["eventName"] == "INSERT"]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in inserts] == keys
    assert {k: sorted_sets(v) for k, v in inserts[4]["dynamodb"]["NewImage"].items()} == {k: wire(v) for k, v in items[4].items()}
    assert [p for p in local.problems() if p.get("stream_arn") == stream] == []




def test_binary_keys_and_every_type_are_archived_end_to_end_by_the_real_archiver(session, stack):
    """A table whose keys are Binary and Number, items of every type: all archived, Binary as base64 text."""
    table, bucket, fh, function = f"{stack}-t", f"{stack}-archive", f"{stack}-fh", f"{stack}-archiver"
    ddb = session.client("dynamodb")
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}, {"AttributeName": "sk", "AttributeType": "N"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"})
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    stream = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    make_bucket(session, bucket)
    session.client("firehose").create_delivery_stream(
        DeliveryStreamName=fh, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": make_role(session, f"{stack}-fh-role"), "BucketARN": f"arn:aws:s3:::{bucket}",
                                            "CompressionFormat": "GZIP", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})
    make_function(session, function, files={"archiver.py": ARCHIVER.read_text()}, handler="archiver.handler",
                  env={"DELIVERY_STREAM_NAME": fh, "TTL_ATTRIBUTE": "expires_at"})
    make_mapping(session, function, stream, BatchSize=50, FilterCriteria=TTL_ONLY, FunctionResponseTypes=["ReportBatchItemFailures"])
    now = int(time.time())
    rows = [{"pk": {"B": bytes([n, 0, 255])}, "sk": {"N": str(n)}, "expires_at": {"N": str(now - 5)}, **(every_type() if n % 2 else {})}
            for n in range(6)]
    for row in rows:
        ddb.put_item(TableName=table, Item=row)
    expected = {(base64.b64encode(bytes([n, 0, 255])).decode(), n) for n in range(6)}
    lines = wait_for(lambda: (found := archived_lines(session, bucket)) and {(x["keys"]["pk"], x["keys"]["sk"]) for x in found} == expected and found,
                     "every item in the archive", timeout=30, interval=0.5)
    full = next(x for x in lines if x["keys"]["sk"] == 1)["item"]
    assert full["b"] == base64.b64encode(b"\x00\xffbinary").decode() and full["m"]["nb"] == base64.b64encode(b"\x10").decode()
    assert full["bs"] == [base64.b64encode(b"\x01\x02").decode(), base64.b64encode(b"\xfe").decode()]
    assert full["l"][0] == sorted(base64.b64encode(v).decode() for v in (b"\x14", b"\x15")) and full["null"] is None


def test_an_error_inside_the_local_trigger_is_counted_shown_and_does_not_stall_the_shard(session, stack):
    url, queue_arn = make_queue(session, f"{stack}-dlq")
    table = f"{stack}-t"
    stream = make_table(session, table, ttl_attribute=None)
    bucket = _spy(session, stack, "spy", stream, BatchSize=10, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    local.set_faults(trigger_error_keys=[f"{stack}-bad"])
    try:
        put_items(session, table, [item(f"{stack}-good-1")])
        put_items(session, table, [item(f"{stack}-bad")])
        wait_for(lambda: any(p["active"] for p in local.problems() if p.get("stream_arn") == stream), "the stuck shard in the health report", timeout=15)
        status = subprocess.run([sys.executable, "-m", "helpers.local", "status"], capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and "trigger: the local trigger c" in status.stdout  # "cannot prepare" or, later, "could not prepare"
        assert "injected local trigger error" in status.stdout
        put_items(session, table, [item(f"{stack}-good-2")])
        wait_for(lambda: [i for c in spy_calls(session, bucket) for i in c["ids"]] == [f"{stack}-good-1", f"{stack}-good-2"] or None,
                 "the record after the bad one to be delivered", timeout=20)
    finally:
        local.clear_faults()
    [problem] = [p for p in local.problems() if p.get("stream_arn") == stream]
    assert problem["count"] == 3 and not problem["active"] and problem["keys"] == {"id": {"S": f"{stack}-bad"}}
    assert problem["outcome"] == f"set aside, sent to {queue_arn}"
    message = json.loads(session.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"][0]["Body"])
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1 and message["DDBStreamBatchInfo"]["startSequenceNumber"] == problem["sequence_number"]
    counters = local.health()["runtime"]["StreamTrigger"]
    assert counters["record_errors"] >= 3 and counters["records_set_aside"] >= 1

    from helpers import verify

    lines = verify.local_problems(session)
    assert any(f"set it aside after 3 attempts (sent to {queue_arn})" in line for line in lines), lines
    report = verify.Report(run_id="r", expired_written=1, archived_unique=0, duplicates=0, unexpected=0, missing=1, s3_objects=0, seconds=1.0,
                           local_problems=lines)
    assert f"reports {len(lines)} problem(s) of its own" in report.describe() and f"'{stack}-bad'" in report.describe()
    try:
        report.raise_for_problems()
    except AssertionError as err:
        assert "the embedded local AWS reports" in str(err)
    else:
        raise AssertionError("a missing item must be reported")
